import { TokenBucketRateLimiter } from './rate-limiter';

const T0 = Date.UTC(2026, 0, 15, 10, 0);

describe('TokenBucketRateLimiter', () => {
  it('admits up to the burst at once from a full bucket, then refuses with Retry-After', () => {
    const limiter = new TokenBucketRateLimiter({ defaultLimit: { spansPerSecond: 100, burst: 200 } });
    expect(limiter.take('shop', 150, T0)).toEqual({ ok: true });
    expect(limiter.take('shop', 50, T0)).toEqual({ ok: true });
    expect(limiter.take('shop', 1, T0)).toEqual({ ok: false, retryAfterSeconds: 1 });
    // 100 missing at 100/s: one second.
    expect(limiter.take('shop', 100, T0)).toEqual({ ok: false, retryAfterSeconds: 1 });
    // 200 missing at 100/s: two seconds.
    expect(limiter.take('shop', 200, T0)).toEqual({ ok: false, retryAfterSeconds: 2 });
  });

  it('refills at spansPerSecond, continuously, up to the burst', () => {
    const limiter = new TokenBucketRateLimiter({ defaultLimit: { spansPerSecond: 10, burst: 10 } });
    expect(limiter.take('shop', 10, T0).ok).toBe(true);
    expect(limiter.take('shop', 1, T0 + 99).ok).toBe(false);
    expect(limiter.take('shop', 1, T0 + 100).ok).toBe(true); // exactly 1 token after 100 ms
    expect(limiter.take('shop', 3, T0 + 400).ok).toBe(true); // 3 more after 300 ms more
    expect(limiter.take('shop', 1, T0 + 400).ok).toBe(false);
    // A long pause fills the bucket only to the burst.
    expect(limiter.take('shop', 10, T0 + 3_600_000).ok).toBe(true);
    expect(limiter.take('shop', 1, T0 + 3_600_000).ok).toBe(false);
  });

  it('does not charge refused batches', () => {
    const limiter = new TokenBucketRateLimiter({ defaultLimit: { spansPerSecond: 10, burst: 10 } });
    limiter.take('shop', 10, T0);
    for (let i = 0; i < 5; i++) expect(limiter.take('shop', 5, T0 + 100).ok).toBe(false);
    expect(limiter.take('shop', 5, T0 + 500).ok).toBe(true);
  });

  it('sustains the configured rate over a long run (admitted ≈ burst + rate × time)', () => {
    const limiter = new TokenBucketRateLimiter({ defaultLimit: { spansPerSecond: 50, burst: 100 } });
    let admitted = 0;
    // Offer 200 spans/s in batches of 10 for 60 s.
    for (let ms = 0; ms < 60_000; ms += 50) if (limiter.take('shop', 10, T0 + ms).ok) admitted += 10;
    expect(admitted).toBeGreaterThanOrEqual(100 + 50 * 59);
    expect(admitted).toBeLessThanOrEqual(100 + 50 * 60);
  });

  describe('a batch larger than the burst', () => {
    it('is admitted only from a full bucket, and its debt delays later batches', () => {
      const limiter = new TokenBucketRateLimiter({ defaultLimit: { spansPerSecond: 100, burst: 100 } });
      expect(limiter.take('shop', 1, T0).ok).toBe(true);
      // 99 tokens < min(500, 100): refused, and told to wait for the one missing token.
      expect(limiter.take('shop', 500, T0)).toEqual({ ok: false, retryAfterSeconds: 1 });
      expect(limiter.take('shop', 500, T0 + 10)).toEqual({ ok: true });
      // The bucket is now at -400: 401 tokens short of a 1-span batch, at 100/s.
      expect(limiter.take('shop', 1, T0 + 10)).toEqual({ ok: false, retryAfterSeconds: 5 });
      expect(limiter.take('shop', 1, T0 + 4_010).ok).toBe(false);
      expect(limiter.take('shop', 1, T0 + 4_020).ok).toBe(true);
    });

    it('is never starved: it passes once the bucket is full, however many times it was refused', () => {
      const limiter = new TokenBucketRateLimiter({ defaultLimit: { spansPerSecond: 10, burst: 20 } });
      limiter.take('shop', 20, T0);
      let now = T0;
      let decision = limiter.take('shop', 1_000, now);
      while (!decision.ok) {
        now += decision.retryAfterSeconds * 1000;
        decision = limiter.take('shop', 1_000, now);
      }
      expect(now - T0).toBe(2_000);
    });
  });

  it('keeps one bucket per application', () => {
    const limiter = new TokenBucketRateLimiter({ defaultLimit: { spansPerSecond: 10, burst: 10 } });
    expect(limiter.take('shop', 10, T0).ok).toBe(true);
    expect(limiter.take('shop', 1, T0).ok).toBe(false);
    expect(limiter.take('billing', 10, T0).ok).toBe(true);
  });

  it('applies per-application overrides, and leaves applications unlimited without any limit', () => {
    const limiter = new TokenBucketRateLimiter({ defaultLimit: { spansPerSecond: 10 }, perApp: { big: { spansPerSecond: 1_000, burst: 5_000 } } });
    expect(limiter.limitFor('shop')).toEqual({ spansPerSecond: 10, burst: 10 });
    expect(limiter.limitFor('big')).toEqual({ spansPerSecond: 1_000, burst: 5_000 });
    expect(limiter.take('big', 5_000, T0).ok).toBe(true);
    expect(limiter.take('shop', 11, T0).ok).toBe(true); // > burst, full bucket
    expect(limiter.take('shop', 1, T0).ok).toBe(false);

    const onlyOverrides = new TokenBucketRateLimiter({ perApp: { shop: { spansPerSecond: 1 } } });
    expect(onlyOverrides.limitFor('other')).toBeUndefined();
    for (let i = 0; i < 100; i++) expect(onlyOverrides.take('other', 1_000_000, T0).ok).toBe(true);
    expect(onlyOverrides.take('shop', 1, T0).ok).toBe(true);
    expect(onlyOverrides.take('shop', 1, T0)).toEqual({ ok: false, retryAfterSeconds: 1 });
  });

  it('rounds Retry-After up to whole seconds, at least 1, with fractional rates', () => {
    const limiter = new TokenBucketRateLimiter({ defaultLimit: { spansPerSecond: 0.5, burst: 1 } });
    expect(limiter.limitFor('shop')).toEqual({ spansPerSecond: 0.5, burst: 1 });
    expect(limiter.take('shop', 1, T0).ok).toBe(true);
    expect(limiter.take('shop', 1, T0)).toEqual({ ok: false, retryAfterSeconds: 2 });
    expect(limiter.take('shop', 1, T0 + 1_900)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(limiter.take('shop', 1, T0 + 2_000).ok).toBe(true);
  });

  it('does not lose tokens to floating-point error', () => {
    const limiter = new TokenBucketRateLimiter({ defaultLimit: { spansPerSecond: 10, burst: 10 } });
    limiter.take('shop', 10, T0);
    // Ten refills of 0.1 token sum to 0.9999999999999999 in binary floating point: still one whole token.
    for (let ms = 10; ms < 100; ms += 10) expect(limiter.take('shop', 1, T0 + ms).ok).toBe(false);
    expect(limiter.take('shop', 1, T0 + 100)).toEqual({ ok: true });
  });

  it('refills nothing when the clock steps back, and resumes from the latest time seen', () => {
    const limiter = new TokenBucketRateLimiter({ defaultLimit: { spansPerSecond: 10, burst: 10 } });
    limiter.take('shop', 10, T0);
    expect(limiter.take('shop', 1, T0 - 60_000).ok).toBe(false);
    expect(limiter.take('shop', 1, T0 + 50).ok).toBe(false);
    expect(limiter.take('shop', 1, T0 + 100).ok).toBe(true);
  });

  it('always admits an empty batch, even from an empty bucket', () => {
    const limiter = new TokenBucketRateLimiter({ defaultLimit: { spansPerSecond: 1, burst: 1 } });
    limiter.take('shop', 1, T0);
    expect(limiter.take('shop', 0, T0)).toEqual({ ok: true });
  });

  it('rejects invalid limits and arguments', () => {
    expect(() => new TokenBucketRateLimiter({ defaultLimit: { spansPerSecond: 0 } })).toThrow(/defaultLimit.spansPerSecond must be a positive number/);
    expect(() => new TokenBucketRateLimiter({ defaultLimit: { spansPerSecond: Infinity } })).toThrow(RangeError);
    expect(() => new TokenBucketRateLimiter({ perApp: { shop: { spansPerSecond: 10, burst: 0.5 } } })).toThrow(/perApp.shop.burst must be a number >= 1/);
    const limiter = new TokenBucketRateLimiter({ defaultLimit: { spansPerSecond: 10 } });
    expect(() => limiter.take('shop', -1, T0)).toThrow(/spans must be a non-negative integer/);
    expect(() => limiter.take('shop', 1.5, T0)).toThrow(RangeError);
    expect(() => limiter.take('shop', 1, Number.NaN)).toThrow(/nowMs/);
  });
});
