import { MINUTE_MS, MetricStore, MinuteStats, Span, TimeRange, TraceNode, TraceSearch, TraceStore, TraceSummary, assembleTrace, correctClockSkew, minuteStats } from '@skein/domain';

/** TraceClock: which times a trace view shows: `adjusted` (clock-skew corrected, the default) or `raw` (as recorded). */
export type TraceClock = 'adjusted' | 'raw';

/** TRACE_CLOCKS: every accepted {@link TraceClock}. */
export const TRACE_CLOCKS: readonly TraceClock[] = ['adjusted', 'raw'];

/**
 * TraceView: a trace as the API returns it: the span tree (roots with nested children) and counts. `clock` says
 * which times `startTimeUs` holds; `skewAdjusted` is true when clock-skew correction moves some span, whichever
 * clock was asked for (so a raw view tells the reader an adjusted one differs).
 */
export interface TraceView {
  traceId: string;
  spanCount: number;
  orphanCount: number;
  maxDepth: number;
  clock: TraceClock;
  skewAdjusted: boolean;
  roots: TraceNodeView[];
}

/**
 * TraceNodeView: one span of the tree with its assembled RpcId, depth, orphan flag and children. `startTimeUs` (and
 * event times) follow the view's clock; `rawStartTimeUs` is the recorded start and `skewUs` the correction
 * (adjusted = raw + skewUs, microseconds, 0 when the span did not move), so a client can show both.
 */
export type TraceNodeView = TraceNode['span'] & { rawStartTimeUs: number; skewUs: number; depth: number; orphan: boolean; children: TraceNodeView[] };

/** MAX_METRIC_RANGE_MINUTES: the widest metrics query, minutes (one day). */
export const MAX_METRIC_RANGE_MINUTES = 1440;

/** TRACE_FETCH_CONCURRENCY: traces read at once when a search returns whole traces (Zipkin's `/api/v2/traces`). */
export const TRACE_FETCH_CONCURRENCY = 8;

/** QueryService: reads traces from the trace store and minute windows from the metric store. */
export class QueryService {
  constructor(
    private readonly traces: TraceStore,
    private readonly metrics: MetricStore,
  ) {}

  /** getTrace: the assembled tree of a trace in the given clock (default `adjusted`), or undefined when no span of it is stored. */
  async getTrace(traceId: string, clock: TraceClock = 'adjusted'): Promise<TraceView | undefined> {
    const spans = await this.traces.getTraceSpans(traceId);
    if (spans.length === 0) return undefined;
    // The tree is built from raw times in both clocks, so RpcIds and sibling order do not depend on the clock.
    const trace = assembleTrace(spans);
    const skew = correctClockSkew(spans, trace);
    return {
      traceId: trace.traceId,
      spanCount: trace.spanCount,
      orphanCount: trace.orphanCount,
      maxDepth: trace.maxDepth,
      clock,
      skewAdjusted: skew.adjusted,
      roots: toViews(trace.roots, skew.skewUs, clock),
    };
  }

  /** getTraceSpans: every stored span of a trace with its recorded times (empty when unknown). */
  getTraceSpans(traceId: string): Promise<Span[]> {
    return this.traces.getTraceSpans(traceId);
  }

  /** searchTraces: summaries of the traces matching the search, in `search.sort` order. */
  searchTraces(search: TraceSearch): Promise<TraceSummary[]> {
    return this.traces.searchTraces(search);
  }

  /**
   * searchTraceSpans: the spans of every trace matching the search, one array per trace in result order; a trace
   * whose spans are gone by the time it is read (retention) is left out.
   */
  async searchTraceSpans(search: TraceSearch): Promise<Span[][]> {
    const summaries = await this.traces.searchTraces(search);
    const out: Span[][] = [];
    for (let from = 0; from < summaries.length; from += TRACE_FETCH_CONCURRENCY) {
      const batch = summaries.slice(from, from + TRACE_FETCH_CONCURRENCY);
      for (const spans of await Promise.all(batch.map((summary) => this.traces.getTraceSpans(summary.traceId)))) {
        if (spans.length > 0) out.push(spans);
      }
    }
    return out;
  }

  /** listServices: services with a stored span in the range (trace store), sorted. */
  listServices(range: TimeRange): Promise<string[]> {
    return this.traces.listServices(range);
  }

  /** listOperations: span names of a service in the range (trace store), sorted. */
  listOperations(service: string, range: TimeRange): Promise<string[]> {
    return this.traces.listOperations(service, range);
  }

  /** minuteStats: per-minute stats of one service operation for the minutes in [fromMs, toMs]. */
  async minuteStats(service: string, operation: string, fromMs: number, toMs: number): Promise<MinuteStats[]> {
    const from = Math.floor(fromMs / MINUTE_MS) * MINUTE_MS;
    const to = Math.floor(toMs / MINUTE_MS) * MINUTE_MS;
    const windows = await this.metrics.getWindows({ service, operation }, from, to);
    return windows.map(minuteStats);
  }

  /** metricServices: services with minute metrics (entry spans only), sorted. */
  metricServices(): Promise<string[]> {
    return this.metrics.listServices();
  }

  /** metricOperations: operations of a service with minute metrics, sorted. */
  metricOperations(service: string): Promise<string[]> {
    return this.metrics.listOperations(service);
  }
}

/** toViews: node views of the trees under `roots`, without recursion (a deep trace cannot overflow the stack). */
function toViews(roots: TraceNode[], skewUs: Map<string, number>, clock: TraceClock): TraceNodeView[] {
  const out: TraceNodeView[] = [];
  const pending: { node: TraceNode; into: TraceNodeView[] }[] = roots.map((node) => ({ node, into: out })).reverse();
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { node, into } = next;
    const view = nodeView(node, skewUs.get(node.span.spanId) ?? 0, clock);
    into.push(view);
    for (let index = node.children.length - 1; index >= 0; index--) pending.push({ node: node.children[index] as TraceNode, into: view.children });
  }
  return out;
}

function nodeView(node: TraceNode, skewUs: number, clock: TraceClock): TraceNodeView {
  const view: TraceNodeView = { ...node.span, rawStartTimeUs: node.span.startTimeUs, skewUs, depth: node.depth, orphan: node.orphan, children: [] };
  if (clock === 'adjusted' && skewUs !== 0) {
    view.startTimeUs += skewUs;
    if (view.events !== undefined) view.events = view.events.map((event) => ({ ...event, timeUs: event.timeUs + skewUs }));
  }
  return view;
}
