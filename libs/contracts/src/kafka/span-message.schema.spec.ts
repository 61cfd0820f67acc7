import { Span, SpanJson, validateSpan } from '@skein/domain';
import { threeServiceTrace } from '@skein/testing';
import fc from 'fast-check';
import { SPAN_MESSAGE_V1, SPAN_MESSAGE_VERSION, SpanMessage, decodeSpanMessage, decodeSpanRecords, encodeSpanMessages } from './span-message.schema';

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

/** version2: a version 2 message value by hand: the header line, then one line per span (JSON, or the text given). */
function version2(traceId: string, spans: (unknown | string)[], header: Record<string, unknown> = {}): Buffer {
  const lines = [JSON.stringify({ v: 2, traceId, sampled: true, spans: spans.length, ...header }), ...spans.map((s) => (typeof s === 'string' ? s : JSON.stringify(s)))];
  return Buffer.from(lines.join('\n'));
}

/** jsonText: the text a SpanJson range points at. */
function jsonText(json: SpanJson | undefined): string | undefined {
  return json === undefined ? undefined : Buffer.from(json.bytes.subarray(json.start, json.end)).toString('utf8');
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
    expect(messages.map((m) => m.value.toString('utf8').split('\n').map((line) => JSON.parse(line) as unknown))).toEqual([
      [{ v: 2, traceId: TRACE_A, sampled: true, spans: 2 }, a1, a2],
      [{ v: 2, traceId: TRACE_B, sampled: true, spans: 2 }, b1, b2],
    ]);
  });

  it('writes a newline only between lines: a newline inside a string is escaped', () => {
    const [message] = encodeSpanMessages([span(TRACE_A, 1, { operation: 'two\nlines', tags: { note: 'a\nb' } })]);
    expect(message?.value.toString('utf8').split('\n')).toHaveLength(2);
    expect(decodedSpans((message as { value: Buffer }).value)[0]).toMatchObject({ operation: 'two\nlines', tags: { note: 'a\nb' } });
  });

  it('writes UTF-8 JSON values', () => {
    const [message] = encodeSpanMessages([span(TRACE_A, 1, { operation: 'GET /café' })]);
    expect(message?.value).toBeInstanceOf(Buffer);
    expect(message?.value.toString('utf8')).toContain('"operation":"GET /café"');
    expect(message?.value.toString('utf8').startsWith('{"v":2,"traceId":"0af7651916cd43dd8448eb211c80319c","sampled":true,"spans":1}\n{"traceId":')).toBe(true);
  });

  it('writes nothing for no spans', () => {
    expect(encodeSpanMessages([])).toEqual([]);
  });
});

describe('decodeSpanMessage', () => {
  it('round-trips what encodeSpanMessages wrote', () => {
    const spans = [span(TRACE_A, 1, { rpcId: '0', host: 'h-1' }), span(TRACE_A, 2, { parentSpanId: span(TRACE_A, 1).spanId, kind: 'client' })];
    const [message] = encodeSpanMessages(spans);
    const value = (message as { value: Buffer }).value;
    const result = decodeSpanMessage(value);
    expect(result).toEqual({ ok: true, message: { v: SPAN_MESSAGE_VERSION, traceId: TRACE_A, sampled: true, spans }, json: [expect.anything(), expect.anything()] });
    // Each span's JSON text is its line of the message, as written.
    const lines = value.toString('utf8').split('\n');
    expect(result.ok && result.json.map(jsonText)).toEqual([lines[1], lines[2]]);
    expect(result.ok && result.json.every((json) => json?.bytes === value)).toBe(true);
  });

  it('reads version 1 messages (one JSON document, written before the upgrade), without span JSON', () => {
    const spans = [span(TRACE_A, 1), span(TRACE_A, 2)];
    const result = decodeSpanMessage(messageValue({ v: 1, traceId: TRACE_A, sampled: true, spans }));
    expect(result).toEqual({ ok: true, message: { v: SPAN_MESSAGE_V1, traceId: TRACE_A, sampled: true, spans }, json: [undefined, undefined] });
  });

  it('reads a version 1 document that has newlines in it (whitespace)', () => {
    const spans = [span(TRACE_A, 1)];
    expect(decodedSpans(Buffer.from(JSON.stringify({ v: 1, traceId: TRACE_A, spans }, null, 2)))).toEqual(spans);
  });

  it('gives a span line as its JSON only when the line is the validated span exactly', () => {
    const normal = span(TRACE_A, 1);
    const variants: [string, unknown][] = [
      ['an upper-case id', { ...span(TRACE_A, 2), spanId: '00000000000000AB' }],
      ['a numeric tag', { ...span(TRACE_A, 3), tags: { code: 200 } }],
      ['an unknown field', { ...span(TRACE_A, 4), extra: 'x' }],
      ['a null optional field', { ...span(TRACE_A, 5), host: null }],
      ['a default to fill (no error field)', { ...span(TRACE_A, 6), error: undefined }],
      ['an event without attributes', { ...span(TRACE_A, 7), events: [{ timeUs: START_US, name: 'retry' }] }],
      ['a scope with an unknown member', { ...span(TRACE_A, 8), scope: { name: 'lib', extra: 1 } }],
      ['leading whitespace', ` ${JSON.stringify(span(TRACE_A, 9))}`],
    ];
    const withNested = { ...span(TRACE_A, 10), events: [{ timeUs: START_US, name: 'retry', attributes: { n: '1' } }], links: [{ traceId: TRACE_B, spanId: span(TRACE_B, 1).spanId, attributes: {} }], scope: { name: 'lib', version: '1.0' }, resource: { 'host.name': 'h' } };
    const result = decodeSpanMessage(version2(TRACE_A, [normal, ...variants.map(([, raw]) => raw), withNested]));
    if (!result.ok) throw new Error(result.reason);
    expect(jsonText(result.json[0])).toBe(JSON.stringify(normal));
    variants.forEach(([label], i) => expect([label, result.json[i + 1]]).toEqual([label, undefined]));
    expect(jsonText(result.json[variants.length + 1])).toBe(JSON.stringify(withNested));
    expect(result.message.spans[1]?.spanId).toBe('00000000000000ab');
    expect(result.message.spans[2]?.tags).toEqual({ code: '200' });
  });

  it('reads a header without span lines, and a final newline', () => {
    expect(decodeSpanMessage(Buffer.from(`{"v":2,"traceId":"${TRACE_A}","spans":0}`))).toEqual({ ok: true, message: { v: 2, traceId: TRACE_A, sampled: true, spans: [] }, json: [] });
    expect(decodedSpans(Buffer.concat([version2(TRACE_A, [span(TRACE_A, 1)]), Buffer.from('\n')]))).toEqual([span(TRACE_A, 1)]);
  });

  it.each([
    ['more lines than the header announces', version2(TRACE_A, [span(TRACE_A, 1), span(TRACE_A, 2)], { spans: 1 }), 'the header announces 1 span line(s), the message has 2'],
    ['fewer lines than the header announces', version2(TRACE_A, [span(TRACE_A, 1)], { spans: 3 }), 'the header announces 3 span line(s), the message has 1'],
    ['a span count that is not a number', version2(TRACE_A, [span(TRACE_A, 1)], { spans: [] }), '"spans" in the header must be the number of span lines'],
    ['a negative span count', version2(TRACE_A, [], { spans: -1 }), '"spans" in the header must be the number of span lines'],
    ['a sampled flag that is not a boolean', version2(TRACE_A, [span(TRACE_A, 1)], { sampled: 'yes' }), '"sampled" must be true or false'],
    ['a span of another trace', version2(TRACE_A, [span(TRACE_B, 1)]), 'spans do not all belong to the message traceId'],
  ])('rejects a version 2 message with %s', (_label, value, reason) => {
    expect(decodeSpanMessage(value)).toEqual({ ok: false, reason, violations: [] });
  });

  it.each([
    ['a line that is not JSON', version2(TRACE_A, [span(TRACE_A, 1), '{"traceId":']), /^not JSON \(spans\[1\]\): .+/],
    ['an empty line', version2(TRACE_A, [span(TRACE_A, 1), '', span(TRACE_A, 2)]), /^not JSON \(spans\[1\]\): .+/],
  ])('rejects a version 2 message with %s, naming the line', (_label, value, reason) => {
    const result = decodeSpanMessage(value);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it('rejects a version 2 message with an invalid span, naming the span and field', () => {
    expect(decodeSpanMessage(version2(TRACE_A, [span(TRACE_A, 1), { ...span(TRACE_A, 2), durationUs: -1 }]))).toEqual({
      ok: false,
      reason: 'invalid span',
      violations: [{ path: 'spans[1].durationUs', message: 'must be an integer of microseconds between 0 and 7 days' }],
    });
  });

  it('gives span JSON that parses to exactly the validated span, for any span line (fast-check)', () => {
    const id = (length: number) => fc.stringMatching(new RegExp(`^[0-9a-fA-F]{${length}}$`));
    const value = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null));
    const rawSpan = fc.record(
      {
        traceId: fc.constant(TRACE_A),
        spanId: id(16),
        parentSpanId: fc.oneof(id(16), fc.constant(null)),
        service: fc.string({ minLength: 1, maxLength: 12 }),
        operation: fc.string({ minLength: 1, maxLength: 12 }),
        kind: fc.constantFrom('server', 'client', 'internal', null),
        startTimeUs: fc.integer({ min: 946_684_800_000_000, max: 4_102_444_800_000_000 }),
        durationUs: fc.integer({ min: 0, max: 1_000_000 }),
        error: fc.oneof(fc.boolean(), fc.constant(null)),
        tags: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), value, { maxKeys: 4 }),
        resource: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 2 }),
        events: fc.array(fc.record({ timeUs: fc.constant(START_US), name: fc.string({ minLength: 1, maxLength: 8 }), attributes: fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), value, { maxKeys: 2 }) }, { requiredKeys: ['timeUs', 'name'] }), { maxLength: 2 }),
        scope: fc.record({ name: fc.string({ maxLength: 8 }), version: fc.string({ maxLength: 4 }) }, { requiredKeys: ['name'] }),
        extra: fc.string({ maxLength: 4 }),
      },
      { requiredKeys: ['traceId', 'spanId', 'service', 'operation', 'startTimeUs', 'durationUs'] },
    );
    fc.assert(
      fc.property(fc.array(rawSpan, { minLength: 1, maxLength: 4 }), (raws) => {
        const result = decodeSpanMessage(version2(TRACE_A, raws));
        if (!result.ok) return;
        result.message.spans.forEach((decoded, i) => {
          // The span is what validation makes of the line, however it was written.
          expect(validateSpan(raws[i], `spans[${i}]`)).toEqual({ ok: true, span: decoded });
          const text = jsonText(result.json[i]);
          if (text !== undefined) expect(JSON.parse(text)).toStrictEqual(JSON.parse(JSON.stringify(decoded)));
        });
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips two shared threeServiceTrace() fixtures, one message each', () => {
    const first = threeServiceTrace();
    const second = threeServiceTrace({ paymentError: true });
    const messages = encodeSpanMessages([...first.spans, ...second.spans]);
    expect(messages.map((m) => m.key)).toEqual([first.traceId, second.traceId]);
    expect(messages.map((m) => decodeSpanMessage(m.value))).toEqual([
      { ok: true, message: { v: 2, traceId: first.traceId, sampled: true, spans: first.spans }, json: first.spans.map(() => expect.anything()) },
      { ok: true, message: { v: 2, traceId: second.traceId, sampled: true, spans: second.spans }, json: second.spans.map(() => expect.anything()) },
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
    expect(result).toEqual({ ok: true, message: { v: 1, traceId: TRACE_A, sampled: true, spans: [span(TRACE_A, 1)] }, json: [undefined] });
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
    ['a newer version', { v: 3, traceId: TRACE_A, spans: [] }, 'unsupported message version 3'],
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
    const message: SpanMessage = { v: SPAN_MESSAGE_V1, traceId: TRACE_B, sampled: true, spans: [span(TRACE_B, 7)] };
    expect(decodeSpanMessage(messageValue(message))).toEqual({ ok: true, message, json: [undefined] });
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
    expect(JSON.parse(unsampledMessage!.value.toString('utf8').split('\n')[0] as string)).toMatchObject({ sampled: false });
    const decoded = decodeSpanRecords([
      { offset: 1, value: sampledMessage!.value },
      { offset: 2, value: unsampledMessage!.value },
    ]);
    expect(decoded).toEqual({ spans: [span(TRACE_A, 1)], unsampled: [span(TRACE_B, 2)], invalid: [] });
  });

  it('reads a message without the flag as sampled, and refuses a non-boolean flag', () => {
    expect(decodeSpanMessage(messageValue({ v: 1, traceId: TRACE_A, spans: [span(TRACE_A, 1)] }))).toEqual({ ok: true, message: { v: 1, traceId: TRACE_A, sampled: true, spans: [span(TRACE_A, 1)] }, json: [undefined] });
    expect(decodeSpanMessage(messageValue({ v: 1, traceId: TRACE_A, sampled: 'no', spans: [span(TRACE_A, 1)] }))).toEqual({ ok: false, reason: '"sampled" must be true or false', violations: [] });
  });
});
