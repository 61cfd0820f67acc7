import { Span } from '../span/span.model';
import { TraceSummary, TraceSummaryState } from '../trace/trace-summary';
import { TraceQuery } from '../trace/trace-query.model';

/** TimeRange: [startUs, endUs], microseconds since the epoch. */
export interface TimeRange {
  startUs: number;
  endUs: number;
}

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

/** SummaryCreateResult: the outcome of {@link TraceStore.createSummaryStates}; `existing` lists traces left untouched because they already had a summary. */
export interface SummaryCreateResult extends StoreWriteResult {
  existing: string[];
}

/**
 * SpanJson: a span's JSON text as bytes the caller already has (a consumed topic message): `bytes[start, end)` is
 * one JSON object whose value is exactly the span, so a store may keep those bytes instead of serializing the span
 * again. The caller guarantees the equality (see `SpanValidationMode` `reuse`).
 */
export interface SpanJson {
  bytes: Uint8Array;
  start: number;
  end: number;
}

/**
 * SpanWriter: one batch of spans for a {@link TraceStore}, added a span at a time. A store turns each span into
 * what it sends as it is added, so a caller decoding messages can let each message's span objects go before it
 * decodes the next (a batch of 5,000 decoded spans alive at once was most of span-assembler's garbage collection).
 */
export interface SpanWriter {
  /** add: one span and, where the caller has it, its JSON text ({@link SpanJson}; a store may use it or ignore it). */
  add(span: Span, json?: SpanJson): void;
  /** size: spans added so far. */
  readonly size: number;
  /** write: stores every added span, as {@link TraceStore.writeSpans} does; called once, after the last add. */
  write(): Promise<StoreWriteResult>;
}

/** collectingSpanWriter: a {@link SpanWriter} that keeps the added spans and hands them to `write` (stores that keep span objects anyway). */
export function collectingSpanWriter(write: (spans: Span[], json: (SpanJson | undefined)[]) => Promise<StoreWriteResult>): SpanWriter {
  const spans: Span[] = [];
  const json: (SpanJson | undefined)[] = [];
  return {
    add(span, text) {
      spans.push(span);
      json.push(text);
    },
    get size() {
      return spans.length;
    },
    write: () => write(spans, json),
  };
}

/** TraceSort: the order of search results: newest/oldest by start, longest/shortest by whole-trace duration, most/fewest spans. */
export type TraceSort = 'newest' | 'oldest' | 'longest' | 'shortest' | 'most_spans' | 'fewest_spans';

/** TRACE_SORTS: every accepted {@link TraceSort}. */
export const TRACE_SORTS: readonly TraceSort[] = ['newest', 'oldest', 'longest', 'shortest', 'most_spans', 'fewest_spans'];

/** TraceSearch: filters of a trace search (all must match); times and durations in microseconds. */
export interface TraceSearch {
  /** service: some span of the trace is in this service. */
  service?: string;
  /** operation: some span has this name (in `service` when given). */
  operation?: string;
  /** tags: every `key → value` is carried by some span of the trace. */
  tags?: Record<string, string>;
  /** minDurationUs / maxDurationUs: bounds (inclusive) of the whole-trace duration. */
  minDurationUs?: number;
  maxDurationUs?: number;
  /** errorsOnly: only traces with at least one failed span. */
  errorsOnly?: boolean;
  /** query: a parsed query string ({@link TraceQuery}), ANDed with the other filters. */
  query?: TraceQuery;
  /** startUs / endUs: the trace starts within [startUs, endUs]. */
  startUs: number;
  endUs: number;
  /** limit: most traces returned. */
  limit: number;
  /** sort: default `newest`; ties are broken by traceId. */
  sort?: TraceSort;
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
  /**
   * writeSpans: stores spans under ids derived from traceId+spanId, so a replay overwrites instead of duplicating.
   * `json[i]`, when given, is span i's JSON text ({@link SpanJson}); a store may use it or ignore it.
   */
  writeSpans(spans: Span[], json?: readonly (SpanJson | undefined)[]): Promise<StoreWriteResult>;
  /**
   * spanWriter: a {@link SpanWriter} for one batch: the same write as {@link writeSpans}, spans given one at a
   * time; `expectedSpans` (a hint, e.g. the previous batch's size) lets a store size its buffers once.
   */
  spanWriter(expectedSpans?: number): SpanWriter;
  /** loadSummaryStates: current summary states (read-your-writes, no refresh delay) of the given traces. */
  loadSummaryStates(traces: TraceLocator[]): Promise<Map<string, TraceSummaryState>>;
  /** saveSummaryStates: stores summary states, one document per trace (replacing what a trace had). */
  saveSummaryStates(states: TraceSummaryState[]): Promise<StoreWriteResult>;
  /**
   * createSummaryStates: stores the states of traces that have no summary yet, in one write and without reading
   * first (most traces are summarised once); a trace that already has one keeps it and is listed in `existing`,
   * to be loaded, merged and saved.
   */
  createSummaryStates(states: TraceSummaryState[]): Promise<SummaryCreateResult>;
  /** getTraceSpans: every stored span of a trace (searchable ones: an index refresh may lag about a second). */
  getTraceSpans(traceId: string): Promise<Span[]>;
  /** searchTraces: trace summaries matching the search, in `search.sort` order. */
  searchTraces(search: TraceSearch): Promise<TraceSummary[]>;
  /** listServices: every service with a stored span in [startUs, endUs], sorted. */
  listServices(range: TimeRange): Promise<string[]>;
  /** listOperations: the span names of a service in [startUs, endUs], sorted. */
  listOperations(service: string, range: TimeRange): Promise<string[]>;
  /**
   * deleteBefore: retention — deletes whole days of spans and summaries that ended before `cutoffUs` (a day is
   * kept while any part of it is at or after the cutoff). Returns what was deleted (index or day names).
   */
  deleteBefore(cutoffUs: number): Promise<string[]>;
  ready(): Promise<boolean>;
  close(): Promise<void>;
}
