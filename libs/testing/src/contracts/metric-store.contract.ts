import {
  MINUTE_MS,
  MetricKey,
  MetricStore,
  MinuteAggregator,
  MinuteWindow,
  Span,
  emptyWindow,
  histogramBucket,
  minuteStats,
} from '@skein/domain';
import { randomSpanId, randomTraceId, threeServiceTrace, uniqueName } from '../fixtures/trace-fixtures';

/** MetricStoreUnderTest: what a contract factory returns: the store, and how to delete what the suite wrote. */
export interface MetricStoreUnderTest {
  store: MetricStore;
  /** cleanup: runs in afterAll before store.close() (e.g. delete the suite's Redis keys). */
  cleanup?: () => Promise<void>;
}

/** A fixed, closed minute (2024-01-15T10:00Z): tests never depend on the clock, only on unique names. */
const M = Date.UTC(2024, 0, 15, 10, 0);

/** aggregate: the windows MinuteAggregator builds from spans: what the store must give back. */
function aggregate(spans: Span[]): MinuteWindow[] {
  const aggregator = new MinuteAggregator();
  for (const span of spans) aggregator.add(span);
  return aggregator.drain();
}

/** tagged: the spans with every service renamed `${tag}/…`, so tests sharing one store cannot see each other. */
function tagged(tag: string, spans: Span[]): Span[] {
  return spans.map((s) => ({ ...s, service: `${tag}/${s.service}`, ...(s.remoteService === undefined ? {} : { remoteService: `${tag}/${s.remoteService}` }) }));
}

/** entrySpan: a hand-made server span of `key` starting `offsetMs` into `minute`. */
function entrySpan(key: MetricKey, minute: number, offsetMs: number, durationUs: number, error = false): Span {
  return {
    traceId: randomTraceId(),
    spanId: randomSpanId(),
    parentSpanId: randomSpanId(),
    service: key.service,
    operation: key.operation,
    kind: 'server',
    startTimeUs: (minute + offsetMs) * 1000,
    durationUs,
    error,
    tags: {},
  };
}

/** checkoutSpans: `count` three-service traces spread over `minute`, with varied latencies and some errors. */
function checkoutSpans(minute: number, count: number, seed = 0): Span[] {
  const spans: Span[] = [];
  for (let i = 0; i < count; i++) {
    const startTimeUs = (minute + ((i * 997) % 50_000)) * 1000;
    spans.push(...threeServiceTrace({ startTimeUs, orderLatencyUs: 1_000 + ((i + seed) * 7_919) % 400_000, paymentError: (i + seed) % 4 === 0 }).spans);
  }
  return spans;
}

async function readBack(store: MetricStore, windows: MinuteWindow[]): Promise<MinuteWindow[]> {
  const out: MinuteWindow[] = [];
  for (const w of windows) out.push(...(await store.getWindows(w, w.minute, w.minute)));
  return out;
}

/** byId: a total order on windows (code units; localeCompare may call distinct strings equal), to pair two lists. */
function byId(a: MinuteWindow, b: MinuteWindow): number {
  const x = JSON.stringify([a.service, a.operation, a.minute]);
  const y = JSON.stringify([b.service, b.operation, b.minute]);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * metricStoreContract: the behaviour every MetricStore adapter must have: exact round trip of windows (and so of
 * their percentiles), additive merge, the checkpoint guard against redelivered batches, per-stream checkpoints,
 * inclusive ranges, names that cannot collide, and the service/operation listings. The factory runs once; tests
 * share the store and isolate themselves with unique service and stream names.
 */
export function metricStoreContract(name: string, factory: () => Promise<MetricStoreUnderTest>): void {
  describe(`MetricStore contract: ${name}`, () => {
    let store: MetricStore;
    let cleanup: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      ({ store, cleanup } = await factory());
    });

    afterAll(async () => {
      if (cleanup !== undefined) await cleanup();
      await store?.close();
    });

    it('is ready', async () => {
      expect(await store.ready()).toBe(true);
    });

    it('round-trips aggregated windows exactly: counts, max, histogram and the percentiles computed from them', async () => {
      const tag = uniqueName('roundtrip');
      const consumer: MetricKey = { service: `${tag}/billing-worker`, operation: 'consume invoices' };
      const spans = tagged(tag, [...checkoutSpans(M, 40), ...checkoutSpans(M + MINUTE_MS, 7, 3)]);
      // Hand-made entry spans: a consumer, a parentless internal root, the 0/1 µs bucket, and a 7-day outlier.
      spans.push({ ...entrySpan(consumer, M, 10, 0), kind: 'consumer' });
      spans.push({ ...entrySpan(consumer, M, 20, 1), kind: 'consumer' });
      spans.push({ ...entrySpan(consumer, M, 30, 604_800_000_000, true), kind: 'consumer' });
      spans.push({ ...entrySpan(consumer, M, 40, 12_345), kind: 'internal', parentSpanId: undefined });
      const expected = aggregate(spans).sort(byId);
      const sent = aggregate(spans);
      expect(expected.length).toBe(7); // 3 checkout operations x 2 minutes + the consumer

      expect(await store.applyWindows(sent, { stream: `${tag}-stream`, offset: 1 })).toBe(true);

      const stored = (await readBack(store, expected)).sort(byId);
      expect(stored).toEqual(expected);
      expect(stored.map(minuteStats)).toEqual(expected.map(minuteStats));
      const order = stored.find((w) => w.service === `${tag}/order-service` && w.minute === M) as MinuteWindow;
      expect(order.calls).toBe(40);
      expect(minuteStats(order).p99Ms).toBeGreaterThan(minuteStats(order).p50Ms);
      const payment = stored.find((w) => w.service === `${tag}/payment-service` && w.minute === M) as MinuteWindow;
      expect(payment.errors).toBe(10);
    });

    it('keeps microsecond sums beyond 10^14 exact', async () => {
      const tag = uniqueName('bigsum');
      const week = 604_800_000_000;
      const window: MinuteWindow = { ...emptyWindow({ service: `${tag}/batch`, operation: 'nightly' }, M), calls: 200, totalDurationUs: 200 * week, maxDurationUs: week };
      window.histogram.set(histogramBucket(week), 200);
      expect(await store.applyWindows([window], { stream: `${tag}-stream`, offset: 1 })).toBe(true);
      expect(await store.applyWindows([window], { stream: `${tag}-stream`, offset: 2 })).toBe(true);
      const [stored] = await store.getWindows(window, M, M);
      expect(stored.calls).toBe(400);
      expect(stored.totalDurationUs).toBe(400 * week);
      expect(stored.histogram).toEqual(new Map([[histogramBucket(week), 400]]));
    });

    it('adds up windows of the same minute applied in batches with increasing offsets', async () => {
      const tag = uniqueName('merge');
      const spans = tagged(tag, checkoutSpans(M, 30));
      const first = spans.slice(0, 45);
      const second = spans.slice(45);
      const stream = `${tag}-stream`;

      expect(await store.applyWindows(aggregate(first), { stream, offset: 10 })).toBe(true);
      expect(await store.applyWindows(aggregate(second), { stream, offset: 11 })).toBe(true);

      const expected = aggregate(spans).sort(byId);
      const stored = (await readBack(store, expected)).sort(byId);
      expect(stored).toEqual(expected);
      expect(stored.map(minuteStats)).toEqual(expected.map(minuteStats));
      expect(await store.getCheckpoint(stream)).toBe(11);
    });

    it('keeps the larger max when a later batch has a smaller one', async () => {
      const tag = uniqueName('max');
      const key = { service: `${tag}/svc`, operation: 'op' };
      const stream = `${tag}-stream`;
      await store.applyWindows(aggregate([entrySpan(key, M, 0, 90_000)]), { stream, offset: 1 });
      await store.applyWindows(aggregate([entrySpan(key, M, 1, 5_000)]), { stream, offset: 2 });
      const [stored] = await store.getWindows(key, M, M);
      expect(stored.maxDurationUs).toBe(90_000);
      expect(stored.totalDurationUs).toBe(95_000);
    });

    it('ignores a replayed batch (offset <= checkpoint): returns false and changes nothing', async () => {
      const tag = uniqueName('replay');
      const stream = `${tag}-stream`;
      const windows = aggregate(tagged(tag, checkoutSpans(M, 5)));
      const late: MetricKey = { service: `${tag}/late-service`, operation: 'late-op' };

      expect(await store.getCheckpoint(stream)).toBeUndefined();
      expect(await store.applyWindows(windows, { stream, offset: 5 })).toBe(true);
      const before = (await readBack(store, windows)).sort(byId);

      expect(await store.applyWindows(windows, { stream, offset: 5 })).toBe(false);
      expect(await store.applyWindows([...windows, ...aggregate([entrySpan(late, M, 0, 100)])], { stream, offset: 4 })).toBe(false);

      expect((await readBack(store, windows)).sort(byId)).toEqual(before);
      expect(await store.getCheckpoint(stream)).toBe(5);
      expect(await store.getWindows(late, M, M)).toEqual([]);
      expect(await store.listServices()).not.toContain(late.service);
      expect(await store.listOperations(late.service)).toEqual([]);

      // The next offset applies again.
      expect(await store.applyWindows(windows, { stream, offset: 6 })).toBe(true);
      const after = (await readBack(store, windows)).sort(byId);
      expect(after.map((w) => w.calls)).toEqual(before.map((w) => 2 * w.calls));
    });

    it('keeps an independent checkpoint per stream, starting from offset 0', async () => {
      const tag = uniqueName('streams');
      const key = { service: `${tag}/svc`, operation: 'op' };
      const batch = () => aggregate([entrySpan(key, M, 0, 1_000)]);

      expect(await store.applyWindows(batch(), { stream: `${tag}-a`, offset: 100 })).toBe(true);
      expect(await store.applyWindows(batch(), { stream: `${tag}-b`, offset: 1 })).toBe(true);
      expect(await store.applyWindows(batch(), { stream: `${tag}-c`, offset: 0 })).toBe(true);
      expect(await store.applyWindows(batch(), { stream: `${tag}-c`, offset: 0 })).toBe(false);
      expect(await store.applyWindows([], { stream: `${tag}-b`, offset: 2 })).toBe(true);

      expect(await store.getCheckpoint(`${tag}-a`)).toBe(100);
      expect(await store.getCheckpoint(`${tag}-b`)).toBe(2);
      expect(await store.getCheckpoint(`${tag}-c`)).toBe(0);
      expect(await store.getCheckpoint(`${tag}-unknown`)).toBeUndefined();
      const [stored] = await store.getWindows(key, M, M);
      expect(stored.calls).toBe(3);
    });

    it('reads an inclusive minute range, oldest first, of one key only', async () => {
      const tag = uniqueName('range');
      const key = { service: `${tag}/svc`, operation: 'GET /a' };
      const spans = [-1, 0, 1, 2].map((i) => entrySpan(key, M + i * MINUTE_MS, 500, 1_000 * (i + 2)));
      spans.push(entrySpan({ service: key.service, operation: 'GET /b' }, M, 0, 1_000));
      spans.push(entrySpan({ service: `${tag}/other`, operation: key.operation }, M, 0, 1_000));
      expect(await store.applyWindows(aggregate(spans), { stream: `${tag}-stream`, offset: 1 })).toBe(true);

      const minutes = async (from: number, to: number) => (await store.getWindows(key, from, to)).map((w) => w.minute);
      expect(await minutes(M, M + MINUTE_MS)).toEqual([M, M + MINUTE_MS]);
      expect(await minutes(M - MINUTE_MS, M + 2 * MINUTE_MS)).toEqual([M - MINUTE_MS, M, M + MINUTE_MS, M + 2 * MINUTE_MS]);
      expect(await minutes(M - 30_000, M + 90_000)).toEqual([M, M + MINUTE_MS]);
      expect(await minutes(M + 10 * MINUTE_MS, M + 20 * MINUTE_MS)).toEqual([]);
      expect(await minutes(M + MINUTE_MS, M)).toEqual([]);
      const windows = await store.getWindows(key, M, M);
      expect(windows).toHaveLength(1);
      expect(windows[0]).toMatchObject({ service: key.service, operation: key.operation, calls: 1, totalDurationUs: 2_000 });
    });

    it('serves a 24-hour range (1441 minute starts, both ends inclusive) and refuses a wider one', async () => {
      const tag = uniqueName('day');
      const key = { service: `${tag}/svc`, operation: 'op' };
      const spans = [0, 1440].map((i) => entrySpan(key, M + i * MINUTE_MS, 0, 1_000));
      expect(await store.applyWindows(aggregate(spans), { stream: `${tag}-stream`, offset: 1 })).toBe(true);
      const day = await store.getWindows(key, M, M + 1440 * MINUTE_MS);
      expect(day.map((w) => w.minute)).toEqual([M, M + 1440 * MINUTE_MS]);
      await expect(store.getWindows(key, M - MINUTE_MS, M + 1440 * MINUTE_MS)).rejects.toThrow(/exceeds the maximum/);
    });

    it("keeps names with ':', spaces, percent signs, glob characters and unicode apart", async () => {
      const tag = uniqueName('names');
      const keys: MetricKey[] = [
        { service: `${tag} a:b`, operation: 'c' },
        { service: `${tag} a`, operation: 'b:c' },
        { service: `${tag} a`, operation: 'b%3Ac' },
        { service: `${tag} a`, operation: 'b c' },
        { service: `${tag} サービス 🚀`, operation: 'GET /users/:id' },
        { service: `${tag} *?[x]`, operation: 'ünïcödé — op' },
      ];
      const spans = keys.flatMap((key, i) => Array.from({ length: i + 1 }, (_, j) => entrySpan(key, M, j, 1_000)));
      expect(await store.applyWindows(aggregate(spans), { stream: `${tag} stream: ü`, offset: 1 })).toBe(true);

      for (const [i, key] of keys.entries()) {
        const windows = await store.getWindows(key, M, M);
        expect(windows.map((w) => [w.service, w.operation, w.calls])).toEqual([[key.service, key.operation, i + 1]]);
      }
      const services = await store.listServices();
      for (const key of keys) expect(services).toContain(key.service);
      expect(await store.listOperations(`${tag} a`)).toEqual(['b c', 'b%3Ac', 'b:c']);
      expect(await store.listOperations(`${tag} a:b`)).toEqual(['c']);
      expect(await store.listOperations(`${tag} サービス 🚀`)).toEqual(['GET /users/:id']);
      expect(await store.getCheckpoint(`${tag} stream: ü`)).toBe(1);
    });

    it('lists services and their operations, sorted', async () => {
      const tag = uniqueName('list');
      const spans = [
        entrySpan({ service: `${tag}/zeta`, operation: 'POST /z' }, M, 0, 1_000),
        entrySpan({ service: `${tag}/zeta`, operation: 'GET /a' }, M, 0, 1_000),
        entrySpan({ service: `${tag}/zeta`, operation: 'GET /a' }, M + MINUTE_MS, 0, 1_000),
        entrySpan({ service: `${tag}/alpha`, operation: 'consume' }, M, 0, 1_000),
      ];
      expect(await store.applyWindows(aggregate(spans), { stream: `${tag}-stream`, offset: 1 })).toBe(true);

      const services = await store.listServices();
      expect(services).toEqual([...services].sort());
      expect(services.filter((s) => s.startsWith(`${tag}/`))).toEqual([`${tag}/alpha`, `${tag}/zeta`]);
      expect(await store.listOperations(`${tag}/zeta`)).toEqual(['GET /a', 'POST /z']);
      expect(await store.listOperations(`${tag}/alpha`)).toEqual(['consume']);
      expect(await store.listOperations(`${tag}/missing`)).toEqual([]);
    });
  });
}
