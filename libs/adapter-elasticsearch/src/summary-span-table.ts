import { SPAN_KINDS, SpanKind, SummarySpan } from '@skein/domain';

/**
 * The compact spans of a trace summary document (its `spans` field, stored but not indexed), as a table:
 *
 *   {"table":1,"baseUs":<µs>,"strings":["checkout","POST /pay","host-1",…],
 *    "rows":[["<spanId>","<parentSpanId or empty>",<service>,<operation>,<host or -1>,<start − baseUs>,<durationUs>,<kind×2 + error>],…]}
 *
 * service, operation and host are positions in `strings`; kind is its position in SPAN_KINDS (server, client,
 * producer, consumer, internal); error adds 1. The trace id is the summary's own. A list of span objects, the
 * format written before (each repeating the trace id and every member name: ~290 bytes a span against 65–100,
 * as names repeat or not), is still read.
 */

/** SPAN_TABLE_VERSION: the `table` member of a span table; a reader refuses any other. */
export const SPAN_TABLE_VERSION = 1;

const KIND_CODES = new Map<SpanKind, number>(SPAN_KINDS.map((kind, index) => [kind, index]));
const INTERNAL_CODE = SPAN_KINDS.indexOf('internal');

/** SpanTable: the stored form of a summary's compact spans (see the top of this file). */
export interface SpanTable {
  table: typeof SPAN_TABLE_VERSION;
  /** baseUs: the earliest span start, µs since the epoch; rows hold starts relative to it. */
  baseUs: number;
  strings: string[];
  rows: SpanTableRow[];
}

/** SpanTableRow: spanId, parentSpanId ('' for none), service, operation, host (-1 for none), start − baseUs (µs), durationUs, kind × 2 + error. */
export type SpanTableRow = [string, string, number, number, number, number, number, number];

/**
 * encodeSpanTable: the span table of `spans` (compact spans of one trace), to be serialized with its summary
 * document: a table of numbers and short strings serializes in a fraction of the time the span objects took
 * (JSON.stringify of them was span-assembler's third-largest cost), and is a quarter of their size.
 */
export function encodeSpanTable(spans: readonly SummarySpan[]): SpanTable {
  let baseUs = spans.length === 0 ? 0 : Infinity;
  for (const span of spans) if (span.startTimeUs < baseUs) baseUs = span.startTimeUs;
  const positions = new Map<string, number>();
  const strings: string[] = [];
  const position = (text: string): number => {
    let at = positions.get(text);
    if (at === undefined) {
      at = strings.length;
      positions.set(text, at);
      strings.push(text);
    }
    return at;
  };
  const rows = new Array<SpanTableRow>(spans.length);
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i] as SummarySpan;
    const host = span.host === undefined ? -1 : position(span.host);
    const code = (KIND_CODES.get(span.kind) ?? INTERNAL_CODE) * 2 + (span.error ? 1 : 0);
    rows[i] = [span.spanId, span.parentSpanId ?? '', position(span.service), position(span.operation), host, span.startTimeUs - baseUs, span.durationUs, code];
  }
  return { table: SPAN_TABLE_VERSION, baseUs, strings, rows };
}

/** SpanTableError: a stored span table that cannot be read; the message names the trace and what is wrong. */
export class SpanTableError extends Error {}

const isHex16 = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{16}$/.test(value);
const isInteger = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value);

/**
 * decodeSummarySpans: the compact spans of trace `traceId` from a summary document's `spans` member: a span
 * table ({@link encodeSpanTable}) or the older list of span objects (taken as stored). Throws a
 * {@link SpanTableError} naming the trace and the fault for anything else.
 */
export function decodeSummarySpans(traceId: string, stored: unknown): SummarySpan[] {
  if (Array.isArray(stored)) return stored as SummarySpan[];
  const fail = (what: string): never => {
    throw new SpanTableError(`trace summary ${traceId}: its span table ${what}`);
  };
  if (typeof stored !== 'object' || stored === null) return fail('is missing (neither a table nor a list of spans)');
  const table = stored as Record<string, unknown>;
  if (table['table'] !== SPAN_TABLE_VERSION) return fail(`has version ${String(table['table'])}, this reader knows ${SPAN_TABLE_VERSION}`);
  const { baseUs, strings, rows } = table;
  if (!isInteger(baseUs)) return fail('has no integer baseUs');
  if (!Array.isArray(strings) || !strings.every((text) => typeof text === 'string')) return fail('has no list of strings');
  if (!Array.isArray(rows)) return fail('has no rows');
  const text = (row: number, value: unknown, field: string): string => {
    if (!isInteger(value) || value < 0 || value >= strings.length) return fail(`row ${row}: ${field} ${String(value)} is not a position in its ${strings.length} strings`);
    return strings[value] as string;
  };
  return rows.map((row: unknown, at): SummarySpan => {
    if (!Array.isArray(row) || row.length !== 8) return fail(`row ${at}: not a list of 8 values`);
    const [spanId, parentSpanId, service, operation, host, startOffsetUs, durationUs, code] = row as unknown[];
    if (!isHex16(spanId)) return fail(`row ${at}: spanId ${String(spanId)} is not 16 lower-case hex characters`);
    if (parentSpanId !== '' && !isHex16(parentSpanId)) return fail(`row ${at}: parentSpanId ${String(parentSpanId)} is neither empty nor 16 lower-case hex characters`);
    if (!isInteger(startOffsetUs) || !isInteger(durationUs) || durationUs < 0) return fail(`row ${at}: start offset and duration must be integers (µs), the duration not negative`);
    if (!isInteger(code) || code < 0 || code >= SPAN_KINDS.length * 2) return fail(`row ${at}: kind code ${String(code)} is not 0 to ${SPAN_KINDS.length * 2 - 1}`);
    const span: SummarySpan = {
      traceId,
      spanId,
      service: text(at, service, 'service'),
      operation: text(at, operation, 'operation'),
      startTimeUs: baseUs + startOffsetUs,
      durationUs,
      error: code % 2 === 1,
      kind: SPAN_KINDS[code >> 1] as SpanKind,
    };
    if (parentSpanId !== '') span.parentSpanId = parentSpanId as string;
    if (host !== -1) span.host = text(at, host, 'host');
    return span;
  });
}
