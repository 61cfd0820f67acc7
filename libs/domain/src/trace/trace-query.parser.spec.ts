import { TraceQuery } from './trace-query.model';
import { MAX_QUERY_DEPTH, MAX_QUERY_LENGTH, TraceQuerySyntaxError, formatTraceQuery, parseTraceQuery } from './trace-query.parser';

const tag = (key: string, value: string | undefined, pattern = false): TraceQuery => ({ kind: 'tag', key, value, pattern });
const field = (name: 'service' | 'operation' | 'rootService' | 'rootOperation' | 'traceId' | 'flag', value: string, pattern = false): TraceQuery => ({
  kind: 'field',
  field: name,
  value,
  pattern,
});
const range = (name: 'duration' | 'spans' | 'errors' | 'depth' | 'start', op: '>' | '>=' | '<' | '<=' | '=', value: number): TraceQuery => ({
  kind: 'range',
  field: name,
  op,
  value,
});
const and = (...clauses: TraceQuery[]): TraceQuery => ({ kind: 'and', clauses });
const or = (...clauses: TraceQuery[]): TraceQuery => ({ kind: 'or', clauses });
const not = (clause: TraceQuery): TraceQuery => ({ kind: 'not', clause });

function syntaxError(text: string): TraceQuerySyntaxError {
  try {
    parseTraceQuery(text);
  } catch (err) {
    if (err instanceof TraceQuerySyntaxError) return err;
    throw err;
  }
  throw new Error(`${JSON.stringify(text)} parsed`);
}

describe('parseTraceQuery', () => {
  it('parses the example of the issue', () => {
    expect(parseTraceQuery('service:checkout AND duration>200ms AND http.status_code:500 AND NOT env:staging')).toEqual(
      and(field('service', 'checkout'), range('duration', '>', 200_000), tag('http.status_code', '500'), not(tag('env', 'staging'))),
    );
  });

  it.each<[string, TraceQuery]>([
    // fields and aliases
    ['service:checkout', field('service', 'checkout')],
    ['operation:GET', field('operation', 'GET')],
    ['name:GET', field('operation', 'GET')],
    ['rootService:web', field('rootService', 'web')],
    ['root.service:web', field('rootService', 'web')],
    ['rootOperation:"GET /"', field('rootOperation', 'GET /')],
    ['root.operation:x', field('rootOperation', 'x')],
    ['traceId:ABCDEF0123456789', field('traceId', 'abcdef0123456789')],
    ['trace.id:abc*', field('traceId', 'abc*', true)],
    ['flag:orphans', field('flag', 'orphans')],
    ['flags:skew_adjusted', field('flag', 'skew_adjusted')],
    ['flag:trunc*', field('flag', 'trunc*', true)],
    ['rootService:""', field('rootService', '')],
    // tags
    ['http.status_code:500', tag('http.status_code', '500')],
    ['x-request-id:abc', tag('x-request-id', 'abc')],
    ['k8s.io/app_name:web', tag('k8s.io/app_name', 'web')],
    ['user@host:1', tag('user@host', '1')],
    ['"odd key!":v', tag('odd key!', 'v')],
    ['"service":checkout', tag('service', 'checkout')],
    ['"a\\"b":c', tag('a"b', 'c')],
    ['Service:x', tag('Service', 'x')],
    ['env:*', tag('env', undefined)],
    ['env:"*"', tag('env', '*')],
    ['env:stag*', tag('env', 'stag*', true)],
    ['env:?ev', tag('env', '?ev', true)],
    ['env:a\\*b', tag('env', 'a*b')],
    ['env:a\\*b*', tag('env', 'a\\*b*', true)],
    ['env:a\\\\b*', tag('env', 'a\\\\b*', true)],
    ['env:a\\ b', tag('env', 'a b')],
    ['env:a\\(b\\)', tag('env', 'a(b)')],
    ['url:http://x/y?z=1', tag('url', 'http://x/y?z=1', true)],
    ['msg:"quoted value with \\" escapes"', tag('msg', 'quoted value with " escapes')],
    ['msg:"no * wildcards ? here"', tag('msg', 'no * wildcards ? here')],
    ['msg:"back\\\\slash"', tag('msg', 'back\\slash')],
    ['emoji:😀', tag('emoji', '😀')],
    ['and:1', tag('and', '1')],
    ['NOT-x:1', tag('NOT-x', '1')],
    ['service:AND', field('service', 'AND')],
    // numbers, durations, units
    ['duration>200', range('duration', '>', 200_000)],
    ['duration>=200us', range('duration', '>=', 200)],
    ['duration<5µs', range('duration', '<', 5)],
    ['duration<5μs', range('duration', '<', 5)],
    ['duration<=1.5s', range('duration', '<=', 1_500_000)],
    ['duration:1.1ms', range('duration', '=', 1_100)],
    ['duration>2m', range('duration', '>', 120_000_000)],
    ['duration>1h', range('duration', '>', 3_600_000_000)],
    ['duration>0.5ms', range('duration', '>', 500)],
    ['duration>0', range('duration', '>', 0)],
    ['spans>10', range('spans', '>', 10)],
    ['spans:3', range('spans', '=', 3)],
    ['errors>=1', range('errors', '>=', 1)],
    ['depth<4', range('depth', '<', 4)],
    ['error:true', range('errors', '>', 0)],
    ['error:FALSE', range('errors', '=', 0)],
    ['start>1714557600000', range('start', '>', 1_714_557_600_000_000)],
    ['start>=2024-05-01T10:00:00Z', range('start', '>=', 1_714_557_600_000_000)],
    ['start>=2024-05-01T10:00:00.123456Z', range('start', '>=', 1_714_557_600_123_456)],
    ['start>=2024-05-01T12:00:00.5+02:00', range('start', '>=', 1_714_557_600_500_000)],
    ['start>=2024-05-01T05:30:00-0430', range('start', '>=', 1_714_557_600_000_000)],
    ['start<2024-05-01T10:00', range('start', '<', 1_714_557_600_000_000)],
    ['start<2024-05-01', range('start', '<', 1_714_521_600_000_000)],
    ['start>1969-12-31T23:59:59Z', range('start', '>', -1_000_000)],
    // boolean structure
    ['a:1 b:2', and(tag('a', '1'), tag('b', '2'))],
    ['a:1 and b:2', and(tag('a', '1'), tag('b', '2'))],
    ['a:1 && b:2', and(tag('a', '1'), tag('b', '2'))],
    ['a:1 OR b:2', or(tag('a', '1'), tag('b', '2'))],
    ['a:1 or b:2 || c:3', or(tag('a', '1'), tag('b', '2'), tag('c', '3'))],
    ['a:1 OR b:2 c:3', or(tag('a', '1'), and(tag('b', '2'), tag('c', '3')))],
    ['a:1 AND b:2 OR c:3', or(and(tag('a', '1'), tag('b', '2')), tag('c', '3'))],
    ['NOT a:1 AND b:2', and(not(tag('a', '1')), tag('b', '2'))],
    ['NOT (a:1 OR b:2)', not(or(tag('a', '1'), tag('b', '2')))],
    ['-a:1 !b:2', and(not(tag('a', '1')), not(tag('b', '2')))],
    ['not not a:1', not(not(tag('a', '1')))],
    ['(a:1 OR b:2) c:3', and(or(tag('a', '1'), tag('b', '2')), tag('c', '3'))],
    ['(a:1)(b:2)', and(tag('a', '1'), tag('b', '2'))],
    ['a:1 AND (b:2 AND c:3)', and(tag('a', '1'), tag('b', '2'), tag('c', '3'))],
    ['((a:1 OR b:2) OR c:3)', or(tag('a', '1'), tag('b', '2'), tag('c', '3'))],
    ['  \t a:1 \n ', tag('a', '1')],
    ['(((a:1)))', tag('a', '1')],
  ])('%s', (text, expected) => {
    expect(parseTraceQuery(text)).toEqual(expected);
  });

  it.each<[string, string, number]>([
    ['', 'query: empty', 0],
    [' \t ', 'query: empty', 0],
    ['service:', 'query: expected a value after "service:" at position 8, found end of query', 8],
    ['service: checkout', 'query: expected a value after "service:" at position 8, found whitespace', 8],
    ['checkout', 'query: expected ":" or a comparison (>, >=, <, <=) after "checkout" at position 8, found end of query', 8],
    ['duration > 200ms', 'query: expected ":" or a comparison (>, >=, <, <=) after "duration" at position 8, found whitespace', 8],
    ['service>3', 'query: expected ":" after "service" at position 7, found ">" (ranges work only on duration, spans, errors, depth and start)', 7],
    ['http.status_code>=500', 'query: expected ":" after "http.status_code" at position 16, found ">=" (ranges work only on duration, spans, errors, depth and start)', 16],
    ['error>0', 'query: expected ":" after "error" at position 5, found ">" (ranges work only on duration, spans, errors, depth and start)', 5],
    ['(a:1', 'query: expected ")" at position 4, found end of query (to close the "(" at position 0)', 4],
    ['(a:1 OR (b:2)', 'query: expected ")" at position 13, found end of query (to close the "(" at position 0)', 13],
    ['a:1)', 'query: unmatched ")" at position 3', 3],
    ['()', 'query: expected a clause after "(" at position 1, found ")"', 1],
    ['a:1 AND', 'query: expected a clause after "AND" at position 7, found end of query', 7],
    ['a:1 OR', 'query: expected a clause after "OR" at position 6, found end of query', 6],
    ['a:1 AND OR b:2', 'query: expected a clause after "AND" at position 8, found "OR"', 8],
    ['AND a:1', 'query: expected a clause at position 0, found "AND"', 0],
    ['OR a:1', 'query: expected a clause at position 0, found "OR"', 0],
    ['NOT', 'query: expected a clause after "NOT" at position 3, found end of query', 3],
    ['a:1 -', 'query: expected a clause after "-" at position 5, found end of query', 5],
    ['(a:1 AND) b:2', 'query: expected a clause after "AND" at position 8, found ")"', 8],
    [', a:1', 'query: expected a clause at position 0, found ","', 0],
    ['duration>5d', 'query: expected a duration unit (us, µs, ms, s, m, h) at position 10, found "d"', 10],
    ['duration>1.5sec', 'query: expected a duration unit (us, µs, ms, s, m, h) at position 12, found "sec"', 12],
    ['duration:abc', 'query: expected a duration (a number with an optional unit: 200ms, 1.5s) after "duration:" at position 9, found "abc"', 9],
    ['duration>"200ms"', 'query: expected a duration (a number with an optional unit: 200ms, 1.5s) after "duration>" at position 9, found a quote', 9],
    ['duration>2*', 'query: expected a duration (a number with an optional unit: 200ms, 1.5s) after "duration>" at position 9, found "2*"', 9],
    ['duration>1.', 'query: expected a duration (a number with an optional unit: 200ms, 1.5s) after "duration>" at position 9, found "1."', 9],
    ['duration>1.0005ms', 'query: expected a whole number of microseconds after "duration>" at position 9, found "1.0005ms"', 9],
    ['spans>1.5', 'query: expected a whole number after "spans>" at position 6, found "1.5"', 6],
    ['errors>-1', 'query: expected a whole number after "errors>" at position 7, found "-1"', 7],
    ['depth:deep', 'query: expected a whole number after "depth:" at position 6, found "deep"', 6],
    ['spans>99999999999999999999', 'query: expected a number of at most 9007199254740991 (microseconds for times and durations) after "spans>" at position 6, found "99999999999999999999"', 6],
    ['start>yesterday', 'query: expected a time (ISO-8601 such as 2024-05-01T10:00:00Z, or epoch milliseconds) after "start>" at position 6, found "yesterday"', 6],
    ['start>2024-02-30', 'query: expected a time (ISO-8601 such as 2024-05-01T10:00:00Z, or epoch milliseconds) after "start>" at position 6, found "2024-02-30"', 6],
    ['start>2024-05-01T25:00Z', 'query: expected a time (ISO-8601 such as 2024-05-01T10:00:00Z, or epoch milliseconds) after "start>" at position 6, found "2024-05-01T25:00Z"', 6],
    ['start>3000-01-01', 'query: expected a time between the years 1685 and 2255 after "start>" at position 6, found "3000-01-01"', 6],
    ['error:maybe', 'query: expected true or false after "error:" at position 6, found "maybe"', 6],
    ['flag:foo', 'query: expected a flag (orphans, skew_adjusted, truncated) after "flag:" at position 5, found "foo"', 5],
    ['a:b"c"', 'query: expected whitespace, ")" or end of query after the value at position 3, found a quote (escape it with \\ or quote the whole value)', 3],
    ['a:"b"c', 'query: expected whitespace, ")" or end of query after the value at position 5, found "c" (escape it with \\ or quote the whole value)', 5],
    ['a:b(c)', 'query: expected whitespace, ")" or end of query after the value at position 3, found "(" (escape it with \\ or quote the whole value)', 3],
    ['a:(b OR c)', 'query: expected a value after "a:" at position 2, found "("', 2],
    ['a:"b', 'query: expected a closing quote at position 4, found end of query (to end the quote opened at position 2)', 4],
    ['a:b\\', 'query: expected a character after "\\" at position 4, found end of query', 4],
    ['"":x', 'query: expected a field name at position 0, found "" (a tag key has at least one character)', 0],
    ['"a b" x', 'query: expected ":" or a comparison (>, >=, <, <=) after ""a b"" at position 5, found whitespace', 5],
  ])('rejects %j', (text, message, position) => {
    const error = syntaxError(text);
    expect(error.message).toBe(message);
    expect(error.position).toBe(position);
    expect(error.name).toBe('TraceQuerySyntaxError');
    expect(error).toBeInstanceOf(Error);
  });

  it(`rejects a query longer than ${MAX_QUERY_LENGTH} characters`, () => {
    const error = syntaxError(`a:${'x'.repeat(MAX_QUERY_LENGTH)}`);
    expect(error.message).toBe(`query: expected at most ${MAX_QUERY_LENGTH} characters, found ${MAX_QUERY_LENGTH + 2}`);
    expect(error.position).toBe(MAX_QUERY_LENGTH);
    expect(() => parseTraceQuery(`a:${'x'.repeat(MAX_QUERY_LENGTH - 2)}`)).not.toThrow();
  });

  it(`accepts ${MAX_QUERY_DEPTH} levels of nesting and rejects one more`, () => {
    const nested = (levels: number): string => `${'('.repeat(levels)}a:1${')'.repeat(levels)}`;
    expect(parseTraceQuery(nested(MAX_QUERY_DEPTH))).toEqual(tag('a', '1'));
    const error = syntaxError(nested(MAX_QUERY_DEPTH + 1));
    expect(error.message).toBe(`query: nested deeper than ${MAX_QUERY_DEPTH} levels at position ${MAX_QUERY_DEPTH} (each "(" and each NOT is one level)`);
    expect(error.position).toBe(MAX_QUERY_DEPTH);
    expect(() => parseTraceQuery(`${'NOT '.repeat(MAX_QUERY_DEPTH + 1)}a:1`)).toThrow(/nested deeper than/);
    expect(() => parseTraceQuery(`${'-'.repeat(2000)}a:1`)).toThrow(/nested deeper than/);
    // Depth is about nesting, not length: many NOTs side by side are fine.
    expect(() => parseTraceQuery(Array.from({ length: 100 }, (_, i) => `NOT a:${i}`).join(' '))).not.toThrow();
  });
});

describe('formatTraceQuery', () => {
  it.each<[string, string]>([
    ['service:checkout AND duration>200ms AND http.status_code:500 AND NOT env:staging', 'service:checkout AND duration>200ms AND http.status_code:500 AND NOT env:staging'],
    ['name:x root.service:y trace.id:ABC flags:orphans', 'operation:x AND rootService:y AND traceId:abc AND flag:orphans'],
    ['a:1 || b:2 && -c:3', 'a:1 OR b:2 AND NOT c:3'],
    ['(a:1 OR b:2) c:3', '(a:1 OR b:2) AND c:3'],
    ['NOT (a:1 b:2)', 'NOT (a:1 AND b:2)'],
    ['duration>1500ms spans:3 duration<90s duration>0 duration<1.000001s', 'duration>1500ms AND spans:3 AND duration<90s AND duration>0ms AND duration<1000001us'],
    ['duration>60000ms duration<7200s', 'duration>1m AND duration<2h'],
    ['error:true error:false', 'errors>0 AND errors:0'],
    ['start>1714557600000 start<2024-05-01T10:00:00.000001Z', 'start>2024-05-01T10:00:00Z AND start<2024-05-01T10:00:00.000001Z'],
    ['start>2024-05-01T10:00:00.5Z', 'start>2024-05-01T10:00:00.500Z'],
    ['"service":x "a b":y "-x":z', '"service":x AND "a b":y AND "-x":z'],
    ['env:* env:"*" env:"" env:"a b" env:a\\ b*', 'env:* AND env:"*" AND env:"" AND env:"a b" AND env:a\\ b*'],
    ['msg:"say \\"hi\\"" path:a\\\\b* q:x\\*?', 'msg:"say \\"hi\\"" AND path:a\\\\b* AND q:x\\*?'],
  ])('%s → %s', (text, normalized) => {
    const query = parseTraceQuery(text);
    expect(formatTraceQuery(query)).toBe(normalized);
    expect(parseTraceQuery(normalized)).toEqual(query);
  });

  it('refuses an empty and/or, which has no query-string form', () => {
    expect(() => formatTraceQuery({ kind: 'or', clauses: [] })).toThrow('formatTraceQuery: an empty "or" has no query-string form');
  });
});
