import {
  Span,
  StoreWriteResult,
  TraceLocator,
  TraceSearch,
  TraceStore,
  TraceSummary,
  TraceSummaryState,
  spanDocumentId,
} from '@skein/domain';

/** MEMORY_MAX_RESULTS: cap on searchTraces' limit, the same as Elasticsearch's max_result_window. */
export const MEMORY_MAX_RESULTS = 10_000;

/**
 * MemoryTraceStore: the {@link TraceStore} of the embedded (single-process) mode. Same semantics as the
 * Elasticsearch store (replayed spans overwrite, one summary per trace, same search filters and order), but
 * every read is immediate and nothing survives the process. Values are copied in and out, so callers cannot
 * mutate what is stored.
 */
export class MemoryTraceStore implements TraceStore {
  // traceId → (traceId-spanId → span): getTraceSpans is a lookup, not a scan.
  private readonly spansByTrace = new Map<string, Map<string, Span>>();
  private readonly states = new Map<string, TraceSummaryState>();
  private closed = false;

  async ensureSchema(): Promise<void> {
    // Nothing to create: maps need no schema.
  }

  async writeSpans(spans: Span[]): Promise<StoreWriteResult> {
    this.assertOpen();
    for (const span of spans) {
      const trace = this.spansByTrace.get(span.traceId) ?? new Map<string, Span>();
      trace.set(spanDocumentId(span), structuredClone(span));
      this.spansByTrace.set(span.traceId, trace);
    }
    return { failures: [] };
  }

  async loadSummaryStates(traces: TraceLocator[]): Promise<Map<string, TraceSummaryState>> {
    this.assertOpen();
    const out = new Map<string, TraceSummaryState>();
    for (const { traceId } of traces) {
      const state = this.states.get(traceId);
      if (state !== undefined) out.set(traceId, structuredClone(state));
    }
    return out;
  }

  async saveSummaryStates(states: TraceSummaryState[]): Promise<StoreWriteResult> {
    this.assertOpen();
    for (const state of states) this.states.set(state.summary.traceId, structuredClone(state));
    return { failures: [] };
  }

  async getTraceSpans(traceId: string): Promise<Span[]> {
    this.assertOpen();
    const spans = [...(this.spansByTrace.get(traceId)?.values() ?? [])].map((span) => structuredClone(span));
    // Same order as the Elasticsearch store: by start, then spanId.
    return spans.sort((a, b) => a.startTimeUs - b.startTimeUs || compareStrings(a.spanId, b.spanId));
  }

  /**
   * searchTraces: `operation` alone matches that operation in any service (suffix `:<operation>` of an
   * `operations` entry); with `service` it must be that service's operation. Limit capped at {@link MEMORY_MAX_RESULTS}.
   */
  async searchTraces(search: TraceSearch): Promise<TraceSummary[]> {
    this.assertOpen();
    const limit = Math.min(Math.max(0, Math.floor(search.limit)), MEMORY_MAX_RESULTS);
    const matches: TraceSummary[] = [];
    for (const { summary } of this.states.values()) {
      if (summary.startTimeUs < search.startUs || summary.startTimeUs > search.endUs) continue;
      if (search.service !== undefined && !summary.services.includes(search.service)) continue;
      if (search.operation !== undefined) {
        const operation = search.operation;
        const found =
          search.service !== undefined
            ? summary.operations.includes(`${search.service}:${operation}`)
            : summary.operations.some((entry) => entry.endsWith(`:${operation}`));
        if (!found) continue;
      }
      matches.push(summary);
    }
    matches.sort((a, b) => b.startTimeUs - a.startTimeUs || compareStrings(a.traceId, b.traceId));
    return matches.slice(0, limit).map((summary) => structuredClone(summary));
  }

  async ready(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('MemoryTraceStore is closed');
  }
}

// Code-unit order, like Elasticsearch's keyword sort (localeCompare would not match it).
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
