import {
  Span,
  SpanWriter,
  StoreWriteResult,
  SummaryCreateResult,
  TimeRange,
  TraceSort,
  TraceLocator,
  TraceSearch,
  TraceStore,
  TraceSummary,
  TraceSummaryState,
  collectingSpanWriter,
  matchesTraceQuery,
  spanDocumentId,
  summaryTag,
} from '@skein/domain';

const DAY_MS = 86_400_000;

// UTC day start (ms) of a time in µs: a trace belongs to the day of its first stored spans, as in Elasticsearch.
function dayStartMs(timeUs: number): number {
  return Math.floor(timeUs / 1000 / DAY_MS) * DAY_MS;
}

const SORTS: Record<TraceSort, (a: TraceSummary, b: TraceSummary) => number> = {
  newest: (a, b) => b.startTimeUs - a.startTimeUs,
  oldest: (a, b) => a.startTimeUs - b.startTimeUs,
  longest: (a, b) => b.durationUs - a.durationUs,
  shortest: (a, b) => a.durationUs - b.durationUs,
  most_spans: (a, b) => b.spanCount - a.spanCount,
  fewest_spans: (a, b) => a.spanCount - b.spanCount,
};

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
  // traceId → UTC day start (ms) the trace was placed in (retention deletes whole days).
  private readonly traceDays = new Map<string, number>();
  private closed = false;

  async ensureSchema(): Promise<void> {
    // Nothing to create: maps need no schema.
  }

  spanWriter(): SpanWriter {
    return collectingSpanWriter((spans) => this.writeSpans(spans));
  }

  async writeSpans(spans: Span[]): Promise<StoreWriteResult> {
    this.assertOpen();
    const earliest = new Map<string, number>();
    for (const span of spans) earliest.set(span.traceId, Math.min(earliest.get(span.traceId) ?? Infinity, span.startTimeUs));
    for (const [traceId, startUs] of earliest) if (!this.traceDays.has(traceId)) this.traceDays.set(traceId, dayStartMs(startUs));
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
    for (const state of states) {
      if (!this.traceDays.has(state.summary.traceId)) this.traceDays.set(state.summary.traceId, dayStartMs(state.summary.startTimeUs));
      this.states.set(state.summary.traceId, structuredClone(state));
    }
    return { failures: [] };
  }

  async createSummaryStates(states: TraceSummaryState[]): Promise<SummaryCreateResult> {
    this.assertOpen();
    const existing = states.filter((state) => this.states.has(state.summary.traceId)).map((state) => state.summary.traceId);
    const fresh = states.filter((state) => !this.states.has(state.summary.traceId));
    return { ...(await this.saveSummaryStates(fresh)), existing };
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
    const tags = Object.entries(search.tags ?? {}).map(([key, value]) => summaryTag(key, value));
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
      if (!tags.every((tag) => summary.tags.includes(tag))) continue;
      if (search.minDurationUs !== undefined && summary.durationUs < search.minDurationUs) continue;
      if (search.maxDurationUs !== undefined && summary.durationUs > search.maxDurationUs) continue;
      if (search.errorsOnly === true && summary.errorCount === 0) continue;
      if (search.query !== undefined && !matchesTraceQuery(summary, search.query)) continue;
      matches.push(summary);
    }
    const order = SORTS[search.sort ?? 'newest'];
    matches.sort((a, b) => order(a, b) || compareStrings(a.traceId, b.traceId));
    return matches.slice(0, limit).map((summary) => structuredClone(summary));
  }

  async listServices(range: TimeRange): Promise<string[]> {
    this.assertOpen();
    const services = new Set<string>();
    for (const { summary } of this.inRange(range)) for (const service of summary.services) services.add(service);
    return [...services].sort(compareStrings);
  }

  async listOperations(service: string, range: TimeRange): Promise<string[]> {
    this.assertOpen();
    const operations = new Set<string>();
    for (const { summary } of this.inRange(range)) {
      for (const entry of summary.operations) if (entry.startsWith(`${service}:`)) operations.add(entry.slice(service.length + 1));
    }
    return [...operations].sort(compareStrings);
  }

  /** deleteBefore: forgets every trace whose day ended at or before the cutoff; returns those days (YYYY-MM-DD). */
  async deleteBefore(cutoffUs: number): Promise<string[]> {
    this.assertOpen();
    const deleted = new Set<string>();
    for (const [traceId, dayMs] of this.traceDays) {
      if (dayMs + DAY_MS > cutoffUs / 1000) continue;
      deleted.add(new Date(dayMs).toISOString().slice(0, 10));
      this.traceDays.delete(traceId);
      this.states.delete(traceId);
      this.spansByTrace.delete(traceId);
    }
    return [...deleted].sort();
  }

  private *inRange(range: TimeRange): Iterable<TraceSummaryState> {
    for (const state of this.states.values()) {
      if (state.summary.startTimeUs >= range.startUs && state.summary.startTimeUs <= range.endUs) yield state;
    }
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
