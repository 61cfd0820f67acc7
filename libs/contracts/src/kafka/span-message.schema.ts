import { BusMessage, Span, SpanViolation, groupByTrace, validateSpan } from '@skein/domain';

/** SPAN_MESSAGE_VERSION: the `v` field of a span message; consumers refuse other versions. */
export const SPAN_MESSAGE_VERSION = 1;

/**
 * SpanMessage: the value of one message on `skein.spans.v1`: UTF-8 JSON
 * `{"v":1,"traceId":…,"sampled":true,"spans":[…]}`, all spans of one trace from one ingest request. The message
 * key is the traceId. `sampled: false` marks spans the sampling policy keeps for minute metrics only: the
 * metrics-aggregator counts them, span-assembler does not store them. Absent means true.
 */
export interface SpanMessage {
  v: typeof SPAN_MESSAGE_VERSION;
  traceId: string;
  sampled: boolean;
  spans: Span[];
}

/** encodeSpanMessages: spans → one bus message per trace, keyed by traceId; `sampled` (default true) as above. */
export function encodeSpanMessages(spans: Span[], sampled = true): BusMessage[] {
  const messages: BusMessage[] = [];
  for (const [traceId, traceSpans] of groupByTrace(spans)) {
    const message: SpanMessage = { v: SPAN_MESSAGE_VERSION, traceId, sampled, spans: traceSpans };
    messages.push({ key: traceId, value: Buffer.from(JSON.stringify(message)) });
  }
  return messages;
}

/** SpanMessageDecodeResult: the spans of a message, or why it cannot be used. */
export type SpanMessageDecodeResult = { ok: true; message: SpanMessage } | { ok: false; reason: string; violations: SpanViolation[] };

/** decodeSpanMessage: parses and validates a consumed message value; consumers never trust the topic blindly. */
export function decodeSpanMessage(value: Buffer): SpanMessageDecodeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}`, violations: [] };
  }
  if (typeof parsed !== 'object' || parsed === null) return { ok: false, reason: 'not a JSON object', violations: [] };
  const record = parsed as Record<string, unknown>;
  if (record['v'] !== SPAN_MESSAGE_VERSION) return { ok: false, reason: `unsupported message version ${String(record['v'])}`, violations: [] };
  if (!Array.isArray(record['spans'])) return { ok: false, reason: 'missing "spans" array', violations: [] };
  const spans: Span[] = [];
  const violations: SpanViolation[] = [];
  record['spans'].forEach((raw, index) => {
    const result = validateSpan(raw, `spans[${index}]`);
    if (result.ok) spans.push(result.span);
    else violations.push(...result.violations);
  });
  if (violations.length > 0) return { ok: false, reason: 'invalid span', violations };
  const traceId = record['traceId'];
  if (typeof traceId !== 'string' || spans.some((s) => s.traceId !== traceId)) {
    return { ok: false, reason: 'spans do not all belong to the message traceId', violations: [] };
  }
  if (record['sampled'] !== undefined && typeof record['sampled'] !== 'boolean') return { ok: false, reason: '"sampled" must be true or false', violations: [] };
  return { ok: true, message: { v: SPAN_MESSAGE_VERSION, traceId, sampled: record['sampled'] !== false, spans } };
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
