import { BadRequestException } from '@nestjs/common';
import { DURATION_UNITS_US, TRACE_SORTS, TraceQuery, TraceSort } from '@skein/domain';

/**
 * Query-string parsing shared by the read controllers: every bad value becomes a 400
 * `{error: 'invalid_parameter', message: '<param>: …'}` naming the parameter, never a silently ignored filter.
 */

/** QueryValue: what the HTTP layer gives for one query parameter: absent, once, repeated, or (qs brackets) nested. */
export type QueryValue = string | string[] | Record<string, unknown> | undefined;

/** invalidParameter: the 400 for a bad query parameter, naming it. */
export function invalidParameter(name: string, message: string): BadRequestException {
  return new BadRequestException({ error: 'invalid_parameter', message: `${name}: ${message}` });
}

/** single: the one value of a parameter (empty string = absent); 400 when it is repeated or nested. */
export function single(name: string, value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw invalidParameter(name, 'must be given once, as a plain value');
  return value;
}

/** many: every value of a repeatable parameter, empty ones dropped; 400 when nested. */
export function many(name: string, value: unknown): string[] {
  if (value === undefined) return [];
  const values = Array.isArray(value) ? (value as unknown[]) : [value];
  if (!values.every((v): v is string => typeof v === 'string')) throw invalidParameter(name, 'must be plain values');
  return values.filter((v) => v !== '');
}

/** parseTimeMs: epoch milliseconds (digits) or an ISO-8601 date → epoch ms; `fallback` when absent. */
export function parseTimeMs(name: string, value: unknown, fallback: number): number {
  const text = single(name, value);
  if (text === undefined) return fallback;
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw invalidParameter(name, `must be epoch milliseconds or an ISO-8601 date, got "${text}"`);
  return ms;
}

/** parseInteger: a whole number in [min, max]; `fallback` when absent. */
export function parseInteger(name: string, value: unknown, min: number, max: number, fallback: number): number {
  return optionalInteger(name, value, min, max) ?? fallback;
}

/** optionalInteger: a whole number in [min, max]; undefined when absent. */
export function optionalInteger(name: string, value: unknown, min: number, max: number): number | undefined {
  const text = single(name, value);
  if (text === undefined) return undefined;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw invalidParameter(name, `must be an integer from ${min} to ${max}, got "${text}"`);
  return n;
}

/** parseBoolean: `true`/`false`/`1`/`0` (any case); `fallback` when absent. */
export function parseBoolean(name: string, value: unknown, fallback: boolean): boolean {
  const text = single(name, value)?.toLowerCase();
  if (text === undefined) return fallback;
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw invalidParameter(name, `must be true or false, got "${text}"`);
}

/** oneOf: a value from a fixed list; `fallback` when absent. */
export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  const text = single(name, value);
  if (text === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(text)) throw invalidParameter(name, `must be one of ${allowed.join(', ')}, got "${text}"`);
  return text as T;
}

/** parseSort: a {@link TraceSort}; `newest` when absent. */
export function parseSort(value: unknown): TraceSort {
  return oneOf('sort', value, TRACE_SORTS, 'newest');
}

/**
 * parseDurationParamUs: a duration as in the query grammar (`duration>200ms`): a number with an optional unit
 * (us, µs, ms, s, m, h; a bare number is milliseconds, `1.5s`) → whole microseconds; undefined when absent.
 */
export function parseDurationParamUs(name: string, value: unknown): number | undefined {
  const text = single(name, value);
  if (text === undefined) return undefined;
  const match = /^(\d+)(?:\.(\d+))?\s*(\S*)$/u.exec(text.trim());
  const [, whole = '', fraction = '', unit = ''] = match ?? [];
  const perUnit = Object.prototype.hasOwnProperty.call(DURATION_UNITS_US, unit || 'ms') ? DURATION_UNITS_US[unit || 'ms'] : undefined;
  if (match === null || perUnit === undefined) throw invalidParameter(name, `must be a duration such as 200ms, 1.5s or 500us (a bare number is milliseconds), got "${text}"`);
  // Exact decimal arithmetic, as the query parser: 1.1ms is 1100 µs, not 1100.0000000000002.
  const scaled = BigInt(whole + fraction) * BigInt(perUnit);
  const divisor = 10n ** BigInt(fraction.length);
  if (scaled % divisor !== 0n) throw invalidParameter(name, `must be a whole number of microseconds, got "${text}"`);
  const us = scaled / divisor;
  if (us > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidParameter(name, `too large, got "${text}"`);
  return Number(us);
}

/** TagFilters: tag filters from the query string: one value per key in `tags`, extra values of a repeated key as query clauses. */
export interface TagFilters {
  tags: Record<string, string>;
  extra: TraceQuery[];
}

/**
 * parseTags: `tag=key=value` (repeatable) and `tags=` as a JSON object (`{"http.status_code":"500"}`, as Jaeger) or a
 * comma list (`k1=v1,k2=v2`). Every pair must be carried by some span of the trace; two values for one key mean
 * "both are in the trace" (different spans), so the second goes into a query clause.
 */
export function parseTags(tagValue: unknown, tagsValue: unknown): TagFilters {
  const pairs: [string, string][] = [];
  for (const text of many('tag', tagValue)) pairs.push(keyValue('tag', text));
  const tagsText = single('tags', tagsValue);
  if (tagsText !== undefined) {
    if (tagsText.trimStart().startsWith('{')) pairs.push(...jsonTags(tagsText));
    else for (const text of tagsText.split(',').filter((part) => part.trim() !== '')) pairs.push(keyValue('tags', text));
  }
  const out: TagFilters = { tags: {}, extra: [] };
  for (const [key, value] of pairs) {
    const known = Object.prototype.hasOwnProperty.call(out.tags, key) ? out.tags[key] : undefined;
    if (known === undefined) out.tags[key] = value;
    else if (known !== value) out.extra.push({ kind: 'tag', key, value, pattern: false });
  }
  return out;
}

function keyValue(name: string, text: string): [string, string] {
  const at = text.indexOf('=');
  const key = at < 0 ? '' : text.slice(0, at).trim();
  if (key === '') throw invalidParameter(name, `must be key=value, got "${text}"`);
  return [key, text.slice(at + 1)];
}

function jsonTags(text: string): [string, string][] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidParameter('tags', `must be a JSON object of strings or a key=value,… list, got "${text}"`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidParameter('tags', 'must be a JSON object of strings');
  return Object.entries(parsed as Record<string, unknown>).map(([key, value]) => {
    // Jaeger's UI sends numbers and booleans unquoted; tags are stored as strings.
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') throw invalidParameter('tags', `value of "${key}" must be a string`);
    if (key.trim() === '') throw invalidParameter('tags', 'empty key');
    return [key.trim(), String(value)];
  });
}
