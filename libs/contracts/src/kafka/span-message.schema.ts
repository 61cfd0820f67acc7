import { BusMessage, DEFAULT_SPAN_LIMITS, Span, SpanJson, SpanViolation, groupByTrace, validateSpan } from '@skein/domain';

/** SPAN_MESSAGE_VERSION: the version of the span messages written (the header's `v`); consumers refuse versions they do not know. */
export const SPAN_MESSAGE_VERSION = 2;

/** SPAN_MESSAGE_V1: the previous version (one JSON document), still read, so messages written before an upgrade are not lost. */
export const SPAN_MESSAGE_V1 = 1;

/**
 * SpanMessage: the value of one message on `skein.spans.v1`, all spans of one trace from one ingest request, keyed
 * by traceId. Version 2 (written): UTF-8 lines separated by `\n`, a header
 * `{"v":2,"traceId":…,"sampled":true,"spans":N}` and then N lines, each one span as a JSON object, so a consumer
 * knows where each span's JSON text is and a store can keep it as it is (no second serialization). Version 1 (still
 * read): one JSON document `{"v":1,"traceId":…,"sampled":true,"spans":[…]}`. `sampled: false` marks spans the
 * sampling policy keeps for minute metrics only: the metrics-aggregator counts them, span-assembler does not store
 * them. Absent means true.
 */
export interface SpanMessage {
  v: typeof SPAN_MESSAGE_VERSION | typeof SPAN_MESSAGE_V1;
  traceId: string;
  sampled: boolean;
  spans: Span[];
}

/** encodeSpanMessages: spans → one bus message (version 2) per trace, keyed by traceId; `sampled` (default true) as above. */
export function encodeSpanMessages(spans: Span[], sampled = true): BusMessage[] {
  const messages: BusMessage[] = [];
  for (const [traceId, traceSpans] of groupByTrace(spans)) {
    // JSON.stringify never writes a raw newline (it escapes them in strings), so lines are spans.
    const lines = [`{"v":${SPAN_MESSAGE_VERSION},"traceId":${JSON.stringify(traceId)},"sampled":${sampled},"spans":${traceSpans.length}}`];
    for (const span of traceSpans) lines.push(JSON.stringify(span));
    messages.push({ key: traceId, value: Buffer.from(lines.join('\n')) });
  }
  return messages;
}

/**
 * SpanMessageDecodeResult: the spans of a message and, per span, its JSON text within the message when that text
 * is exactly the validated span ({@link SpanJson}; version 2 only, undefined where the span had to be normalised);
 * or why the message cannot be used.
 */
export type SpanMessageDecodeResult = { ok: true; message: SpanMessage; json: (SpanJson | undefined)[] } | { ok: false; reason: string; violations: SpanViolation[] };

type Refusal = Extract<SpanMessageDecodeResult, { ok: false }>;

const NEWLINE = 0x0a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

function refuse(reason: string, violations: SpanViolation[] = []): Refusal {
  return { ok: false, reason, violations };
}

/** parseJson: the parsed text, or a refusal naming `path` (a span's, when given; the message text is only built on failure). */
function parseJson(text: string, path?: string): { ok: true; value: unknown } | Refusal {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return refuse(`not JSON${path === undefined ? '' : ` (${path})`}: ${(err as Error).message}`);
  }
}

/** SPAN_PATHS: `spans[0]`, `spans[1]`, …: the path validation names a span by, made once per position, not per span read. */
const SPAN_PATHS: string[] = [];
const MAX_CACHED_SPAN_PATHS = 4_096;

function spanPath(index: number): string {
  if (index >= MAX_CACHED_SPAN_PATHS) return `spans[${index}]`;
  for (let i = SPAN_PATHS.length; i <= index; i++) SPAN_PATHS.push(`spans[${i}]`);
  return SPAN_PATHS[index] as string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** decodeSpanMessage: parses and validates a consumed message value (version 2 or 1); consumers never trust the topic blindly. */
export function decodeSpanMessage(value: Buffer): SpanMessageDecodeResult {
  const newline = value.indexOf(NEWLINE);
  const headerEnd = newline < 0 ? value.length : newline;
  const firstLine = parseJson(value.toString('utf8', 0, headerEnd));
  // A version 1 document may contain newlines too (whitespace): only a first line that is a version 2 header makes it version 2.
  if (firstLine.ok && isObject(firstLine.value) && firstLine.value['v'] === SPAN_MESSAGE_VERSION) return decodeVersion2(value, firstLine.value, headerEnd + 1);
  const parsed = newline < 0 ? firstLine : parseJson(value.toString('utf8'));
  if (!parsed.ok) return parsed;
  if (!isObject(parsed.value)) return refuse('not a JSON object');
  const record = parsed.value;
  if (record['v'] !== SPAN_MESSAGE_V1) return refuse(`unsupported message version ${String(record['v'])}`);
  if (!Array.isArray(record['spans'])) return refuse('missing "spans" array');
  const spans: Span[] = [];
  const violations: SpanViolation[] = [];
  record['spans'].forEach((raw, index) => {
    const result = validateSpan(raw, spanPath(index), DEFAULT_SPAN_LIMITS, 'reuse');
    if (result.ok) spans.push(result.span);
    else violations.push(...result.violations);
  });
  if (violations.length > 0) return refuse('invalid span', violations);
  return checkedMessage(SPAN_MESSAGE_V1, record, spans, new Array<undefined>(spans.length));
}

function decodeVersion2(value: Buffer, header: Record<string, unknown>, bodyStart: number): SpanMessageDecodeResult {
  const count = header['spans'];
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) return refuse('"spans" in the header must be the number of span lines');
  const spans: Span[] = [];
  const json: (SpanJson | undefined)[] = [];
  const violations: SpanViolation[] = [];
  let lines = 0;
  for (let start = bodyStart; start < value.length; lines++) {
    const newline = value.indexOf(NEWLINE, start);
    const end = newline < 0 ? value.length : newline;
    const path = spanPath(lines);
    const parsed = parseJson(value.toString('utf8', start, end), path);
    if (!parsed.ok) return parsed;
    const result = validateSpan(parsed.value, path, DEFAULT_SPAN_LIMITS, 'reuse');
    if (result.ok) {
      spans.push(result.span);
      // The span is the parsed object itself (nothing normalised), so this line is its JSON text as it is.
      json.push(result.span === parsed.value && value[start] === OPEN_BRACE && value[end - 1] === CLOSE_BRACE ? { bytes: value, start, end } : undefined);
    } else violations.push(...result.violations);
    start = end + 1;
  }
  if (violations.length > 0) return refuse('invalid span', violations);
  if (lines !== count) return refuse(`the header announces ${count} span line(s), the message has ${lines}`);
  return checkedMessage(SPAN_MESSAGE_VERSION, header, spans, json);
}

function checkedMessage(v: SpanMessage['v'], record: Record<string, unknown>, spans: Span[], json: (SpanJson | undefined)[]): SpanMessageDecodeResult {
  const traceId = record['traceId'];
  if (typeof traceId !== 'string' || spans.some((s) => s.traceId !== traceId)) return refuse('spans do not all belong to the message traceId');
  if (record['sampled'] !== undefined && typeof record['sampled'] !== 'boolean') return refuse('"sampled" must be true or false');
  return { ok: true, message: { v, traceId, sampled: record['sampled'] !== false, spans }, json };
}

/** InvalidSpanRecord: a consumed record that could not be used, with its offset and why. */
export interface InvalidSpanRecord {
  offset: number;
  reason: string;
}

/**
 * decodeSpanRecords: the spans of a consumed batch of span messages — `spans` from sampled messages (traces to
 * store), `unsampled` from messages kept for metrics only — and the records that were invalid.
 */
export function decodeSpanRecords(records: Iterable<{ offset: number; value: Buffer }>): { spans: Span[]; unsampled: Span[]; invalid: InvalidSpanRecord[] } {
  const spans: Span[] = [];
  const unsampled: Span[] = [];
  const invalid: InvalidSpanRecord[] = [];
  for (const record of records) {
    const decoded = decodeSpanMessage(record.value);
    if (decoded.ok) (decoded.message.sampled ? spans : unsampled).push(...decoded.message.spans);
    else {
      const first = decoded.violations[0];
      invalid.push({ offset: record.offset, reason: first ? `${decoded.reason}: ${first.path}: ${first.message}` : decoded.reason });
    }
  }
  return { spans, unsampled, invalid };
}
