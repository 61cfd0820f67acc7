import { TraceQuery, TraceQueryField, TraceQueryRange, TraceQueryTag } from './trace-query.model';
import { escapeQueryWildcard } from './trace-query.parser';
import { TraceSummary, summaryTag } from './trace-summary';

/*
 * The in-memory twin of the Elasticsearch translation (libs/adapter-elasticsearch elasticsearch-trace-query.ts):
 * both must agree on every summary. Patterns are matched the way Lucene's WildcardQuery does (over code points,
 * whole term, case-sensitive), with a backtracking-free algorithm so a hostile pattern cannot blow up.
 */

const STAR = -1;
const ANY = -2;

/** compileWildcard: an ES wildcard pattern (`*`, `?`, `\` escapes) as code points, STAR and ANY. */
function compileWildcard(pattern: string): number[] {
  const out: number[] = [];
  let escaped = false;
  for (const ch of pattern) {
    const cp = ch.codePointAt(0) ?? 0;
    if (escaped) {
      out.push(cp);
      escaped = false;
    } else if (ch === '\\') escaped = true;
    else if (ch === '*') {
      if (out[out.length - 1] !== STAR) out.push(STAR);
    } else if (ch === '?') out.push(ANY);
    else out.push(cp);
  }
  if (escaped) out.push(0x5c); // a trailing backslash is literal in Lucene
  return out;
}

/** wildcardMatches: whole-text match, O(text × pattern) at worst (greedy `*` with a single resume point). */
function wildcardMatches(pattern: number[], text: string): boolean {
  const chars = Array.from(text, (ch) => ch.codePointAt(0) ?? 0);
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < chars.length) {
    if (p < pattern.length && (pattern[p] === ANY || pattern[p] === chars[t])) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === STAR) {
      starP = p++;
      starT = t;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === STAR) p++;
  return p === pattern.length;
}

type Predicate = (summary: TraceSummary) => boolean;

// Compiled leaves, keyed by AST node: the in-memory store evaluates one query against many summaries.
const compiled = new WeakMap<object, Predicate>();

function anyEntry(entries: (summary: TraceSummary) => readonly string[], pattern: number[]): Predicate {
  return (summary) => entries(summary).some((entry) => wildcardMatches(pattern, entry));
}

function fieldEntries(field: TraceQueryField['field']): (summary: TraceSummary) => readonly string[] {
  switch (field) {
    case 'service':
      return (s) => s.services;
    case 'operation':
      return (s) => s.operations;
    case 'rootService':
      return (s) => [s.rootService];
    case 'rootOperation':
      return (s) => [s.rootOperation];
    case 'traceId':
      return (s) => [s.traceId];
    case 'flag':
      return (s) => s.flags;
  }
}

function compileField(query: TraceQueryField): Predicate {
  const entries = fieldEntries(query.field);
  if (query.field === 'operation') {
    // operations holds `service:operation`; the value is about the part after a `:` (as `*:value` in ES).
    if (query.pattern) return anyEntry(entries, compileWildcard(`*:${query.value}`));
    const suffix = `:${query.value}`;
    return (s) => s.operations.some((entry) => entry.endsWith(suffix));
  }
  if (query.pattern) return anyEntry(entries, compileWildcard(query.value));
  const value = query.value;
  return (s) => entries(s).includes(value);
}

function compileTag(query: TraceQueryTag): Predicate {
  if (query.value === undefined) {
    const prefix = `${query.key}=`;
    return (s) => s.tags.some((entry) => entry.startsWith(prefix));
  }
  if (query.pattern) return anyEntry((s) => s.tags, compileWildcard(`${escapeQueryWildcard(query.key)}=${query.value}`));
  // The summary keeps a value's first MAX_SUMMARY_TAG_VALUE characters: compare like with like.
  const entry = summaryTag(query.key, query.value);
  return (s) => s.tags.includes(entry);
}

function numberOf(summary: TraceSummary, field: TraceQueryRange['field']): number {
  switch (field) {
    case 'duration':
      return summary.durationUs;
    case 'spans':
      return summary.spanCount;
    case 'errors':
      return summary.errorCount;
    case 'depth':
      return summary.maxDepth;
    case 'start':
      return summary.startTimeUs;
  }
}

function compileRange(query: TraceQueryRange): Predicate {
  const { field, value } = query;
  switch (query.op) {
    case '>':
      return (s) => numberOf(s, field) > value;
    case '>=':
      return (s) => numberOf(s, field) >= value;
    case '<':
      return (s) => numberOf(s, field) < value;
    case '<=':
      return (s) => numberOf(s, field) <= value;
    case '=':
      return (s) => numberOf(s, field) === value;
  }
}

function compileLeaf(query: TraceQueryField | TraceQueryTag | TraceQueryRange): Predicate {
  let predicate = compiled.get(query);
  if (predicate === undefined) {
    predicate = query.kind === 'field' ? compileField(query) : query.kind === 'tag' ? compileTag(query) : compileRange(query);
    compiled.set(query, predicate);
  }
  return predicate;
}

/**
 * matchesTraceQuery: whether a trace summary satisfies a parsed query, with exactly the semantics of the
 * Elasticsearch translation: `service:x` some service is x, `operation:x` some `service:operation` entry ends
 * in `:x`, tag clauses some `key=value` entry, ranges compare the summary's numbers; matching is case-sensitive.
 */
export function matchesTraceQuery(summary: TraceSummary, query: TraceQuery): boolean {
  switch (query.kind) {
    case 'and':
      return query.clauses.every((clause) => matchesTraceQuery(summary, clause));
    case 'or':
      return query.clauses.some((clause) => matchesTraceQuery(summary, clause));
    case 'not':
      return !matchesTraceQuery(summary, query.clause);
    default:
      return compileLeaf(query)(summary);
  }
}
