import { matchesTraceQuery } from './trace-query.matcher';
import { parseTraceQuery } from './trace-query.parser';
import { MAX_SUMMARY_TAG_VALUE, TraceSummary } from './trace-summary';

const summary: TraceSummary = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  startTimeUs: 1_714_557_600_000_000, // 2024-05-01T10:00:00Z
  durationUs: 250_000,
  rootService: 'web',
  rootOperation: 'GET /checkout',
  spanCount: 12,
  errorCount: 1,
  services: ['checkout', 'payments', 'web'],
  operations: ['checkout:place order', 'payments:charge', 'payments:refund:partial', 'web:GET /checkout'],
  maxDepth: 3,
  orphanCount: 0,
  truncated: false,
  skewAdjusted: true,
  flags: ['skew_adjusted'],
  tags: ['env=production', 'http.status_code=500', 'http.url=https://shop/checkout?id=1', 'literal=a*b', `long=${'x'.repeat(MAX_SUMMARY_TAG_VALUE)}`, 'weird key=\\'],
};

const matches = (text: string, s: TraceSummary = summary): boolean => matchesTraceQuery(s, parseTraceQuery(text));

describe('matchesTraceQuery', () => {
  it('matches the example of the issue', () => {
    expect(matches('service:checkout AND duration>200ms AND http.status_code:500 AND NOT env:staging')).toBe(true);
    expect(matches('service:checkout AND duration>200ms AND http.status_code:500 AND NOT env:production')).toBe(false);
  });

  it.each<[string, boolean]>([
    // service: any span's service, exact or wildcard, case-sensitive
    ['service:checkout', true],
    ['service:Checkout', false],
    ['service:check', false],
    ['service:check*', true],
    ['service:*ment?', true],
    ['service:pay?ents', true],
    ['service:*', true],
    // operation: the part after a `:` of some `service:operation` entry
    ['operation:charge', true],
    ['operation:"place order"', true],
    ['operation:place', false],
    ['operation:partial', true], // service `payments`, operation `refund:partial`, or service `payments:refund`: both end in `:partial`
    ['operation:"refund:partial"', true],
    ['operation:ch*', true],
    ['operation:*order', true],
    ['operation:"GET /checkout"', true],
    ['operation:GET*', true],
    ['operation:payments', false],
    // root fields and trace id
    ['rootService:web', true],
    ['rootService:checkout', false],
    ['rootService:w*', true],
    ['rootOperation:"GET /checkout"', true],
    ['rootOperation:GET*', true],
    ['traceId:0af7651916cd43dd8448eb211c80319c', true],
    ['traceId:0AF7651916CD43DD8448EB211C80319C', true],
    ['traceId:0af7*', true],
    ['traceId:0af7', false],
    // flags
    ['flag:skew_adjusted', true],
    ['flag:orphans', false],
    ['flag:*', true],
    // tags: `key=value` entries, exact or wildcard over the value, `key:*` = exists
    ['http.status_code:500', true],
    ['http.status_code:404', false],
    ['http.status_code:5*', true],
    ['http.status_code:*', true],
    ['http.method:*', false],
    ['http:*', false], // `http.status_code=` does not start with `http=`
    ['env:prod*', true],
    ['env:prod', false],
    ['http.url:*checkout?id=1', true],
    ['http.url:"https://shop/checkout?id=1"', true],
    ['http.url:"https://shop/checkout?id=?"', false],
    ['literal:a\\*b', true],
    ['literal:"a*b"', true],
    ['literal:a\\**', true],
    ['literal:axb', false],
    ['literal:a?b', true],
    ['"weird key":"\\\\"', true],
    ['"weird key":*', true],
    ['"weird key":\\\\*', true],
    [`long:${'x'.repeat(MAX_SUMMARY_TAG_VALUE)}`, true],
    [`long:${'x'.repeat(MAX_SUMMARY_TAG_VALUE + 10)}`, true], // compared on the kept prefix, like the summary
    [`long:${'x'.repeat(MAX_SUMMARY_TAG_VALUE - 1)}`, false],
    ['env:production', true],
    ['"env=production":*', false],
    // ranges
    ['duration>200ms', true],
    ['duration>250ms', false],
    ['duration>=250ms', true],
    ['duration:250ms', true],
    ['duration<0.25s', false],
    ['duration<=250000us', true],
    ['spans:12', true],
    ['spans>12', false],
    ['errors>0', true],
    ['error:true', true],
    ['error:false', false],
    ['depth<4', true],
    ['depth>=4', false],
    ['start>=2024-05-01T10:00:00Z', true],
    ['start>2024-05-01T10:00:00Z', false],
    ['start:1714557600000', true],
    ['start<2024-05-01T12:00:00+02:00', false],
    // boolean structure
    ['service:web OR service:nope', true],
    ['service:nope OR env:nope', false],
    ['service:web service:nope', false],
    ['NOT service:nope', true],
    ['NOT NOT service:web', true],
    ['-(service:nope OR env:staging) flag:skew_adjusted', true],
    ['service:nope OR service:web AND env:production', true],
    ['(service:nope OR service:web) AND env:staging', false],
  ])('%s → %s', (text, expected) => {
    expect(matches(text)).toBe(expected);
  });

  it('matches an empty root (root span not arrived yet) with rootService:""', () => {
    expect(matches('rootService:""', { ...summary, rootService: '' })).toBe(true);
    expect(matches('rootService:""')).toBe(false);
  });

  it('treats ? as one character, also outside the Basic Multilingual Plane', () => {
    const emoji = { ...summary, services: ['a😀b'] };
    expect(matches('service:a?b', emoji)).toBe(true);
    expect(matches('service:a??b', emoji)).toBe(false);
  });

  it('stays fast on patterns that make backtracking regular expressions explode', () => {
    const hostile = { ...summary, tags: [`k=${'a'.repeat(250)}`] };
    const started = performance.now();
    expect(matches(`k:${'*a'.repeat(60)}*b`, hostile)).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('evaluates an empty and as true and an empty or as false', () => {
    expect(matchesTraceQuery(summary, { kind: 'and', clauses: [] })).toBe(true);
    expect(matchesTraceQuery(summary, { kind: 'or', clauses: [] })).toBe(false);
  });
});
