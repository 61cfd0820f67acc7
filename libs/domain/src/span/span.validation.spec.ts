import { SPAN_KINDS, Span } from './span.model';
import { DEFAULT_SPAN_LIMITS, SpanLimits, SpanViolation, validateSpan } from './span.validation';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = '00f067aa0ba902b7';
const PARENT_ID = '53995c3f42cd8ad8';
const START_US = Date.UTC(2026, 0, 15, 10, 20, 0) * 1000;
// The accepted start-time range, computed independently of the constants in the implementation.
const YEAR_2000_US = Date.UTC(2000, 0, 1) * 1000;
const YEAR_2200_US = Date.UTC(2200, 0, 1) * 1000;
const SEVEN_DAYS_US = 7 * 24 * 3600 * 1_000_000;

const START_MESSAGE = 'must be an integer of microseconds since the epoch (years 2000-2200)';
const DURATION_MESSAGE = 'must be an integer of microseconds between 0 and 7 days';

/** raw: a minimal valid untrusted span (required fields only), with overrides. */
function raw(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { traceId: TRACE_ID, spanId: SPAN_ID, service: 'order-service', operation: 'POST /orders', startTimeUs: START_US, durationUs: 1_500, ...overrides };
}

function without(field: string): Record<string, unknown> {
  const value = raw();
  delete value[field];
  return value;
}

function accept(input: unknown, limits?: SpanLimits): Span {
  const result = validateSpan(input, 'spans[0]', limits);
  if (!result.ok) throw new Error(`expected a valid span, got ${JSON.stringify(result.violations)}`);
  return result.span;
}

function reject(input: unknown, path = 'spans[0]', limits?: SpanLimits): SpanViolation[] {
  const result = validateSpan(input, path, limits);
  if (result.ok) throw new Error(`expected violations, got span ${JSON.stringify(result.span)}`);
  return result.violations;
}

describe('validateSpan', () => {
  describe('a valid span', () => {
    it('fills defaults for a span with only the required fields, and adds no optional keys', () => {
      const span = accept(raw());
      expect(span).toEqual({
        traceId: TRACE_ID,
        spanId: SPAN_ID,
        service: 'order-service',
        operation: 'POST /orders',
        kind: 'internal',
        startTimeUs: START_US,
        durationUs: 1_500,
        error: false,
        tags: {},
      });
      expect(Object.keys(span).sort()).toEqual(['durationUs', 'error', 'kind', 'operation', 'service', 'spanId', 'startTimeUs', 'tags', 'traceId']);
    });

    it('keeps every optional field of a complete span', () => {
      const span = accept(
        raw({ parentSpanId: PARENT_ID, rpcId: '0.1.2', kind: 'client', error: true, remoteService: 'payment-service', host: '10.0.0.7', tags: { 'http.method': 'POST' } }),
      );
      expect(span).toEqual({
        traceId: TRACE_ID,
        spanId: SPAN_ID,
        parentSpanId: PARENT_ID,
        rpcId: '0.1.2',
        service: 'order-service',
        operation: 'POST /orders',
        kind: 'client',
        startTimeUs: START_US,
        durationUs: 1_500,
        error: true,
        remoteService: 'payment-service',
        host: '10.0.0.7',
        tags: { 'http.method': 'POST' },
      });
    });

    it('treats null optional fields as absent', () => {
      const span = accept(raw({ parentSpanId: null, rpcId: null, kind: null, error: null, remoteService: null, host: null, tags: null }));
      expect(span).toEqual({ traceId: TRACE_ID, spanId: SPAN_ID, service: 'order-service', operation: 'POST /orders', kind: 'internal', startTimeUs: START_US, durationUs: 1_500, error: false, tags: {} });
      expect('parentSpanId' in span).toBe(false);
      expect('rpcId' in span).toBe(false);
      expect('remoteService' in span).toBe(false);
      expect('host' in span).toBe(false);
    });

    it('drops fields the model does not know', () => {
      const span = accept(raw({ annotations: [1, 2], localEndpoint: { serviceName: 'x' } }));
      expect(Object.keys(span)).not.toContain('annotations');
      expect(Object.keys(span)).not.toContain('localEndpoint');
    });

    it('does not modify its input and returns a new tags object', () => {
      const input = raw({ traceId: TRACE_ID.toUpperCase(), tags: { retries: 3 } });
      const before = JSON.parse(JSON.stringify(input)) as unknown;
      const span = accept(input);
      expect(input).toEqual(before);
      expect(span.tags).not.toBe(input['tags']);
      expect(span.tags).toEqual({ retries: '3' });
    });
  });

  describe("mode 'reuse'", () => {
    const complete = () =>
      raw({ kind: 'server', error: false, tags: { 'http.method': 'GET' }, resource: { 'host.name': 'h-1' }, scope: { name: 'lib', version: '1' }, events: [{ timeUs: START_US, name: 'retry', attributes: { n: '1' } }], links: [{ traceId: TRACE_ID, spanId: PARENT_ID, attributes: {} }] });

    it('returns input already in normal form itself, nested objects included', () => {
      const input = complete();
      const result = validateSpan(input, 'spans[0]', DEFAULT_SPAN_LIMITS, 'reuse');
      expect(result.ok && result.span).toBe(input);
      // The copy mode gives an equal span that is a new object.
      const copied = validateSpan(input, 'spans[0]');
      expect(copied).toEqual({ ok: true, span: input });
      expect(copied.ok && copied.span).not.toBe(input);
    });

    it.each([
      ['an upper-case id', { spanId: SPAN_ID.toUpperCase() }],
      ['a default to fill (kind)', { kind: undefined }],
      ['a default to fill (error)', { error: undefined }],
      ['a null optional field', { host: null }],
      ['an unknown field', { extra: 1 }],
      ['a numeric tag', { tags: { retries: 3 } }],
      ['an event without attributes', { events: [{ timeUs: START_US, name: 'retry' }] }],
      ['a link with an upper-case id', { links: [{ traceId: TRACE_ID.toUpperCase(), spanId: PARENT_ID, attributes: {} }] }],
      ['a scope with an unknown member', { scope: { name: 'lib', extra: 'x' } }],
    ])('copies input with %s, normalised as in copy mode', (_label, overrides: Record<string, unknown>) => {
      const input: Record<string, unknown> = { ...complete(), ...overrides };
      for (const key of Object.keys(overrides)) if (overrides[key] === undefined) delete input[key];
      const result = validateSpan(input, 'spans[0]', DEFAULT_SPAN_LIMITS, 'reuse');
      expect(result.ok && result.span).not.toBe(input);
      expect(result).toEqual(validateSpan(input, 'spans[0]'));
    });

    it('keeps the nested objects that are in normal form when the span itself is copied', () => {
      const input: Record<string, unknown> = { ...complete(), spanId: SPAN_ID.toUpperCase() };
      const result = validateSpan(input, 'spans[0]', DEFAULT_SPAN_LIMITS, 'reuse');
      expect(result.ok && result.span.tags).toBe(input['tags']);
      expect(result.ok && result.span.spanId).toBe(SPAN_ID);
    });

    it('reports the same violations as copy mode', () => {
      const input = raw({ tags: { long: 'x'.repeat(DEFAULT_SPAN_LIMITS.maxTagValueLength + 1) }, durationUs: -1 });
      expect(validateSpan(input, 'spans[0]', DEFAULT_SPAN_LIMITS, 'reuse')).toEqual(validateSpan(input, 'spans[0]'));
    });
  });

  describe('non-object input', () => {
    it.each([
      ['null', null],
      ['undefined', undefined],
      ['an array', [raw()]],
      ['a string', 'span'],
      ['a number', 42],
      ['a boolean', true],
    ])('rejects %s with one violation at the span path itself', (_label, input) => {
      expect(reject(input, 'spans[3]')).toEqual([{ path: 'spans[3]', message: 'must be a JSON object' }]);
    });
  });

  describe('traceId', () => {
    it('accepts a 32-hex id and a 16-hex (Zipkin 64-bit) id', () => {
      expect(accept(raw({ traceId: TRACE_ID })).traceId).toBe(TRACE_ID);
      expect(accept(raw({ traceId: 'a3ce929d0e0e4736' })).traceId).toBe('a3ce929d0e0e4736');
    });

    it('lower-cases an upper-case id', () => {
      expect(accept(raw({ traceId: '0AF7651916CD43DD8448EB211C80319C' })).traceId).toBe(TRACE_ID);
      expect(accept(raw({ traceId: 'A3CE929D0E0E4736' })).traceId).toBe('a3ce929d0e0e4736');
    });

    it('is required', () => {
      expect(reject(without('traceId'))).toEqual([{ path: 'spans[0].traceId', message: 'required: 16 or 32 hex characters' }]);
      expect(reject(raw({ traceId: null }))).toEqual([{ path: 'spans[0].traceId', message: 'required: 16 or 32 hex characters' }]);
    });

    it.each([
      ['31 hex characters', TRACE_ID.slice(1)],
      ['33 hex characters', `${TRACE_ID}a`],
      ['24 hex characters', TRACE_ID.slice(0, 24)],
      ['a non-hex character', `${TRACE_ID.slice(0, 31)}g`],
      ['a dashed uuid', '0af76519-16cd-43dd-8448-eb211c80319c'],
      ['an empty string', ''],
      ['surrounding spaces', ` ${TRACE_ID} `],
      ['a number', 1234567890123456],
      ['an object', { hi: 1, lo: 2 }],
    ])('rejects %s', (_label, traceId) => {
      expect(reject(raw({ traceId }))).toEqual([{ path: 'spans[0].traceId', message: 'must be 16 or 32 hex characters' }]);
    });

    it('names the span index given by the caller in the path', () => {
      expect(reject(raw({ traceId: 'nope' }), 'spans[2]')).toEqual([{ path: 'spans[2].traceId', message: 'must be 16 or 32 hex characters' }]);
    });
  });

  describe('spanId', () => {
    it('lower-cases an upper-case id', () => {
      expect(accept(raw({ spanId: '00F067AA0BA902B7' })).spanId).toBe(SPAN_ID);
    });

    it('is required', () => {
      expect(reject(without('spanId'))).toEqual([{ path: 'spans[0].spanId', message: 'required: 16 hex characters' }]);
    });

    it.each([
      ['15 hex characters', SPAN_ID.slice(1)],
      ['17 hex characters', `${SPAN_ID}0`],
      ['32 hex characters (a trace id)', TRACE_ID],
      ['a non-hex character', '00f067aa0ba902bz'],
      ['a number', 12345],
    ])('rejects %s', (_label, spanId) => {
      expect(reject(raw({ spanId }))).toEqual([{ path: 'spans[0].spanId', message: 'must be 16 hex characters' }]);
    });
  });

  describe('parentSpanId', () => {
    it('is optional and lower-cased', () => {
      expect(accept(raw({ parentSpanId: '53995C3F42CD8AD8' })).parentSpanId).toBe(PARENT_ID);
    });

    it.each([
      ['15 hex characters', PARENT_ID.slice(1)],
      ['a 32-hex id', TRACE_ID],
      ['an empty string', ''],
      ['a number', 7],
    ])('rejects %s', (_label, parentSpanId) => {
      expect(reject(raw({ parentSpanId }))).toEqual([{ path: 'spans[0].parentSpanId', message: 'must be 16 hex characters' }]);
    });

    it('must differ from spanId, compared after lower-casing', () => {
      expect(reject(raw({ parentSpanId: SPAN_ID }))).toEqual([{ path: 'spans[0].parentSpanId', message: 'must differ from spanId' }]);
      expect(reject(raw({ parentSpanId: SPAN_ID.toUpperCase() }))).toEqual([{ path: 'spans[0].parentSpanId', message: 'must differ from spanId' }]);
    });
  });

  describe('rpcId', () => {
    it.each(['0', '0.1', '0.1.2', '0.12.3.4', '0.999999', `0${'.1'.repeat(63)}`])('accepts %s unchanged', (rpcId) => {
      expect(accept(raw({ rpcId })).rpcId).toBe(rpcId);
    });

    it.each([
      ['a root other than 0', '1'],
      ['a child of a root other than 0', '1.1'],
      ['a trailing dot', '0.'],
      ['an empty segment', '0..1'],
      ['a segment of 7 digits', '0.1234567'],
      ['64 levels below the root', `0${'.1'.repeat(64)}`],
      ['an empty string', ''],
      ['a letter', '0.a'],
      ['a number', 0],
    ])('rejects %s', (_label, rpcId) => {
      expect(reject(raw({ rpcId }))).toEqual([{ path: 'spans[0].rpcId', message: 'must be a hierarchical id such as 0.1.2' }]);
    });
  });

  describe.each(['service', 'operation'])('%s (required name)', (field) => {
    it('is required', () => {
      expect(reject(without(field))).toEqual([{ path: `spans[0].${field}`, message: 'required: a non-empty string' }]);
      expect(reject(raw({ [field]: null }))).toEqual([{ path: `spans[0].${field}`, message: 'required: a non-empty string' }]);
    });

    it('rejects an empty string and non-strings', () => {
      expect(reject(raw({ [field]: '' }))).toEqual([{ path: `spans[0].${field}`, message: 'must be a non-empty string' }]);
      expect(reject(raw({ [field]: 42 }))).toEqual([{ path: `spans[0].${field}`, message: 'must be a non-empty string' }]);
      expect(reject(raw({ [field]: ['a'] }))).toEqual([{ path: `spans[0].${field}`, message: 'must be a non-empty string' }]);
    });

    it('accepts exactly maxNameLength (256) characters and rejects one more', () => {
      expect(accept(raw({ [field]: 'x'.repeat(256) }))[field as 'service' | 'operation']).toBe('x'.repeat(256));
      expect(reject(raw({ [field]: 'x'.repeat(257) }))).toEqual([{ path: `spans[0].${field}`, message: 'longer than 256 characters' }]);
    });

    it('honours a custom maxNameLength', () => {
      const limits = { ...DEFAULT_SPAN_LIMITS, maxNameLength: 5 };
      expect(accept(raw({ service: 'abcde', operation: 'abcde' }), limits)[field as 'service' | 'operation']).toBe('abcde');
      expect(reject(raw({ service: 'abcde', operation: 'abcde', [field]: 'abcdef' }), 'spans[0]', limits)).toEqual([
        { path: `spans[0].${field}`, message: 'longer than 5 characters' },
      ]);
    });
  });

  describe.each(['remoteService', 'host'])('%s (optional name)', (field) => {
    it('is optional', () => {
      expect(field in accept(raw())).toBe(false);
      expect(accept(raw({ [field]: 'payment-service' }))[field as 'remoteService' | 'host']).toBe('payment-service');
    });

    it('rejects an empty string, a non-string and a name over the limit', () => {
      expect(reject(raw({ [field]: '' }))).toEqual([{ path: `spans[0].${field}`, message: 'must be a non-empty string' }]);
      expect(reject(raw({ [field]: 8080 }))).toEqual([{ path: `spans[0].${field}`, message: 'must be a non-empty string' }]);
      expect(reject(raw({ [field]: 'h'.repeat(257) }))).toEqual([{ path: `spans[0].${field}`, message: 'longer than 256 characters' }]);
    });
  });

  describe('kind', () => {
    it('defaults to internal', () => {
      expect(accept(raw()).kind).toBe('internal');
    });

    it.each([...SPAN_KINDS])('accepts %s', (kind) => {
      expect(accept(raw({ kind })).kind).toBe(kind);
    });

    it.each([['SERVER'], ['rpc'], [''], [1], [true]])('rejects %p', (kind) => {
      expect(reject(raw({ kind }))).toEqual([{ path: 'spans[0].kind', message: 'must be one of server, client, producer, consumer, internal' }]);
    });
  });

  describe('startTimeUs', () => {
    it('is required', () => {
      expect(reject(without('startTimeUs'))).toEqual([{ path: 'spans[0].startTimeUs', message: 'required: an integer of microseconds since the epoch (years 2000-2200)' }]);
    });

    it('accepts the inclusive bounds 2000-01-01 and 2200-01-01', () => {
      expect(accept(raw({ startTimeUs: YEAR_2000_US })).startTimeUs).toBe(946_684_800_000_000);
      expect(accept(raw({ startTimeUs: YEAR_2200_US })).startTimeUs).toBe(7_258_118_400_000_000);
    });

    it.each([
      ['one microsecond before 2000', YEAR_2000_US - 1],
      ['one microsecond after 2200-01-01', YEAR_2200_US + 1],
      ['milliseconds sent as microseconds', START_US / 1000],
      ['nanoseconds sent as microseconds', START_US * 1000],
      ['a fraction', START_US + 0.5],
      ['a numeric string', String(START_US)],
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['a negative number', -START_US],
    ])('rejects %s', (_label, startTimeUs) => {
      expect(reject(raw({ startTimeUs }))).toEqual([{ path: 'spans[0].startTimeUs', message: START_MESSAGE }]);
    });
  });

  describe('durationUs', () => {
    it('is required', () => {
      expect(reject(without('durationUs'))).toEqual([{ path: 'spans[0].durationUs', message: 'required: an integer of microseconds between 0 and 7 days' }]);
    });

    it('accepts 0 and exactly 7 days', () => {
      expect(accept(raw({ durationUs: 0 })).durationUs).toBe(0);
      expect(accept(raw({ durationUs: SEVEN_DAYS_US })).durationUs).toBe(604_800_000_000);
    });

    it.each([
      ['a negative duration', -1],
      ['one microsecond over 7 days', SEVEN_DAYS_US + 1],
      ['a fraction', 1.5],
      ['a string', '15'],
      ['a boolean', true],
    ])('rejects %s', (_label, durationUs) => {
      expect(reject(raw({ durationUs }))).toEqual([{ path: 'spans[0].durationUs', message: DURATION_MESSAGE }]);
    });
  });

  describe('error', () => {
    it('defaults to false and keeps booleans', () => {
      expect(accept(raw()).error).toBe(false);
      expect(accept(raw({ error: true })).error).toBe(true);
      expect(accept(raw({ error: false })).error).toBe(false);
    });

    it.each([['true'], [1], [0], [{}]])('rejects %p', (error) => {
      expect(reject(raw({ error }))).toEqual([{ path: 'spans[0].error', message: 'must be true or false' }]);
    });
  });

  describe('tags', () => {
    it('stringifies numeric and boolean values and keeps strings', () => {
      const span = accept(raw({ tags: { 'http.status_code': 503, 'retry.count': 0, ratio: 0.25, big: 1e21, cached: true, sampled: false, 'http.method': 'GET', empty: '' } }));
      expect(span.tags).toEqual({ 'http.status_code': '503', 'retry.count': '0', ratio: '0.25', big: '1e+21', cached: 'true', sampled: 'false', 'http.method': 'GET', empty: '' });
    });

    it.each([
      ['an array', ['a', 'b']],
      ['a string', 'a=b'],
      ['a number', 3],
    ])('rejects tags given as %s', (_label, tags) => {
      expect(reject(raw({ tags }))).toEqual([{ path: 'spans[0].tags', message: 'must be an object of string values' }]);
    });

    it.each([
      ['an object', { nested: 1 }],
      ['an array', ['x']],
      ['null', null],
    ])('rejects a tag value that is %s, naming the tag', (_label, value) => {
      expect(reject(raw({ tags: { ok: 'yes', 'db.statement': value } }))).toEqual([{ path: 'spans[0].tags.db.statement', message: 'must be a string, number or boolean' }]);
    });

    it('accepts a value of exactly maxTagValueLength (4096) characters and rejects one more', () => {
      expect(accept(raw({ tags: { sql: 'q'.repeat(4096) } })).tags['sql']).toHaveLength(4096);
      expect(reject(raw({ tags: { sql: 'q'.repeat(4097) } }))).toEqual([{ path: 'spans[0].tags.sql', message: 'longer than 4096 characters' }]);
    });

    it('measures the length of a stringified number', () => {
      const limits = { ...DEFAULT_SPAN_LIMITS, maxTagValueLength: 3, maxEvents: 128, maxLinks: 128 };
      expect(accept(raw({ tags: { n: 999 } }), limits).tags).toEqual({ n: '999' });
      expect(reject(raw({ tags: { n: 1000 } }), 'spans[0]', limits)).toEqual([{ path: 'spans[0].tags.n', message: 'longer than 3 characters' }]);
    });

    it('accepts exactly maxTags (128) tags and rejects 129', () => {
      const tags = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 'v']));
      expect(Object.keys(accept(raw({ tags: tags(128) })).tags)).toHaveLength(128);
      expect(reject(raw({ tags: tags(129) }))).toEqual([{ path: 'spans[0].tags', message: 'more than 128 tags' }]);
    });

    it('rejects an empty tag key and a key longer than maxNameLength', () => {
      expect(reject(raw({ tags: { '': 'v' } }))).toEqual([{ path: 'spans[0].tags', message: 'tag key must have 1 to 256 characters' }]);
      expect(reject(raw({ tags: { ['k'.repeat(257)]: 'v' } }))).toEqual([{ path: 'spans[0].tags', message: 'tag key must have 1 to 256 characters' }]);
      expect(Object.keys(accept(raw({ tags: { ['k'.repeat(256)]: 'v' } })).tags)).toEqual(['k'.repeat(256)]);
    });
  });

  describe('several violations', () => {
    it('reports every violation of a span, in field order, each with its own path', () => {
      const input = {
        traceId: 'xyz',
        spanId: 42,
        rpcId: '1.2',
        service: '',
        kind: 'rpc',
        startTimeUs: 1_700_000_000_000,
        durationUs: -5,
        error: 'no',
        tags: { ok: 'v', bad: { deep: true } },
      };
      expect(reject(input, 'spans[7]')).toEqual([
        { path: 'spans[7].traceId', message: 'must be 16 or 32 hex characters' },
        { path: 'spans[7].spanId', message: 'must be 16 hex characters' },
        { path: 'spans[7].rpcId', message: 'must be a hierarchical id such as 0.1.2' },
        { path: 'spans[7].service', message: 'must be a non-empty string' },
        { path: 'spans[7].operation', message: 'required: a non-empty string' },
        { path: 'spans[7].kind', message: 'must be one of server, client, producer, consumer, internal' },
        { path: 'spans[7].startTimeUs', message: START_MESSAGE },
        { path: 'spans[7].durationUs', message: DURATION_MESSAGE },
        { path: 'spans[7].error', message: 'must be true or false' },
        { path: 'spans[7].tags.bad', message: 'must be a string, number or boolean' },
      ]);
    });

    it('reports both the tag count and the bad values when a span has too many tags', () => {
      const limits: SpanLimits = { maxNameLength: 256, maxTags: 2, maxTagValueLength: 10, maxEvents: 128, maxLinks: 128 };
      expect(reject(raw({ tags: { a: 'v', b: 'much too long value', c: 'v' } }), 'spans[1]', limits)).toEqual([
        { path: 'spans[1].tags', message: 'more than 2 tags' },
        { path: 'spans[1].tags.b', message: 'longer than 10 characters' },
      ]);
    });
  });

  it('exports the documented default limits', () => {
    expect(DEFAULT_SPAN_LIMITS).toEqual({ maxNameLength: 256, maxTags: 128, maxTagValueLength: 4096, maxEvents: 128, maxLinks: 128 });
  });
});

describe('validateSpan: events and links', () => {
  const base = {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: '00f067aa0ba902b7',
    service: 'checkout',
    operation: 'charge',
    startTimeUs: 1_763_700_000_000_000,
    durationUs: 10,
  };

  it('keeps events, links, resource, scope and status message', () => {
    const result = validateSpan(
      {
        ...base,
        statusMessage: 'card declined',
        resource: { 'host.name': 'pod-7' },
        scope: { name: 'lib', version: '1.0' },
        events: [{ timeUs: 1_763_700_000_000_005, name: 'exception', attributes: { 'exception.type': 'TypeError' } }],
        links: [{ traceId: 'AB'.repeat(16), spanId: 'cd'.repeat(8), attributes: {} }],
      },
      'spans[0]',
    );
    expect(result).toMatchObject({
      ok: true,
      span: {
        statusMessage: 'card declined',
        resource: { 'host.name': 'pod-7' },
        scope: { name: 'lib', version: '1.0' },
        events: [{ timeUs: 1_763_700_000_000_005, name: 'exception', attributes: { 'exception.type': 'TypeError' } }],
        links: [{ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), attributes: {} }],
      },
    });
  });

  it('lets an event carry a stack trace longer than the tag limit, up to 8 times it', () => {
    const trace = 'at x\n'.repeat(2000); // 10,000 characters
    expect(validateSpan({ ...base, events: [{ timeUs: base.startTimeUs, name: 'exception', attributes: { 'exception.stacktrace': trace } }] }, 'spans[0]').ok).toBe(true);
    expect(validateSpan({ ...base, tags: { stack: trace } }, 'spans[0]')).toEqual({ ok: false, violations: [{ path: 'spans[0].tags.stack', message: 'longer than 4096 characters' }] });
    expect(validateSpan({ ...base, events: [{ timeUs: base.startTimeUs, name: 'exception', attributes: { s: 'x'.repeat(40_000) } }] }, 'spans[0]')).toEqual({
      ok: false,
      violations: [{ path: 'spans[0].events[0].attributes.s', message: 'longer than 32768 characters' }],
    });
  });

  it('names the bad event and link fields', () => {
    const result = validateSpan({ ...base, events: [{ timeUs: 5, name: 'x' }], links: [{ traceId: 'zz', spanId: 'cd'.repeat(8) }] }, 'spans[2]');
    expect(result).toEqual({
      ok: false,
      violations: [
        { path: 'spans[2].events[0].timeUs', message: 'must be an integer of microseconds since the epoch' },
        { path: 'spans[2].links[0].traceId', message: 'must be 16 or 32 hex characters' },
      ],
    });
  });
});
