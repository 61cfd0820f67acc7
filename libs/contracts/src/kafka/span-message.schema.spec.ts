import { Span } from '@skein/domain';
import { threeServiceTrace } from '@skein/testing';
import { SPAN_MESSAGE_VERSION, SpanMessage, decodeSpanMessage, decodeSpanRecords, encodeSpanMessages } from './span-message.schema';

const TRACE_A = '0af7651916cd43dd8448eb211c80319c';
const TRACE_B = '4bf92f3577b34da6a3ce929d0e0e4736';
const START_US = Date.UTC(2026, 10, 21, 12, 0) * 1000;

function span(traceId: string, n: number, overrides: Partial<Span> = {}): Span {
  return {
    traceId,
    spanId: n.toString(16).padStart(16, '0'),
    service: 'order-service',
    operation: 'POST /orders',
    kind: 'server',
    startTimeUs: START_US + n,
    durationUs: 1_000 * n,
    error: false,
    tags: { n: String(n) },
    ...overrides,
  };
}

function messageValue(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function decodedSpans(value: Buffer): Span[] {
  const result = decodeSpanMessage(value);
  if (!result.ok) throw new Error(`expected a valid message, got ${result.reason}`);
  return result.message.spans;
}

describe('encodeSpanMessages', () => {
  it('writes one message per trace, keyed by traceId, in first-seen order', () => {
    const a1 = span(TRACE_A, 1);
    const b1 = span(TRACE_B, 2);
    const a2 = span(TRACE_A, 3, { parentSpanId: a1.spanId, kind: 'client', remoteService: 'payment-service' });
    const b2 = span(TRACE_B, 4, { error: true });
    const messages = encodeSpanMessages([a1, b1, a2, b2]);
    expect(messages.map((m) => m.key)).toEqual([TRACE_A, TRACE_B]);
    expect(messages.map((m) => JSON.parse(m.value.toString('utf8')) as unknown)).toEqual([
      { v: 1, traceId: TRACE_A, sampled: true, spans: [a1, a2] },
      { v: 1, traceId: TRACE_B, sampled: true, spans: [b1, b2] },
    ]);
  });

  it('writes UTF-8 JSON values', () => {
    const [message] = encodeSpanMessages([span(TRACE_A, 1, { operation: 'GET /café' })]);
    expect(message?.value).toBeInstanceOf(Buffer);
    expect(message?.value.toString('utf8')).toContain('"operation":"GET /café"');
    expect(message?.value.toString('utf8').startsWith('{"v":1,"traceId":"0af7651916cd43dd8448eb211c80319c","sampled":true,"spans":[')).toBe(true);
  });

  it('writes nothing for no spans', () => {
    expect(encodeSpanMessages([])).toEqual([]);
  });
});

describe('decodeSpanMessage', () => {
  it('round-trips what encodeSpanMessages wrote', () => {
    const spans = [span(TRACE_A, 1, { rpcId: '0', host: 'h-1' }), span(TRACE_A, 2, { parentSpanId: span(TRACE_A, 1).spanId, kind: 'client' })];
    const [message] = encodeSpanMessages(spans);
    const result = decodeSpanMessage((message as { value: Buffer }).value);
    expect(result).toEqual({ ok: true, message: { v: SPAN_MESSAGE_VERSION, traceId: TRACE_A, sampled: true, spans } });
  });

  it('round-trips two shared threeServiceTrace() fixtures, one message each', () => {
    const first = threeServiceTrace();
    const second = threeServiceTrace({ paymentError: true });
    const messages = encodeSpanMessages([...first.spans, ...second.spans]);
    expect(messages.map((m) => m.key)).toEqual([first.traceId, second.traceId]);
    expect(messages.map((m) => decodeSpanMessage(m.value))).toEqual([
      { ok: true, message: { v: 1, traceId: first.traceId, sampled: true, spans: first.spans } },
      { ok: true, message: { v: 1, traceId: second.traceId, sampled: true, spans: second.spans } },
    ]);
  });

  it('round-trips every message of a multi-trace batch', () => {
    const spans = [span(TRACE_A, 1), span(TRACE_B, 2), span(TRACE_A, 3)];
    const decoded = encodeSpanMessages(spans).flatMap((m) => decodedSpans(m.value));
    expect(decoded).toEqual([spans[0], spans[2], spans[1]]);
  });

  it('validates and normalises the spans (ids lower-cased, defaults filled)', () => {
    const raw = { traceId: TRACE_A.toUpperCase(), spanId: '00000000000000AB', service: 's', operation: 'o', startTimeUs: START_US, durationUs: 5, tags: { code: 200 } };
    expect(decodedSpans(messageValue({ v: 1, traceId: TRACE_A, spans: [raw] }))).toEqual([
      { traceId: TRACE_A, spanId: '00000000000000ab', service: 's', operation: 'o', kind: 'internal', startTimeUs: START_US, durationUs: 5, error: false, tags: { code: '200' } },
    ]);
  });

  it('drops unknown top-level fields', () => {
    const result = decodeSpanMessage(messageValue({ v: 1, traceId: TRACE_A, spans: [span(TRACE_A, 1)], producedBy: 'gateway-1' }));
    expect(result).toEqual({ ok: true, message: { v: 1, traceId: TRACE_A, sampled: true, spans: [span(TRACE_A, 1)] } });
  });

  it.each([
    ['not JSON', Buffer.from('{"v":1,'), /^not JSON: .+/],
    ['an empty value', Buffer.alloc(0), /^not JSON: .+/],
  ])('rejects %s', (_label, value, reason) => {
    const result = decodeSpanMessage(value);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toMatch(reason);
      expect(result.violations).toEqual([]);
    }
  });

  it.each([
    ['null', null],
    ['a number', 1],
    ['a string', 'spans'],
  ])('rejects %s as not a JSON object', (_label, value) => {
    expect(decodeSpanMessage(messageValue(value))).toEqual({ ok: false, reason: 'not a JSON object', violations: [] });
  });

  it.each([
    ['a newer version', { v: 2, traceId: TRACE_A, spans: [] }, 'unsupported message version 2'],
    ['version 0', { v: 0, traceId: TRACE_A, spans: [] }, 'unsupported message version 0'],
    ['the version as a string', { v: '1', traceId: TRACE_A, spans: [] }, 'unsupported message version 1'],
    ['no version', { traceId: TRACE_A, spans: [] }, 'unsupported message version undefined'],
    ['an array', [{ v: 1 }], 'unsupported message version undefined'],
  ])('rejects %s', (_label, value, reason) => {
    expect(decodeSpanMessage(messageValue(value))).toEqual({ ok: false, reason, violations: [] });
  });

  it.each([
    ['no spans', { v: 1, traceId: TRACE_A }],
    ['spans as an object', { v: 1, traceId: TRACE_A, spans: { 0: span(TRACE_A, 1) } }],
  ])('rejects %s', (_label, value) => {
    expect(decodeSpanMessage(messageValue(value))).toEqual({ ok: false, reason: 'missing "spans" array', violations: [] });
  });

  it('rejects a message with an invalid span and names the span and field', () => {
    const bad = { ...span(TRACE_A, 2), traceId: undefined, durationUs: -1 };
    expect(decodeSpanMessage(messageValue({ v: 1, traceId: TRACE_A, spans: [span(TRACE_A, 1), bad] }))).toEqual({
      ok: false,
      reason: 'invalid span',
      violations: [
        { path: 'spans[1].traceId', message: 'required: 16 or 32 hex characters' },
        { path: 'spans[1].durationUs', message: 'must be an integer of microseconds between 0 and 7 days' },
      ],
    });
  });

  it.each([
    ['a span of another trace', { v: 1, traceId: TRACE_A, spans: [span(TRACE_A, 1), span(TRACE_B, 2)] }],
    ['a traceId that matches no span', { v: 1, traceId: TRACE_B, spans: [span(TRACE_A, 1)] }],
    ['no traceId', { v: 1, spans: [span(TRACE_A, 1)] }],
    ['a numeric traceId', { v: 1, traceId: 42, spans: [span(TRACE_A, 1)] }],
  ])('rejects %s as a traceId mismatch', (_label, value) => {
    expect(decodeSpanMessage(messageValue(value))).toEqual({ ok: false, reason: 'spans do not all belong to the message traceId', violations: [] });
  });

  it('is the inverse of the SpanMessage type', () => {
    const message: SpanMessage = { v: SPAN_MESSAGE_VERSION, traceId: TRACE_B, sampled: true, spans: [span(TRACE_B, 7)] };
    expect(decodeSpanMessage(messageValue(message))).toEqual({ ok: true, message });
  });
});

describe('decodeSpanRecords', () => {
  it('collects the spans of valid records and the offset and reason of invalid ones', () => {
    const [good1] = encodeSpanMessages([span(TRACE_A, 1), span(TRACE_A, 2)]);
    const [good2] = encodeSpanMessages([span(TRACE_B, 3)]);
    const records = [
      { offset: 10, value: (good1 as { value: Buffer }).value },
      { offset: 11, value: Buffer.from('garbage') },
      { offset: 12, value: messageValue({ v: 1, traceId: TRACE_A, spans: [{ ...span(TRACE_A, 4), spanId: 'xyz' }] }) },
      { offset: 13, value: messageValue({ v: 9, traceId: TRACE_A, spans: [] }) },
      { offset: 14, value: (good2 as { value: Buffer }).value },
    ];
    const { spans, invalid } = decodeSpanRecords(records);
    expect(spans).toEqual([span(TRACE_A, 1), span(TRACE_A, 2), span(TRACE_B, 3)]);
    expect(invalid).toEqual([
      { offset: 11, reason: expect.stringMatching(/^not JSON: .+/) },
      { offset: 12, reason: 'invalid span: spans[0].spanId: must be 16 hex characters' },
      { offset: 13, reason: 'unsupported message version 9' },
    ]);
  });

  it('returns nothing for no records', () => {
    expect(decodeSpanRecords([])).toEqual({ spans: [], unsampled: [], invalid: [] });
  });
});

describe('sampled flag', () => {
  it('keeps metrics-only spans apart: encode(sampled=false) decodes into `unsampled`', () => {
    const [sampledMessage] = encodeSpanMessages([span(TRACE_A, 1)]);
    const [unsampledMessage] = encodeSpanMessages([span(TRACE_B, 2)], false);
    expect(JSON.parse(unsampledMessage!.value.toString('utf8'))).toMatchObject({ sampled: false });
    const decoded = decodeSpanRecords([
      { offset: 1, value: sampledMessage!.value },
      { offset: 2, value: unsampledMessage!.value },
    ]);
    expect(decoded).toEqual({ spans: [span(TRACE_A, 1)], unsampled: [span(TRACE_B, 2)], invalid: [] });
  });

  it('reads a message without the flag as sampled, and refuses a non-boolean flag', () => {
    expect(decodeSpanMessage(messageValue({ v: 1, traceId: TRACE_A, spans: [span(TRACE_A, 1)] }))).toEqual({ ok: true, message: { v: 1, traceId: TRACE_A, sampled: true, spans: [span(TRACE_A, 1)] } });
    expect(decodeSpanMessage(messageValue({ v: 1, traceId: TRACE_A, sampled: 'no', spans: [span(TRACE_A, 1)] }))).toEqual({ ok: false, reason: '"sampled" must be true or false', violations: [] });
  });
});
