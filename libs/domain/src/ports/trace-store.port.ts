import { Span } from '../span/span.model';
import { TraceSummary, TraceSummaryState } from '../trace/trace-summary';

/** StoreFailure: one document a store did not accept; `retryable` failures (overload, timeouts) may succeed later. */
export interface StoreFailure {
  id: string;
  reason: string;
  retryable: boolean;
}

/** StoreWriteResult: the per-item outcome of a write; an empty `failures` means everything is durable. */
export interface StoreWriteResult {
  failures: StoreFailure[];
}

/** TraceSearch: filters of a trace search; times in microseconds since the epoch. */
export interface TraceSearch {
  service?: string;
  operation?: string;
  startUs: number;
  endUs: number;
  /** limit: most traces returned, newest first. */
  limit: number;
}

/** TraceLocator: a trace id with a time inside the trace, so a store partitioned by day can find it. */
export interface TraceLocator {
  traceId: string;
  startTimeUs: number;
}

/** TraceStore: the port to span and trace-summary storage (Elasticsearch, or in-memory when embedded). */
export interface TraceStore {
  /** ensureSchema: creates index templates (or equivalent); safe to call at every start. */
  ensureSchema(): Promise<void>;
  /** writeSpans: stores spans under ids derived from traceId+spanId, so a replay overwrites instead of duplicating. */
  writeSpans(spans: Span[]): Promise<StoreWriteResult>;
  /** loadSummaryStates: current summary states (read-your-writes, no refresh delay) of the given traces. */
  loadSummaryStates(traces: TraceLocator[]): Promise<Map<string, TraceSummaryState>>;
  /** saveSummaryStates: stores summary states, one document per trace. */
  saveSummaryStates(states: TraceSummaryState[]): Promise<StoreWriteResult>;
  /** getTraceSpans: every stored span of a trace (searchable ones: an index refresh may lag about a second). */
  getTraceSpans(traceId: string): Promise<Span[]>;
  /** searchTraces: trace summaries matching the search, newest first. */
  searchTraces(search: TraceSearch): Promise<TraceSummary[]>;
  ready(): Promise<boolean>;
  close(): Promise<void>;
}
