import { HttpException } from '@nestjs/common';
import { MemoryMetricStore, MemoryTraceStore } from '@skein/adapter-memory';
import { MinuteAggregator, TraceSearch, mergeTraceSummary } from '@skein/domain';
import { threeServiceTrace } from '@skein/testing';
import { DEFAULT_NAMES_LOOKBACK_MS, QueryController, parseTraceSearch } from './query.controller';
import { QueryService } from './query.service';

const M0 = Date.UTC(2026, 0, 15, 10, 20);
const MIN = 60_000;
const HOUR = 60 * MIN;

async function refusal(promise: Promise<unknown>): Promise<{ status: number; body: unknown }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpException);
  return { status: (err as HttpException).getStatus(), body: (err as HttpException).getResponse() };
}

/** refused: the 400 body parseTraceSearch answers for these parameters. */
function refused(params: Record<string, unknown>): unknown {
  try {
    parseTraceSearch(params, M0);
  } catch (err) {
    expect(err).toBeInstanceOf(HttpException);
    expect((err as HttpException).getStatus()).toBe(400);
    return (err as HttpException).getResponse();
  }
  throw new Error(`accepted ${JSON.stringify(params)}`);
}

function invalid(message: string): unknown {
  return { error: 'invalid_parameter', message };
}

describe('QueryController', () => {
  let traces: MemoryTraceStore;
  let metrics: MemoryMetricStore;
  let controller: QueryController;

  beforeEach(() => {
    traces = new MemoryTraceStore();
    metrics = new MemoryMetricStore();
    controller = new QueryController(new QueryService(traces, metrics));
  });

  describe('GET /api/traces/:id', () => {
    it('returns the tree, accepting an upper-case id', async () => {
      const trace = threeServiceTrace({ startTimeUs: M0 * 1000 });
      await traces.writeSpans(trace.spans);
      const view = await controller.trace(trace.traceId.toUpperCase());
      expect(view).toMatchObject({ traceId: trace.traceId, spanCount: 5, clock: 'adjusted', skewAdjusted: false, roots: [{ spanId: trace.ids.gatewayServer, rpcId: '0' }] });
    });

    it('takes clock=adjusted (default) or clock=raw', async () => {
      const trace = threeServiceTrace({ startTimeUs: M0 * 1000 });
      await traces.writeSpans(trace.spans.map((span) => (span.spanId === trace.ids.paymentServer ? { ...span, startTimeUs: span.startTimeUs - 1_000_000 } : span)));
      const paymentStart = (view: Awaited<ReturnType<QueryController['trace']>>): number | undefined => view.roots[0]?.children[0]?.children[0]?.children[0]?.children[0]?.startTimeUs;
      const raw = trace.spans[4]?.startTimeUs ?? 0;
      expect(paymentStart(await controller.trace(trace.traceId))).toBe(raw);
      expect(paymentStart(await controller.trace(trace.traceId, 'adjusted'))).toBe(raw);
      expect(paymentStart(await controller.trace(trace.traceId, 'raw'))).toBe(raw - 1_000_000);
      expect(await controller.trace(trace.traceId, 'raw')).toMatchObject({ clock: 'raw', skewAdjusted: true });
      expect(await refusal(controller.trace(trace.traceId, 'utc'))).toEqual({ status: 400, body: invalid('clock: must be one of adjusted, raw, got "utc"') });
      expect(await refusal(controller.trace(trace.traceId, ['raw', 'raw']))).toEqual({ status: 400, body: invalid('clock: must be given once, as a plain value') });
    });

    it('answers 404 for an unknown trace and 400 for a malformed id', async () => {
      expect(await refusal(controller.trace('0af7651916cd43dd8448eb211c80319c'))).toEqual({
        status: 404,
        body: { error: 'not_found', message: 'no span of trace 0af7651916cd43dd8448eb211c80319c is stored (yet)' },
      });
      expect(await refusal(controller.trace('xyz'))).toEqual({ status: 400, body: invalid('id: must be 16 or 32 hex characters, got "xyz"') });
      expect((await refusal(controller.trace('0af7651916cd43dd8448eb211c80319'))).status).toBe(400);
    });
  });

  describe('GET /api/traces', () => {
    beforeEach(async () => {
      await traces.saveSummaryStates([mergeTraceSummary(undefined, threeServiceTrace({ startTimeUs: M0 * 1000 }).spans)]);
    });

    it('takes start and end as epoch milliseconds or ISO dates', async () => {
      expect((await controller.traces({ start: String(M0), end: String(M0 + MIN) })).traces).toHaveLength(1);
      expect((await controller.traces({ service: 'order-service', operation: '', start: new Date(M0).toISOString(), end: new Date(M0 + MIN).toISOString() })).traces).toHaveLength(1);
      expect((await controller.traces({ service: 'inventory', start: String(M0), end: String(M0 + MIN) })).traces).toHaveLength(0);
      expect((await controller.traces({ start: String(M0 + 1), end: String(M0 + MIN) })).traces).toHaveLength(0);
    });

    it('defaults to the last hour', async () => {
      const now = Date.now();
      await traces.saveSummaryStates([mergeTraceSummary(undefined, threeServiceTrace({ startTimeUs: (now - 30 * MIN) * 1000 }).spans)]);
      await traces.saveSummaryStates([mergeTraceSummary(undefined, threeServiceTrace({ startTimeUs: (now - 61 * MIN) * 1000 }).spans)]);
      expect((await controller.traces()).traces).toHaveLength(1);
      expect((await controller.traces({})).traces).toHaveLength(1);
    });

    it('filters on tags, durations, errors and a query string, end to end', async () => {
      const range = { start: String(M0 - MIN), end: String(M0 + HOUR) };
      const failing = threeServiceTrace({ startTimeUs: (M0 + MIN) * 1000, orderLatencyUs: 300_000, paymentError: true });
      await traces.saveSummaryStates([mergeTraceSummary(undefined, failing.spans)]);
      const ids = async (params: Record<string, unknown>): Promise<string[]> => (await controller.traces({ ...range, ...params })).traces.map((t) => t.traceId);
      expect(await ids({ errors: 'true' })).toEqual([failing.traceId]);
      expect(await ids({ minDuration: '200ms' })).toEqual([failing.traceId]);
      expect(await ids({ maxDuration: '0.2s' })).not.toContain(failing.traceId);
      expect(await ids({ tag: 'http.method=POST' })).toHaveLength(2);
      expect(await ids({ tag: ['http.method=POST', 'http.status_code=404'] })).toEqual([]);
      expect(await ids({ q: 'duration>200ms AND service:payment-service' })).toEqual([failing.traceId]);
      expect(await controller.traces({ ...range, q: 'name:charge duration>200 error:true' })).toEqual({
        traces: [expect.objectContaining({ traceId: failing.traceId })],
        query: 'operation:charge AND duration>200ms AND errors>0',
      });
      expect(await controller.traces({ ...range, errors: 'true' })).not.toHaveProperty('query');
      expect(await ids({ sort: 'shortest' })).toHaveLength(2);
      expect((await ids({ sort: 'longest' }))[0]).toBe(failing.traceId);
      expect((await ids({ sort: 'oldest', limit: '1' }))[0]).not.toBe(failing.traceId);
    });

    it('answers 400 naming the bad parameter', async () => {
      expect(await refusal(controller.traces({ start: 'yesterday' }))).toEqual({ status: 400, body: invalid('start: must be epoch milliseconds or an ISO-8601 date, got "yesterday"') });
      expect(await refusal(controller.traces({ start: String(M0 + 1), end: String(M0) }))).toEqual({ status: 400, body: invalid('start: must not be after end') });
      for (const limit of ['0', '1001', '2.5', 'ten', '-1']) {
        expect(await refusal(controller.traces({ start: String(M0), end: String(M0 + MIN), limit }))).toEqual({ status: 400, body: invalid(`limit: must be an integer from 1 to 1000, got "${limit}"`) });
      }
      expect((await controller.traces({ start: String(M0), end: String(M0 + MIN), limit: '1000' })).traces).toHaveLength(1);
    });
  });

  describe('parseTraceSearch', () => {
    it('defaults to the last hour, 20 traces, newest first, no filter', () => {
      expect(parseTraceSearch({}, M0)).toEqual({ startUs: (M0 - HOUR) * 1000, endUs: M0 * 1000, limit: 20, sort: 'newest' });
      expect(parseTraceSearch({ service: '', operation: '', tag: '', tags: '', errors: 'false', minDuration: '' }, M0)).toEqual(parseTraceSearch({}, M0));
    });

    it('maps every parameter', () => {
      const search = parseTraceSearch(
        {
          service: 'checkout',
          operation: 'POST /orders',
          tag: ['http.status_code=500', 'url=/a?b=c'],
          tags: '{"env":"prod","retry":true,"attempt":2}',
          minDuration: '200ms',
          maxDuration: '2s',
          errors: 'TRUE',
          start: '2026-01-15T10:00:00Z',
          end: String(M0),
          limit: '50',
          sort: 'most_spans',
          q: 'rootService:api-gateway',
        },
        M0,
      );
      expect(search).toEqual<TraceSearch>({
        service: 'checkout',
        operation: 'POST /orders',
        tags: { 'http.status_code': '500', url: '/a?b=c', env: 'prod', retry: 'true', attempt: '2' },
        minDurationUs: 200_000,
        maxDurationUs: 2_000_000,
        errorsOnly: true,
        startUs: Date.UTC(2026, 0, 15, 10) * 1000,
        endUs: M0 * 1000,
        limit: 50,
        sort: 'most_spans',
        query: { kind: 'field', field: 'rootService', value: 'api-gateway', pattern: false },
      });
    });

    it('accepts durations with units, a bare number being milliseconds as in the query grammar', () => {
      const min = (minDuration: string): number | undefined => parseTraceSearch({ minDuration }, M0).minDurationUs;
      expect([min('500us'), min('500µs'), min('1.5ms'), min('200'), min('2s'), min('1.25s'), min('2m'), min('1h'), min('0')]).toEqual([500, 500, 1_500, 200_000, 2_000_000, 1_250_000, 120_000_000, 3_600_000_000, 0]);
    });

    it('takes tags= as a comma list, and two values of one key as both being in the trace', () => {
      expect(parseTraceSearch({ tags: 'a=1, b=2,c=' }, M0).tags).toEqual({ a: '1', b: '2', c: '' });
      const search = parseTraceSearch({ tag: ['status=200', 'status=500', 'status=200'], q: 'service:x' }, M0);
      expect(search.tags).toEqual({ status: '200' });
      expect(search.query).toEqual({
        kind: 'and',
        clauses: [
          { kind: 'field', field: 'service', value: 'x', pattern: false },
          { kind: 'tag', key: 'status', value: '500', pattern: false },
        ],
      });
      expect(parseTraceSearch({ tag: ['k=1', 'k=2'] }, M0).query).toEqual({ kind: 'tag', key: 'k', value: '2', pattern: false });
    });

    it('answers 400 naming each bad parameter', () => {
      expect(refused({ minDuration: 'fast' })).toEqual(invalid('minDuration: must be a duration such as 200ms, 1.5s or 500us (a bare number is milliseconds), got "fast"'));
      expect(refused({ maxDuration: '2 days' })).toEqual(invalid('maxDuration: must be a duration such as 200ms, 1.5s or 500us (a bare number is milliseconds), got "2 days"'));
      expect(refused({ maxDuration: '-1s' })).toMatchObject({ message: expect.stringMatching(/^maxDuration: /) });
      expect(refused({ minDuration: '0.5us' })).toEqual(invalid('minDuration: must be a whole number of microseconds, got "0.5us"'));
      expect(refused({ minDuration: '1s', maxDuration: '999ms' })).toEqual(invalid('minDuration: must not be more than maxDuration'));
      expect(refused({ errors: 'yes' })).toEqual(invalid('errors: must be true or false, got "yes"'));
      expect(refused({ sort: 'random' })).toEqual(invalid('sort: must be one of newest, oldest, longest, shortest, most_spans, fewest_spans, got "random"'));
      expect(refused({ tag: 'novalue' })).toEqual(invalid('tag: must be key=value, got "novalue"'));
      expect(refused({ tag: '=x' })).toEqual(invalid('tag: must be key=value, got "=x"'));
      expect(refused({ tag: { nested: 'x' } })).toEqual(invalid('tag: must be plain values'));
      expect(refused({ tags: '{"a":' })).toEqual(invalid('tags: must be a JSON object of strings or a key=value,… list, got "{"a":"'));
      expect(refused({ tags: '{"a":{"b":1}}' })).toEqual(invalid('tags: value of "a" must be a string'));
      expect(refused({ tags: 'a=1,b' })).toEqual(invalid('tags: must be key=value, got "b"'));
      expect(refused({ service: ['a', 'b'] })).toEqual(invalid('service: must be given once, as a plain value'));
      expect(refused({ end: 'later' })).toEqual(invalid('end: must be epoch milliseconds or an ISO-8601 date, got "later"'));
    });

    it('answers 400 invalid_query with the position for a query string that does not parse', () => {
      const body = refused({ q: 'service:checkout AND (duration>200ms' }) as { error: string; message: string; position: number };
      expect(body.error).toBe('invalid_query');
      expect(typeof body.message).toBe('string');
      expect(body.message.length).toBeGreaterThan(0);
      expect(Number.isInteger(body.position)).toBe(true);
      expect(Object.keys(body).sort()).toEqual(['error', 'message', 'position']);
      expect((refused({ q: 'duration>fast' }) as { error: string }).error).toBe('invalid_query');
      // An empty query is an error, not "no filter" (a missing q is).
      expect(refused({ q: '' })).toEqual({ error: 'invalid_query', message: 'query: empty', position: 0 });
      expect(refused({ q: '   ' })).toMatchObject({ error: 'invalid_query', message: 'query: empty' });
      expect(refused({ q: ['a:1', 'b:2'] })).toEqual(invalid('q: must be given once, as a plain value'));
    });
  });

  describe('GET /api/metrics', () => {
    beforeEach(async () => {
      const aggregator = new MinuteAggregator();
      for (const minute of [0, 1, 1440]) {
        aggregator.add({ traceId: 'a'.repeat(32), spanId: (minute + 1).toString(16).padStart(16, '0'), service: 'order-service', operation: 'POST /orders', kind: 'server', startTimeUs: (M0 + minute * MIN) * 1000, durationUs: 1_000, error: false, tags: {} });
      }
      await metrics.applyWindows(aggregator.drain(), { stream: 'test/0', offset: 0 });
    });

    it('returns the minutes of the range', async () => {
      const { minutes } = await controller.metrics('order-service', 'POST /orders', String(M0), String(M0 + MIN));
      expect(minutes.map((m) => [m.minute, m.calls])).toEqual([
        [M0, 1],
        [M0 + MIN, 1],
      ]);
    });

    it('allows a range of exactly one day, and refuses a longer one', async () => {
      const { minutes } = await controller.metrics('order-service', 'POST /orders', String(M0 + 30_000), String(M0 + 30_000 + 1440 * MIN));
      expect(minutes.map((m) => m.minute)).toEqual([M0, M0 + MIN, M0 + 1440 * MIN]);
      expect(await refusal(controller.metrics('order-service', 'POST /orders', String(M0), String(M0 + 1440 * MIN + 1)))).toEqual({
        status: 400,
        body: invalid('from/to: at most 1440 minutes apart'),
      });
    });

    it('answers 400 for a missing service or operation and a reversed range', async () => {
      expect(await refusal(controller.metrics(undefined, 'POST /orders'))).toEqual({ status: 400, body: invalid('service: required') });
      expect(await refusal(controller.metrics('order-service', ''))).toEqual({ status: 400, body: invalid('operation: required') });
      expect(await refusal(controller.metrics('order-service', 'POST /orders', String(M0 + 1), String(M0)))).toEqual({ status: 400, body: invalid('from: must not be after to') });
      expect((await refusal(controller.metrics('order-service', 'POST /orders', 'soon'))).status).toBe(400);
    });

    it('lists services and operations with minute metrics', async () => {
      expect(await controller.metricServices()).toEqual({ services: ['order-service'] });
      expect(await controller.metricOperations('order-service')).toEqual({ operations: ['POST /orders'] });
    });
  });

  describe('GET /api/services', () => {
    it('lists services and operations of stored traces over a lookback, default 7 days', async () => {
      const now = Date.now();
      await traces.saveSummaryStates([mergeTraceSummary(undefined, threeServiceTrace({ startTimeUs: (now - 2 * HOUR) * 1000 }).spans)]);
      const old = threeServiceTrace({ startTimeUs: (now - DEFAULT_NAMES_LOOKBACK_MS - HOUR) * 1000 }).spans.map((span) => ({ ...span, service: `old-${span.service}` }));
      await traces.saveSummaryStates([mergeTraceSummary(undefined, old)]);
      expect(await controller.services()).toEqual({ services: ['api-gateway', 'order-service', 'payment-service'] });
      expect(await controller.services(String(HOUR))).toEqual({ services: [] });
      expect((await controller.services(String(DEFAULT_NAMES_LOOKBACK_MS + 2 * HOUR))).services).toHaveLength(6);
      expect(await controller.operations('order-service')).toEqual({ operations: ['POST /orders', 'charge'] });
      expect(await controller.operations('order-service', String(HOUR))).toEqual({ operations: [] });
      expect(await controller.operations('nobody')).toEqual({ operations: [] });
    });

    it('answers 400 for a bad lookback', async () => {
      for (const lookback of ['0', '-5', '1d', '1.5']) {
        expect(await refusal(controller.services(lookback))).toEqual({ status: 400, body: invalid(`lookback: must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}, got "${lookback}"`) });
      }
      expect((await refusal(controller.operations('x', 'week'))).status).toBe(400);
    });
  });
});
