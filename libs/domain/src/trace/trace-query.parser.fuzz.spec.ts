import fc from 'fast-check';
import { TraceQuery } from './trace-query.model';
import { MAX_QUERY_DEPTH, MAX_QUERY_LENGTH, TraceQuerySyntaxError, formatTraceQuery, parseTraceQuery } from './trace-query.parser';

/*
 * Property tests of the query parser against hostile input. parseTraceQuery returns a TraceQuery or throws a
 * TraceQuerySyntaxError with a position inside the text, nothing else (no RangeError from deep recursion, no
 * TypeError), and quickly; formatTraceQuery's output parses back to the same query.
 *
 * Runs per property: SKEIN_FUZZ_RUNS (default 2,000, the CI setting). The full run, before changing the parser:
 *   SKEIN_FUZZ_RUNS=100000 npx jest trace-query.parser.fuzz --selectProjects unit
 */

const RUNS = Math.max(1, Number(process.env['SKEIN_FUZZ_RUNS'] ?? 2_000) || 2_000);
// Generous per run (2 cores, GC pauses); a parser that loops would blow through it by orders of magnitude.
const BUDGET_MS = 30_000 + RUNS * 2;
const SLOW_CALL_MS = 200;
const FUZZ_OPTIONS = { numRuns: RUNS, plugins: [fc.interruptAfterTimeLimit(BUDGET_MS, { failOnInterrupt: true })] };
jest.setTimeout(BUDGET_MS * 4);

/** checkParse: parses `text`, failing on anything but a query or a well-formed TraceQuerySyntaxError, or a slow call. */
function checkParse(text: string): TraceQuery | TraceQuerySyntaxError {
  const started = performance.now();
  let outcome: TraceQuery | TraceQuerySyntaxError;
  try {
    outcome = parseTraceQuery(text);
  } catch (err) {
    if (!(err instanceof TraceQuerySyntaxError)) throw err;
    if (!Number.isInteger(err.position) || err.position < 0 || err.position > Math.max(text.length, MAX_QUERY_LENGTH)) {
      throw new Error(`position ${err.position} outside the text (${text.length} characters)`);
    }
    if (!err.message.startsWith('query: ')) throw new Error(`message without the "query: " prefix: ${err.message}`);
    outcome = err;
  }
  const elapsed = performance.now() - started;
  if (elapsed > SLOW_CALL_MS) throw new Error(`parsing ${text.length} characters took ${elapsed.toFixed(0)} ms`);
  if (!(outcome instanceof TraceQuerySyntaxError)) checkRoundTrip(outcome);
  return outcome;
}

function checkRoundTrip(query: TraceQuery): void {
  const text = formatTraceQuery(query);
  // Spelled-out ANDs and canonical names can make the normalized form longer than the limit the input met.
  if (text.length > MAX_QUERY_LENGTH) return;
  expect(parseTraceQuery(text)).toEqual(query);
  expect(formatTraceQuery(parseTraceQuery(text))).toBe(text);
}

// Fragments the grammar cares about, so random sequences get deep into the parser instead of failing at once.
const fragment = fc.oneof(
  fc.constantFrom(
    ' ', '  ', '\t', '(', ')', '"', '\\', ':', '>', '>=', '<', '<=', '*', '?', '-', '!', '&&', '||',
    'AND', 'and', 'OR', 'or', 'NOT', 'not', ' AND ', ' OR ', ' NOT ',
    'service', 'operation', 'name', 'rootService', 'root.service', 'traceId', 'flag', 'duration', 'spans', 'errors',
    'depth', 'start', 'error', 'http.status_code', 'env', 'k8s/app', 'x-id',
    'checkout', 'true', 'false', 'orphans', '200', '1.5', '200ms', '5s', '2m', '1h', '10us', '3µs', '5d', '0',
    '2024-05-01', '2024-05-01T10:00:00Z', '2024-05-01T10:00:00.123456+02:00', '1714557600000', '99999999999999999999',
    '😀', '\u00a0', '\u2028',
  ),
  fc.string({ maxLength: 3 }),
);
const structured = fc.array(fragment, { maxLength: 40 }).map((parts) => parts.join(''));

// Well-formed clauses combined at random: most parse, which exercises the round trip.
const value = fc.oneof(
  fc.constantFrom('checkout', 'a*', '?b', 'x\\*y', '"quoted \\" value"', '""', '"*"', '*', 'a\\ b', '😀', 'x\\(1\\)', 'AND'),
  fc.stringMatching(/^[a-z0-9.*?]{1,6}$/),
);
const clause = fc.oneof(
  fc.tuple(fc.constantFrom('service', 'operation', 'rootService', 'rootOperation', 'traceId', 'env', 'http.url', '"odd key"', '"service"'), value).map(
    ([f, v]) => `${f}:${v}`,
  ),
  fc.tuple(fc.constantFrom('duration', 'spans', 'errors', 'depth'), fc.constantFrom(':', '>', '>=', '<', '<='), fc.nat(100_000), fc.constantFrom('', 'us', 'ms', 's', 'm', 'h')).map(
    ([f, op, n, unit]) => `${f}${op}${n}${f === 'duration' ? unit : ''}`,
  ),
  fc.tuple(fc.constantFrom('>', '<', ':'), fc.integer({ min: -8_000_000_000_000, max: 8_000_000_000_000 }).map((ms) => new Date(ms).toISOString())).map(
    ([op, iso]) => `start${op}${iso}`,
  ),
  fc.constantFrom('error:true', 'error:false', 'flag:orphans', 'flag:truncated', 'flag:skew_*'),
);
const wellFormed = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    clause,
    fc.tuple(tie('expr'), fc.constantFrom(' AND ', ' OR ', ' ', ' && ', ' || ', ' and '), tie('expr')).map(([a, op, b]) => `${a}${op}${b}`),
    tie('expr').map((e) => `(${e})`),
    fc.tuple(fc.constantFrom('NOT ', '-', '!', 'not '), tie('expr')).map(([op, e]) => `${op}${e}`),
  ),
})).expr;

describe('parseTraceQuery under hostile input (fast-check)', () => {
  it('random strings: a query or a TraceQuerySyntaxError, quickly', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200, unit: 'grapheme' }), (text) => void checkParse(text)), FUZZ_OPTIONS);
  });

  it('random strings of query fragments: a query or a TraceQuerySyntaxError, quickly', () => {
    fc.assert(fc.property(structured, (text) => void checkParse(text)), FUZZ_OPTIONS);
  });

  it('well-formed queries parse, and their normalized form parses back to the same query', () => {
    fc.assert(
      fc.property(wellFormed, (text) => {
        const outcome = checkParse(text);
        // Only the depth limit may refuse a query built from valid clauses.
        if (outcome instanceof TraceQuerySyntaxError && !outcome.message.includes('nested deeper')) throw outcome;
      }),
      FUZZ_OPTIONS,
    );
  });

  it('long and deep inputs near the limits stay fast', () => {
    const near = fc.oneof(
      fc.nat(MAX_QUERY_DEPTH * 4).map((n) => `${'('.repeat(n)}a:1${')'.repeat(n)}`),
      fc.nat(MAX_QUERY_DEPTH * 4).map((n) => `${'NOT '.repeat(n)}a:1`),
      fc.nat(MAX_QUERY_LENGTH).map((n) => `a:${'\\*'.repeat(Math.floor(n / 2))}`),
      fc.nat(MAX_QUERY_LENGTH / 4).map((n) => Array.from({ length: n }, () => 'a:1').join(' ')),
      fc.constantFrom(`a:"${'\\"'.repeat(2_000)}`, `${'-'.repeat(MAX_QUERY_LENGTH)}a:1`, 'a:1 '.repeat(MAX_QUERY_LENGTH / 4 + 1)),
    );
    fc.assert(fc.property(near, (text) => void checkParse(text)), { ...FUZZ_OPTIONS, numRuns: Math.min(RUNS, 200) });
  });
});
