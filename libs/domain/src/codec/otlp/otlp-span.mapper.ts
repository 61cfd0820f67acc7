import { Attributes, InstrumentationScope, SpanEvent, SpanKind, SpanLink } from '../../span/span.model';
import { SpanViolation, validateSpan } from '../../span/span.validation';
import { DecodedSpans } from '../decoded-spans';
import { BatchLimits, BatchRejection } from '../span-batch.codec';
import { readOtlpJsonRequest } from './otlp-json.decoder';
import { MAX_OTLP_NESTING_DEPTH, OtlpAnyValue, OtlpExportTraceRequest, OtlpKeyValue, OtlpSpan, readOtlpProtobufRequest } from './otlp-protobuf.reader';

/** OtlpFormat: the body encoding of an OTLP/HTTP request (`application/x-protobuf` or `application/json`); gRPC is protobuf. */
export type OtlpFormat = 'protobuf' | 'json';

/** OTLP_UNKNOWN_SERVICE: the service of spans whose resource has no `service.name`, as OpenTelemetry SDKs default it. */
export const OTLP_UNKNOWN_SERVICE = 'unknown_service';

const TRACE_ID_HEX = /^[0-9a-f]{32}$/;
const SPAN_ID_HEX = /^[0-9a-f]{16}$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);
const STATUS_CODE_ERROR = 2;
// How many violations errorMessage spells out: enough to see a pattern, short enough for an SDK's log line.
const PARTIAL_SUCCESS_SHOWN = 3;

function spanKind(kind: number): SpanKind {
  switch (kind) {
    case 2:
      return 'server';
    case 3:
      return 'client';
    case 4:
      return 'producer';
    case 5:
      return 'consumer';
    default:
      // UNSPECIFIED (0) and INTERNAL (1) by definition; a number from a newer OTLP version is safest as internal.
      return 'internal';
  }
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** anyValueJson: an AnyValue as JSON text; int64 written as bare digits, so values above 2^53 stay exact. */
function anyValueJson(value: OtlpAnyValue | null, depth: number): string {
  if (value === null || depth > MAX_OTLP_NESTING_DEPTH) return 'null';
  if ('stringValue' in value) return JSON.stringify(value.stringValue);
  if ('boolValue' in value) return value.boolValue ? 'true' : 'false';
  if ('intValue' in value) return value.intValue.toString();
  // JSON has no NaN or Infinity: those are written as strings, as the protobuf JSON mapping does.
  if ('doubleValue' in value) return Number.isFinite(value.doubleValue) ? JSON.stringify(value.doubleValue) : `"${value.doubleValue}"`;
  if ('bytesValue' in value) return `"${base64(value.bytesValue)}"`;
  if ('arrayValue' in value) return `[${value.arrayValue.values.map((item) => anyValueJson(item, depth + 1)).join(',')}]`;
  return `{${value.kvlistValue.values.map((kv) => `${JSON.stringify(kv.key)}:${anyValueJson(kv.value, depth + 1)}`).join(',')}}`;
}

/**
 * otlpAnyValueText: an AnyValue as a Skein tag value: strings as they are, booleans, integers and doubles stringified,
 * bytes as base64, arrays and key/value lists as JSON text, an empty value as ''.
 */
export function otlpAnyValueText(value: OtlpAnyValue | null): string {
  if (value === null) return '';
  if ('stringValue' in value) return value.stringValue;
  if ('boolValue' in value) return value.boolValue ? 'true' : 'false';
  if ('intValue' in value) return value.intValue.toString();
  if ('doubleValue' in value) return String(value.doubleValue);
  if ('bytesValue' in value) return base64(value.bytesValue);
  return anyValueJson(value, 1);
}

function attributes(list: OtlpKeyValue[]): Attributes {
  // Null prototype: a key such as `__proto__` or `constructor` is an ordinary attribute here.
  const out: Attributes = Object.create(null) as Attributes;
  for (const kv of list) out[kv.key] = otlpAnyValueText(kv.value);
  return out;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function micros(nanos: bigint): number {
  return Number(nanos / 1000n);
}

// validateSpan names Skein's fields; the sender knows the OTLP ones.
const OTLP_FIELD_NAMES: [RegExp, string][] = [
  [/^\.operation\b/, '.name'],
  [/^\.tags\b/, '.attributes'],
  [/^\.statusMessage\b/, '.status.message'],
  [/^\.startTimeUs\b/, '.startTimeUnixNano'],
  [/^\.durationUs\b/, '.endTimeUnixNano'],
  [/^\.events\[(\d+)\]\.timeUs\b/, '.events[$1].timeUnixNano'],
];

function otlpPath(path: string, spanPath: string): string {
  if (!path.startsWith(spanPath)) return path;
  let rest = path.slice(spanPath.length);
  for (const [pattern, name] of OTLP_FIELD_NAMES) rest = rest.replace(pattern, name);
  return spanPath + rest;
}

function idProblem(value: string, pattern: RegExp, zero: string, bytes: number): string | undefined {
  if (!pattern.test(value)) return value === '' ? `required: ${bytes} bytes` : `must be ${bytes} bytes (${bytes * 2} hex characters)`;
  if (value === zero) return 'must not be all zero';
  return undefined;
}

/** mapSpan: one OTLP span → the raw span handed to validateSpan, or the OTLP-level violations found first. */
function mapSpan(
  span: OtlpSpan,
  path: string,
  context: { service: string; host: string | undefined; resource: Attributes; scope: InstrumentationScope | undefined },
): { raw: Record<string, unknown>; violations: SpanViolation[] } {
  const violations: SpanViolation[] = [];
  const fail = (field: string, message: string) => violations.push({ path: `${path}.${field}`, message });
  const traceProblem = idProblem(span.traceId, TRACE_ID_HEX, ZERO_TRACE_ID, 16);
  if (traceProblem) fail('traceId', traceProblem);
  const spanProblem = idProblem(span.spanId, SPAN_ID_HEX, ZERO_SPAN_ID, 8);
  if (spanProblem) fail('spanId', spanProblem);
  // An all-zero parent is the invalid SpanId, i.e. no parent; some exporters send it instead of leaving it empty.
  const parentSpanId = span.parentSpanId === '' || span.parentSpanId === ZERO_SPAN_ID ? undefined : span.parentSpanId;
  if (parentSpanId !== undefined && !SPAN_ID_HEX.test(parentSpanId)) fail('parentSpanId', 'must be empty or 8 bytes (16 hex characters)');
  if (span.endTimeUnixNano < span.startTimeUnixNano) fail('endTimeUnixNano', 'must not be before startTimeUnixNano');
  span.links.forEach((link, index) => {
    const linkTrace = idProblem(link.traceId, TRACE_ID_HEX, ZERO_TRACE_ID, 16);
    if (linkTrace) fail(`links[${index}].traceId`, linkTrace);
    const linkSpan = idProblem(link.spanId, SPAN_ID_HEX, ZERO_SPAN_ID, 8);
    if (linkSpan) fail(`links[${index}].spanId`, linkSpan);
  });

  const kind = spanKind(span.kind);
  const tags = attributes(span.attributes);
  // Both ends are rounded down to the microsecond, so a child that ends within its parent still does after rounding.
  const startUs = micros(span.startTimeUnixNano);
  const raw: Record<string, unknown> = {
    traceId: span.traceId,
    spanId: span.spanId,
    service: context.service,
    operation: span.name,
    kind,
    startTimeUs: startUs,
    durationUs: micros(span.endTimeUnixNano) - startUs,
    error: span.status.code === STATUS_CODE_ERROR,
    tags,
    resource: context.resource,
  };
  if (parentSpanId !== undefined) raw['parentSpanId'] = parentSpanId;
  if (context.host !== undefined) raw['host'] = context.host;
  if (context.scope !== undefined) raw['scope'] = context.scope;
  if (span.status.message !== '') raw['statusMessage'] = span.status.message;
  if (kind === 'client' || kind === 'producer') {
    const remote = nonEmpty(tags['peer.service']) ?? nonEmpty(tags['server.address']) ?? nonEmpty(tags['net.peer.name']);
    if (remote !== undefined) raw['remoteService'] = remote;
  }
  if (span.events.length > 0) {
    raw['events'] = span.events.map((event): SpanEvent => ({ timeUs: micros(event.timeUnixNano), name: event.name, attributes: attributes(event.attributes) }));
  }
  if (span.links.length > 0) {
    raw['links'] = span.links.map((link): SpanLink => ({ traceId: link.traceId, spanId: link.spanId, attributes: attributes(link.attributes) }));
  }
  return { raw, violations };
}

/**
 * mapOtlpTraceRequest: decoded OTLP resource spans → Skein spans, each through validateSpan (the limits every
 * protocol shares). A span with any problem is left out and reported in `rejected` under its OTLP path, e.g.
 * `resourceSpans[0].scopeSpans[1].spans[3].traceId`; the others are accepted (OTLP partial success).
 * Mapping: service = resource `service.name` (else {@link OTLP_UNKNOWN_SERVICE}), host = resource `host.name`,
 * operation = span name, error = status ERROR, remoteService (client/producer only) = `peer.service`, else
 * `server.address`, else `net.peer.name`; times rounded down to the microsecond.
 */
export function mapOtlpTraceRequest(request: OtlpExportTraceRequest, limits: BatchLimits): DecodedSpans {
  const decoded: DecodedSpans = { spans: [], rejected: [], rejectedSpans: 0 };
  request.resourceSpans.forEach((resourceSpans, i) => {
    const resource = attributes(resourceSpans.resource.attributes);
    const service = nonEmpty(resource['service.name']) ?? OTLP_UNKNOWN_SERVICE;
    const host = nonEmpty(resource['host.name']);
    resourceSpans.scopeSpans.forEach((scopeSpans, j) => {
      const { name, version } = scopeSpans.scope;
      let scope: InstrumentationScope | undefined;
      if (name !== '' || version !== '') scope = version === '' ? { name } : { name, version };
      scopeSpans.spans.forEach((span, k) => {
        const path = `resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`;
        const mapped = mapSpan(span, path, { service, host, resource, scope });
        const result = validateSpan(mapped.raw, path, limits);
        if (mapped.violations.length === 0 && result.ok) {
          decoded.spans.push(result.span);
          return;
        }
        decoded.rejectedSpans++;
        decoded.rejected.push(...mapped.violations);
        // The id checks above are OTLP's stricter version of validateSpan's; report each problem once.
        if (!result.ok) {
          const reported = new Set(mapped.violations.map((v) => v.path));
          for (const violation of result.violations) {
            const otlp = { path: otlpPath(violation.path, path), message: violation.message };
            if (!reported.has(otlp.path)) decoded.rejected.push(otlp);
          }
        }
      });
    });
  });
  return decoded;
}

function countSpans(request: OtlpExportTraceRequest): number {
  let total = 0;
  for (const rs of request.resourceSpans) for (const ss of rs.scopeSpans) total += ss.spans.length;
  return total;
}

/**
 * decodeOtlpTraces: an OTLP/HTTP `/v1/traces` body (already gunzipped) or an OTLP/gRPC Export message → validated
 * Skein spans plus the rejected ones (partial success). A body that does not parse is a
 * BatchRejection('invalid_protobuf' | 'invalid_json'); more than `limits.maxSpansPerBatch` spans a
 * BatchRejection('too_large'). An empty request is valid and yields no spans.
 */
export function decodeOtlpTraces(body: Buffer, format: OtlpFormat, limits: BatchLimits): DecodedSpans {
  const options = { maxSpans: limits.maxSpansPerBatch };
  const request = format === 'protobuf' ? readOtlpProtobufRequest(body, options) : readOtlpJsonRequest(body, options);
  const total = countSpans(request);
  if (total > limits.maxSpansPerBatch) {
    throw new BatchRejection('too_large', `request has ${total} spans, more than the limit of ${limits.maxSpansPerBatch}`);
  }
  return mapOtlpTraceRequest(request, limits);
}

/** OtlpPartialSuccess: opentelemetry.proto.collector.trace.v1.ExportTracePartialSuccess. */
export interface OtlpPartialSuccess {
  /** rejectedSpans: how many spans of the request were refused. */
  rejectedSpans: number;
  /** errorMessage: why, for the sender's log; '' when every span was accepted. */
  errorMessage: string;
}

/**
 * otlpPartialSuccess: the partial-success answer for a decoded request: the rejected span count and a message
 * naming the first {@link PARTIAL_SUCCESS_SHOWN} violations (`path: problem`), '' when nothing was rejected.
 */
export function otlpPartialSuccess(decoded: DecodedSpans): OtlpPartialSuccess {
  if (decoded.rejectedSpans === 0 && decoded.rejected.length === 0) return { rejectedSpans: 0, errorMessage: '' };
  const shown = decoded.rejected.slice(0, PARTIAL_SUCCESS_SHOWN).map((v) => `${v.path}: ${v.message}`);
  const more = decoded.rejected.length - shown.length;
  const list = shown.join('; ') + (more > 0 ? `; and ${more} more` : '');
  return { rejectedSpans: decoded.rejectedSpans, errorMessage: `${decoded.rejectedSpans} span(s) rejected: ${list}` };
}

function pushVarint(out: number[], value: number): void {
  // Counts and lengths only: non-negative integers below 2^53, where plain arithmetic is exact (bit operators are 32-bit).
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

/**
 * encodeOtlpExportResponse: the protobuf bytes of an ExportTraceServiceResponse, the OTLP/HTTP
 * `application/x-protobuf` answer. Full success (0 rejected, no message) leaves `partial_success` unset as OTLP
 * asks, which encodes as an empty body.
 */
export function encodeOtlpExportResponse(partial: OtlpPartialSuccess): Buffer {
  const rejected = Number.isFinite(partial.rejectedSpans) ? Math.max(0, Math.floor(partial.rejectedSpans)) : 0;
  const message = Buffer.from(partial.errorMessage, 'utf8');
  if (rejected === 0 && message.length === 0) return Buffer.alloc(0);
  const inner: number[] = [];
  if (rejected > 0) {
    inner.push(0x08); // 1 rejected_spans: varint
    pushVarint(inner, rejected);
  }
  if (message.length > 0) {
    inner.push(0x12); // 2 error_message: len
    pushVarint(inner, message.length);
  }
  const outer: number[] = [0x0a]; // 1 partial_success: len
  pushVarint(outer, inner.length + message.length);
  return Buffer.concat([Buffer.from(outer), Buffer.from(inner), message]);
}
