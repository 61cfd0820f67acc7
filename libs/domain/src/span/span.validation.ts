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

const RPC_ID = /^0(?:\.\d{1,6}){0,63}$/;
// 2000-01-01 and 2200-01-01 in microseconds: anything outside is a unit mistake (ms or ns sent as µs).
const MIN_START_US = 946_684_800_000_000;
const MAX_START_US = 7_258_118_400_000_000;
const MAX_DURATION_US = 7 * 24 * 3600 * 1_000_000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * hexId: `value` lower-cased when it is `length` (or `altLength`) hex characters, else undefined. A char-code loop
 * instead of a regular expression and two toLowerCase calls: it runs three times for every span ingested.
 */
function hexId(value: string, length: number, altLength: number): string | undefined {
  if (value.length !== length && value.length !== altLength) return undefined;
  let upper = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 97 && c <= 102)) continue;
    if (c >= 65 && c <= 70) upper = true;
    else return undefined;
  }
  return upper ? value.toLowerCase() : value;
}

const traceIdOf = (value: string) => hexId(value, 32, 16);
const spanIdOf = (value: string) => hexId(value, 16, 16);

/** Check: the state of one validateSpan call, shared by the field checks below (module functions, not per-call closures). */
interface Check {
  input: Record<string, unknown>;
  path: string;
  limits: SpanLimits;
  violations: SpanViolation[];
  /** reuse: nested objects already in normal form are returned as they are, not copied ({@link SpanValidationMode}). */
  reuse: boolean;
}

/**
 * SpanValidationMode: what validateSpan returns for input already in normal form. `copy` (the default): always a
 * new span. `reuse`: the input itself, and its tags, resource, events and links, when nothing had to be normalised
 * (no id lower-cased, no default filled, no null, no unknown field, every attribute a string): then the span is
 * the input, and JSON text the input was parsed from is a valid encoding of the span. For input the caller owns
 * and will not change (a parsed topic message).
 */
export type SpanValidationMode = 'copy' | 'reuse';

function fail(check: Check, field: string, message: string): void {
  check.violations.push({ path: `${check.path}.${field}`, message });
}

function id(check: Check, field: string, parse: (value: string) => string | undefined, what: string, required: boolean): string | undefined {
  const value = check.input[field];
  if (value === undefined || value === null) {
    if (required) fail(check, field, `required: ${what}`);
    return undefined;
  }
  const parsed = typeof value === 'string' ? parse(value) : undefined;
  if (parsed === undefined) fail(check, field, `must be ${what}`);
  return parsed;
}

function name(check: Check, field: string, required: boolean): string | undefined {
  const value = check.input[field];
  if (value === undefined || value === null) {
    if (required) fail(check, field, 'required: a non-empty string');
    return undefined;
  }
  if (typeof value !== 'string' || value.length === 0) fail(check, field, 'must be a non-empty string');
  else if (value.length > check.limits.maxNameLength) fail(check, field, `longer than ${check.limits.maxNameLength} characters`);
  else return value;
  return undefined;
}

function integer(check: Check, field: string, min: number, max: number, what: string): number | undefined {
  const value = check.input[field];
  if (value === undefined || value === null) {
    fail(check, field, `required: ${what}`);
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(check, field, `must be ${what}`);
    return undefined;
  }
  return value;
}

function attributes(check: Check, field: string, raw: unknown, maxValueLength: number): Attributes | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isRecord(raw)) {
    fail(check, field, 'must be an object of string values');
    return undefined;
  }
  const { maxTags, maxNameLength } = check.limits;
  const keys = Object.keys(raw);
  if (check.reuse && keys.length <= maxTags && normalAttributes(raw, keys, maxNameLength, maxValueLength)) return raw as Attributes;
  const out: Attributes = {};
  const noun = field === 'tags' ? 'tag' : 'attribute';
  if (keys.length > maxTags) fail(check, field, `more than ${maxTags} ${noun}s`);
  for (const key of keys) {
    const value = raw[key];
    if (key.length === 0 || key.length > maxNameLength) fail(check, field, `${noun} key must have 1 to ${maxNameLength} characters`);
    else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      const text = typeof value === 'string' ? value : String(value);
      if (text.length > maxValueLength) fail(check, `${field}.${key}`, `longer than ${maxValueLength} characters`);
      else out[key] = text;
    } else fail(check, `${field}.${key}`, 'must be a string, number or boolean');
  }
  return out;
}

/** normalAttributes: every key within limits and every value a string within limits (nothing to convert or refuse). */
function normalAttributes(raw: Record<string, unknown>, keys: string[], maxKeyLength: number, maxValueLength: number): boolean {
  for (const key of keys) {
    const value = raw[key];
    if (key.length === 0 || key.length > maxKeyLength || typeof value !== 'string' || value.length > maxValueLength) return false;
  }
  return true;
}

function optionalText(check: Check, field: string, max: number): string | undefined {
  const value = check.input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') fail(check, field, 'must be a string');
  else if (value.length > max) fail(check, field, `longer than ${max} characters`);
  else return value;
  return undefined;
}

function list<T>(check: Check, field: string, max: number, item: (check: Check, raw: Record<string, unknown>, at: string) => T | undefined): T[] | undefined {
  const raw = check.input[field];
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) {
    fail(check, field, 'must be an array');
    return undefined;
  }
  if (raw.length > max) {
    fail(check, field, `more than ${max} entries`);
    return undefined;
  }
  const out: T[] = [];
  let unchanged = true;
  for (let index = 0; index < raw.length; index++) {
    const entry: unknown = raw[index];
    const at = `${field}[${index}]`;
    if (!isRecord(entry)) fail(check, at, 'must be an object');
    else {
      const value = item(check, entry, at);
      if (value !== undefined) out.push(value);
      unchanged &&= value === entry;
    }
  }
  return check.reuse && unchanged ? (raw as T[]) : out;
}

/** normalOrCopy: in reuse mode, `raw` itself when it has exactly the members of its normal form `normal`, else `normal`. */
function normalOrCopy<T extends object>(check: Check, raw: Record<string, unknown>, normal: T): T {
  return check.reuse && sameMembers(raw, normal) ? (raw as T) : normal;
}

/** sameMembers: `input` has exactly the members of `normal`, each identical (its normal form changed nothing). */
function sameMembers(input: Record<string, unknown>, normal: object): boolean {
  let inputMembers = 0;
  for (const key in input) {
    inputMembers++;
    if (input[key] !== (normal as Record<string, unknown>)[key]) return false;
  }
  let normalMembers = 0;
  for (const _member in normal) normalMembers++;
  return inputMembers === normalMembers;
}

function event(check: Check, raw: Record<string, unknown>, at: string): SpanEvent | undefined {
  const { maxNameLength, maxTagValueLength } = check.limits;
  const timeUs = raw['timeUs'];
  const eventName = raw['name'];
  if (typeof timeUs !== 'number' || !Number.isInteger(timeUs) || timeUs < MIN_START_US || timeUs > MAX_START_US) fail(check, `${at}.timeUs`, 'must be an integer of microseconds since the epoch');
  else if (typeof eventName !== 'string' || eventName.length === 0 || eventName.length > maxNameLength) fail(check, `${at}.name`, `must be a string of 1 to ${maxNameLength} characters`);
  // Events carry stack traces (exception.stacktrace), which routinely pass the tag limit: they get 8 times as much.
  else return normalOrCopy(check, raw, { timeUs, name: eventName, attributes: attributes(check, `${at}.attributes`, raw['attributes'], maxTagValueLength * 8) ?? {} });
  return undefined;
}

function link(check: Check, raw: Record<string, unknown>, at: string): SpanLink | undefined {
  const linkTrace = typeof raw['traceId'] === 'string' ? traceIdOf(raw['traceId']) : undefined;
  const linkSpan = typeof raw['spanId'] === 'string' ? spanIdOf(raw['spanId']) : undefined;
  if (linkTrace === undefined) fail(check, `${at}.traceId`, 'must be 16 or 32 hex characters');
  else if (linkSpan === undefined) fail(check, `${at}.spanId`, 'must be 16 hex characters');
  else return normalOrCopy(check, raw, { traceId: linkTrace, spanId: linkSpan, attributes: attributes(check, `${at}.attributes`, raw['attributes'], check.limits.maxTagValueLength) ?? {} });
  return undefined;
}

/**
 * validateSpan: checks one untrusted JSON value against the span model and returns a normalised {@link Span}
 * (ids lower-cased, defaults filled) or every violation, each naming the field under `path`. `mode` (default
 * `copy`): see {@link SpanValidationMode}.
 */
export function validateSpan(input: unknown, path: string, limits: SpanLimits = DEFAULT_SPAN_LIMITS, mode: SpanValidationMode = 'copy'): SpanValidationResult {
  if (!isRecord(input)) {
    return { ok: false, violations: [{ path, message: 'must be a JSON object' }] };
  }
  const violations: SpanViolation[] = [];
  const check: Check = { input, path, limits, violations, reuse: mode === 'reuse' };
  const traceId = id(check, 'traceId', traceIdOf, '16 or 32 hex characters', true);
  const spanId = id(check, 'spanId', spanIdOf, '16 hex characters', true);
  const parentSpanId = id(check, 'parentSpanId', spanIdOf, '16 hex characters', false);
  if (parentSpanId !== undefined && parentSpanId === spanId) fail(check, 'parentSpanId', 'must differ from spanId');
  let rpcId: string | undefined;
  if (input['rpcId'] !== undefined && input['rpcId'] !== null) {
    if (typeof input['rpcId'] !== 'string' || !RPC_ID.test(input['rpcId'])) fail(check, 'rpcId', 'must be a hierarchical id such as 0.1.2');
    else rpcId = input['rpcId'];
  }
  const service = name(check, 'service', true);
  const operation = name(check, 'operation', true);
  const remoteService = name(check, 'remoteService', false);
  const host = name(check, 'host', false);
  let kind: SpanKind = 'internal';
  if (input['kind'] !== undefined && input['kind'] !== null) {
    if (typeof input['kind'] !== 'string' || !SPAN_KINDS.includes(input['kind'] as SpanKind)) {
      fail(check, 'kind', `must be one of ${SPAN_KINDS.join(', ')}`);
    } else kind = input['kind'] as SpanKind;
  }
  const startTimeUs = integer(check, 'startTimeUs', MIN_START_US, MAX_START_US, 'an integer of microseconds since the epoch (years 2000-2200)');
  const durationUs = integer(check, 'durationUs', 0, MAX_DURATION_US, 'an integer of microseconds between 0 and 7 days');
  let error = false;
  if (input['error'] !== undefined && input['error'] !== null) {
    if (typeof input['error'] !== 'boolean') fail(check, 'error', 'must be true or false');
    else error = input['error'];
  }
  const tags = attributes(check, 'tags', input['tags'], limits.maxTagValueLength) ?? {};
  const resource = attributes(check, 'resource', input['resource'], limits.maxTagValueLength);
  const app = name(check, 'app', false);
  const statusMessage = optionalText(check, 'statusMessage', limits.maxTagValueLength);
  let scope: Span['scope'];
  if (input['scope'] !== undefined && input['scope'] !== null) {
    const raw = input['scope'];
    if (!isRecord(raw) || typeof raw['name'] !== 'string' || (raw['version'] !== undefined && typeof raw['version'] !== 'string')) {
      fail(check, 'scope', 'must be {"name": string, "version"?: string}');
    } else if (raw['name'].length > limits.maxNameLength || String(raw['version'] ?? '').length > limits.maxNameLength) {
      fail(check, 'scope', `name and version must have at most ${limits.maxNameLength} characters`);
    } else scope = normalOrCopy(check, raw, raw['version'] === undefined ? { name: raw['name'] } : { name: raw['name'], version: raw['version'] as string });
  }
  const events = list(check, 'events', limits.maxEvents, event);
  const links = list(check, 'links', limits.maxLinks, link);
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
  return { ok: true, span: normalOrCopy(check, input, span) };
}
