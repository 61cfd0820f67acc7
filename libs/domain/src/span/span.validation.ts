import { Attributes, SPAN_KINDS, Span, SpanEvent, SpanKind, SpanLink } from './span.model';

/** SpanLimits: size limits applied while validating spans. */
export interface SpanLimits {
  /** maxNameLength: longest service/operation name, characters. Default 256. */
  maxNameLength: number;
  /** maxTags: most tags on one span. Default 128. */
  maxTags: number;
  /** maxTagValueLength: longest tag value, characters. Default 4096. */
  maxTagValueLength: number;
  /** maxEvents: most events on one span. Default 128. */
  maxEvents: number;
  /** maxLinks: most links on one span. Default 128. */
  maxLinks: number;
}

/** DEFAULT_SPAN_LIMITS: the defaults of {@link SpanLimits}. */
export const DEFAULT_SPAN_LIMITS: SpanLimits = { maxNameLength: 256, maxTags: 128, maxTagValueLength: 4096, maxEvents: 128, maxLinks: 128 };

/** SpanViolation: one problem in one span: `path` names the span and field, e.g. `spans[2].traceId`. */
export interface SpanViolation {
  path: string;
  message: string;
}

/** SpanValidationResult: the valid span, or every violation found in it. */
export type SpanValidationResult = { ok: true; span: Span } | { ok: false; violations: SpanViolation[] };

const TRACE_ID = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const RPC_ID = /^0(?:\.\d{1,6}){0,63}$/;
// 2000-01-01 and 2200-01-01 in microseconds: anything outside is a unit mistake (ms or ns sent as µs).
const MIN_START_US = 946_684_800_000_000;
const MAX_START_US = 7_258_118_400_000_000;
const MAX_DURATION_US = 7 * 24 * 3600 * 1_000_000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * validateSpan: checks one untrusted JSON value against the span model and returns a normalised {@link Span}
 * (ids lower-cased, defaults filled) or every violation, each naming the field under `path`.
 */
export function validateSpan(input: unknown, path: string, limits: SpanLimits = DEFAULT_SPAN_LIMITS): SpanValidationResult {
  const violations: SpanViolation[] = [];
  const fail = (field: string, message: string) => violations.push({ path: `${path}.${field}`, message });
  if (!isRecord(input)) {
    return { ok: false, violations: [{ path, message: 'must be a JSON object' }] };
  }
  const id = (field: string, pattern: RegExp, what: string, required: boolean): string | undefined => {
    const value = input[field];
    if (value === undefined || value === null) {
      if (required) fail(field, `required: ${what}`);
      return undefined;
    }
    if (typeof value !== 'string' || !pattern.test(value.toLowerCase())) {
      fail(field, `must be ${what}`);
      return undefined;
    }
    return value.toLowerCase();
  };
  const name = (field: string, required: boolean): string | undefined => {
    const value = input[field];
    if (value === undefined || value === null) {
      if (required) fail(field, 'required: a non-empty string');
      return undefined;
    }
    if (typeof value !== 'string' || value.length === 0) fail(field, 'must be a non-empty string');
    else if (value.length > limits.maxNameLength) fail(field, `longer than ${limits.maxNameLength} characters`);
    else return value;
    return undefined;
  };
  const integer = (field: string, min: number, max: number, what: string): number | undefined => {
    const value = input[field];
    if (value === undefined || value === null) {
      fail(field, `required: ${what}`);
      return undefined;
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      fail(field, `must be ${what}`);
      return undefined;
    }
    return value;
  };

  const traceId = id('traceId', TRACE_ID, '16 or 32 hex characters', true);
  const spanId = id('spanId', SPAN_ID, '16 hex characters', true);
  const parentSpanId = id('parentSpanId', SPAN_ID, '16 hex characters', false);
  if (parentSpanId !== undefined && parentSpanId === spanId) fail('parentSpanId', 'must differ from spanId');
  let rpcId: string | undefined;
  if (input['rpcId'] !== undefined && input['rpcId'] !== null) {
    if (typeof input['rpcId'] !== 'string' || !RPC_ID.test(input['rpcId'])) fail('rpcId', 'must be a hierarchical id such as 0.1.2');
    else rpcId = input['rpcId'];
  }
  const service = name('service', true);
  const operation = name('operation', true);
  const remoteService = name('remoteService', false);
  const host = name('host', false);
  let kind: SpanKind = 'internal';
  if (input['kind'] !== undefined && input['kind'] !== null) {
    if (typeof input['kind'] !== 'string' || !SPAN_KINDS.includes(input['kind'] as SpanKind)) {
      fail('kind', `must be one of ${SPAN_KINDS.join(', ')}`);
    } else kind = input['kind'] as SpanKind;
  }
  const startTimeUs = integer('startTimeUs', MIN_START_US, MAX_START_US, 'an integer of microseconds since the epoch (years 2000-2200)');
  const durationUs = integer('durationUs', 0, MAX_DURATION_US, 'an integer of microseconds between 0 and 7 days');
  let error = false;
  if (input['error'] !== undefined && input['error'] !== null) {
    if (typeof input['error'] !== 'boolean') fail('error', 'must be true or false');
    else error = input['error'];
  }
  const attributes = (field: string, raw: unknown, maxValueLength = limits.maxTagValueLength): Attributes | undefined => {
    if (raw === undefined || raw === null) return undefined;
    if (!isRecord(raw)) {
      fail(field, 'must be an object of string values');
      return undefined;
    }
    const out: Attributes = {};
    const entries = Object.entries(raw);
    const noun = field === 'tags' ? 'tag' : 'attribute';
    if (entries.length > limits.maxTags) fail(field, `more than ${limits.maxTags} ${noun}s`);
    for (const [key, value] of entries) {
      if (key.length === 0 || key.length > limits.maxNameLength) fail(field, `${noun} key must have 1 to ${limits.maxNameLength} characters`);
      else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        const text = String(value);
        if (text.length > maxValueLength) fail(`${field}.${key}`, `longer than ${maxValueLength} characters`);
        else out[key] = text;
      } else fail(`${field}.${key}`, 'must be a string, number or boolean');
    }
    return out;
  };
  const tags = attributes('tags', input['tags']) ?? {};
  const resource = attributes('resource', input['resource']);
  const optionalText = (field: string, max: number): string | undefined => {
    const value = input[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') fail(field, 'must be a string');
    else if (value.length > max) fail(field, `longer than ${max} characters`);
    else return value;
    return undefined;
  };
  const app = name('app', false);
  const statusMessage = optionalText('statusMessage', limits.maxTagValueLength);
  let scope: Span['scope'];
  if (input['scope'] !== undefined && input['scope'] !== null) {
    const raw = input['scope'];
    if (!isRecord(raw) || typeof raw['name'] !== 'string' || (raw['version'] !== undefined && typeof raw['version'] !== 'string')) {
      fail('scope', 'must be {"name": string, "version"?: string}');
    } else if (raw['name'].length > limits.maxNameLength || String(raw['version'] ?? '').length > limits.maxNameLength) {
      fail('scope', `name and version must have at most ${limits.maxNameLength} characters`);
    } else scope = raw['version'] === undefined ? { name: raw['name'] } : { name: raw['name'], version: raw['version'] as string };
  }
  const list = <T>(field: string, max: number, item: (raw: Record<string, unknown>, at: string) => T | undefined): T[] | undefined => {
    const raw = input[field];
    if (raw === undefined || raw === null) return undefined;
    if (!Array.isArray(raw)) {
      fail(field, 'must be an array');
      return undefined;
    }
    if (raw.length > max) {
      fail(field, `more than ${max} entries`);
      return undefined;
    }
    const out: T[] = [];
    raw.forEach((entry, index) => {
      const at = `${field}[${index}]`;
      if (!isRecord(entry)) fail(at, 'must be an object');
      else {
        const value = item(entry, at);
        if (value !== undefined) out.push(value);
      }
    });
    return out;
  };
  const events = list<SpanEvent>('events', limits.maxEvents, (raw, at) => {
    const timeUs = raw['timeUs'];
    const eventName = raw['name'];
    if (typeof timeUs !== 'number' || !Number.isInteger(timeUs) || timeUs < MIN_START_US || timeUs > MAX_START_US) fail(`${at}.timeUs`, 'must be an integer of microseconds since the epoch');
    else if (typeof eventName !== 'string' || eventName.length === 0 || eventName.length > limits.maxNameLength) fail(`${at}.name`, `must be a string of 1 to ${limits.maxNameLength} characters`);
    // Events carry stack traces (exception.stacktrace), which routinely pass the tag limit: they get 8 times as much.
    else return { timeUs, name: eventName, attributes: attributes(`${at}.attributes`, raw['attributes'], limits.maxTagValueLength * 8) ?? {} };
    return undefined;
  });
  const links = list<SpanLink>('links', limits.maxLinks, (raw, at) => {
    const linkTrace = typeof raw['traceId'] === 'string' ? raw['traceId'].toLowerCase() : '';
    const linkSpan = typeof raw['spanId'] === 'string' ? raw['spanId'].toLowerCase() : '';
    if (!TRACE_ID.test(linkTrace)) fail(`${at}.traceId`, 'must be 16 or 32 hex characters');
    else if (!SPAN_ID.test(linkSpan)) fail(`${at}.spanId`, 'must be 16 hex characters');
    else return { traceId: linkTrace, spanId: linkSpan, attributes: attributes(`${at}.attributes`, raw['attributes']) ?? {} };
    return undefined;
  });
  if (violations.length > 0) return { ok: false, violations };
  const span: Span = {
    traceId: traceId as string,
    spanId: spanId as string,
    service: service as string,
    operation: operation as string,
    kind,
    startTimeUs: startTimeUs as number,
    durationUs: durationUs as number,
    error,
    tags,
  };
  if (parentSpanId !== undefined) span.parentSpanId = parentSpanId;
  if (rpcId !== undefined) span.rpcId = rpcId;
  if (remoteService !== undefined) span.remoteService = remoteService;
  if (host !== undefined) span.host = host;
  if (app !== undefined) span.app = app;
  if (statusMessage !== undefined) span.statusMessage = statusMessage;
  if (resource !== undefined) span.resource = resource;
  if (scope !== undefined) span.scope = scope;
  if (events !== undefined) span.events = events;
  if (links !== undefined) span.links = links;
  return { ok: true, span };
}
