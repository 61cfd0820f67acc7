import { Span, isEntrySpan } from '../span/span.model';
import { LatencyHistogram, histogramQuantileUs, mergeHistograms, recordLatency } from './latency-histogram';

/** MINUTE_MS: length of a minute window in milliseconds. */
export const MINUTE_MS = 60_000;

/** minuteOf: the start (epoch ms) of the minute window a span belongs to, from its start time. */
export function minuteOf(startTimeUs: number): number {
  const ms = Math.floor(startTimeUs / 1000);
  return ms - (ms % MINUTE_MS);
}

/** MetricKey: the dimensions of a minute window: one service operation (its entry spans). */
export interface MetricKey {
  service: string;
  operation: string;
}

/** MinuteWindow: the counts of one minute for one {@link MetricKey}; additive, so windows merge by summing. */
export interface MinuteWindow extends MetricKey {
  /** minute: window start, epoch milliseconds (a multiple of 60,000). */
  minute: number;
  calls: number;
  errors: number;
  /** totalDurationUs: sum of durations, microseconds (for the mean). */
  totalDurationUs: number;
  /** maxDurationUs: the slowest call, microseconds. */
  maxDurationUs: number;
  histogram: LatencyHistogram;
}

/** MinuteStats: what dashboards show for one window: rates and latency percentiles in milliseconds. */
export interface MinuteStats extends MetricKey {
  minute: number;
  calls: number;
  errors: number;
  /** qps: calls per second averaged over the minute. */
  qps: number;
  /** errorRate: errors / calls, 0..1 (0 when there were no calls). */
  errorRate: number;
  meanMs: number;
  maxMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
}

/** windowId: a string identity of (service, operation, minute). */
export function windowId(key: MetricKey, minute: number): string {
  return JSON.stringify([key.service, key.operation, minute]);
}

/** emptyWindow: a window with no calls. */
export function emptyWindow(key: MetricKey, minute: number): MinuteWindow {
  return { service: key.service, operation: key.operation, minute, calls: 0, errors: 0, totalDurationUs: 0, maxDurationUs: 0, histogram: new Map() };
}

/** mergeWindow: adds `from` into `into` (same key and minute). */
export function mergeWindow(into: MinuteWindow, from: MinuteWindow): MinuteWindow {
  into.calls += from.calls;
  into.errors += from.errors;
  into.totalDurationUs += from.totalDurationUs;
  into.maxDurationUs = Math.max(into.maxDurationUs, from.maxDurationUs);
  mergeHistograms(into.histogram, from.histogram);
  return into;
}

/**
 * MinuteAggregator: folds spans into minute windows per (service, operation). Counts entry spans only
 * (server, consumer, and trace roots), so a call between two services is counted once, by the callee.
 */
export class MinuteAggregator {
  private readonly windows = new Map<string, MinuteWindow>();

  /** add: counts one span if it is an entry span; returns whether it was counted. */
  add(span: Span): boolean {
    if (!isEntrySpan(span)) return false;
    const minute = minuteOf(span.startTimeUs);
    const id = windowId(span, minute);
    let window = this.windows.get(id);
    if (window === undefined) {
      window = emptyWindow(span, minute);
      this.windows.set(id, window);
    }
    window.calls += 1;
    if (span.error) window.errors += 1;
    window.totalDurationUs += span.durationUs;
    window.maxDurationUs = Math.max(window.maxDurationUs, span.durationUs);
    recordLatency(window.histogram, span.durationUs);
    return true;
  }

  /** size: number of open windows. */
  get size(): number {
    return this.windows.size;
  }

  /** drain: returns the windows accumulated so far and starts empty. */
  drain(): MinuteWindow[] {
    const out = [...this.windows.values()];
    this.windows.clear();
    return out;
  }
}

/** minuteStats: percentiles and rates of a window. */
export function minuteStats(window: MinuteWindow): MinuteStats {
  // A bucket's representative value may exceed the true maximum by up to 1%: clamp so p99 <= max.
  const ms = (q: number) => round3(Math.min(histogramQuantileUs(window.histogram, q) ?? 0, window.maxDurationUs) / 1000);
  return {
    service: window.service,
    operation: window.operation,
    minute: window.minute,
    calls: window.calls,
    errors: window.errors,
    qps: round3(window.calls / 60),
    errorRate: window.calls === 0 ? 0 : round3(window.errors / window.calls),
    meanMs: window.calls === 0 ? 0 : round3(window.totalDurationUs / window.calls / 1000),
    maxMs: round3(window.maxDurationUs / 1000),
    p50Ms: ms(0.5),
    p90Ms: ms(0.9),
    p99Ms: ms(0.99),
    p999Ms: ms(0.999),
  };
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
