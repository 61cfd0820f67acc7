import { BusMessage, Span } from '@skein/domain';

/** DEAD_LETTER_MESSAGE_VERSION: the `v` field of a dead-letter message. */
export const DEAD_LETTER_MESSAGE_VERSION = 1;

/**
 * DeadLetterMessage: the value of one message on `skein.spans.dead-letter.v1`: UTF-8 JSON
 * `{"v":1,"reason":…,"store":"elasticsearch","failedAtMs":…,"source":{"topic":…,"partition":…,"offset":…},"span":{…}}`.
 * `span` is the span exactly as consumed (before any assembly), so it can be fixed and replayed to the spans topic.
 */
export interface DeadLetterMessage {
  v: typeof DEAD_LETTER_MESSAGE_VERSION;
  /** reason: why the store refused the span, as the store said it (e.g. `mapper_parsing_exception: …`). */
  reason: string;
  /** store: which store refused it. */
  store: string;
  /** failedAtMs: when it was refused, epoch milliseconds. */
  failedAtMs: number;
  /** source: where the span was read from. */
  source: { topic: string; partition: number; offset: number };
  span: Span;
}

/** encodeDeadLetter: a dead-letter message for one span, keyed by its traceId. */
export function encodeDeadLetter(message: Omit<DeadLetterMessage, 'v'>): BusMessage {
  const value: DeadLetterMessage = { v: DEAD_LETTER_MESSAGE_VERSION, ...message };
  return { key: message.span.traceId, value: Buffer.from(JSON.stringify(value)) };
}

/** decodeDeadLetter: parses a dead-letter message value; throws naming what is missing (tools and tests). */
export function decodeDeadLetter(value: Buffer): DeadLetterMessage {
  const parsed = JSON.parse(value.toString('utf8')) as Partial<DeadLetterMessage>;
  if (parsed.v !== DEAD_LETTER_MESSAGE_VERSION) throw new Error(`dead-letter message: unsupported version ${String(parsed.v)}`);
  if (typeof parsed.reason !== 'string') throw new Error('dead-letter message: missing "reason"');
  if (typeof parsed.span !== 'object' || parsed.span === null) throw new Error('dead-letter message: missing "span"');
  return parsed as DeadLetterMessage;
}
