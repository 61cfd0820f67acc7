import { HttpException } from '@nestjs/common';
import { MemoryMetricStore, MemoryTraceStore } from '@skein/adapter-memory';
import { TraceSearch, encodeZipkinV2, mergeTraceSummary } from '@skein/domain';
import { threeServiceTrace } from '@skein/testing';
import { QueryService } from './query.service';
import { zipkinAnnotationQuery } from './zipkin-annotation-query';
import { ZIPKIN_DEFAULT_LOOKBACK_MS, ZipkinReadController, parseZipkinSearch } from './zipkin-read.controller';

const M0 = Date.UTC(2026, 0, 15, 10, 20);
const MIN = 60_000;

function invalid(message: string): unknown {
  return { error: 'invalid_parameter', message };
}

/** refusal: status and body of the HttpException `run` throws or rejects with. */
async function refusal(run: () => unknown): Promise<{ status: number; body: unknown }> {
  let err: unknown;
  try {
    await run();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(HttpException);
  return { status: (err as HttpException).getStatus(), body: (err as HttpException).getResponse() };
}

describe('ZipkinReadController', () => {
  let traces: MemoryTraceStore;
  let controller: ZipkinReadController;

  beforeEach(() => {
    traces = new MemoryTraceStore();
    controller = new ZipkinReadController(new QueryService(traces, new MemoryMetricStore()));
  });

  async function store(trace: ReturnType<typeof threeServiceTrace>): Promise<void> {
    await traces.writeSpans(trace.spans);
    await traces.saveSummaryStates([mergeTraceSummary(undefined, trace.spans)]);
  }

  it('GET /api/v2/services and /api/v2/spans list names of recent traces', async () => {
    await store(threeServiceTrace({ startTimeUs: (Date.now() - 60 * MIN) * 1000 }));
    expect(await controller.services()).toEqual(['api-gateway', 'order-service', 'payment-service']);
    expect(await controller.spans('order-service')).toEqual(['POST /orders', 'charge']);
    expect(await controller.spans('nobody')).toEqual([]);
    expect(await refusal(() => controller.spans())).toEqual({ status: 400, body: invalid('serviceName: required') });
    expect(await refusal(() => controller.spans(''))).toEqual({ status: 400, body: invalid('serviceName: required') });
  });

  describe('GET /api/v2/trace/{traceId}', () => {
    it('returns the trace as Zipkin v2 spans: lowercase hex ids, microsecond timestamps, recorded times', async () => {
      const trace = threeServiceTrace({ startTimeUs: M0 * 1000 });
      // order-service's clock is 5 s behind: Zipkin's UI corrects skew itself, so the raw time is served.
      trace.spans[2] = { ...(trace.spans[2] as (typeof trace.spans)[number]), startTimeUs: M0 * 1000 - 5_000_000 };
      await traces.writeSpans(trace.spans);
      const spans = await controller.trace(trace.traceId.toUpperCase());
      expect(spans).toEqual(encodeZipkinV2(await traces.getTraceSpans(trace.traceId)));
      expect(spans).toHaveLength(5);
      const order = spans.find((span) => span.id === trace.ids.orderServer);
      expect(order).toEqual({
        traceId: trace.traceId,
        parentId: trace.ids.gatewayClient,
        id: trace.ids.orderServer,
        name: 'POST /orders',
        kind: 'SERVER',
        timestamp: M0 * 1000 - 5_000_000,
        duration: 20_000,
        localEndpoint: { serviceName: 'order-service' },
        tags: { 'http.status_code': '200' },
      });
      for (const span of spans) {
        expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
        expect(span.id).toMatch(/^[0-9a-f]{16}$/);
        expect(Number.isInteger(span.timestamp)).toBe(true);
      }
    });

    it('answers 404 for an unknown trace and 400 for a malformed id', async () => {
      expect(await refusal(() => controller.trace('0af7651916cd43dd8448eb211c80319c'))).toEqual({ status: 404, body: { error: 'not_found', message: 'trace 0af7651916cd43dd8448eb211c80319c not found' } });
      expect(await refusal(() => controller.trace('nope'))).toEqual({ status: 400, body: invalid('traceId: must be 16 or 32 hex characters, got "nope"') });
    });
  });

  describe('GET /api/v2/traces', () => {
    it('returns matching traces newest first, each as an array of spans', async () => {
      const now = Date.now();
      const older = threeServiceTrace({ startTimeUs: (now - 10 * MIN) * 1000 });
      const newer = threeServiceTrace({ startTimeUs: (now - 5 * MIN) * 1000, paymentError: true });
      await store(older);
      await store(newer);
      const result = await controller.traces({ serviceName: 'payment-service' });
      expect(result.map((spans) => spans[0]?.traceId)).toEqual([newer.traceId, older.traceId]);
      expect(result[0]).toEqual(encodeZipkinV2(await traces.getTraceSpans(newer.traceId)));
      expect((await controller.traces({ annotationQuery: 'http.method=POST and error' })).map((spans) => spans[0]?.traceId)).toEqual([newer.traceId]);
      expect(await controller.traces({ serviceName: 'payment-service', spanName: 'refund' })).toEqual([]);
      expect(await controller.traces({ serviceName: 'payment-service', spanName: 'all', limit: '1' })).toHaveLength(1);
      expect(await controller.traces({ endTs: String(now - 20 * MIN) })).toEqual([]);
      expect(await controller.traces({ lookback: String(7 * MIN) })).toHaveLength(1);
      expect(await controller.traces()).toHaveLength(2);
    });

    it('maps Zipkin parameters: durations in µs, endTs and lookback in ms, limit 10 and one day by default', () => {
      expect(parseZipkinSearch({}, M0)).toEqual<TraceSearch>({ startUs: (M0 - ZIPKIN_DEFAULT_LOOKBACK_MS) * 1000, endUs: M0 * 1000, limit: 10, sort: 'newest' });
      expect(
        parseZipkinSearch({ serviceName: 'frontend', spanName: 'get /api', annotationQuery: 'http.status_code=500', minDuration: '100000', maxDuration: '2000000', endTs: String(M0), lookback: String(MIN), limit: '25' }, 0),
      ).toEqual<TraceSearch>({
        service: 'frontend',
        operation: 'get /api',
        query: { kind: 'tag', key: 'http.status_code', value: '500', pattern: false },
        minDurationUs: 100_000,
        maxDurationUs: 2_000_000,
        startUs: (M0 - MIN) * 1000,
        endUs: M0 * 1000,
        limit: 25,
        sort: 'newest',
      });
      expect(parseZipkinSearch({ endTs: '1000', lookback: '86400000' }, M0)).toMatchObject({ startUs: 0, endUs: 1_000_000 });
      expect(parseZipkinSearch({ serviceName: '', spanName: '', annotationQuery: '' }, M0)).toEqual(parseZipkinSearch({}, M0));
    });

    it('answers 400 naming the bad parameter', () => {
      const refused = (params: Record<string, unknown>): unknown => {
        try {
          parseZipkinSearch(params, M0);
        } catch (err) {
          return (err as HttpException).getResponse();
        }
        throw new Error('accepted');
      };
      expect(refused({ minDuration: '100ms' })).toEqual(invalid(`minDuration: must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}, got "100ms"`));
      expect(refused({ maxDuration: '0' })).toMatchObject({ message: expect.stringMatching(/^maxDuration: /) });
      expect(refused({ minDuration: '2000', maxDuration: '1000' })).toEqual(invalid('minDuration: must not be more than maxDuration'));
      expect(refused({ endTs: 'now' })).toMatchObject({ message: expect.stringMatching(/^endTs: must be an integer/) });
      expect(refused({ lookback: '-1' })).toMatchObject({ message: expect.stringMatching(/^lookback: /) });
      expect(refused({ limit: '0' })).toEqual(invalid('limit: must be an integer from 1 to 1000, got "0"'));
      expect(refused({ annotationQuery: '=GET' })).toEqual(invalid('annotationQuery: a term has no key: "=GET"'));
    });
  });

  it('GET /api/v2/autocompleteKeys and autocompleteValues answer empty lists', () => {
    expect(controller.autocompleteKeys()).toEqual([]);
    expect(controller.autocompleteValues('environment')).toEqual([]);
  });
});

describe('zipkinAnnotationQuery', () => {
  it('translates key=value terms to tag clauses and words to tag-exists, ANDed', () => {
    expect(zipkinAnnotationQuery(undefined)).toBeUndefined();
    expect(zipkinAnnotationQuery(' and ')).toBeUndefined();
    expect(zipkinAnnotationQuery('http.method=GET')).toEqual({ kind: 'tag', key: 'http.method', value: 'GET', pattern: false });
    expect(zipkinAnnotationQuery('retried')).toEqual({ kind: 'tag', key: 'retried', value: undefined, pattern: false });
    expect(zipkinAnnotationQuery('http.url=/a?b=c* and  cache.hit= ')).toEqual({
      kind: 'and',
      clauses: [
        { kind: 'tag', key: 'http.url', value: '/a?b=c*', pattern: false },
        { kind: 'tag', key: 'cache.hit', value: undefined, pattern: false },
      ],
    });
  });

  it('matches error on the error tag or on failed spans', () => {
    expect(zipkinAnnotationQuery('http.method=GET and error')).toEqual({
      kind: 'and',
      clauses: [
        { kind: 'tag', key: 'http.method', value: 'GET', pattern: false },
        {
          kind: 'or',
          clauses: [
            { kind: 'tag', key: 'error', value: undefined, pattern: false },
            { kind: 'range', field: 'errors', op: '>', value: 0 },
          ],
        },
      ],
    });
    expect(zipkinAnnotationQuery('error=timeout')).toEqual({ kind: 'tag', key: 'error', value: 'timeout', pattern: false });
  });

  it('splits on " and " only, as Zipkin: "AND" and "band" stay inside a term', () => {
    expect(zipkinAnnotationQuery('q=rock AND roll and band')).toEqual({
      kind: 'and',
      clauses: [
        { kind: 'tag', key: 'q', value: 'rock AND roll', pattern: false },
        { kind: 'tag', key: 'band', value: undefined, pattern: false },
      ],
    });
  });
});
