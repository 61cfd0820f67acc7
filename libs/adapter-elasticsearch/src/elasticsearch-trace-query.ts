import type { estypes } from '@elastic/elasticsearch';
import { TraceQuery, TraceQueryField, TraceQueryRange, TraceQueryTag, escapeQueryWildcard, summaryTag } from '@skein/domain';

/*
 * TraceQuery → Elasticsearch query DSL over the trace-summary index (one document per trace, keyword and
 * number fields only). Must agree with matchesTraceQuery (libs/domain trace-query.matcher.ts) on every summary.
 * Kept shallow because Elasticsearch 8 refuses queries nested deeper than 30 objects: NOTs fold into their
 * parent's `must_not`, double negations cancel, nested and/or of the same kind are flattened.
 */

const KEYWORD_FIELDS: Record<TraceQueryField['field'], string> = {
  service: 'services',
  operation: 'operations',
  rootService: 'rootService',
  rootOperation: 'rootOperation',
  traceId: 'traceId',
  flag: 'flags',
};

const NUMERIC_FIELDS: Record<TraceQueryRange['field'], string> = {
  duration: 'durationUs',
  spans: 'spanCount',
  errors: 'errorCount',
  depth: 'maxDepth',
  start: 'startTimeUs',
};

function fieldQuery(query: TraceQueryField): estypes.QueryDslQueryContainer {
  const field = KEYWORD_FIELDS[query.field];
  // operations holds `service:operation`; the operation is whatever follows a `:`.
  if (query.field === 'operation') return { wildcard: { [field]: { value: `*:${query.pattern ? query.value : escapeQueryWildcard(query.value)}` } } };
  if (query.pattern) return { wildcard: { [field]: { value: query.value } } };
  return { term: { [field]: query.value } };
}

function tagQuery(query: TraceQueryTag): estypes.QueryDslQueryContainer {
  if (query.value === undefined) return { prefix: { tags: `${query.key}=` } };
  if (query.pattern) return { wildcard: { tags: { value: `${escapeQueryWildcard(query.key)}=${query.value}` } } };
  // Summaries keep the first MAX_SUMMARY_TAG_VALUE characters of a value: compare like with like.
  return { term: { tags: summaryTag(query.key, query.value) } };
}

function rangeQuery(query: TraceQueryRange): estypes.QueryDslQueryContainer {
  const field = NUMERIC_FIELDS[query.field];
  switch (query.op) {
    case '=':
      return { term: { [field]: query.value } };
    case '>':
      return { range: { [field]: { gt: query.value } } };
    case '>=':
      return { range: { [field]: { gte: query.value } } };
    case '<':
      return { range: { [field]: { lt: query.value } } };
    case '<=':
      return { range: { [field]: { lte: query.value } } };
  }
}

/** flatten: the clauses of nested same-kind and/or nodes, in order. */
function flatten(kind: 'and' | 'or', clauses: TraceQuery[], out: TraceQuery[] = []): TraceQuery[] {
  for (const clause of clauses) {
    if (clause.kind === kind) flatten(kind, clause.clauses, out);
    else out.push(clause);
  }
  return out;
}

/** positive: a NOT with its double negations cancelled: the clause it negates and whether it still negates. */
function unwrapNot(query: TraceQuery): { clause: TraceQuery; negated: boolean } {
  let clause = query;
  let negated = false;
  while (clause.kind === 'not') {
    clause = clause.clause;
    negated = !negated;
  }
  return { clause, negated };
}

/**
 * traceQueryToElasticsearch: the Elasticsearch query (bool, term, wildcard, prefix, range; no scripts) over the
 * trace-summary index that selects exactly the summaries {@link matchesTraceQuery} accepts.
 */
export function traceQueryToElasticsearch(query: TraceQuery): estypes.QueryDslQueryContainer {
  switch (query.kind) {
    case 'and': {
      const filter: estypes.QueryDslQueryContainer[] = [];
      const mustNot: estypes.QueryDslQueryContainer[] = [];
      for (const clause of flatten('and', query.clauses)) {
        const { clause: inner, negated } = unwrapNot(clause);
        if (negated) mustNot.push(...negatedClauses(inner));
        else filter.push(traceQueryToElasticsearch(inner));
      }
      if (filter.length === 0 && mustNot.length === 0) return { match_all: {} };
      if (filter.length === 1 && mustNot.length === 0) return filter[0];
      return { bool: { ...(filter.length > 0 ? { filter } : {}), ...(mustNot.length > 0 ? { must_not: mustNot } : {}) } };
    }
    case 'or': {
      const should = flatten('or', query.clauses).map((clause) => traceQueryToElasticsearch(clause));
      if (should.length === 0) return { match_none: {} };
      if (should.length === 1) return should[0];
      return { bool: { should, minimum_should_match: 1 } };
    }
    case 'not': {
      const { clause, negated } = unwrapNot(query);
      if (!negated) return traceQueryToElasticsearch(clause);
      return { bool: { must_not: negatedClauses(clause) } };
    }
    case 'field':
      return fieldQuery(query);
    case 'tag':
      return tagQuery(query);
    case 'range':
      return rangeQuery(query);
  }
}

/** negatedClauses: `must_not` entries meaning NOT query; NOT (a OR b) is must_not [a, b], one level less. */
function negatedClauses(query: TraceQuery): estypes.QueryDslQueryContainer[] {
  if (query.kind === 'or') return flatten('or', query.clauses).map((clause) => traceQueryToElasticsearch(clause));
  return [traceQueryToElasticsearch(query)];
}
