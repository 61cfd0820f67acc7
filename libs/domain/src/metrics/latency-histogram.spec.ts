import { mulberry32 } from '../testing/span-fixtures';
import { HISTOGRAM_RELATIVE_ERROR, LatencyHistogram, bucketValueUs, histogramBucket, histogramQuantileUs, mergeHistograms, recordLatency } from './latency-histogram';

const GAMMA = 1.01 / 0.99;
// Quantiles as per-mille, so exact ranks are computed in integers, independently of floating point.
const QUANTILES_PER_MILLE = [1, 10, 100, 250, 500, 750, 900, 950, 990, 999, 1000];
// Floating-point slack on top of the documented 1% bound.
const EPSILON = 1e-9;

function histogramOf(values: number[]): LatencyHistogram {
  const histogram: LatencyHistogram = new Map();
  for (const value of values) recordLatency(histogram, value);
  return histogram;
}

/** exactQuantile: nearest rank, the smallest value with at least k/1000 of the values at or below it. */
function exactQuantile(sorted: number[], perMille: number): number {
  const rank = Math.max(1, Math.floor((perMille * sorted.length + 999) / 1000));
  return sorted[rank - 1] as number;
}

function relativeError(estimate: number, exact: number): number {
  return Math.abs(estimate - exact) / exact;
}

/** logUniform: integer durations spread evenly over orders of magnitude in [min, max]. */
function logUniform(seed: number, count: number, min: number, max: number): number[] {
  const next = mulberry32(seed);
  return Array.from({ length: count }, () => Math.round(Math.exp(Math.log(min) + next() * (Math.log(max) - Math.log(min)))));
}

/** exponential: integer durations with the given mean (a typical latency shape with a long tail). */
function exponential(seed: number, count: number, meanUs: number): number[] {
  const next = mulberry32(seed);
  return Array.from({ length: count }, () => 2 + Math.round(-Math.log(1 - next()) * meanUs));
}

/** bimodal: a fast mode (cache hits) and a slow mode (misses). */
function bimodal(seed: number, count: number): number[] {
  const next = mulberry32(seed);
  return Array.from({ length: count }, () => (next() < 0.8 ? 200 + Math.floor(next() * 300) : 80_000 + Math.floor(next() * 40_000)));
}

describe('mulberry32 (test PRNG)', () => {
  it('is deterministic per seed and stays in [0, 1)', () => {
    const a = mulberry32(123);
    const b = mulberry32(123);
    const values = Array.from({ length: 1000 }, () => a());
    expect(values).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(new Set(values).size).toBe(1000);
    expect(mulberry32(124)()).not.toBe(mulberry32(123)());
  });
});

describe('histogramBucket', () => {
  it('puts 0 and 1 µs (and nonsense negatives) in bucket 0', () => {
    expect(histogramBucket(0)).toBe(0);
    expect(histogramBucket(1)).toBe(0);
    expect(histogramBucket(-5)).toBe(0);
  });

  it('puts x in the bucket i with GAMMA^(i-1) < x <= GAMMA^i', () => {
    expect(histogramBucket(2)).toBe(35);
    for (const x of [2, 3, 10, 99, 1_000, 12_345, 1_000_000, 60_000_000, 604_800_000_000]) {
      const i = histogramBucket(x);
      expect(Math.pow(GAMMA, i - 1)).toBeLessThan(x);
      expect(Math.pow(GAMMA, i)).toBeGreaterThanOrEqual(x * (1 - EPSILON));
    }
  });

  it('never decreases as the duration grows', () => {
    const decreases: number[] = [];
    for (let x = 1; x < 200_000; x++) if (histogramBucket(x) < histogramBucket(x - 1)) decreases.push(x);
    expect(decreases).toEqual([]);
    expect(histogramBucket(199_999)).toBeGreaterThan(histogramBucket(2));
  });
});

describe('bucketValueUs', () => {
  it('is 1 µs for bucket 0 (and below)', () => {
    expect(bucketValueUs(0)).toBe(1);
    expect(bucketValueUs(-3)).toBe(1);
  });

  it('is 2·GAMMA^i / (GAMMA + 1), between the bucket bounds', () => {
    expect(bucketValueUs(35)).toBeCloseTo((2 * Math.pow(GAMMA, 35)) / (GAMMA + 1), 9);
    for (const i of [1, 35, 500, 1_000]) {
      expect(bucketValueUs(i)).toBeGreaterThan(Math.pow(GAMMA, i - 1));
      expect(bucketValueUs(i)).toBeLessThan(Math.pow(GAMMA, i));
    }
  });

  it('represents every duration from 1 µs to 7 days within HISTOGRAM_RELATIVE_ERROR', () => {
    expect(HISTOGRAM_RELATIVE_ERROR).toBe(0.01);
    const next = mulberry32(2024);
    const samples = [1, 2, 3, 4, 5, 99, 100, 101, ...Array.from({ length: 5_000 }, () => 1 + Math.floor(Math.exp(next() * Math.log(604_800_000_000))))];
    let worst = 0;
    for (const x of samples) worst = Math.max(worst, relativeError(bucketValueUs(histogramBucket(x)), x));
    expect(worst).toBeLessThanOrEqual(HISTOGRAM_RELATIVE_ERROR + EPSILON);
    expect(worst).toBeGreaterThan(0.009);
  });
});

describe('recordLatency', () => {
  it('adds one observation to the bucket of the duration', () => {
    const histogram: LatencyHistogram = new Map();
    recordLatency(histogram, 1_000);
    recordLatency(histogram, 1_000);
    recordLatency(histogram, 1);
    expect(histogram).toEqual(new Map([[histogramBucket(1_000), 2], [0, 1]]));
  });

  it('adds `count` observations at once', () => {
    const histogram: LatencyHistogram = new Map();
    recordLatency(histogram, 250, 5);
    recordLatency(histogram, 250, 3);
    expect(histogram).toEqual(new Map([[histogramBucket(250), 8]]));
  });

  it('shares a bucket between durations within 2% of each other', () => {
    expect(histogramBucket(10_000)).toBe(histogramBucket(10_001));
    expect(histogramBucket(10_000)).not.toBe(histogramBucket(10_500));
  });
});

describe('histogramQuantileUs', () => {
  it('is undefined for an empty histogram and for one with only zero counts', () => {
    expect(histogramQuantileUs(new Map(), 0.5)).toBeUndefined();
    expect(histogramQuantileUs(new Map([[100, 0]]), 0.99)).toBeUndefined();
  });

  it('reads a single observation back within 1% at every quantile', () => {
    const histogram = histogramOf([12_345]);
    for (const q of [0.001, 0.5, 0.99, 1]) {
      expect(relativeError(histogramQuantileUs(histogram, q) as number, 12_345)).toBeLessThanOrEqual(0.01 + EPSILON);
    }
  });

  it('reads durations of 0 µs as 1 µs (bucket 0)', () => {
    expect(histogramQuantileUs(histogramOf([0, 0, 0]), 0.5)).toBe(1);
  });

  it('uses nearest rank: the smallest value with at least q of the observations at or below it', () => {
    const histogram = histogramOf([100, 200, 300, 400]);
    const read = (q: number) => histogramQuantileUs(histogram, q);
    expect(read(0.25)).toBe(bucketValueUs(histogramBucket(100)));
    expect(read(0.26)).toBe(bucketValueUs(histogramBucket(200)));
    expect(read(0.5)).toBe(bucketValueUs(histogramBucket(200)));
    expect(read(0.75)).toBe(bucketValueUs(histogramBucket(300)));
    expect(read(0.99)).toBe(bucketValueUs(histogramBucket(400)));
    expect(read(1)).toBe(bucketValueUs(histogramBucket(400)));
    expect(read(0.0001)).toBe(bucketValueUs(histogramBucket(100)));
  });

  it('weighs buckets by their counts', () => {
    const histogram: LatencyHistogram = new Map();
    recordLatency(histogram, 1_000, 98);
    recordLatency(histogram, 50_000, 2);
    expect(histogramQuantileUs(histogram, 0.98)).toBe(bucketValueUs(histogramBucket(1_000)));
    expect(histogramQuantileUs(histogram, 0.99)).toBe(bucketValueUs(histogramBucket(50_000)));
  });

  it('does not depend on the insertion order of the buckets', () => {
    const histogram: LatencyHistogram = new Map([[histogramBucket(900), 1], [histogramBucket(5), 1], [histogramBucket(40), 1]]);
    expect(histogramQuantileUs(histogram, 0.34)).toBe(bucketValueUs(histogramBucket(40)));
  });

  describe.each([
    ['log-uniform 1 µs–10 s', () => logUniform(1, 20_000, 1, 10_000_000)],
    ['log-uniform 2 µs–7 days', () => logUniform(2, 20_000, 2, 604_800_000_000)],
    ['exponential, mean 25 ms', () => exponential(3, 20_000, 25_000)],
    ['bimodal cache hit/miss', () => bimodal(4, 20_000)],
    ['small sample of 37', () => logUniform(5, 37, 100, 1_000_000)],
    ['sample of 1000', () => exponential(6, 1_000, 3_000)],
  ])('on %s data', (_label, generate) => {
    const values = generate();
    const sorted = [...values].sort((a, b) => a - b);
    const histogram = histogramOf(values);

    it.each(QUANTILES_PER_MILLE)('the %i‰ quantile is within 1% of the exact quantile', (perMille) => {
      const exact = exactQuantile(sorted, perMille);
      const estimate = histogramQuantileUs(histogram, perMille / 1000) as number;
      expect(relativeError(estimate, exact)).toBeLessThanOrEqual(HISTOGRAM_RELATIVE_ERROR + EPSILON);
    });
  });
});

describe('mergeHistograms', () => {
  const a = exponential(11, 5_000, 10_000);
  const b = logUniform(12, 3_000, 50, 5_000_000);
  const c = bimodal(13, 2_000);

  it('gives the histogram of the concatenated data', () => {
    expect(mergeHistograms(histogramOf(a), histogramOf(b))).toEqual(histogramOf([...a, ...b]));
  });

  it('gives the same quantiles as the histogram of the concatenated data, within 1% of exact', () => {
    const merged = mergeHistograms(mergeHistograms(histogramOf(a), histogramOf(b)), histogramOf(c));
    const all = [...a, ...b, ...c];
    const sorted = [...all].sort((x, y) => x - y);
    const whole = histogramOf(all);
    for (const perMille of QUANTILES_PER_MILLE) {
      expect(histogramQuantileUs(merged, perMille / 1000)).toBe(histogramQuantileUs(whole, perMille / 1000));
      expect(relativeError(histogramQuantileUs(merged, perMille / 1000) as number, exactQuantile(sorted, perMille))).toBeLessThanOrEqual(0.01 + EPSILON);
    }
  });

  it('is commutative and associative', () => {
    const abThenC = mergeHistograms(mergeHistograms(histogramOf(a), histogramOf(b)), histogramOf(c));
    const cThenBa = mergeHistograms(histogramOf(c), mergeHistograms(histogramOf(b), histogramOf(a)));
    expect(abThenC).toEqual(cThenBa);
  });

  it('adds into the first histogram, returns it, and leaves the second unchanged', () => {
    const into = histogramOf([10, 20]);
    const from = histogramOf([20, 30_000]);
    const fromBefore = new Map(from);
    const result = mergeHistograms(into, from);
    expect(result).toBe(into);
    expect(from).toEqual(fromBefore);
    expect(into).toEqual(new Map([[histogramBucket(10), 1], [histogramBucket(20), 2], [histogramBucket(30_000), 1]]));
  });

  it('treats an empty histogram as the identity', () => {
    expect(mergeHistograms(histogramOf(a), new Map())).toEqual(histogramOf(a));
    expect(mergeHistograms(new Map(), histogramOf(a))).toEqual(histogramOf(a));
  });
});
