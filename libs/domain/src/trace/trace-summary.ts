import { Span } from '../span/span.model';
import { buildSpanTree, traceWindowUs } from './trace-tree';
import { correctClockSkew } from './clock-skew';

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
  /** skewAdjusted: some server span was shifted into its client's window by clock-skew correction. */
  skewAdjusted: boolean;
  /** flags: `orphans`, `skew_adjusted`, `truncated` — whichever apply, sorted (search with `flag:orphans`). */
  flags: TraceFlag[];
  /** tags: distinct `key=value` span tags of the trace (at most {@link MAX_SUMMARY_TAGS}, values cut at {@link MAX_SUMMARY_TAG_VALUE} characters), sorted. */
  tags: string[];
}

/** TraceFlag: a property of a trace worth searching for. */
export type TraceFlag = 'orphans' | 'skew_adjusted' | 'truncated';

/** MAX_SUMMARY_TAGS: distinct tag pairs kept per summary; beyond it the summary is marked truncated. */
export const MAX_SUMMARY_TAGS = 2_000;

/** MAX_SUMMARY_TAG_VALUE: characters of a tag value kept in the summary's tag list (the span keeps the whole value). */
export const MAX_SUMMARY_TAG_VALUE = 256;

/** summaryTag: the `key=value` entry of a tag in {@link TraceSummary.tags}. */
export function summaryTag(key: string, value: string): string {
  return `${key}=${value.length > MAX_SUMMARY_TAG_VALUE ? value.slice(0, MAX_SUMMARY_TAG_VALUE) : value}`;
}

/** SummarySpan: the compact part of a span kept inside a summary document so summaries merge idempotently. */
export type SummarySpan = Pick<Span, 'spanId' | 'parentSpanId' | 'service' | 'operation' | 'startTimeUs' | 'durationUs' | 'error' | 'kind' | 'traceId' | 'host'>;

/** TraceSummaryState: a summary plus the compact spans it was computed from (stored together, merged by spanId). */
export interface TraceSummaryState {
  summary: TraceSummary;
  spans: SummarySpan[];
}

/** MAX_SUMMARY_SPANS: spans kept per summary state; beyond it the summary is marked truncated. */
export const MAX_SUMMARY_SPANS = 10_000;

/** compactSpan: the {@link SummarySpan} fields of a span, and nothing else (tags, events… are not kept in summaries). */
export function compactSpan(span: SummarySpan): SummarySpan {
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
  // The host tells two instances of one service apart, whose clocks may disagree (clock-skew correction).
  if (span.host !== undefined) out.host = span.host;
  return out;
}

/** SummaryInput: a span as merged into a summary: the compact fields, plus its tags when known. */
export type SummaryInput = SummarySpan & { tags?: Span['tags'] };

/** SummaryExtra: what an assembler knows beyond the spans: tags already in `key=value` form, and whether spans were cut. */
export interface SummaryExtra {
  tags?: Iterable<string>;
  truncated?: boolean;
}

/**
 * mergeTraceSummary: folds newly stored spans into a trace's summary state. Idempotent: spans are keyed by
 * spanId and tags form a set, so a replayed batch (at-least-once delivery) leaves the summary unchanged. The new
 * spans are copied to their compact form; their tags (when given) join the summary's.
 */
export function mergeTraceSummary(previous: TraceSummaryState | undefined, spans: SummaryInput[], extra: SummaryExtra = {}): TraceSummaryState {
  return merge(previous, spans, extra, false);
}

/**
 * mergeCompactSpans: {@link mergeTraceSummary} for spans already in compact form ({@link compactSpan}, e.g. held
 * by the open-trace buffer): they are kept in the state as given, not copied, and their tags come in `extra`.
 */
export function mergeCompactSpans(previous: TraceSummaryState | undefined, spans: SummarySpan[], extra: SummaryExtra = {}): TraceSummaryState {
  return merge(previous, spans, extra, true);
}

function merge(previous: TraceSummaryState | undefined, spans: SummaryInput[], extra: SummaryExtra, compact: boolean): TraceSummaryState {
  const byId = new Map<string, SummarySpan>();
  for (const span of previous?.spans ?? []) byId.set(span.spanId, span);
  let truncated = (previous?.summary.truncated ?? false) || extra.truncated === true;
  const tags = new Set(previous?.summary.tags ?? []);
  for (const tag of extra.tags ?? []) {
    if (tags.has(tag)) continue;
    if (tags.size >= MAX_SUMMARY_TAGS) truncated = true;
    else tags.add(tag);
  }
  for (const span of spans) {
    if (!compact) {
      const spanTags = span.tags;
      for (const key in spanTags) {
        const tag = summaryTag(key, spanTags[key] as string);
        if (tags.has(tag)) continue;
        if (tags.size >= MAX_SUMMARY_TAGS) truncated = true;
        else tags.add(tag);
      }
    }
    if (byId.has(span.spanId)) continue;
    if (byId.size >= MAX_SUMMARY_SPANS) {
      truncated = true;
      continue;
    }
    byId.set(span.spanId, compact ? span : compactSpan(span));
  }
  const kept = [...byId.values()];
  const tree = buildSpanTree(kept);
  const skew = correctClockSkew(kept, tree);
  const { startUs, endUs } = traceWindowUs(skew.spans);
  const root = tree.roots.find((node) => !node.orphan)?.span;
  const flags: TraceFlag[] = [];
  if (tree.orphanCount > 0) flags.push('orphans');
  if (skew.adjusted) flags.push('skew_adjusted');
  if (truncated) flags.push('truncated');
  // service → its operations: `service:operation` strings are built once per distinct pair, not per span.
  const operationsByService = new Map<string, Set<string>>();
  let errorCount = 0;
  for (const span of kept) {
    if (span.error) errorCount++;
    const operations = operationsByService.get(span.service);
    if (operations === undefined) operationsByService.set(span.service, new Set([span.operation]));
    else operations.add(span.operation);
  }
  const operations: string[] = [];
  for (const [service, names] of operationsByService) for (const name of names) operations.push(`${service}:${name}`);
  // The default sort orders strings by UTF-16 code units, as `<` does, and is faster than any comparator
  // (Node 20: 8.7 against 14.1 µs for 140 tags).
  const summary: TraceSummary = {
    traceId: tree.traceId,
    startTimeUs: startUs,
    durationUs: endUs - startUs,
    rootService: root?.service ?? '',
    rootOperation: root?.operation ?? '',
    spanCount: kept.length,
    errorCount,
    services: [...operationsByService.keys()].sort(),
    operations: operations.sort(),
    maxDepth: tree.maxDepth,
    orphanCount: tree.orphanCount,
    truncated,
    skewAdjusted: skew.adjusted,
    flags,
    tags: [...tags].sort(),
  };
  return { summary, spans: kept };
}
