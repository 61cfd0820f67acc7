import { Span } from '../span/span.model';
import { FIXED_IDS, T0_US, fixedThreeServiceTrace, makeSpan, spanIdOf } from '../testing/span-fixtures';
import { correctClockSkew } from './clock-skew';

/** span: a span of TRACE_A at T0_US + offsetUs, child of `parent` when given. */
function span(id: number, parent: number | undefined, kind: Span['kind'], service: string, offsetUs: number, durationUs: number, overrides: Partial<Span> = {}): Span {
  const value = makeSpan({ spanId: spanIdOf(id), kind, service, operation: `op-${id}`, startTimeUs: T0_US + offsetUs, durationUs, ...overrides });
  if (parent !== undefined) value.parentSpanId = spanIdOf(parent);
  return value;
}

/** offsets: each span's start relative to T0_US, by spanId number, for readable assertions. */
function offsets(spans: Span[]): Record<number, number> {
  return Object.fromEntries(spans.map((s) => [parseInt(s.spanId, 16), s.startTimeUs - T0_US]));
}

/** call: a caller's server span 1 [0, 100 ms] with client span 2 [10 ms, 90 ms] to service `b`. */
function call(): Span[] {
  return [span(1, undefined, 'server', 'a', 0, 100_000), span(2, 1, 'client', 'a', 10_000, 80_000)];
}

describe('correctClockSkew', () => {
  it('leaves a consistent trace untouched', () => {
    const spans = fixedThreeServiceTrace();
    const result = correctClockSkew(spans);
    expect(result.adjusted).toBe(false);
    expect(result.skewUs.size).toBe(0);
    expect(result.spans).toEqual(spans);
    expect(result.spans).not.toBe(spans);
    result.spans.forEach((s, i) => expect(s).toBe(spans[i]));
  });

  it('leaves an empty trace alone', () => {
    expect(correctClockSkew([])).toEqual({ spans: [], adjusted: false, skewUs: new Map() });
  });

  it('accepts a server span touching both ends of its client', () => {
    const spans = [...call(), span(3, 2, 'server', 'b', 10_000, 80_000)];
    expect(correctClockSkew(spans).adjusted).toBe(false);
  });

  it('centres a server span that starts before its client, moving its subtree with it', () => {
    // b's clock is 50 ms behind: its server [-40, 20] and its own client [-30, 0] to c.
    const spans = [...call(), span(3, 2, 'server', 'b', -40_000, 60_000), span(4, 3, 'client', 'b', -30_000, 30_000), span(5, 3, 'internal', 'b', -35_000, 5_000)];
    const result = correctClockSkew(spans);
    expect(result.adjusted).toBe(true);
    // Centred: (80 − 60) / 2 = 10 ms latency each way → starts at 20 ms, a shift of +60 ms.
    expect(offsets(result.spans)).toEqual({ 1: 0, 2: 10_000, 3: 20_000, 4: 30_000, 5: 25_000 });
    expect(Object.fromEntries(result.skewUs)).toEqual({ [spanIdOf(3)]: 60_000, [spanIdOf(4)]: 60_000, [spanIdOf(5)]: 60_000 });
    expect(result.spans.map((s) => s.durationUs)).toEqual(spans.map((s) => s.durationUs));
  });

  it('centres a server span that ends after its client', () => {
    const spans = [...call(), span(3, 2, 'server', 'b', 85_000, 40_000)];
    const result = correctClockSkew(spans);
    // (80 − 40) / 2 = 20 ms → starts at 30 ms.
    expect(offsets(result.spans)).toEqual({ 1: 0, 2: 10_000, 3: 30_000 });
    expect(result.skewUs.get(spanIdOf(3))).toBe(-55_000);
  });

  it('centres a server span that is wholly after its client, rounding to whole microseconds', () => {
    const spans = [...call(), span(3, 2, 'server', 'b', 500_000, 79_999)];
    const result = correctClockSkew(spans);
    expect(offsets(result.spans)[3]).toBe(10_000);
    expect(result.skewUs.get(spanIdOf(3))).toBe(-490_000);
  });

  it('aligns the start of a server span longer than its client', () => {
    const before = correctClockSkew([...call(), span(3, 2, 'server', 'b', -5_000, 120_000)]);
    expect(offsets(before.spans)[3]).toBe(10_000);
    const after = correctClockSkew([...call(), span(3, 2, 'server', 'b', 30_000, 120_000)]);
    expect(offsets(after.spans)[3]).toBe(10_000);
    expect(after.spans[2]?.durationUs).toBe(120_000);
  });

  it('corrects two hops cumulatively: the second is judged after the first moved it', () => {
    // a → b: b is 1 s ahead. b → c: c's clock is right, so against b's raw client it looks 1 s early.
    const spans = [
      ...call(),
      span(3, 2, 'server', 'b', 1_020_000, 60_000),
      span(4, 3, 'client', 'b', 1_030_000, 40_000),
      span(5, 4, 'server', 'c', 40_000, 20_000),
      span(6, 5, 'internal', 'c', 45_000, 10_000),
    ];
    const result = correctClockSkew(spans);
    // b: centred at 20 ms (−1 s); b's client moves to [30, 70]; c inherits −1 s (→ −960 ms), then is centred at 40 ms.
    expect(offsets(result.spans)).toEqual({ 1: 0, 2: 10_000, 3: 20_000, 4: 30_000, 5: 40_000, 6: 45_000 });
    // c's clock was right all along: its net shift is 0, so it is not in skewUs.
    expect(Object.fromEntries(result.skewUs)).toEqual({ [spanIdOf(3)]: -1_000_000, [spanIdOf(4)]: -1_000_000 });
  });

  it('keeps a downstream hop that was consistent with its caller consistent after the caller moved', () => {
    // b and c share b's clock (1 s ahead): c sits inside b's client, off-centre; it keeps its place.
    const spans = [...call(), span(3, 2, 'server', 'b', 1_020_000, 60_000), span(4, 3, 'client', 'b', 1_030_000, 40_000), span(5, 4, 'server', 'c', 1_031_000, 10_000)];
    const result = correctClockSkew(spans);
    expect(offsets(result.spans)).toEqual({ 1: 0, 2: 10_000, 3: 20_000, 4: 30_000, 5: 31_000 });
    expect(result.skewUs.get(spanIdOf(5))).toBe(-1_000_000);
  });

  it('leaves orphans where they are, but corrects hops below them', () => {
    // Span 2 (the client) is missing: 3 is an orphan and cannot be compared with anything.
    const spans = [span(1, undefined, 'server', 'a', 0, 100_000), span(3, 2, 'server', 'b', -40_000, 60_000), span(4, 3, 'client', 'b', -30_000, 30_000), span(5, 4, 'server', 'c', 500_000, 10_000)];
    const result = correctClockSkew(spans);
    expect(offsets(result.spans)).toEqual({ 1: 0, 3: -40_000, 4: -30_000, 5: -20_000 });
    expect([...result.skewUs.keys()]).toEqual([spanIdOf(5)]);
  });

  it('only corrects server spans called by a client span of another process', () => {
    const inside = (kind: Span['kind'], parentKind: Span['kind'], service: string, overrides: Partial<Span> = {}): boolean =>
      correctClockSkew([span(1, undefined, 'server', 'a', 0, 100_000), span(2, 1, parentKind, 'a', 10_000, 80_000, overrides), span(3, 2, kind, service, -40_000, 60_000, overrides)]).adjusted;
    expect(inside('server', 'client', 'b')).toBe(true);
    // Consumers run after their producer, legitimately outside its window.
    expect(inside('consumer', 'producer', 'b')).toBe(false);
    expect(inside('consumer', 'client', 'b')).toBe(false);
    expect(inside('internal', 'client', 'b')).toBe(false);
    expect(inside('server', 'internal', 'b')).toBe(false);
    // Same service: one clock, unless the hosts are known to differ.
    expect(inside('server', 'client', 'a')).toBe(false);
    expect(inside('server', 'client', 'a', { host: '10.0.0.1' })).toBe(false);
    expect(correctClockSkew([span(1, undefined, 'client', 'a', 0, 100_000, { host: '10.0.0.1' }), span(2, 1, 'server', 'a', -10_000, 50_000, { host: '10.0.0.2' })]).adjusted).toBe(true);
  });

  it('returns the spans in the given order, not mutating them, and shifts the events of moved spans', () => {
    const server = span(3, 2, 'server', 'b', -40_000, 60_000, { events: [{ timeUs: T0_US - 30_000, name: 'exception', attributes: { 'exception.type': 'E' } }] });
    const spans = [server, ...call().reverse()];
    const snapshot = structuredClone(spans);
    const result = correctClockSkew(spans);
    expect(result.spans.map((s) => s.spanId)).toEqual([spanIdOf(3), spanIdOf(2), spanIdOf(1)]);
    expect(spans).toEqual(snapshot);
    expect(result.spans[0]).toEqual({ ...server, startTimeUs: T0_US + 20_000, events: [{ timeUs: T0_US + 30_000, name: 'exception', attributes: { 'exception.type': 'E' } }] });
    expect(result.spans[1]).toBe(spans[1]);
  });

  it('keeps extra fields of the span type it is given', () => {
    const spans = [...call(), span(3, 2, 'server', 'b', -40_000, 60_000)].map((s) => ({ ...s, rpcId: `r${s.spanId}` }));
    const result = correctClockSkew(spans);
    expect(result.spans[2]?.rpcId).toBe(`r${spanIdOf(3)}`);
  });

  it('corrects the fixed three-service trace when payment-service runs 2 s ahead', () => {
    const spans = fixedThreeServiceTrace().map((s) => (s.service === 'payment-service' ? { ...s, startTimeUs: s.startTimeUs + 2_000_000 } : s));
    const result = correctClockSkew(spans);
    // order → payment client [5, 13] ms, payment server 6 ms long: centred at 6 ms, where it was before the skew.
    expect(result.skewUs).toEqual(new Map([[FIXED_IDS.paymentServer, -2_000_000]]));
    expect(result.spans).toEqual(fixedThreeServiceTrace());
  });

  it('handles a very deep chain without recursion', () => {
    const depth = 50_000;
    const spans: Span[] = [];
    // Alternating client (service a) → server (service b) hops, every server 1 µs before its client.
    for (let i = 1; i <= depth; i++) {
      const kind = i % 2 === 1 ? 'client' : 'server';
      spans.push(span(i, i === 1 ? undefined : i - 1, kind, kind === 'client' ? `a${i}` : `b${i}`, depth - i, 2 * depth - 2 * i + 2));
    }
    const result = correctClockSkew(spans);
    expect(result.adjusted).toBe(true);
    expect(result.spans).toHaveLength(depth);
    // Every server ends up inside its client (client spans move with their server, they are not judged).
    for (let i = 1; i < depth; i += 2) {
      const parent = result.spans[i - 1] as Span;
      const child = result.spans[i] as Span;
      expect(child.startTimeUs).toBeGreaterThanOrEqual(parent.startTimeUs);
      expect(child.startTimeUs + child.durationUs).toBeLessThanOrEqual(parent.startTimeUs + parent.durationUs);
    }
  });
});
