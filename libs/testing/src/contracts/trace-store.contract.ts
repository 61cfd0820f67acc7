import { Span, TraceStore, TraceSummaryState, mergeTraceSummary } from '@skein/domain';
import { randomSpanId, randomTraceId, threeServiceTrace } from '../fixtures/trace-fixtures';
import { eventually } from '../infra-env';

/** TraceStoreUnderTest: what a contract factory returns; `cleanup` runs before the contract closes the store. */
export interface TraceStoreUnderTest {
  store: TraceStore;
  cleanup?: () => Promise<void>;
}

const MINUTE_US = 60_000_000;
const HOUR_US = 60 * MINUTE_US;
const DAY_US = 24 * HOUR_US;

// UTC midnight `daysAgo` days before today, in microseconds: each group of tests writes into its own
// window, so filters by time range keep the groups apart although they share one store.
function midnightDaysAgoUs(daysAgo: number): number {
  const todayUs = Math.floor(Date.now() / 86_400_000) * DAY_US;
  return todayUs - daysAgo * DAY_US;
}

function byStartThenId(a: Span, b: Span): number {
  return a.startTimeUs - b.startTimeUs || (a.spanId < b.spanId ? -1 : a.spanId > b.spanId ? 1 : 0);
}

function sortedById(spans: Span[]): Span[] {
  return [...spans].sort((a, b) => (a.spanId < b.spanId ? -1 : a.spanId > b.spanId ? 1 : 0));
}

function stateOf(spans: Span[], previous?: TraceSummaryState): TraceSummaryState {
  return mergeTraceSummary(previous, spans);
}

/**
 * traceStoreContract: the behaviour every {@link TraceStore} adapter must show, as a jest suite. `factory` runs
 * once (beforeAll) and must give a store with no data of its own (e.g. a unique index prefix); after the
 * suite, `cleanup` runs, then the contract closes the store. Searchable reads are polled with `eventually`
 * (Elasticsearch shows writes after a refresh, ~1 s); summary loads are asserted at once (read-your-writes).
 */
export function traceStoreContract(name: string, factory: () => Promise<TraceStoreUnderTest>): void {
  describe(`TraceStore contract: ${name}`, () => {
    let store: TraceStore;
    let cleanup: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      ({ store, cleanup } = await factory());
      await store.ensureSchema();
    });

    afterAll(async () => {
      try {
        await cleanup?.();
      } finally {
        await store?.close();
      }
    });

    // Runs first, so a store whose indices do not exist yet is covered too.
    it('answers unknown traces with nothing, also before anything was written', async () => {
      expect(await store.getTraceSpans(randomTraceId())).toEqual([]);
      expect((await store.loadSummaryStates([{ traceId: randomTraceId(), startTimeUs: Date.now() * 1000 }])).size).toBe(0);
      expect((await store.loadSummaryStates([])).size).toBe(0);
      const nowUs = Date.now() * 1000;
      expect(await store.searchTraces({ startUs: nowUs - DAY_US, endUs: nowUs, limit: 10 })).toEqual([]);
      expect(await store.writeSpans([])).toEqual({ failures: [] });
      expect(await store.saveSummaryStates([])).toEqual({ failures: [] });
    });

    it('is ready and ensureSchema may run again', async () => {
      await store.ensureSchema();
      expect(await store.ready()).toBe(true);
    });

    it('returns written spans with every field intact', async () => {
      const trace = threeServiceTrace({ paymentError: true });
      trace.spans[0] = { ...trace.spans[0], rpcId: '0', host: 'gw-1.internal', tags: { ...trace.spans[0].tags, 'user.tier': 'gold', note: 'a b:c' } };
      expect(await store.writeSpans(trace.spans)).toEqual({ failures: [] });

      const stored = await eventually(async () => {
        const spans = await store.getTraceSpans(trace.traceId);
        expect(spans).toHaveLength(trace.spans.length);
        return spans;
      });
      expect(sortedById(stored)).toEqual(sortedById(trace.spans));
      // Stored spans come back in start order, and no storage-only field (such as an ISO start time) leaks out.
      expect(stored).toEqual([...trace.spans].sort(byStartThenId));
      const gatewayClient = stored.find((span) => span.spanId === trace.ids.gatewayClient);
      expect(gatewayClient).toMatchObject({ parentSpanId: trace.ids.gatewayServer, kind: 'client', remoteService: 'order-service', error: false });
      expect(stored.find((span) => span.spanId === trace.ids.paymentServer)?.error).toBe(true);
      expect(stored.find((span) => span.spanId === trace.ids.gatewayServer)?.parentSpanId).toBeUndefined();
    });

    it('overwrites replayed spans instead of duplicating them', async () => {
      const trace = threeServiceTrace();
      expect(await store.writeSpans(trace.spans)).toEqual({ failures: [] });
      expect(await store.writeSpans(trace.spans)).toEqual({ failures: [] });
      // A later span of the same day: once it is visible, the replay before it is visible too.
      const sentinel: Span = { ...trace.spans[4], spanId: randomSpanId(), parentSpanId: trace.ids.paymentServer, operation: 'sentinel', startTimeUs: trace.spans[4].startTimeUs + 1 };
      expect(await store.writeSpans([sentinel])).toEqual({ failures: [] });

      const stored = await eventually(async () => {
        const spans = await store.getTraceSpans(trace.traceId);
        expect(spans.map((span) => span.spanId)).toContain(sentinel.spanId);
        return spans;
      });
      expect(stored).toHaveLength(trace.spans.length + 1);
      expect(new Set(stored.map((span) => span.spanId)).size).toBe(stored.length);
    });

    it('a replayed span with changed fields replaces the stored one', async () => {
      const trace = threeServiceTrace();
      await store.writeSpans(trace.spans);
      const changed = { ...trace.spans[2], durationUs: 123_456, tags: { retried: 'true' } };
      expect(await store.writeSpans([changed])).toEqual({ failures: [] });
      await eventually(async () => {
        const spans = await store.getTraceSpans(trace.traceId);
        expect(spans).toHaveLength(trace.spans.length);
        expect(spans.find((span) => span.spanId === changed.spanId)).toEqual(changed);
      });
    });

    it('round-trips summary states with read-your-writes (no refresh wait)', async () => {
      const trace = threeServiceTrace({ paymentError: true });
      const first = stateOf(trace.spans.slice(0, 3));
      expect(await store.saveSummaryStates([first])).toEqual({ failures: [] });
      const loaded = await store.loadSummaryStates([{ traceId: trace.traceId, startTimeUs: trace.spans[3].startTimeUs }]);
      expect(loaded.size).toBe(1);
      expect(loaded.get(trace.traceId)).toEqual(first);

      // The assembler's cycle: load, merge the next batch, save, and the next load sees the new state at once.
      const second = stateOf(trace.spans.slice(3), loaded.get(trace.traceId));
      expect(await store.saveSummaryStates([second])).toEqual({ failures: [] });
      const reloaded = await store.loadSummaryStates([
        { traceId: trace.traceId, startTimeUs: trace.spans[0].startTimeUs },
        { traceId: randomTraceId(), startTimeUs: trace.spans[0].startTimeUs },
      ]);
      expect(reloaded.size).toBe(1);
      expect(reloaded.get(trace.traceId)).toEqual(second);
      expect(reloaded.get(trace.traceId)?.summary).toMatchObject({ spanCount: 5, errorCount: 2, rootService: 'api-gateway', maxDepth: 4 });

      // Saving overwrote: search lists the trace once, with the latest counts.
      await eventually(async () => {
        const found = await store.searchTraces({ startUs: trace.spans[0].startTimeUs, endUs: trace.spans[0].startTimeUs, limit: 100 });
        expect(found.filter((summary) => summary.traceId === trace.traceId)).toEqual([second.summary]);
      });
    });

    it('keeps one summary per trace when a trace crosses UTC midnight and its start moves to the earlier day', async () => {
      const midnight = midnightDaysAgoUs(5);
      const trace = threeServiceTrace({ startTimeUs: midnight - 1_000 });
      const [root, ...rest] = trace.spans;
      expect(rest.every((span) => span.startTimeUs >= midnight)).toBe(true);
      await store.writeSpans(trace.spans);

      // Children (next day) arrive first, the root (day before) later.
      const early = stateOf(rest);
      expect(await store.saveSummaryStates([early])).toEqual({ failures: [] });
      const loaded = await store.loadSummaryStates([{ traceId: trace.traceId, startTimeUs: root.startTimeUs }]);
      expect(loaded.get(trace.traceId)).toEqual(early);
      const full = stateOf([root], loaded.get(trace.traceId));
      expect(full.summary.startTimeUs).toBe(root.startTimeUs);
      expect(await store.saveSummaryStates([full])).toEqual({ failures: [] });
      expect((await store.loadSummaryStates([{ traceId: trace.traceId, startTimeUs: rest[0].startTimeUs }])).get(trace.traceId)).toEqual(full);

      await eventually(async () => {
        expect(await store.getTraceSpans(trace.traceId)).toHaveLength(5);
        const found = await store.searchTraces({ startUs: midnight - HOUR_US, endUs: midnight + HOUR_US, limit: 100 });
        expect(found.filter((summary) => summary.traceId === trace.traceId)).toEqual([full.summary]);
      });
    });

    it('stores traces of two different UTC days and finds both', async () => {
      const dayOne = midnightDaysAgoUs(8) + 12 * HOUR_US;
      const dayTwo = dayOne + DAY_US;
      const one = threeServiceTrace({ startTimeUs: dayOne });
      const two = threeServiceTrace({ startTimeUs: dayTwo });
      expect(await store.writeSpans([...one.spans, ...two.spans])).toEqual({ failures: [] });
      const states = [stateOf(one.spans), stateOf(two.spans)];
      expect(await store.saveSummaryStates(states)).toEqual({ failures: [] });

      const loaded = await store.loadSummaryStates([
        { traceId: one.traceId, startTimeUs: dayOne },
        { traceId: two.traceId, startTimeUs: dayTwo },
      ]);
      expect(loaded.get(one.traceId)).toEqual(states[0]);
      expect(loaded.get(two.traceId)).toEqual(states[1]);

      await eventually(async () => {
        expect(sortedById(await store.getTraceSpans(one.traceId))).toEqual(sortedById(one.spans));
        expect(sortedById(await store.getTraceSpans(two.traceId))).toEqual(sortedById(two.spans));
        const found = await store.searchTraces({ startUs: dayOne - HOUR_US, endUs: dayTwo + HOUR_US, limit: 10 });
        expect(found.map((summary) => summary.traceId)).toEqual([two.traceId, one.traceId]);
      });
    });

    describe('searchTraces', () => {
      const windowStart = midnightDaysAgoUs(3) + 6 * HOUR_US;
      const windowEnd = windowStart + HOUR_US;
      const a = threeServiceTrace({ startTimeUs: windowStart + 10 * MINUTE_US });
      const b = threeServiceTrace({ startTimeUs: windowStart + 20 * MINUTE_US, paymentError: true });
      // c never reaches payment-service: only the gateway and order-service spans.
      const c = threeServiceTrace({ startTimeUs: windowStart + 30 * MINUTE_US });
      c.spans = c.spans.filter((span) => span.service !== 'payment-service');
      const before = threeServiceTrace({ startTimeUs: windowStart - 10 * MINUTE_US });
      const after = threeServiceTrace({ startTimeUs: windowEnd + 10 * MINUTE_US });
      const window = { startUs: windowStart, endUs: windowEnd, limit: 10 };
      const ids = async (search: Parameters<TraceStore['searchTraces']>[0]) => (await store.searchTraces(search)).map((summary) => summary.traceId);

      beforeAll(async () => {
        const traces = [a, b, c, before, after];
        expect(await store.writeSpans(traces.flatMap((trace) => trace.spans))).toEqual({ failures: [] });
        expect(await store.saveSummaryStates(traces.map((trace) => stateOf(trace.spans)))).toEqual({ failures: [] });
        await eventually(async () => expect(await ids(window)).toHaveLength(3));
      });

      it('returns the traces of the time range only, newest first, as full summaries', async () => {
        await eventually(async () => {
          const found = await store.searchTraces(window);
          expect(found.map((summary) => summary.traceId)).toEqual([c.traceId, b.traceId, a.traceId]);
          expect(found[1]).toEqual(stateOf(b.spans).summary);
        });
      });

      it('includes both range bounds', async () => {
        await eventually(async () => {
          expect(await ids({ ...window, startUs: a.spans[0].startTimeUs, endUs: b.spans[0].startTimeUs })).toEqual([b.traceId, a.traceId]);
        });
      });

      it('filters by service', async () => {
        await eventually(async () => {
          expect(await ids({ ...window, service: 'payment-service' })).toEqual([b.traceId, a.traceId]);
          expect(await ids({ ...window, service: 'api-gateway' })).toEqual([c.traceId, b.traceId, a.traceId]);
          expect(await ids({ ...window, service: 'no-such-service' })).toEqual([]);
        });
      });

      it('filters by service and operation as a pair', async () => {
        await eventually(async () => {
          expect(await ids({ ...window, service: 'payment-service', operation: 'charge' })).toEqual([b.traceId, a.traceId]);
          expect(await ids({ ...window, service: 'order-service', operation: 'charge' })).toEqual([c.traceId, b.traceId, a.traceId]);
          // api-gateway and charge both occur in these traces, but never together in one span.
          expect(await ids({ ...window, service: 'api-gateway', operation: 'charge' })).toEqual([]);
        });
      });

      it('filters by operation alone in any service', async () => {
        await eventually(async () => {
          expect(await ids({ ...window, operation: 'POST /checkout' })).toEqual([c.traceId, b.traceId, a.traceId]);
          expect(await ids({ ...window, operation: 'charge' })).toEqual([c.traceId, b.traceId, a.traceId]);
          expect(await ids({ ...window, operation: 'POST' })).toEqual([]);
          expect(await ids({ ...window, operation: '*' })).toEqual([]);
        });
      });

      it('respects the limit, keeping the newest', async () => {
        await eventually(async () => {
          expect(await ids({ ...window, limit: 2 })).toEqual([c.traceId, b.traceId]);
          expect(await ids({ ...window, limit: 1, service: 'payment-service' })).toEqual([b.traceId]);
          expect(await ids({ ...window, startUs: windowStart - HOUR_US, endUs: windowEnd + HOUR_US, limit: 10 })).toEqual([
            after.traceId,
            c.traceId,
            b.traceId,
            a.traceId,
            before.traceId,
          ]);
        });
      });
    });
  });
}
