/**
 * Latency histogram: logarithmic buckets (the DDSketch scheme) over microseconds. Bucket i holds values in
 * (GAMMA^(i-1), GAMMA^i]; a quantile read from it is within {@link HISTOGRAM_RELATIVE_ERROR} of the true
 * value. Histograms merge by adding counts per bucket, so minutes from many aggregator instances (or Redis
 * HINCRBY) combine exactly.
 */

/** HISTOGRAM_RELATIVE_ERROR: worst relative error of a quantile read from a histogram (1%). */
export const HISTOGRAM_RELATIVE_ERROR = 0.01;
const GAMMA = (1 + HISTOGRAM_RELATIVE_ERROR) / (1 - HISTOGRAM_RELATIVE_ERROR);
const LOG_GAMMA = Math.log(GAMMA);

/** LatencyHistogram: bucket index → count; bucket 0 holds durations of 0 and 1 µs. */
export type LatencyHistogram = Map<number, number>;

/** histogramBucket: the bucket index of a duration in microseconds. */
export function histogramBucket(durationUs: number): number {
  if (durationUs <= 1) return 0;
  return Math.ceil(Math.log(durationUs) / LOG_GAMMA);
}

/** bucketValueUs: the representative duration (µs) of a bucket, the one with the least relative error. */
export function bucketValueUs(bucket: number): number {
  if (bucket <= 0) return 1;
  return (2 * Math.pow(GAMMA, bucket)) / (GAMMA + 1);
}

/** recordLatency: adds `count` observations of `durationUs` to the histogram. */
export function recordLatency(histogram: LatencyHistogram, durationUs: number, count = 1): void {
  const bucket = histogramBucket(durationUs);
  histogram.set(bucket, (histogram.get(bucket) ?? 0) + count);
}

/** mergeHistograms: adds `from` into `into` (bucket-wise sum). */
export function mergeHistograms(into: LatencyHistogram, from: LatencyHistogram): LatencyHistogram {
  for (const [bucket, count] of from) into.set(bucket, (into.get(bucket) ?? 0) + count);
  return into;
}

/** histogramQuantileUs: the q-quantile (0 < q <= 1) in microseconds, or undefined for an empty histogram. */
export function histogramQuantileUs(histogram: LatencyHistogram, q: number): number | undefined {
  let total = 0;
  for (const count of histogram.values()) total += count;
  if (total === 0) return undefined;
  // Nearest-rank: the smallest value with at least q of the observations at or below it.
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const bucket of [...histogram.keys()].sort((a, b) => a - b)) {
    seen += histogram.get(bucket) as number;
    if (seen >= rank) return bucketValueUs(bucket);
  }
  return undefined;
}
