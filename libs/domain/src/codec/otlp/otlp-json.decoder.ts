import { BatchRejection } from '../span-batch.codec';
import {
  MAX_OTLP_NESTING_DEPTH,
  OtlpAnyValue,
  OtlpDecodeOptions,
  OtlpEvent,
  OtlpExportTraceRequest,
  OtlpInstrumentationScope,
  OtlpKeyValue,
  OtlpLink,
  OtlpResource,
  OtlpResourceSpans,
  OtlpScopeSpans,
  OtlpSpan,
  OtlpStatus,
} from './otlp-protobuf.reader';

/*
 * OTLP/JSON as the OTLP specification defines it: the protobuf JSON mapping with lowerCamelCase field names only,
 * traceId/spanId as hex (not the mapping's base64), enums as integers, 64-bit integers as decimal strings or
 * numbers. Unknown fields are ignored (the specification requires it, for forward compatibility); `null` is the
 * default value. Type errors in a known field refuse the whole request, as a protobuf JSON parser would; an id
 * that is a string but not hex is kept so that only its span is rejected (partial success).
 */

type JsonObject = Record<string, unknown>;

// Enum names are accepted too: every protobuf JSON parser reads both, and some hand-written exporters send names.
const SPAN_KIND_NAMES: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODE_NAMES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

const UINT64_TEXT = /^\d{1,20}$/;
const INT64_TEXT = /^-?\d{1,19}$/;
const HEX = /^[0-9a-fA-F]*$/;
const BASE64 = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/;
const UINT64_MAX = 0xffff_ffff_ffff_ffffn;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function fail(path: string, message: string): never {
  throw new BatchRejection('invalid_json', `body is not a valid OTLP/JSON request: ${path}: ${message}`);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function object(value: unknown, path: string): JsonObject | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) fail(path, 'must be an object');
  return value;
}

function array(value: unknown, path: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(path, 'must be an array');
  return value;
}

function string(value: unknown, path: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') fail(path, 'must be a string');
  return value;
}

function hexId(value: unknown, path: string): string {
  const text = string(value, path);
  return HEX.test(text) ? text.toLowerCase() : text;
}

function uint32(value: unknown, path: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff) return value;
  if (typeof value === 'string' && /^\d{1,10}$/.test(value) && Number(value) <= 0xffff_ffff) return Number(value);
  fail(path, 'must be an unsigned 32-bit integer');
}

function enumValue(value: unknown, names: Record<string, number>, path: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isInteger(value) && value >= -0x8000_0000 && value <= 0x7fff_ffff) return value;
  if (typeof value === 'string' && Object.prototype.hasOwnProperty.call(names, value)) return names[value] as number;
  fail(path, 'must be an integer enum value');
}

function uint64(value: unknown, path: string): bigint {
  if (value === undefined || value === null) return 0n;
  let result: bigint | undefined;
  if (typeof value === 'string' && UINT64_TEXT.test(value)) result = BigInt(value);
  else if (typeof value === 'number' && Number.isInteger(value) && value >= 0) result = BigInt(value);
  if (result === undefined || result > UINT64_MAX) fail(path, 'must be an unsigned 64-bit integer (decimal string or number)');
  return result;
}

function int64(value: unknown, path: string): bigint {
  // An integral JSON number is kept exactly as written even beyond int64: the OpenTelemetry JS JSON serializer sends
  // any integral double (say -1e19) as intValue, and refusing the whole request over one attribute helps nobody.
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  const result = typeof value === 'string' && INT64_TEXT.test(value) ? BigInt(value) : undefined;
  if (result === undefined || result < INT64_MIN || result > INT64_MAX) fail(path, 'must be a 64-bit integer (decimal string or number)');
  return result;
}

function double(value: unknown, path: string): number {
  if (typeof value === 'number') return value;
  // The JSON mapping spells the non-finite values as strings, and allows numbers as strings.
  if (value === 'NaN') return NaN;
  if (value === 'Infinity') return Infinity;
  if (value === '-Infinity') return -Infinity;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  fail(path, 'must be a number');
}

const ANY_VALUE_FIELDS = ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'] as const;

function anyValue(raw: unknown, path: string, depth: number): OtlpAnyValue | null {
  if (raw === undefined || raw === null) return null;
  if (depth > MAX_OTLP_NESTING_DEPTH) fail(path, `attribute values nested deeper than ${MAX_OTLP_NESTING_DEPTH}`);
  if (!isObject(raw)) fail(path, 'must be an AnyValue object');
  let field: (typeof ANY_VALUE_FIELDS)[number] | undefined;
  for (const name of ANY_VALUE_FIELDS) {
    if (raw[name] === undefined || raw[name] === null) continue;
    if (field !== undefined) fail(path, `has both ${field} and ${name}`);
    field = name;
  }
  const at = `${path}.${field}`;
  switch (field) {
    case undefined:
      return null;
    case 'stringValue':
      return { stringValue: string(raw[field], at) };
    case 'boolValue':
      if (typeof raw[field] !== 'boolean') fail(at, 'must be true or false');
      return { boolValue: raw[field] as boolean };
    case 'intValue':
      return { intValue: int64(raw[field], at) };
    case 'doubleValue':
      return { doubleValue: double(raw[field], at) };
    case 'bytesValue': {
      const text = string(raw[field], at);
      if (!BASE64.test(text)) fail(at, 'must be base64');
      const decoded = Buffer.from(text, 'base64');
      return { bytesValue: new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength) };
    }
    case 'arrayValue': {
      const list = object(raw[field], at) as JsonObject;
      return { arrayValue: { values: array(list['values'], `${at}.values`).map((item, index) => anyValue(item, `${at}.values[${index}]`, depth + 1)) } };
    }
    case 'kvlistValue': {
      const list = object(raw[field], at) as JsonObject;
      return { kvlistValue: { values: keyValues(list['values'], `${at}.values`, depth + 1) } };
    }
  }
}

function keyValues(raw: unknown, path: string, depth: number): OtlpKeyValue[] {
  const list = array(raw, path);
  const out: OtlpKeyValue[] = new Array(list.length);
  for (let index = 0; index < list.length; index++) {
    const entry = list[index];
    if (!isObject(entry)) fail(`${path}[${index}]`, 'must be a KeyValue object');
    const key = entry['key'];
    out[index] = {
      key: typeof key === 'string' ? key : string(key, `${path}[${index}].key`),
      value: anyValue(entry['value'], `${path}[${index}].value`, depth),
    };
  }
  return out;
}

function resource(raw: unknown, path: string): OtlpResource {
  const value = object(raw, path) ?? {};
  return {
    attributes: keyValues(value['attributes'], `${path}.attributes`, 1),
    droppedAttributesCount: uint32(value['droppedAttributesCount'], `${path}.droppedAttributesCount`),
  };
}

function scope(raw: unknown, path: string): OtlpInstrumentationScope {
  const value = object(raw, path) ?? {};
  return {
    name: string(value['name'], `${path}.name`),
    version: string(value['version'], `${path}.version`),
    attributes: keyValues(value['attributes'], `${path}.attributes`, 1),
    droppedAttributesCount: uint32(value['droppedAttributesCount'], `${path}.droppedAttributesCount`),
  };
}

function status(raw: unknown, path: string): OtlpStatus {
  const value = object(raw, path) ?? {};
  return { message: string(value['message'], `${path}.message`), code: enumValue(value['code'], STATUS_CODE_NAMES, `${path}.code`) };
}

function event(raw: unknown, path: string): OtlpEvent {
  const value = object(raw, path) ?? {};
  return {
    timeUnixNano: uint64(value['timeUnixNano'], `${path}.timeUnixNano`),
    name: string(value['name'], `${path}.name`),
    attributes: keyValues(value['attributes'], `${path}.attributes`, 1),
    droppedAttributesCount: uint32(value['droppedAttributesCount'], `${path}.droppedAttributesCount`),
  };
}

function link(raw: unknown, path: string): OtlpLink {
  const value = object(raw, path) ?? {};
  return {
    traceId: hexId(value['traceId'], `${path}.traceId`),
    spanId: hexId(value['spanId'], `${path}.spanId`),
    traceState: string(value['traceState'], `${path}.traceState`),
    attributes: keyValues(value['attributes'], `${path}.attributes`, 1),
    droppedAttributesCount: uint32(value['droppedAttributesCount'], `${path}.droppedAttributesCount`),
    flags: uint32(value['flags'], `${path}.flags`),
  };
}

function span(raw: unknown, path: string): OtlpSpan {
  const value = object(raw, path) ?? {};
  return {
    traceId: hexId(value['traceId'], `${path}.traceId`),
    spanId: hexId(value['spanId'], `${path}.spanId`),
    traceState: string(value['traceState'], `${path}.traceState`),
    parentSpanId: hexId(value['parentSpanId'], `${path}.parentSpanId`),
    flags: uint32(value['flags'], `${path}.flags`),
    name: string(value['name'], `${path}.name`),
    kind: enumValue(value['kind'], SPAN_KIND_NAMES, `${path}.kind`),
    startTimeUnixNano: uint64(value['startTimeUnixNano'], `${path}.startTimeUnixNano`),
    endTimeUnixNano: uint64(value['endTimeUnixNano'], `${path}.endTimeUnixNano`),
    attributes: keyValues(value['attributes'], `${path}.attributes`, 1),
    droppedAttributesCount: uint32(value['droppedAttributesCount'], `${path}.droppedAttributesCount`),
    events: array(value['events'], `${path}.events`).map((item, index) => event(item, `${path}.events[${index}]`)),
    droppedEventsCount: uint32(value['droppedEventsCount'], `${path}.droppedEventsCount`),
    links: array(value['links'], `${path}.links`).map((item, index) => link(item, `${path}.links[${index}]`)),
    droppedLinksCount: uint32(value['droppedLinksCount'], `${path}.droppedLinksCount`),
    status: status(value['status'], `${path}.status`),
  };
}

/**
 * readOtlpJsonRequest: decodes an OTLP/JSON ExportTraceServiceRequest (UTF-8 body of `application/json`) into the
 * same plain objects as the protobuf reader. Unparsable JSON or a wrongly typed field is a
 * BatchRejection('invalid_json') naming the field; more than `maxSpans` spans a BatchRejection('too_large').
 */
export function readOtlpJsonRequest(body: Buffer | string, options: OtlpDecodeOptions): OtlpExportTraceRequest {
  let root: unknown;
  try {
    root = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch (err) {
    throw new BatchRejection('invalid_json', `body is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(root)) fail('(root)', 'must be an ExportTraceServiceRequest object');
  const rawResourceSpans = array(root['resourceSpans'], 'resourceSpans');
  // Spans are counted before any is decoded, so a too-large request costs no more than its JSON.parse.
  let total = 0;
  const rawScopeSpans = rawResourceSpans.map((rs, i) => {
    const list = array(object(rs, `resourceSpans[${i}]`)?.['scopeSpans'], `resourceSpans[${i}].scopeSpans`);
    return list.map((ss, j) => {
      const spans = array(object(ss, `resourceSpans[${i}].scopeSpans[${j}]`)?.['spans'], `resourceSpans[${i}].scopeSpans[${j}].spans`);
      total += spans.length;
      return spans;
    });
  });
  if (total > options.maxSpans) throw new BatchRejection('too_large', `request has ${total} spans, more than the limit of ${options.maxSpans}`);
  const resourceSpans = rawResourceSpans.map((rs, i): OtlpResourceSpans => {
    const rsValue = (rs ?? {}) as JsonObject;
    const rsPath = `resourceSpans[${i}]`;
    const scopeSpansList = array(rsValue['scopeSpans'], `${rsPath}.scopeSpans`);
    return {
      resource: resource(rsValue['resource'], `${rsPath}.resource`),
      scopeSpans: scopeSpansList.map((ss, j): OtlpScopeSpans => {
        const ssValue = (ss ?? {}) as JsonObject;
        const ssPath = `${rsPath}.scopeSpans[${j}]`;
        const spans = (rawScopeSpans[i] as unknown[][])[j] as unknown[];
        return {
          scope: scope(ssValue['scope'], `${ssPath}.scope`),
          spans: spans.map((item, k) => span(item, `${ssPath}.spans[${k}]`)),
          schemaUrl: string(ssValue['schemaUrl'], `${ssPath}.schemaUrl`),
        };
      }),
      schemaUrl: string(rsValue['schemaUrl'], `${rsPath}.schemaUrl`),
    };
  });
  return { resourceSpans };
}
