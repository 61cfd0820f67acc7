import { MINUTE_MS, MetricStore, MinuteStats, TraceNode, TraceStore, TraceSummary, assembleTrace, minuteStats } from '@skein/domain';

/** TraceView: a trace as the API returns it: the span tree (roots with nested children) and counts. */
export interface TraceView {
  traceId: string;
  spanCount: number;
  orphanCount: number;
  maxDepth: number;
  roots: TraceNodeView[];
}

/** TraceNodeView: one span of the tree with its assembled RpcId, depth, orphan flag and children. */
export type TraceNodeView = TraceNode['span'] & { depth: number; orphan: boolean; children: TraceNodeView[] };

function toView(node: TraceNode): TraceNodeView {
  return { ...node.span, depth: node.depth, orphan: node.orphan, children: node.children.map(toView) };
}

/** MAX_METRIC_RANGE_MINUTES: the widest metrics query, minutes (one day). */
export const MAX_METRIC_RANGE_MINUTES = 1440;

/** QueryService: reads traces from the trace store and minute windows from the metric store. */
export class QueryService {
  constructor(
    private readonly traces: TraceStore,
    private readonly metrics: MetricStore,
  ) {}

  /** getTrace: the assembled tree of a trace, or undefined when no span of it is stored. */
  async getTrace(traceId: string): Promise<TraceView | undefined> {
    const spans = await this.traces.getTraceSpans(traceId);
    if (spans.length === 0) return undefined;
    const trace = assembleTrace(spans);
    return { traceId: trace.traceId, spanCount: trace.spanCount, orphanCount: trace.orphanCount, maxDepth: trace.maxDepth, roots: trace.roots.map(toView) };
  }

  /** searchTraces: summaries of traces in [startMs, endMs], newest first. */
  searchTraces(search: { service?: string; operation?: string; startMs: number; endMs: number; limit: number }): Promise<TraceSummary[]> {
    return this.traces.searchTraces({ service: search.service, operation: search.operation, startUs: search.startMs * 1000, endUs: search.endMs * 1000, limit: search.limit });
  }

  /** minuteStats: per-minute stats of one service operation for the minutes in [fromMs, toMs]. */
  async minuteStats(service: string, operation: string, fromMs: number, toMs: number): Promise<MinuteStats[]> {
    const from = Math.floor(fromMs / MINUTE_MS) * MINUTE_MS;
    const to = Math.floor(toMs / MINUTE_MS) * MINUTE_MS;
    const windows = await this.metrics.getWindows({ service, operation }, from, to);
    return windows.map(minuteStats);
  }

  listServices(): Promise<string[]> {
    return this.metrics.listServices();
  }

  listOperations(service: string): Promise<string[]> {
    return this.metrics.listOperations(service);
  }
}
