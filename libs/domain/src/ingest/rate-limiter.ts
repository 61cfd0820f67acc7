/** RateLimit: a token bucket: refills at `spansPerSecond`, holds at most `burst` spans. */
export interface RateLimit {
  /** spansPerSecond: sustained rate, spans per second (> 0). */
  spansPerSecond: number;
  /** burst: bucket capacity, spans (>= 1). Default: one second's worth, `spansPerSecond` (at least 1). */
  burst?: number;
}

/** RateLimiterOptions: the limit of every application, and per-application overrides. */
export interface RateLimiterOptions {
  /** defaultLimit: the limit of an application without an override; absent = such applications are not limited. */
  defaultLimit?: RateLimit;
  /** perApp: limits by application name, replacing the default for that application. */
  perApp?: Record<string, RateLimit>;
}

/** RateDecision: admit the batch, or refuse it (HTTP 429, gRPC RESOURCE_EXHAUSTED) with a Retry-After in whole seconds (>= 1). */
export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

interface Bucket {
  rate: number;
  burst: number;
  tokens: number;
  lastMs: number;
}

// Refill arithmetic is in floating point: 0.1 + 0.2 must still pay for 0.3.
const EPSILON = 1e-9;

/**
 * TokenBucketRateLimiter: per-application token buckets counted in spans.
 *
 * - A bucket starts full. A batch of n spans is admitted when the bucket holds at least min(n, burst) tokens, and
 *   then n tokens are taken, possibly leaving the bucket negative. So a batch larger than the burst is not starved
 *   forever (it passes once the bucket is full) and is still paid for in full: the debt delays later batches.
 * - Refused batches take nothing. retryAfterSeconds = ceil(missing tokens / rate), at least 1.
 * - Limits are per instance: each gateway counts only what it receives, with no coordination. Behind a load
 *   balancer of N gateways an application gets up to N × the configured rate, so configure the per-instance
 *   share (cluster limit / N).
 * - Time comes from the caller (`nowMs`, e.g. Date.now()); a clock that steps back refills nothing.
 * - One bucket per application seen; applications come from the API key registry, so the map stays small.
 */
export class TokenBucketRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly defaultLimit: Required<RateLimit> | undefined;
  private readonly perApp: Map<string, Required<RateLimit>>;

  constructor(options: RateLimiterOptions) {
    this.defaultLimit = options.defaultLimit === undefined ? undefined : checkLimit('defaultLimit', options.defaultLimit);
    this.perApp = new Map(Object.entries(options.perApp ?? {}).map(([app, limit]) => [app, checkLimit(`perApp.${app}`, limit)]));
  }

  /** limitFor: the limit that applies to an application (burst filled in), or undefined when it is not limited. */
  limitFor(app: string): Required<RateLimit> | undefined {
    return this.perApp.get(app) ?? this.defaultLimit;
  }

  /** take: admits or refuses a batch of `spans` spans of `app` at time `nowMs` (epoch milliseconds). An empty batch is always admitted. */
  take(app: string, spans: number, nowMs: number): RateDecision {
    if (!Number.isSafeInteger(spans) || spans < 0) throw new RangeError(`spans must be a non-negative integer, got ${spans}`);
    if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be a finite number, got ${nowMs}`);
    const limit = this.limitFor(app);
    if (limit === undefined || spans === 0) return { ok: true };
    let bucket = this.buckets.get(app);
    if (bucket === undefined) {
      bucket = { rate: limit.spansPerSecond, burst: limit.burst, tokens: limit.burst, lastMs: nowMs };
      this.buckets.set(app, bucket);
    } else if (nowMs > bucket.lastMs) {
      bucket.tokens = Math.min(bucket.burst, bucket.tokens + ((nowMs - bucket.lastMs) * bucket.rate) / 1000);
      bucket.lastMs = nowMs;
    }
    const needed = Math.min(spans, bucket.burst);
    if (bucket.tokens + EPSILON >= needed) {
      bucket.tokens -= spans;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((needed - bucket.tokens) / bucket.rate - EPSILON)) };
  }
}

function checkLimit(what: string, limit: RateLimit): Required<RateLimit> {
  const { spansPerSecond } = limit;
  if (typeof spansPerSecond !== 'number' || !Number.isFinite(spansPerSecond) || spansPerSecond <= 0) {
    throw new RangeError(`${what}.spansPerSecond must be a positive number, got ${spansPerSecond}`);
  }
  const burst = limit.burst ?? Math.max(1, spansPerSecond);
  if (typeof burst !== 'number' || !Number.isFinite(burst) || burst < 1) throw new RangeError(`${what}.burst must be a number >= 1, got ${burst}`);
  return { spansPerSecond, burst };
}
