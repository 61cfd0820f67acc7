import { MemoryMetricStore, MemoryTraceStore } from '@skein/adapter-memory';
import { MinuteAggregator, Span, mergeTraceSummary, minuteStats } from '@skein/domain';
import { threeServiceTrace } from '@skein/testing';
import { MAX_METRIC_RANGE_MINUTES, QueryService, TraceNodeView, TraceView } from './query.service';

/** M0: 2026-01-15T10:20:00Z, epoch ms. */
const M0 = Date.UTC(2026, 0, 15, 10, 20);
const MIN = 60_000;
const HOUR_MIN = 60;
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
        clock: 'adjusted',
        skewAdjusted: false,
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
      const { children: _children, depth: _depth, orphan: _orphan, rpcId: _rpcId, rawStartTimeUs, skewUs, ...root } = view?.roots[0] as TraceNodeView;
      expect(root).toEqual(trace.spans[0]);
      expect({ rawStartTimeUs, skewUs }).toEqual({ rawStartTimeUs: trace.spans[0].startTimeUs, skewUs: 0 });
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

    it('shows skew-adjusted times by default and raw ones on request, with both values on every span', async () => {
      const trace = threeServiceTrace({ startTimeUs: M0 * 1000 });
      const start = M0 * 1000;
      // payment-service's clock runs 2 s ahead; its span has an event 1 ms in.
      const skewed = trace.spans.map((span) =>
        span.service === 'payment-service' ? { ...span, startTimeUs: span.startTimeUs + 2_000_000, events: [{ timeUs: span.startTimeUs + 2_001_000, name: 'retry', attributes: {} }] } : span,
      );
      await traces.writeSpans(skewed);
      const payment = (view: TraceView | undefined): TraceNodeView | undefined => view?.roots[0]?.children[0]?.children[0]?.children[0]?.children[0];

      const adjusted = await query.getTrace(trace.traceId);
      expect(adjusted).toMatchObject({ clock: 'adjusted', skewAdjusted: true });
      expect(payment(adjusted)).toMatchObject({ spanId: trace.ids.paymentServer, rpcId: '0.1.1.1.1', startTimeUs: start + 6_000, rawStartTimeUs: start + 2_006_000, skewUs: -2_000_000, durationUs: 6_000 });
      expect(payment(adjusted)?.events).toEqual([{ timeUs: start + 7_000, name: 'retry', attributes: {} }]);
      expect(adjusted?.roots[0]).toMatchObject({ startTimeUs: start, rawStartTimeUs: start, skewUs: 0 });

      const raw = await query.getTrace(trace.traceId, 'raw');
      expect(raw).toMatchObject({ clock: 'raw', skewAdjusted: true });
      expect(payment(raw)).toMatchObject({ spanId: trace.ids.paymentServer, rpcId: '0.1.1.1.1', startTimeUs: start + 2_006_000, rawStartTimeUs: start + 2_006_000, skewUs: -2_000_000 });
      expect(payment(raw)?.events).toEqual([{ timeUs: start + 2_007_000, name: 'retry', attributes: {} }]);
      // The stored spans are not touched by either view.
      expect((await traces.getTraceSpans(trace.traceId)).find((span) => span.spanId === trace.ids.paymentServer)?.startTimeUs).toBe(start + 2_006_000);
    });

    it('builds a very deep trace without overflowing the stack', async () => {
      const depth = 20_000;
      const traceId = 'd'.repeat(32);
      const spans: Span[] = Array.from({ length: depth }, (_, i) => ({
        traceId,
        spanId: (i + 1).toString(16).padStart(16, '0'),
        ...(i === 0 ? {} : { parentSpanId: i.toString(16).padStart(16, '0') }),
        service: 'deep',
        operation: 'recurse',
        kind: 'internal',
        startTimeUs: M0 * 1000 + i,
        durationUs: 2 * depth - 2 * i,
        error: false,
        tags: {},
      }));
      await traces.writeSpans(spans);
      const view = await query.getTrace(traceId);
      expect(view).toMatchObject({ spanCount: depth, maxDepth: depth - 1 });
      let node = view?.roots[0];
      for (let i = 1; i < depth; i++) node = node?.children[0];
      expect(node).toMatchObject({ spanId: depth.toString(16).padStart(16, '0'), depth: depth - 1, children: [] });
    });

    it('returns undefined for an unknown trace', async () => {
      await traces.writeSpans(threeServiceTrace({ startTimeUs: M0 * 1000 }).spans);
      await expect(query.getTrace('0af7651916cd43dd8448eb211c80319c')).resolves.toBeUndefined();
    });
  });

  describe('searchTraces', () => {
    it('passes the search to the trace store', async () => {
      const older = threeServiceTrace({ startTimeUs: M0 * 1000 });
      const newer = threeServiceTrace({ startTimeUs: (M0 + 5 * MIN) * 1000, paymentError: true });
      await traces.saveSummaryStates([mergeTraceSummary(undefined, older.spans), mergeTraceSummary(undefined, newer.spans)]);
      const range = { startUs: M0 * 1000, endUs: (M0 + 5 * MIN) * 1000 };

      const all = await query.searchTraces({ ...range, limit: 10 });
      expect(all.map((summary) => summary.traceId)).toEqual([newer.traceId, older.traceId]);
      expect(all[1]).toEqual(mergeTraceSummary(undefined, older.spans).summary);
      expect((await query.searchTraces({ ...range, limit: 10, sort: 'oldest' })).map((s) => s.traceId)).toEqual([older.traceId, newer.traceId]);
      expect((await query.searchTraces({ ...range, limit: 1 })).map((s) => s.traceId)).toEqual([newer.traceId]);
      expect((await query.searchTraces({ ...range, limit: 10, errorsOnly: true })).map((s) => s.traceId)).toEqual([newer.traceId]);
      expect(await query.searchTraces({ service: 'payment-service', operation: 'charge', ...range, limit: 10 })).toHaveLength(2);
      expect(await query.searchTraces({ service: 'inventory-service', ...range, limit: 10 })).toEqual([]);
    });

    it('returns whole traces in result order, leaving out one whose spans are gone', async () => {
      const stored = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => threeServiceTrace({ startTimeUs: (M0 + i * MIN) * 1000 }));
      for (const trace of stored) {
        await traces.writeSpans(trace.spans);
        await traces.saveSummaryStates([mergeTraceSummary(undefined, trace.spans)]);
      }
      const gone = threeServiceTrace({ startTimeUs: (M0 + 30 * MIN) * 1000 });
      await traces.saveSummaryStates([mergeTraceSummary(undefined, gone.spans)]);
      const found = await query.searchTraceSpans({ startUs: M0 * 1000, endUs: (M0 + HOUR_MIN * MIN) * 1000, limit: 20 });
      expect(found.map((spans) => spans[0]?.traceId)).toEqual(stored.map((trace) => trace.traceId).reverse());
      expect(found[0]).toEqual(await traces.getTraceSpans(stored[9]?.traceId ?? ''));
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

  it('lists services and operations of stored traces in a range', async () => {
    const trace = threeServiceTrace({ startTimeUs: M0 * 1000 });
    await traces.saveSummaryStates([mergeTraceSummary(undefined, trace.spans)]);
    const range = { startUs: (M0 - MIN) * 1000, endUs: (M0 + MIN) * 1000 };
    expect(await query.listServices(range)).toEqual(['api-gateway', 'order-service', 'payment-service']);
    expect(await query.listOperations('api-gateway', range)).toEqual(['POST /checkout', 'POST /orders']);
    expect(await query.listOperations('nobody', range)).toEqual([]);
    expect(await query.listServices({ startUs: (M0 + 1) * 1000, endUs: (M0 + MIN) * 1000 })).toEqual([]);
  });

  it('lists services and their operations with minute metrics', async () => {
    await recordCalls([M0], 1_000);
    const aggregator = new MinuteAggregator();
    aggregator.add({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), service: 'order-service', operation: 'GET /orders', kind: 'server', startTimeUs: M0 * 1000, durationUs: 1, error: false, tags: {} });
    aggregator.add({ traceId: 'a'.repeat(32), spanId: 'c'.repeat(16), service: 'api-gateway', operation: 'GET /', kind: 'server', startTimeUs: M0 * 1000, durationUs: 1, error: false, tags: {} });
    await metrics.applyWindows(aggregator.drain(), { stream: 'test/0', offset: 99 });
    expect(await query.metricServices()).toEqual(['api-gateway', 'order-service']);
    expect(await query.metricOperations('order-service')).toEqual(['GET /orders', 'POST /orders']);
    expect(await query.metricOperations('nobody')).toEqual([]);
  });
});
