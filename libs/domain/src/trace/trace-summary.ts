import { Span } from '../span/span.model';
import { assembleTrace, traceWindowUs } from './trace-tree';

/** TraceSummary: one document per trace, what trace search lists and filters on. */
export interface TraceSummary {
  traceId: string;
  /** startTimeUs: earliest span start, microseconds since the epoch. */
  startTimeUs: number;
  /** durationUs: whole-trace duration (latest end − earliest start), microseconds. */
  durationUs: number;
  /** rootService / rootOperation: the entry span's service and name; empty while the root has not arrived. */
  rootService: string;
  rootOperation: string;
  spanCount: number;
  errorCount: number;
  /** services: every service with a span in the trace, sorted. */
  services: string[];
  /** operations: every `service:operation` pair in the trace, sorted (search by operation). */
  operations: string[];
  maxDepth: number;
  orphanCount: number;
  /** truncated: more spans arrived than the summary keeps ({@link MAX_SUMMARY_SPANS}); counts cover only the kept ones. */
  truncated: boolean;
}

/** SummarySpan: the compact part of a span kept inside a summary document so summaries merge idempotently. */
export type SummarySpan = Pick<Span, 'spanId' | 'parentSpanId' | 'service' | 'operation' | 'startTimeUs' | 'durationUs' | 'error' | 'kind' | 'traceId'>;

/** TraceSummaryState: a summary plus the compact spans it was computed from (stored together, merged by spanId). */
export interface TraceSummaryState {
  summary: TraceSummary;
  spans: SummarySpan[];
}

/** MAX_SUMMARY_SPANS: spans kept per summary state; beyond it the summary is marked truncated. */
export const MAX_SUMMARY_SPANS = 10_000;

function compact(span: SummarySpan): SummarySpan {
  const out: SummarySpan = {
    traceId: span.traceId,
    spanId: span.spanId,
    service: span.service,
    operation: span.operation,
    startTimeUs: span.startTimeUs,
    durationUs: span.durationUs,
    error: span.error,
    kind: span.kind,
  };
  if (span.parentSpanId !== undefined) out.parentSpanId = span.parentSpanId;
  return out;
}

/**
 * mergeTraceSummary: folds newly stored spans into a trace's summary state. Idempotent: spans are keyed by
 * spanId, so a replayed batch (at-least-once delivery) leaves the summary unchanged.
 */
export function mergeTraceSummary(previous: TraceSummaryState | undefined, spans: SummarySpan[]): TraceSummaryState {
  const byId = new Map<string, SummarySpan>();
  for (const span of previous?.spans ?? []) byId.set(span.spanId, span);
  let truncated = previous?.summary.truncated ?? false;
  for (const span of spans) {
    if (byId.has(span.spanId)) continue;
    if (byId.size >= MAX_SUMMARY_SPANS) {
      truncated = true;
      continue;
    }
    byId.set(span.spanId, compact(span));
  }
  const kept = [...byId.values()];
  const tree = assembleTrace(kept.map((s) => ({ ...s, tags: {} })));
  const { startUs, endUs } = traceWindowUs(kept.map((s) => ({ ...s, tags: {} })));
  const root = tree.roots.find((node) => !node.orphan)?.span;
  const summary: TraceSummary = {
    traceId: tree.traceId,
    startTimeUs: startUs,
    durationUs: endUs - startUs,
    rootService: root?.service ?? '',
    rootOperation: root?.operation ?? '',
    spanCount: kept.length,
    errorCount: kept.filter((s) => s.error).length,
    services: [...new Set(kept.map((s) => s.service))].sort(),
    operations: [...new Set(kept.map((s) => `${s.service}:${s.operation}`))].sort(),
    maxDepth: tree.maxDepth,
    orphanCount: tree.orphanCount,
    truncated,
  };
  return { summary, spans: kept };
}
