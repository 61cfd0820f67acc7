import type { estypes } from '@elastic/elasticsearch';
import { MAX_QUERY_DEPTH, MAX_SUMMARY_TAG_VALUE, TraceQuery, TraceSummary, matchesTraceQuery, parseTraceQuery } from '@skein/domain';
import fc from 'fast-check';
import { traceQueryToElasticsearch } from './elasticsearch-trace-query';

type Query = estypes.QueryDslQueryContainer;

const RUNS = Math.max(1, Number(process.env['SKEIN_FUZZ_RUNS'] ?? 2_000) || 2_000);
const es = (text: string): Query => traceQueryToElasticsearch(parseTraceQuery(text));

describe('traceQueryToElasticsearch', () => {
  it('translates the example of the issue', () => {
    expect(es('service:checkout AND duration>200ms AND http.status_code:500 AND NOT env:staging')).toEqual({
      bool: {
        filter: [{ term: { services: 'checkout' } }, { range: { durationUs: { gt: 200_000 } } }, { term: { tags: 'http.status_code=500' } }],
        must_not: [{ term: { tags: 'env=staging' } }],
      },
    });
  });

  it.each<[string, Query]>([
    ['service:checkout', { term: { services: 'checkout' } }],
    ['service:check*', { wildcard: { services: { value: 'check*' } } }],
    ['operation:charge', { wildcard: { operations: { value: '*:charge' } } }],
    ['operation:"a*b?c\\\\"', { wildcard: { operations: { value: '*:a\\*b\\?c\\\\' } } }],
    ['operation:ch?rge*', { wildcard: { operations: { value: '*:ch?rge*' } } }],
    ['rootService:web', { term: { rootService: 'web' } }],
    ['rootOperation:GET*', { wildcard: { rootOperation: { value: 'GET*' } } }],
    ['traceId:ABC', { term: { traceId: 'abc' } }],
    ['flag:orphans', { term: { flags: 'orphans' } }],
    ['http.status_code:500', { term: { tags: 'http.status_code=500' } }],
    ['http.status_code:5*', { wildcard: { tags: { value: 'http.status_code=5*' } } }],
    ['"a*b":c?', { wildcard: { tags: { value: 'a\\*b=c?' } } }],
    ['"a*b":*', { prefix: { tags: 'a*b=' } }],
    ['env:*', { prefix: { tags: 'env=' } }],
    [`long:${'x'.repeat(MAX_SUMMARY_TAG_VALUE + 5)}`, { term: { tags: `long=${'x'.repeat(MAX_SUMMARY_TAG_VALUE)}` } }],
    ['duration:1s', { term: { durationUs: 1_000_000 } }],
    ['duration>=1s', { range: { durationUs: { gte: 1_000_000 } } }],
    ['spans<3', { range: { spanCount: { lt: 3 } } }],
    ['errors<=3', { range: { errorCount: { lte: 3 } } }],
    ['error:true', { range: { errorCount: { gt: 0 } } }],
    ['error:false', { term: { errorCount: 0 } }],
    ['depth>2', { range: { maxDepth: { gt: 2 } } }],
    ['start>=1714557600000', { range: { startTimeUs: { gte: 1_714_557_600_000_000 } } }],
    ['a:1 OR b:2', { bool: { should: [{ term: { tags: 'a=1' } }, { term: { tags: 'b=2' } }], minimum_should_match: 1 } }],
    ['NOT a:1', { bool: { must_not: [{ term: { tags: 'a=1' } }] } }],
    ['NOT NOT a:1', { term: { tags: 'a=1' } }],
    ['NOT (a:1 OR b:2)', { bool: { must_not: [{ term: { tags: 'a=1' } }, { term: { tags: 'b=2' } }] } }],
    ['NOT (a:1 b:2)', { bool: { must_not: [{ bool: { filter: [{ term: { tags: 'a=1' } }, { term: { tags: 'b=2' } }] } }] } }],
    ['-a:1 -b:2', { bool: { must_not: [{ term: { tags: 'a=1' } }, { term: { tags: 'b=2' } }] } }],
    ['a:1 NOT NOT b:2', { bool: { filter: [{ term: { tags: 'a=1' } }, { term: { tags: 'b=2' } }] } }],
    ['a:1 -(b:2 OR c:3)', { bool: { filter: [{ term: { tags: 'a=1' } }], must_not: [{ term: { tags: 'b=2' } }, { term: { tags: 'c=3' } }] } }],
  ])('%s', (text, expected) => {
    expect(es(text)).toEqual(expected);
  });

  it('keeps flattened and/or trees the parser never builds shallow too', () => {
    const leaf: TraceQuery = { kind: 'tag', key: 'a', value: '1', pattern: false };
    expect(traceQueryToElasticsearch({ kind: 'and', clauses: [{ kind: 'and', clauses: [leaf, leaf] }, leaf] })).toEqual({ bool: { filter: [es('a:1'), es('a:1'), es('a:1')] } });
    expect(traceQueryToElasticsearch({ kind: 'and', clauses: [] })).toEqual({ match_all: {} });
    expect(traceQueryToElasticsearch({ kind: 'or', clauses: [] })).toEqual({ match_none: {} });
  });

  it('stays within Elasticsearch 8 nesting limit (30 levels, one taken by the store) at the deepest parseable query', () => {
    const deepest = [
      `${'(a:1 OR '.repeat(MAX_QUERY_DEPTH)}a:1${')'.repeat(MAX_QUERY_DEPTH)}`,
      `b:1 AND ${Array.from({ length: MAX_QUERY_DEPTH }, (_, i) => (i % 2 === 0 ? '(a:1 OR ' : '(a:1 AND ')).join('')}a:1${')'.repeat(MAX_QUERY_DEPTH)}`,
      `${'NOT '.repeat(MAX_QUERY_DEPTH)}a:1`,
      `${'NOT (a:1 AND '.repeat(MAX_QUERY_DEPTH / 2)}a:1${')'.repeat(MAX_QUERY_DEPTH / 2)}`,
      `${'(NOT '.repeat(MAX_QUERY_DEPTH / 2)}a:1${')'.repeat(MAX_QUERY_DEPTH / 2)}`,
    ];
    for (const text of deepest) expect(depthOf(es(text))).toBeLessThanOrEqual(MAX_QUERY_DEPTH + 2);
  });

  it('never nests deeper than the query nesting + 2, whatever the query (fast-check)', () => {
    fc.assert(
      fc.property(nestedQueryText(MAX_QUERY_DEPTH), (text) => {
        expect(depthOf(es(text))).toBeLessThanOrEqual(MAX_QUERY_DEPTH + 2);
      }),
      { numRuns: RUNS },
    );
  });

  it('selects exactly the summaries matchesTraceQuery accepts (fast-check, against a model of Elasticsearch)', () => {
    fc.assert(
      fc.property(traceQuery, fc.array(summaryArb, { minLength: 1, maxLength: 4 }), (query, summaries) => {
        const translated = traceQueryToElasticsearch(query);
        for (const summary of summaries) {
          const expected = matchesTraceQuery(summary, query);
          if (esMatches(translated, summary) !== expected) {
            throw new Error(`disagree on ${JSON.stringify(summary)}: matcher ${expected}, ES ${JSON.stringify(translated)}`);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});

// ------------------------------------------------------------------------------------------------------------
// A small model of Elasticsearch's evaluation of the queries the translation produces, written independently of
// the matcher: Lucene wildcard semantics through a regular expression (fine on these short test strings).

function depthOf(query: Query): number {
  const bool = query.bool;
  if (bool === undefined) return 1;
  const children = [bool.filter, bool.must, bool.must_not, bool.should].flatMap((list) => (list === undefined ? [] : Array.isArray(list) ? list : [list]));
  return 1 + Math.max(0, ...children.map(depthOf));
}

function luceneWildcard(pattern: string): RegExp {
  let source = '';
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else {
      const literal = ch === '\\' && i + 1 < chars.length ? chars[++i] : ch;
      source += literal.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`, 'su');
}

function fieldValues(summary: TraceSummary, field: string): (string | number)[] {
  const value = (summary as unknown as Record<string, unknown>)[field];
  if (value === undefined) throw new Error(`unknown summary field ${field}`);
  return Array.isArray(value) ? (value as string[]) : [value as string | number];
}

function single<T>(record: Record<string, T> | undefined): [string, T] {
  const entries = Object.entries(record ?? {});
  if (entries.length !== 1) throw new Error(`expected one field in ${JSON.stringify(record)}`);
  return entries[0];
}

function asList(list: Query | Query[] | undefined): Query[] {
  return list === undefined ? [] : Array.isArray(list) ? list : [list];
}

function esMatches(query: Query, summary: TraceSummary): boolean {
  const known = ['bool', 'term', 'wildcard', 'prefix', 'range', 'match_all', 'match_none'];
  const kinds = Object.keys(query);
  if (kinds.length !== 1 || !known.includes(kinds[0])) throw new Error(`unexpected query ${JSON.stringify(query)}`);
  if (query.match_all) return true;
  if (query.match_none) return false;
  if (query.bool) {
    const { filter, must, must_not: mustNot, should, minimum_should_match: minimum } = query.bool;
    const required = [...asList(filter), ...asList(must)];
    const optional = asList(should);
    if (!required.every((q) => esMatches(q, summary))) return false;
    if (asList(mustNot).some((q) => esMatches(q, summary))) return false;
    const needed = minimum === undefined ? (required.length === 0 && optional.length > 0 ? 1 : 0) : Number(minimum);
    return optional.filter((q) => esMatches(q, summary)).length >= needed;
  }
  if (query.term) {
    const [field, value] = single(query.term as Record<string, unknown>);
    return fieldValues(summary, field).some((v) => v === value);
  }
  if (query.wildcard) {
    const [field, spec] = single(query.wildcard as Record<string, { value: string }>);
    const regex = luceneWildcard(spec.value);
    return fieldValues(summary, field).some((v) => typeof v === 'string' && regex.test(v));
  }
  if (query.prefix) {
    const [field, prefix] = single(query.prefix as Record<string, string>);
    return fieldValues(summary, field).some((v) => typeof v === 'string' && v.startsWith(prefix));
  }
  const [field, bounds] = single(query.range as Record<string, { gt?: number; gte?: number; lt?: number; lte?: number }>);
  return fieldValues(summary, field).some(
    (v) =>
      typeof v === 'number' &&
      (bounds.gt === undefined || v > bounds.gt) &&
      (bounds.gte === undefined || v >= bounds.gte) &&
      (bounds.lt === undefined || v < bounds.lt) &&
      (bounds.lte === undefined || v <= bounds.lte),
  );
}

// ------------------------------------------------------------------------------------------------------------
// Generators over small alphabets, so that clauses hit and miss often, `:`/`=` separators and escapes included.

const word = fc.array(fc.constantFrom('a', 'b', ':', '=', '\\', '*', '?', '😀'), { maxLength: 4 }).map((chars) => chars.join(''));
const name = fc.constantFrom('a', 'b', 'a:b', 'ab', 'a*', '');
const summaryArb: fc.Arbitrary<TraceSummary> = fc
  .record({
    services: fc.uniqueArray(name, { maxLength: 3 }),
    operations: fc.uniqueArray(fc.tuple(name, name).map(([s, o]) => `${s}:${o}`), { maxLength: 3 }),
    rootService: name,
    rootOperation: name,
    traceId: fc.constantFrom('ab', 'a1', 'ba'),
    flags: fc.subarray(['orphans', 'skew_adjusted', 'truncated'] as const),
    tags: fc.uniqueArray(fc.tuple(fc.constantFrom('k', 'k.x', 'a=b', 'a'), word).map(([k, v]) => `${k}=${v}`), { maxLength: 4 }),
    durationUs: fc.nat(5),
    spanCount: fc.nat(5),
    errorCount: fc.nat(5),
    maxDepth: fc.nat(5),
    startTimeUs: fc.integer({ min: -5, max: 5 }),
  })
  .map((parts) => ({
    ...parts,
    services: [...parts.services].sort(),
    operations: [...parts.operations].sort(),
    flags: [...parts.flags],
    tags: [...parts.tags].sort(),
    orphanCount: 0,
    truncated: parts.flags.includes('truncated'),
    skewAdjusted: parts.flags.includes('skew_adjusted'),
  }));

const leaf: fc.Arbitrary<TraceQuery> = fc.oneof(
  fc.record({
    kind: fc.constant('field' as const),
    field: fc.constantFrom('service', 'operation', 'rootService', 'rootOperation', 'traceId', 'flag') as fc.Arbitrary<'service'>,
    value: fc.oneof(word, name, fc.constantFrom('orphans', 'skew_*', 'a?', 'b')),
    pattern: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('tag' as const),
    key: fc.constantFrom('k', 'k.x', 'a', 'a=b', 'k*', 'a\\'),
    value: fc.option(word, { nil: undefined }),
    pattern: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('range' as const),
    field: fc.constantFrom('duration', 'spans', 'errors', 'depth', 'start') as fc.Arbitrary<'duration'>,
    op: fc.constantFrom('>', '>=', '<', '<=', '=') as fc.Arbitrary<'>'>,
    value: fc.integer({ min: -1, max: 6 }),
  }),
);

const traceQuery: fc.Arbitrary<TraceQuery> = fc.letrec<{ query: TraceQuery }>((tie) => ({
  query: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({ kind: fc.constant('and' as const), clauses: fc.array(tie('query'), { maxLength: 3 }) }),
    fc.record({ kind: fc.constant('or' as const), clauses: fc.array(tie('query'), { maxLength: 3 }) }),
    fc.record({ kind: fc.constant('not' as const), clause: tie('query') }),
  ),
})).query;

/** nestedQueryText: query strings nested up to `levels` deep (parentheses and NOTs), in every combination. */
function nestedQueryText(levels: number): fc.Arbitrary<string> {
  if (levels === 0) return fc.constantFrom('a:1', 'b:2*', 'duration>1');
  const inner = nestedQueryText(levels - 1);
  const flat = nestedQueryText(0);
  return fc.oneof(
    flat,
    inner.map((q) => `NOT ${q}`),
    fc.tuple(flat, inner, fc.constantFrom(' OR ', ' AND ', ' ')).map(([a, b, op]) => `(${a}${op}${b})`),
    fc.tuple(flat, inner, fc.constantFrom(' OR ', ' AND ')).map(([a, b, op]) => `${a}${op}(${b})`),
  );
}
