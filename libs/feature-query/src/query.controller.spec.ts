import { HttpException } from '@nestjs/common';
import { MemoryMetricStore, MemoryTraceStore } from '@skein/adapter-memory';
import { MinuteAggregator, mergeTraceSummary } from '@skein/domain';
import { threeServiceTrace } from '@skein/testing';
import { QueryController } from './query.controller';
import { QueryService } from './query.service';

const M0 = Date.UTC(2026, 0, 15, 10, 20);
const MIN = 60_000;

async function refusal(promise: Promise<unknown>): Promise<{ status: number; body: unknown }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpException);
  return { status: (err as HttpException).getStatus(), body: (err as HttpException).getResponse() };
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
      expect(view).toMatchObject({ traceId: trace.traceId, spanCount: 5, roots: [{ spanId: trace.ids.gatewayServer, rpcId: '0' }] });
    });

    it('answers 404 for an unknown trace and 400 for a malformed id', async () => {
      expect(await refusal(controller.trace('0af7651916cd43dd8448eb211c80319c'))).toEqual({
        status: 404,
        body: { error: 'not_found', message: 'no span of trace 0af7651916cd43dd8448eb211c80319c is stored (yet)' },
      });
      expect(await refusal(controller.trace('xyz'))).toEqual({ status: 400, body: { error: 'invalid_parameter', message: 'id: must be 16 or 32 hex characters, got "xyz"' } });
      expect((await refusal(controller.trace('0af7651916cd43dd8448eb211c80319'))).status).toBe(400);
    });
  });

  describe('GET /api/traces', () => {
    beforeEach(async () => {
      await traces.saveSummaryStates([mergeTraceSummary(undefined, threeServiceTrace({ startTimeUs: M0 * 1000 }).spans)]);
    });

    it('takes start and end as epoch milliseconds or ISO dates', async () => {
      expect((await controller.traces(undefined, undefined, String(M0), String(M0 + MIN))).traces).toHaveLength(1);
      expect((await controller.traces('order-service', '', new Date(M0).toISOString(), new Date(M0 + MIN).toISOString())).traces).toHaveLength(1);
      expect((await controller.traces('inventory', undefined, String(M0), String(M0 + MIN))).traces).toHaveLength(0);
      expect((await controller.traces(undefined, undefined, String(M0 + 1), String(M0 + MIN))).traces).toHaveLength(0);
    });

    it('defaults to the last hour', async () => {
      const now = Date.now();
      await traces.saveSummaryStates([mergeTraceSummary(undefined, threeServiceTrace({ startTimeUs: (now - 30 * MIN) * 1000 }).spans)]);
      await traces.saveSummaryStates([mergeTraceSummary(undefined, threeServiceTrace({ startTimeUs: (now - 61 * MIN) * 1000 }).spans)]);
      expect((await controller.traces()).traces).toHaveLength(1);
    });

    it('answers 400 naming the bad parameter', async () => {
      expect(await refusal(controller.traces(undefined, undefined, 'yesterday'))).toEqual({
        status: 400,
        body: { error: 'invalid_parameter', message: 'start: must be epoch milliseconds or an ISO-8601 date, got "yesterday"' },
      });
      expect(await refusal(controller.traces(undefined, undefined, String(M0 + 1), String(M0)))).toEqual({ status: 400, body: { error: 'invalid_parameter', message: 'start: must not be after end' } });
      for (const limit of ['0', '1001', '2.5', 'ten']) {
        expect(await refusal(controller.traces(undefined, undefined, String(M0), String(M0 + MIN), limit))).toEqual({
          status: 400,
          body: { error: 'invalid_parameter', message: `limit: must be an integer from 1 to 1000, got "${limit}"` },
        });
      }
      expect((await controller.traces(undefined, undefined, String(M0), String(M0 + MIN), '1000')).traces).toHaveLength(1);
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
        body: { error: 'invalid_parameter', message: 'from/to: at most 1440 minutes apart' },
      });
    });

    it('answers 400 for a missing service or operation and a reversed range', async () => {
      expect(await refusal(controller.metrics(undefined, 'POST /orders'))).toEqual({ status: 400, body: { error: 'invalid_parameter', message: 'service: required' } });
      expect(await refusal(controller.metrics('order-service', ''))).toEqual({ status: 400, body: { error: 'invalid_parameter', message: 'operation: required' } });
      expect(await refusal(controller.metrics('order-service', 'POST /orders', String(M0 + 1), String(M0)))).toEqual({ status: 400, body: { error: 'invalid_parameter', message: 'from: must not be after to' } });
      expect((await refusal(controller.metrics('order-service', 'POST /orders', 'soon'))).status).toBe(400);
    });
  });

  it('lists services and operations', async () => {
    const aggregator = new MinuteAggregator();
    aggregator.add({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), service: 'order-service', operation: 'POST /orders', kind: 'server', startTimeUs: M0 * 1000, durationUs: 1, error: false, tags: {} });
    await metrics.applyWindows(aggregator.drain(), { stream: 'test/0', offset: 0 });
    expect(await controller.services()).toEqual({ services: ['order-service'] });
    expect(await controller.operations('order-service')).toEqual({ operations: ['POST /orders'] });
  });
});
