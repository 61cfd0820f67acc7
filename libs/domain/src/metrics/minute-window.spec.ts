import { threeServiceTrace } from '@skein/testing';
import { Span, SpanKind } from '../span/span.model';
import { T0_US, fixedThreeServiceTrace, makeSpan, mulberry32, spanIdOf } from '../testing/span-fixtures';
import { histogramBucket } from './latency-histogram';
import { MINUTE_MS, MinuteAggregator, MinuteWindow, emptyWindow, mergeWindow, minuteOf, minuteStats, windowId } from './minute-window';

/** T0_MS: the minute T0_US starts (2026-01-15T10:20:00Z), epoch milliseconds. */
const T0_MS = T0_US / 1000;
const KEY = { service: 'order-service', operation: 'POST /orders' };

function entry(overrides: Partial<Span> = {}): Span {
  return makeSpan({ service: KEY.service, operation: KEY.operation, kind: 'server', parentSpanId: spanIdOf(0xff), ...overrides });
}

function windowOf(durationsUs: number[], errors = 0): MinuteWindow {
  const aggregator = new MinuteAggregator();
  durationsUs.forEach((durationUs, i) => aggregator.add(entry({ spanId: spanIdOf(i + 1), durationUs, error: i < errors })));
  const [window] = aggregator.drain();
  if (window === undefined) throw new Error('no window');
  return window;
}

describe('minuteOf', () => {
  it('is the epoch millisecond of the minute start', () => {
    expect(MINUTE_MS).toBe(60_000);
    expect(T0_MS).toBe(1_768_472_400_000);
    expect(minuteOf(T0_US)).toBe(1_768_472_400_000);
  });

  it('keeps the whole minute [start, start + 60 s) in one window', () => {
    expect(minuteOf(T0_US + 1)).toBe(T0_MS);
    expect(minuteOf(T0_US + 999)).toBe(T0_MS);
    expect(minuteOf(T0_US + 30_000_000)).toBe(T0_MS);
    expect(minuteOf(T0_US + 59_999_999)).toBe(T0_MS);
  });

  it('moves to the next window at exactly 60 s and to the previous one 1 µs before the start', () => {
    expect(minuteOf(T0_US + 60_000_000)).toBe(T0_MS + 60_000);
    expect(minuteOf(T0_US - 1)).toBe(T0_MS - 60_000);
    expect(minuteOf(T0_US - 60_000_000)).toBe(T0_MS - 60_000);
    expect(minuteOf(T0_US - 60_000_001)).toBe(T0_MS - 120_000);
  });

  it('aligns to UTC minutes (and so to hours and days)', () => {
    const midnight = Date.UTC(2026, 1, 1) * 1000;
    expect(minuteOf(midnight - 1)).toBe(Date.UTC(2026, 0, 31, 23, 59));
    expect(minuteOf(midnight)).toBe(Date.UTC(2026, 1, 1));
    const next = mulberry32(77);
    const misaligned: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const us = T0_US + Math.floor(next() * 86_400_000_000);
      const minute = minuteOf(us);
      if (minute % 60_000 !== 0 || minute * 1000 > us || us >= (minute + 60_000) * 1000) misaligned.push(us);
    }
    expect(misaligned).toEqual([]);
  });
});

describe('windowId', () => {
  it('identifies (service, operation, minute) without separator collisions', () => {
    expect(windowId(KEY, T0_MS)).toBe(windowId({ ...KEY }, T0_MS));
    expect(windowId({ service: 'a:b', operation: 'c' }, T0_MS)).not.toBe(windowId({ service: 'a', operation: 'b:c' }, T0_MS));
    expect(windowId({ service: 'a","b', operation: 'c' }, T0_MS)).not.toBe(windowId({ service: 'a', operation: 'b","c' }, T0_MS));
    expect(windowId(KEY, T0_MS)).not.toBe(windowId(KEY, T0_MS + 60_000));
  });
});

describe('emptyWindow', () => {
  it('has no calls and an empty histogram', () => {
    expect(emptyWindow(KEY, T0_MS)).toEqual({ service: KEY.service, operation: KEY.operation, minute: T0_MS, calls: 0, errors: 0, totalDurationUs: 0, maxDurationUs: 0, histogram: new Map() });
  });

  it('copies only the key fields of a span', () => {
    expect(Object.keys(emptyWindow(entry(), T0_MS)).sort()).toEqual(['calls', 'errors', 'histogram', 'maxDurationUs', 'minute', 'operation', 'service', 'totalDurationUs']);
  });
});

describe('MinuteAggregator', () => {
  describe('counts entry spans only', () => {
    it.each<[string, SpanKind, boolean, boolean]>([
      ['a server span with a parent', 'server', true, true],
      ['a consumer span with a parent', 'consumer', true, true],
      ['a client span with a parent', 'client', true, false],
      ['a producer span with a parent', 'producer', true, false],
      ['an internal span with a parent', 'internal', true, false],
      ['a root server span', 'server', false, true],
      ['a root client span (trace started by a client)', 'client', false, true],
      ['a root internal span (a job)', 'internal', false, true],
      ['a root producer span', 'producer', false, true],
    ])('%s', (_label, kind, hasParent, counted) => {
      const aggregator = new MinuteAggregator();
      const span = entry({ kind });
      if (!hasParent) delete span.parentSpanId;
      expect(aggregator.add(span)).toBe(counted);
      expect(aggregator.size).toBe(counted ? 1 : 0);
    });

    it('counts a call between two services once, by the callee', () => {
      const aggregator = new MinuteAggregator();
      const counted = fixedThreeServiceTrace().map((span) => aggregator.add(span));
      expect(counted).toEqual([true, false, true, false, true]);
      const windows = aggregator.drain();
      expect(windows.map((w) => [w.service, w.operation, w.calls, w.totalDurationUs])).toEqual([
        ['api-gateway', 'POST /checkout', 1, 30_000],
        ['order-service', 'POST /orders', 1, 20_000],
        ['payment-service', 'charge', 1, 6_000],
      ]);
    });
  });

  it('counts the shared threeServiceTrace() fixture in the minute it started', () => {
    const aggregator = new MinuteAggregator();
    const { spans } = threeServiceTrace({ startTimeUs: T0_US + 59_995_000, orderLatencyUs: 40_000, paymentError: true });
    spans.forEach((span) => aggregator.add(span));
    const stats = aggregator.drain().map(minuteStats);
    expect(stats.map((s) => [s.service, s.operation, s.minute, s.calls, s.errors, s.maxMs])).toEqual([
      ['api-gateway', 'POST /checkout', T0_MS, 1, 0, 50],
      ['order-service', 'POST /orders', T0_MS, 1, 0, 40],
      // starts at +60.001 s: the next minute
      ['payment-service', 'charge', T0_MS + 60_000, 1, 1, 6],
    ]);
  });

  it('keeps one window per (service, operation, minute)', () => {
    const aggregator = new MinuteAggregator();
    aggregator.add(entry({ spanId: spanIdOf(1), startTimeUs: T0_US }));
    aggregator.add(entry({ spanId: spanIdOf(2), startTimeUs: T0_US + 59_999_999 }));
    aggregator.add(entry({ spanId: spanIdOf(3), startTimeUs: T0_US + 60_000_000 }));
    aggregator.add(entry({ spanId: spanIdOf(4), startTimeUs: T0_US + 5, operation: 'GET /orders' }));
    aggregator.add(entry({ spanId: spanIdOf(5), startTimeUs: T0_US + 6, service: 'payment-service' }));
    expect(aggregator.size).toBe(4);
    const windows = aggregator.drain();
    expect(windows.map((w) => [w.service, w.operation, w.minute, w.calls])).toEqual([
      ['order-service', 'POST /orders', T0_MS, 2],
      ['order-service', 'POST /orders', T0_MS + 60_000, 1],
      ['order-service', 'GET /orders', T0_MS, 1],
      ['payment-service', 'POST /orders', T0_MS, 1],
    ]);
  });

  it('sums calls, errors and durations, keeps the maximum and fills the histogram', () => {
    const aggregator = new MinuteAggregator();
    aggregator.add(entry({ spanId: spanIdOf(1), durationUs: 1_000 }));
    aggregator.add(entry({ spanId: spanIdOf(2), durationUs: 5_000, error: true }));
    aggregator.add(entry({ spanId: spanIdOf(3), durationUs: 1_000 }));
    aggregator.add(entry({ spanId: spanIdOf(4), durationUs: 0, error: true }));
    expect(aggregator.drain()).toEqual([
      {
        service: KEY.service,
        operation: KEY.operation,
        minute: T0_MS,
        calls: 4,
        errors: 2,
        totalDurationUs: 7_000,
        maxDurationUs: 5_000,
        histogram: new Map([
          [histogramBucket(1_000), 2],
          [histogramBucket(5_000), 1],
          [0, 1],
        ]),
      },
    ]);
  });

  it('drain returns the windows once and starts empty', () => {
    const aggregator = new MinuteAggregator();
    aggregator.add(entry());
    expect(aggregator.drain()).toHaveLength(1);
    expect(aggregator.size).toBe(0);
    expect(aggregator.drain()).toEqual([]);
    aggregator.add(entry({ durationUs: 7 }));
    const [window] = aggregator.drain();
    expect(window?.calls).toBe(1);
    expect(window?.totalDurationUs).toBe(7);
  });
});

describe('mergeWindow', () => {
  it('adds counts, keeps the larger maximum, merges histograms, and returns the target', () => {
    const a = windowOf([1_000, 2_000], 1);
    const b = windowOf([2_000, 9_000, 3_000], 2);
    const result = mergeWindow(a, b);
    expect(result).toBe(a);
    expect(result).toEqual(windowOf([1_000, 2_000, 2_000, 9_000, 3_000], 3));
    expect(result.calls).toBe(5);
    expect(result.errors).toBe(3);
    expect(result.totalDurationUs).toBe(17_000);
    expect(result.maxDurationUs).toBe(9_000);
  });

  it('treats an empty window as the identity', () => {
    const window = windowOf([1_000, 4_000], 1);
    expect(mergeWindow(emptyWindow(KEY, T0_MS), window)).toEqual(window);
    expect(mergeWindow(windowOf([1_000, 4_000], 1), emptyWindow(KEY, T0_MS))).toEqual(window);
  });

  it('gives the same stats as one window of all the spans', () => {
    const next = mulberry32(5);
    const durations = Array.from({ length: 3_000 }, () => 1 + Math.floor(next() * 200_000));
    const whole = windowOf(durations, 30);
    const parts = [windowOf(durations.slice(0, 1_000), 30), windowOf(durations.slice(1_000, 1_700)), windowOf(durations.slice(1_700))];
    const merged = parts.reduce((into, from) => mergeWindow(into, from), emptyWindow(KEY, T0_MS));
    expect(minuteStats(merged)).toEqual(minuteStats(whole));
  });
});

describe('minuteStats', () => {
  it('reports an empty window as zeros', () => {
    expect(minuteStats(emptyWindow(KEY, T0_MS))).toEqual({
      service: KEY.service,
      operation: KEY.operation,
      minute: T0_MS,
      calls: 0,
      errors: 0,
      qps: 0,
      errorRate: 0,
      meanMs: 0,
      maxMs: 0,
      p50Ms: 0,
      p90Ms: 0,
      p99Ms: 0,
      p999Ms: 0,
    });
  });

  it('computes rates and latencies of 1..120 ms with 6 errors', () => {
    const stats = minuteStats(windowOf(Array.from({ length: 120 }, (_, i) => (i + 1) * 1_000), 6));
    expect(stats).toEqual({
      service: KEY.service,
      operation: KEY.operation,
      minute: T0_MS,
      calls: 120,
      errors: 6,
      qps: 2,
      errorRate: 0.05,
      meanMs: 60.5,
      maxMs: 120,
      p50Ms: 60.495,
      p90Ms: 108.049,
      p99Ms: 119.413,
      p999Ms: 119.413,
    });
    // Nearest rank: p50 = 60 ms, p90 = 108 ms, p99 = p99.9 = 119 ms (120 ms shares its bucket), each within 1%.
    expect(Math.abs(stats.p50Ms - 60) / 60).toBeLessThanOrEqual(0.01);
    expect(Math.abs(stats.p90Ms - 108) / 108).toBeLessThanOrEqual(0.01);
    expect(Math.abs(stats.p99Ms - 119) / 119).toBeLessThanOrEqual(0.01);
    expect(Math.abs(stats.p999Ms - 120) / 120).toBeLessThanOrEqual(0.01);
  });

  it('rounds rates and milliseconds to 3 decimals', () => {
    const stats = minuteStats(windowOf([1_234, 1_235, 1_236, 1_237, 1_238, 1_239, 1_240], 1));
    expect(stats.qps).toBe(0.117);
    expect(stats.errorRate).toBe(0.143);
    expect(stats.meanMs).toBe(1.237);
    expect(stats.maxMs).toBe(1.24);
    for (const value of [stats.p50Ms, stats.p90Ms, stats.p99Ms, stats.p999Ms]) expect(Math.round(value * 1000) / 1000).toBe(value);
  });

  it('gives an error rate of 1 when every call failed', () => {
    expect(minuteStats(windowOf([10, 20, 30], 3)).errorRate).toBe(1);
  });

  it('clamps percentiles to the maximum: one 1 ms call reads exactly 1 ms', () => {
    const stats = minuteStats(windowOf([1_000]));
    expect(stats).toMatchObject({ maxMs: 1, p50Ms: 1, p90Ms: 1, p99Ms: 1, p999Ms: 1 });
  });

  it('reports 0 ms percentiles for calls of 0 µs (bucket 0 reads 1 µs, above the maximum)', () => {
    expect(minuteStats(windowOf([0, 0]))).toMatchObject({ maxMs: 0, p50Ms: 0, p99Ms: 0, p999Ms: 0 });
  });

  it('never reports a percentile above the maximum, and percentiles never decrease', () => {
    const next = mulberry32(99);
    for (let trial = 0; trial < 300; trial++) {
      const count = 1 + Math.floor(next() * 50);
      const scale = Math.pow(10, 1 + Math.floor(next() * 6));
      const stats = minuteStats(windowOf(Array.from({ length: count }, () => Math.floor(next() * scale))));
      const ordered = [stats.p50Ms, stats.p90Ms, stats.p99Ms, stats.p999Ms, stats.maxMs];
      expect({ trial, ordered }).toEqual({ trial, ordered: [...ordered].sort((a, b) => a - b) });
    }
  });
});
