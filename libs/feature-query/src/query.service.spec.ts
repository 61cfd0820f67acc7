import { MemoryMetricStore, MemoryTraceStore } from '@skein/adapter-memory';
import { MinuteAggregator, Span, mergeTraceSummary, minuteStats } from '@skein/domain';
import { threeServiceTrace } from '@skein/testing';
import { MAX_METRIC_RANGE_MINUTES, QueryService, TraceNodeView } from './query.service';

/** M0: 2026-01-15T10:20:00Z, epoch ms. */
const M0 = Date.UTC(2026, 0, 15, 10, 20);
const MIN = 60_000;
const ORDERS = { service: 'order-service', operation: 'POST /orders' };

/** shape: the tree as (spanId, rpcId, depth, orphan) with children, for exact assertions. */
interface Shape {
  spanId: string;
  rpcId: string;
  depth: number;
  orphan: boolean;
  children: Shape[];
}
function shape(node: TraceNodeView): Shape {
  return { spanId: node.spanId, rpcId: node.rpcId, depth: node.depth, orphan: node.orphan, children: node.children.map(shape) };
}

describe('QueryService', () => {
  let traces: MemoryTraceStore;
  let metrics: MemoryMetricStore;
  let query: QueryService;
  let offset: number;

  beforeEach(() => {
    traces = new MemoryTraceStore();
    metrics = new MemoryMetricStore();
    query = new QueryService(traces, metrics);
    offset = 0;
  });

  /** recordCalls: order-service entry spans starting at each given epoch ms, each lasting `durationUs`. */
  async function recordCalls(startsMs: number[], durationUs: number, errors = 0): Promise<void> {
    const aggregator = new MinuteAggregator();
    startsMs.forEach((startMs, i) => {
      const spanId = (offset * 1000 + i + 1).toString(16).padStart(16, '0');
      aggregator.add({ traceId: spanId.repeat(2), spanId, ...ORDERS, kind: 'server', startTimeUs: startMs * 1000, durationUs, error: i < errors, tags: {} });
    });
    await metrics.applyWindows(aggregator.drain(), { stream: 'test/0', offset: offset++ });
  }

  describe('getTrace', () => {
    it('returns the span tree with EagleEye RpcIds, depths and counts', async () => {
      const trace = threeServiceTrace({ startTimeUs: M0 * 1000 });
      await traces.writeSpans(trace.spans);
      const view = await query.getTrace(trace.traceId);
      expect(view).toBeDefined();
      const { ids } = trace;
      expect({ ...view, roots: view?.roots.map(shape) }).toEqual({
        traceId: trace.traceId,
        spanCount: 5,
        orphanCount: 0,
        maxDepth: 4,
        roots: [
          {
            spanId: ids.gatewayServer,
            rpcId: '0',
            depth: 0,
            orphan: false,
            children: [
              {
                spanId: ids.gatewayClient,
                rpcId: '0.1',
                depth: 1,
                orphan: false,
                children: [
                  {
                    spanId: ids.orderServer,
                    rpcId: '0.1.1',
                    depth: 2,
                    orphan: false,
                    children: [{ spanId: ids.orderClient, rpcId: '0.1.1.1', depth: 3, orphan: false, children: [{ spanId: ids.paymentServer, rpcId: '0.1.1.1.1', depth: 4, orphan: false, children: [] }] }],
                  },
                ],
              },
            ],
          },
        ],
      });
      // Every span field comes through on its node.
      const { children: _children, depth: _depth, orphan: _orphan, rpcId: _rpcId, ...root } = view?.roots[0] as TraceNodeView;
      expect(root).toEqual(trace.spans[0]);
    });

    it('numbers siblings by start time and keeps an RpcId sent by the SDK', async () => {
      const trace = threeServiceTrace({ startTimeUs: M0 * 1000 });
      const [gatewayServer] = trace.spans;
      const sibling = (spanId: string, offsetUs: number, rpcId?: string): Span => ({
        traceId: trace.traceId,
        spanId,
        parentSpanId: gatewayServer.spanId,
        service: 'api-gateway',
        operation: 'GET /cart',
        kind: 'client',
        startTimeUs: gatewayServer.startTimeUs + offsetUs,
        durationUs: 100,
        error: false,
        tags: {},
        ...(rpcId === undefined ? {} : { rpcId }),
      });
      await traces.writeSpans([...trace.spans, sibling('00000000000000b2', 1_000), sibling('00000000000000b3', 9_000, '0.7')]);
      const view = await query.getTrace(trace.traceId);
      expect(view?.roots[0].children.map((child) => [child.spanId, child.rpcId])).toEqual([
        ['00000000000000b2', '0.1'],
        [trace.ids.gatewayClient, '0.2'],
        ['00000000000000b3', '0.7'],
      ]);
      expect(view?.spanCount).toBe(7);
    });

    it('shows a span whose parent is missing as an orphan root', async () => {
      const trace = threeServiceTrace({ startTimeUs: M0 * 1000 });
      await traces.writeSpans(trace.spans.filter((span) => span.spanId !== trace.ids.orderServer));
      const view = await query.getTrace(trace.traceId);
      expect(view).toMatchObject({ spanCount: 4, orphanCount: 1, maxDepth: 1 });
      expect(view?.roots.map((root) => [root.spanId, root.rpcId, root.orphan])).toEqual([
        [trace.ids.gatewayServer, '0', false],
        [trace.ids.orderClient, '?1', true],
      ]);
      expect(view?.roots[1].children.map((child) => [child.spanId, child.rpcId])).toEqual([[trace.ids.paymentServer, '?1.1']]);
    });

    it('returns undefined for an unknown trace', async () => {
      await traces.writeSpans(threeServiceTrace({ startTimeUs: M0 * 1000 }).spans);
      await expect(query.getTrace('0af7651916cd43dd8448eb211c80319c')).resolves.toBeUndefined();
    });
  });

  describe('searchTraces', () => {
    it('searches summaries in a millisecond range, newest first', async () => {
      const older = threeServiceTrace({ startTimeUs: M0 * 1000 });
      const newer = threeServiceTrace({ startTimeUs: (M0 + 5 * MIN) * 1000 });
      await traces.saveSummaryStates([mergeTraceSummary(undefined, older.spans), mergeTraceSummary(undefined, newer.spans)]);

      const all = await query.searchTraces({ startMs: M0, endMs: M0 + 5 * MIN, limit: 10 });
      expect(all.map((summary) => summary.traceId)).toEqual([newer.traceId, older.traceId]);
      expect(all[1]).toEqual(mergeTraceSummary(undefined, older.spans).summary);
      expect((await query.searchTraces({ startMs: M0 + 1, endMs: M0 + 5 * MIN, limit: 10 })).map((s) => s.traceId)).toEqual([newer.traceId]);
      expect((await query.searchTraces({ startMs: M0, endMs: M0 + 5 * MIN - 1, limit: 10 })).map((s) => s.traceId)).toEqual([older.traceId]);
      expect((await query.searchTraces({ startMs: M0, endMs: M0 + 5 * MIN, limit: 1 })).map((s) => s.traceId)).toEqual([newer.traceId]);
      expect(await query.searchTraces({ service: 'payment-service', operation: 'charge', startMs: M0, endMs: M0 + 5 * MIN, limit: 10 })).toHaveLength(2);
      expect(await query.searchTraces({ service: 'inventory-service', startMs: M0, endMs: M0 + 5 * MIN, limit: 10 })).toEqual([]);
    });
  });

  describe('minuteStats', () => {
    it('aligns the range to whole minutes: a from inside a minute includes that minute', async () => {
      await recordCalls([M0 - MIN + 30_000], 5_000);
      await recordCalls([M0 + 1_000, M0 + 2_000, M0 + 59_999], 10_000, 1);
      await recordCalls([M0 + MIN + 30_000], 20_000);
      await recordCalls([M0 + 2 * MIN], 30_000);
      await recordCalls([M0 + 3 * MIN], 40_000);

      const stats = await query.minuteStats(ORDERS.service, ORDERS.operation, M0 + 30_000, M0 + 2 * MIN + 59_999);

      expect(stats.map((s) => s.minute)).toEqual([M0, M0 + MIN, M0 + 2 * MIN]);
      expect(stats[0]).toMatchObject({ ...ORDERS, minute: M0, calls: 3, errors: 1, qps: 0.05, errorRate: 0.333, meanMs: 10, maxMs: 10 });
      // Latency percentiles come from a 1%-error histogram, clamped to the maximum.
      for (const p of [stats[0].p50Ms, stats[0].p90Ms, stats[0].p99Ms, stats[0].p999Ms]) {
        expect(p).toBeGreaterThanOrEqual(9.9);
        expect(p).toBeLessThanOrEqual(10);
      }
      const [window] = await metrics.getWindows(ORDERS, M0, M0);
      expect(stats[0]).toEqual(minuteStats(window));
      expect(stats[1]).toMatchObject({ calls: 1, meanMs: 20, maxMs: 20 });
    });

    it('includes the minute containing `to`, and a range inside one minute returns that minute', async () => {
      await recordCalls([M0 + 10_000], 1_000);
      await recordCalls([M0 + MIN + 10_000], 1_000);
      expect((await query.minuteStats(ORDERS.service, ORDERS.operation, M0 + 40_000, M0 + 50_000)).map((s) => s.minute)).toEqual([M0]);
      expect((await query.minuteStats(ORDERS.service, ORDERS.operation, M0 - 1, M0 + MIN)).map((s) => s.minute)).toEqual([M0, M0 + MIN]);
    });

    it('answers the widest range the API allows (MAX_METRIC_RANGE_MINUTES, unaligned)', async () => {
      await recordCalls([M0 + 10_000], 1_000);
      await recordCalls([M0 + MAX_METRIC_RANGE_MINUTES * MIN + 10_000], 1_000);
      const from = M0 + 30_000;
      const stats = await query.minuteStats(ORDERS.service, ORDERS.operation, from, from + MAX_METRIC_RANGE_MINUTES * MIN);
      expect(stats.map((s) => s.minute)).toEqual([M0, M0 + MAX_METRIC_RANGE_MINUTES * MIN]);
    });

    it('returns nothing for an unknown operation', async () => {
      await recordCalls([M0], 1_000);
      await expect(query.minuteStats(ORDERS.service, 'GET /unknown', M0, M0 + MIN)).resolves.toEqual([]);
    });
  });

  it('lists services and their operations', async () => {
    await recordCalls([M0], 1_000);
    const aggregator = new MinuteAggregator();
    aggregator.add({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), service: 'order-service', operation: 'GET /orders', kind: 'server', startTimeUs: M0 * 1000, durationUs: 1, error: false, tags: {} });
    aggregator.add({ traceId: 'a'.repeat(32), spanId: 'c'.repeat(16), service: 'api-gateway', operation: 'GET /', kind: 'server', startTimeUs: M0 * 1000, durationUs: 1, error: false, tags: {} });
    await metrics.applyWindows(aggregator.drain(), { stream: 'test/0', offset: 99 });
    expect(await query.listServices()).toEqual(['api-gateway', 'order-service']);
    expect(await query.listOperations('order-service')).toEqual(['GET /orders', 'POST /orders']);
    expect(await query.listOperations('nobody')).toEqual([]);
  });
});
