import { Span } from '../span/span.model';
import { OpenTraceBuffer, StringInterner, TraceTagSet, holdSpans } from './open-traces';
import { MAX_SUMMARY_TAGS, MAX_SUMMARY_TAG_VALUE, compactSpan } from './trace-summary';

const T0_US = Date.UTC(2026, 0, 15, 10, 20) * 1000;

function span(traceId: string, spanId: string, startOffsetUs = 0, tags: Record<string, string> = {}): Span {
  return { traceId, spanId, service: 'svc', operation: 'op', kind: 'server', startTimeUs: T0_US + startOffsetUs, durationUs: 10, error: false, tags };
}

/** addSpans: adds spans as the span-assembler does: what holdSpans keeps of them. */
function addSpans(buffer: OpenTraceBuffer, partition: number, offset: number, spans: Span[], nowMs: number): void {
  buffer.add(partition, offset, holdSpans(spans), nowMs);
}

/** tagSet: a tag set holding the given [key, value] pairs. */
function tagSet(...pairs: [string, string][]): TraceTagSet {
  const set = new TraceTagSet();
  for (const [key, value] of pairs) set.add(key, value);
  return set;
}

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);

describe('OpenTraceBuffer', () => {
  it('holds a trace until it has been idle for idleMs, the idle clock restarting with every span', () => {
    const buffer = new OpenTraceBuffer({ idleMs: 5_000, maxOpenTraces: 10, maxSpansPerTrace: 10, maxOpenSpans: 100 });
    addSpans(buffer, 0, 0, [span(A, '1')], 1_000);
    addSpans(buffer, 0, 1, [span(A, '2')], 4_000);
    expect(buffer.due(8_999, 10)).toEqual([]);
    expect(buffer.due(9_000, 10).map((t) => [t.traceId, t.spans.length])).toEqual([[A, 2]]);
    // `all` (shutdown) takes open traces whatever their idle time.
    expect(buffer.due(4_000, 10, true)).toHaveLength(1);
  });

  it('lists due traces longest idle first, at most `max`', () => {
    const buffer = new OpenTraceBuffer({ idleMs: 10, maxOpenTraces: 10, maxSpansPerTrace: 10, maxOpenSpans: 100 });
    addSpans(buffer, 0, 0, [span(B, '1')], 200);
    addSpans(buffer, 0, 1, [span(A, '1')], 100);
    expect(buffer.due(1_000, 10).map((t) => t.traceId)).toEqual([A, B]);
    expect(buffer.due(1_000, 1).map((t) => t.traceId)).toEqual([A]);
  });

  it('lets a partition be committed only up to its oldest record whose trace is still open', () => {
    const buffer = new OpenTraceBuffer({ idleMs: 10, maxOpenTraces: 10, maxSpansPerTrace: 10, maxOpenSpans: 100 });
    addSpans(buffer, 3, 100, [span(A, '1')], 0);
    addSpans(buffer, 3, 101, [span(B, '1')], 50);
    buffer.handled(3, 102);
    expect(buffer.watermark(3)).toBe(100);
    buffer.summarised(buffer.take(buffer.due(20, 10)));
    expect(buffer.watermark(3)).toBe(101);
    buffer.summarised(buffer.take(buffer.due(100, 10)));
    expect(buffer.watermark(3)).toBe(102);
    // Other partitions are independent, and an unknown one has nothing to commit.
    expect(buffer.watermark(4)).toBe(0);
  });

  it('reports each new watermark once', () => {
    const buffer = new OpenTraceBuffer({ idleMs: 10, maxOpenTraces: 10, maxSpansPerTrace: 10, maxOpenSpans: 100 });
    addSpans(buffer, 0, 5, [span(A, '1')], 0);
    buffer.handled(0, 6);
    buffer.handled(1, 9);
    expect(buffer.commitOffsets()).toEqual([
      { partition: 0, offset: 5 },
      { partition: 1, offset: 9 },
    ]);
    expect(buffer.commitOffsets()).toEqual([]);
    buffer.summarised(buffer.take(buffer.due(100, 10)));
    expect(buffer.commitOffsets()).toEqual([{ partition: 0, offset: 6 }]);
  });

  it('keeps spans that arrived while a summary was being written, with their records still holding the watermark', () => {
    const buffer = new OpenTraceBuffer({ idleMs: 10, maxOpenTraces: 10, maxSpansPerTrace: 10, maxOpenSpans: 100 });
    addSpans(buffer, 0, 0, [span(A, '1', 0, { env: 'prod' })], 0);
    buffer.handled(0, 1);
    const snapshot = buffer.take(buffer.due(100, 10));
    // A late span of the same trace comes in before the summary write finishes.
    addSpans(buffer, 0, 1, [span(A, '2', 5, { env: 'prod', region: 'eu' })], 101);
    buffer.handled(0, 2);
    buffer.summarised(snapshot);
    expect(buffer.isOpen(A)).toBe(true);
    const [left] = buffer.due(200, 10);
    expect(left.spans.map((s) => s.spanId)).toEqual(['2']);
    expect([...left.tags]).toEqual(['region=eu']);
    expect(buffer.watermark(0)).toBe(1);
  });

  it('counts a record once per trace even when it is added twice (a redelivered batch)', () => {
    const buffer = new OpenTraceBuffer({ idleMs: 10, maxOpenTraces: 10, maxSpansPerTrace: 10, maxOpenSpans: 100 });
    addSpans(buffer, 0, 7, [span(A, '1')], 0);
    addSpans(buffer, 0, 7, [span(A, '1')], 1);
    buffer.handled(0, 8);
    buffer.summarised(buffer.take(buffer.due(100, 10)));
    expect(buffer.watermark(0)).toBe(8);
  });

  it('is full at maxOpenTraces, and truncates beyond maxSpansPerTrace while keeping the count of held spans bounded', () => {
    const buffer = new OpenTraceBuffer({ idleMs: 10, maxOpenTraces: 2, maxSpansPerTrace: 3, maxOpenSpans: 100 });
    addSpans(buffer, 0, 0, ['1', '2', '3', '4', '5'].map((id) => span(A, id)), 0);
    expect(buffer.isFull()).toBe(false);
    addSpans(buffer, 0, 1, [span(B, '1')], 0);
    expect(buffer.isFull()).toBe(true);
    expect(buffer.size).toBe(2);
    expect(buffer.spanCount).toBe(4);
    const a = buffer.due(100, 10).find((t) => t.traceId === A);
    expect(a?.truncated).toBe(true);
    expect(a?.spans).toHaveLength(3);
  });

  it('keeps the earliest start of the held spans (to locate the stored summary)', () => {
    const buffer = new OpenTraceBuffer({ idleMs: 10, maxOpenTraces: 10, maxSpansPerTrace: 10, maxOpenSpans: 100 });
    addSpans(buffer, 0, 0, [span(A, '2', 500), span(A, '1', 100)], 0);
    expect(buffer.due(100, 10)[0]?.earliestStartUs).toBe(T0_US + 100);
  });

  it('is full at maxOpenSpans, and counts held spans down as summaries are written', () => {
    const buffer = new OpenTraceBuffer({ idleMs: 10, maxOpenTraces: 100, maxSpansPerTrace: 100, maxOpenSpans: 4 });
    addSpans(buffer, 0, 0, ['1', '2', '3'].map((id) => span(A, id)), 0);
    expect(buffer.isFull()).toBe(false);
    addSpans(buffer, 0, 1, [span(B, '1')], 50);
    expect(buffer.isFull()).toBe(true);
    expect(buffer.spanCount).toBe(4);
    buffer.summarised(buffer.take(buffer.due(30, 10)));
    expect(buffer.spanCount).toBe(1);
    expect(buffer.isFull()).toBe(false);
  });
});

describe('TraceTagSet', () => {
  it('keeps each key=value pair once, in arrival order, and yields summary tag strings', () => {
    const tags = new TraceTagSet();
    expect(tags.add('http.method', 'GET')).toBe(true);
    expect(tags.add('env', 'prod')).toBe(true);
    expect(tags.add('http.method', 'GET')).toBe(false);
    expect(tags.add('http.method', 'POST')).toBe(true);
    expect([...tags]).toEqual(['http.method=GET', 'env=prod', 'http.method=POST']);
    expect(tags.size).toBe(3);
    expect(tags.has('env', 'prod')).toBe(true);
    expect(tags.has('env', 'staging')).toBe(false);
  });

  it('compares values on their first MAX_SUMMARY_TAG_VALUE characters, as the summary keeps them', () => {
    const tags = new TraceTagSet();
    const long = 'x'.repeat(MAX_SUMMARY_TAG_VALUE);
    expect(tags.add('sql', `${long}A`)).toBe(true);
    expect(tags.add('sql', `${long}B`)).toBe(false);
    expect(tags.has('sql', `${long}C`)).toBe(true);
    expect([...tags]).toEqual([`sql=${long}`]);
  });

  it('from(n) holds what arrived after the first n tags, as a set of its own', () => {
    const tags = new TraceTagSet();
    for (const value of ['a', 'b', 'c']) tags.add('k', value);
    const later = tags.from(2);
    expect([...later]).toEqual(['k=c']);
    expect(later.has('k', 'c')).toBe(true);
    expect(later.add('k', 'c')).toBe(false);
    expect(later.add('k', 'a')).toBe(true);
    const all = tags.from(0);
    expect(all.add('k', 'b')).toBe(false);
    expect(all.add('k', 'd')).toBe(true);
    // Neither copy changed the original.
    expect([...tags]).toEqual(['k=a', 'k=b', 'k=c']);
    expect([...all]).toEqual(['k=a', 'k=b', 'k=c', 'k=d']);
  });

  it('an open trace holds at most MAX_SUMMARY_TAGS distinct tags and is marked truncated beyond, not for repeats', () => {
    const buffer = new OpenTraceBuffer({ idleMs: 10, maxOpenTraces: 10, maxSpansPerTrace: 10_000, maxOpenSpans: 100_000 });
    const many = Object.fromEntries(Array.from({ length: MAX_SUMMARY_TAGS }, (_, i) => [`k${i}`, 'v']));
    addSpans(buffer, 0, 0, [span(A, '1', 0, many)], 0);
    addSpans(buffer, 0, 1, [span(A, '2', 0, { k0: 'v' })], 0);
    expect(buffer.due(100, 10)[0]?.truncated).toBe(false);
    addSpans(buffer, 0, 2, [span(A, '3', 0, { extra: 'v' })], 0);
    const [trace] = buffer.due(100, 10);
    expect(trace?.tags.size).toBe(MAX_SUMMARY_TAGS);
    expect(trace?.truncated).toBe(true);
  });

  it('holds the given span objects themselves, and takes tags only from the held tag pairs', () => {
    const buffer = new OpenTraceBuffer({ idleMs: 10, maxOpenTraces: 10, maxSpansPerTrace: 10, maxOpenSpans: 100 });
    const held = compactSpan(span(A, '1'));
    buffer.add(0, 0, { spans: [held, span(A, '2', 0, { ignored: 'yes' })], tags: [{ traceId: A, tags: tagSet(['env', 'prod']) }, { traceId: B, tags: tagSet(['lost', 'x']) }] }, 0);
    const [trace] = buffer.due(100, 10);
    expect(trace?.spans[0]).toBe(held);
    expect([...(trace?.tags ?? [])]).toEqual(['env=prod']);
    // Tags of a trace with no span in the record open nothing.
    expect(buffer.isOpen(B)).toBe(false);
  });

  it("a trace's later records add to the tag set its first record brought, repeats once", () => {
    const buffer = new OpenTraceBuffer({ idleMs: 10, maxOpenTraces: 10, maxSpansPerTrace: 10, maxOpenSpans: 100 });
    addSpans(buffer, 0, 0, [span(A, '1', 0, { env: 'prod', 'http.method': 'GET' })], 0);
    addSpans(buffer, 0, 1, [span(A, '2', 0, { env: 'prod', 'http.method': 'POST' }), span(B, '1', 0, { env: 'prod' })], 0);
    const [first, second] = buffer.take(buffer.due(100, 10));
    expect([...(first?.tags ?? [])]).toEqual(['env=prod', 'http.method=GET', 'http.method=POST']);
    expect([...(second?.tags ?? [])]).toEqual(['env=prod']);
  });
});

describe('holdSpans', () => {
  it('keeps the compact form of each span and, per trace, its distinct tags in arrival order', () => {
    const spans = [span(A, '1', 0, { env: 'prod', 'http.method': 'GET' }), span(B, '1', 0, { env: 'prod' }), span(A, '2', 5, { env: 'prod', 'http.method': 'POST' })];
    const held = holdSpans(spans);
    expect(held.spans).toEqual(spans.map(compactSpan));
    expect(held.tags.map(({ traceId, tags }) => ({ traceId, ...tags.pairs() }))).toEqual([
      { traceId: A, keys: ['env', 'http.method', 'http.method'], values: ['prod', 'GET', 'POST'] },
      { traceId: B, keys: ['env'], values: ['prod'] },
    ]);
  });

  it('passes service, operation and host through the interner (equal values; string identity is not observable)', () => {
    const strings = new StringInterner();
    const held = holdSpans([{ ...span(A, '1'), host: 'host-1' }, span(A, '2')], strings);
    expect(held.spans.map((s) => [s.traceId, s.service, s.operation, s.host])).toEqual([[A, 'svc', 'op', 'host-1'], [A, 'svc', 'op', undefined]]);
    expect(strings.size).toBe(3);
  });

  it('drops spans without tags from the tag pairs, and cuts long values as the summary does', () => {
    const long = 'x'.repeat(MAX_SUMMARY_TAG_VALUE + 10);
    expect(holdSpans([span(A, '1')]).tags).toEqual([]);
    expect(holdSpans([span(A, '1', 0, { sql: long })]).tags[0]?.tags.pairs().values[0]).toHaveLength(MAX_SUMMARY_TAG_VALUE);
  });
});

describe('StringInterner', () => {
  it('keeps each distinct value once and starts over when full, so memory stays bounded', () => {
    const strings = new StringInterner(2);
    expect([strings.intern('a'), strings.intern('b'), strings.intern('a')]).toEqual(['a', 'b', 'a']);
    expect(strings.size).toBe(2);
    expect(strings.intern('c')).toBe('c');
    expect(strings.size).toBe(1);
  });
});
