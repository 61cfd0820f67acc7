import { Span, TraceSearch, TraceSort, TraceStore, TraceSummary, TraceSummaryState, mergeTraceSummary, parseTraceQuery } from '@skein/domain';
import { chainTrace, randomSpanId, randomTraceId, threeServiceTrace } from '../fixtures/trace-fixtures';
import { eventually } from '../infra-env';

/** TraceStoreUnderTest: what a contract factory returns; `cleanup` runs before the contract closes the store. */
export interface TraceStoreUnderTest {
  store: TraceStore;
  cleanup?: () => Promise<void>;
}

const MINUTE_US = 60_000_000;
const HOUR_US = 60 * MINUTE_US;
const DAY_US = 24 * HOUR_US;
const MS_US = 1_000;

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

// Ties of every sort order are broken by traceId ascending, whatever the direction of the sort.
function byTraceId(...traces: { traceId: string }[]): string[] {
  return traces.map((trace) => trace.traceId).sort();
}

/**
 * namer: maps trace ids back to the fixture names of a test group, so a failed assertion reads
 * `["match","short"]` instead of two random hex ids; ids of no fixture show up as `?<id>`.
 */
function namer(traces: Record<string, { traceId: string }>): (found: TraceSummary[]) => string[] {
  const names = new Map(Object.entries(traces).map(([name, trace]) => [trace.traceId, name]));
  return (found) => found.map((summary) => names.get(summary.traceId) ?? `?${summary.traceId}`).sort();
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

    it('stores spans given with their JSON text (as a consumed topic message has it) like serialized ones', async () => {
      const trace = threeServiceTrace({ paymentError: true });
      // The JSON text of each span in one shared buffer, members in another order than the span object's, some
      // spans without text (normalised ones): a store may keep the text as it is or ignore it.
      const texts = trace.spans.map((span) => JSON.stringify(Object.fromEntries(Object.entries(span).reverse())));
      const bytes = Buffer.from(`header\n${texts.join('\n')}`);
      let at = 'header\n'.length;
      const json = texts.map((text, i) => {
        const range = { bytes, start: at, end: at + Buffer.byteLength(text) };
        at = range.end + 1;
        return i % 2 === 0 ? range : undefined;
      });
      expect(await store.writeSpans(trace.spans, json)).toEqual({ failures: [] });

      const stored = await eventually(async () => {
        const spans = await store.getTraceSpans(trace.traceId);
        expect(spans).toHaveLength(trace.spans.length);
        return spans;
      });
      expect(stored).toEqual([...trace.spans].sort(byStartThenId));
    });

    it('a span writer stores the spans added to it one at a time, as writeSpans does', async () => {
      const first = threeServiceTrace({ paymentError: true });
      const second = threeServiceTrace();
      const empty = store.spanWriter();
      expect(empty.size).toBe(0);
      expect(await empty.write()).toEqual({ failures: [] });

      const writer = store.spanWriter();
      // Spans of two traces interleaved, every other one with its JSON text (each in its own buffer, as messages are).
      const spans = first.spans.flatMap((span, i) => [span, second.spans[i]]).filter((span): span is Span => span !== undefined);
      spans.forEach((span, i) => {
        const text = Buffer.from(` ${JSON.stringify(span)}\n`);
        writer.add(span, i % 2 === 0 ? { bytes: text, start: 1, end: text.length - 1 } : undefined);
      });
      expect(writer.size).toBe(first.spans.length + second.spans.length);
      expect(await writer.write()).toEqual({ failures: [] });

      for (const trace of [first, second]) {
        const stored = await eventually(async () => {
          const found = await store.getTraceSpans(trace.traceId);
          expect(found).toHaveLength(trace.spans.length);
          return found;
        });
        expect(stored).toEqual([...trace.spans].sort(byStartThenId));
      }
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

    it('creates the summaries of new traces and leaves a trace that has one untouched, listing it as existing', async () => {
      const known = threeServiceTrace();
      const fresh = threeServiceTrace({ paymentError: true });
      await store.writeSpans([...known.spans, ...fresh.spans]);
      const stored = stateOf(known.spans.slice(0, 2));
      expect(await store.saveSummaryStates([stored])).toEqual({ failures: [] });

      const created = await store.createSummaryStates([stateOf(known.spans), stateOf(fresh.spans)]);
      expect(created).toEqual({ failures: [], existing: [known.traceId] });
      const loaded = await store.loadSummaryStates([
        { traceId: known.traceId, startTimeUs: known.spans[0].startTimeUs },
        { traceId: fresh.traceId, startTimeUs: fresh.spans[0].startTimeUs },
      ]);
      expect(loaded.get(known.traceId)).toEqual(stored);
      expect(loaded.get(fresh.traceId)).toEqual(stateOf(fresh.spans));
      // Created a moment ago: creating it again is refused at once (no refresh wait).
      expect(await store.createSummaryStates([stateOf(fresh.spans)])).toEqual({ failures: [], existing: [fresh.traceId] });
      expect(await store.createSummaryStates([])).toEqual({ failures: [], existing: [] });
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

    /** storeTraces: writes the spans and the summaries of `traces`, as the assembler does, and expects no failure. */
    const storeTraces = async (traces: { spans: Span[] }[]): Promise<void> => {
      expect(await store.writeSpans(traces.flatMap((trace) => trace.spans))).toEqual({ failures: [] });
      expect(await store.saveSummaryStates(traces.map((trace) => stateOf(trace.spans)))).toEqual({ failures: [] });
    };

    describe('searchTraces filters: tags, duration, errors, sort', () => {
      const windowStart = midnightDaysAgoUs(15) + 6 * HOUR_US;
      const window = { startUs: windowStart, endUs: windowStart + HOUR_US, limit: 10 };
      const at = (minutes: number) => windowStart + minutes * MINUTE_US;
      // Chosen so that every sort order differs, and each order has a tie: f4/f5 start together, f2/f4 last
      // equally long, f3/f4 have as many spans.
      const traces = {
        f1: chainTrace({
          startTimeUs: at(10),
          durationUs: 50 * MS_US,
          spans: [
            { service: 'api', operation: 'GET /a', tags: { env: 'prod' } },
            { service: 'orders', operation: 'load', tags: { 'http.status_code': '500' }, error: true },
          ],
        }),
        f2: chainTrace({
          startTimeUs: at(20),
          durationUs: 200 * MS_US,
          spans: [
            { service: 'api', operation: 'GET /b', tags: { env: 'prod' } },
            { service: 'orders', operation: 'load' },
            { service: 'orders', operation: 'save' },
            { service: 'payments', operation: 'charge', tags: { region: 'eu' } },
          ],
        }),
        f3: chainTrace({
          startTimeUs: at(30),
          durationUs: 100 * MS_US,
          spans: [
            { service: 'api', operation: 'GET /c', tags: { env: 'staging' } },
            { service: 'orders', operation: 'load', tags: { region: 'eu' } },
            { service: 'payments', operation: 'charge', error: true },
          ],
        }),
        f4: chainTrace({
          startTimeUs: at(40),
          durationUs: 200 * MS_US,
          spans: [
            { service: 'api', operation: 'GET /d', tags: { env: 'prod', region: 'us' } },
            { service: 'orders', operation: 'load' },
            { service: 'payments', operation: 'charge' },
          ],
        }),
        f5: chainTrace({ startTimeUs: at(40), durationUs: 300 * MS_US, spans: [{ service: 'api', operation: 'GET /e', tags: { env: 'prod' } }] }),
      };
      const { f1, f2, f3, f4, f5 } = traces;
      const names = namer(traces);
      const find = async (search: Partial<TraceSearch>) => names(await store.searchTraces({ ...window, ...search }));
      const ids = async (search: Partial<TraceSearch>) => (await store.searchTraces({ ...window, ...search })).map((summary) => summary.traceId);

      beforeAll(async () => {
        await storeTraces(Object.values(traces));
        await eventually(async () => expect(await ids({})).toHaveLength(5));
      });

      it('returns summaries with flags, skewAdjusted and tags', async () => {
        await eventually(async () => {
          const found = await store.searchTraces({ ...window, tags: { region: 'eu', env: 'prod' } });
          expect(found).toEqual([stateOf(f2.spans).summary]);
          expect(found[0]).toMatchObject({ skewAdjusted: false, flags: [], spanCount: 4, durationUs: 200 * MS_US });
          expect(found[0].tags).toEqual(['env=prod', 'region=eu']);
        });
      });

      it('filters by one tag and by several, carried by different spans of the trace', async () => {
        await eventually(async () => {
          expect(await find({ tags: { env: 'prod' } })).toEqual(['f1', 'f2', 'f4', 'f5']);
          expect(await find({ tags: { region: 'eu' } })).toEqual(['f2', 'f3']);
          // f2: env on its root, region on its fourth span. f3 has region=eu but env=staging, f4 env=prod but region=us.
          expect(await find({ tags: { env: 'prod', region: 'eu' } })).toEqual(['f2']);
          expect(await find({ tags: { env: 'prod', 'http.status_code': '500' } })).toEqual(['f1']);
          expect(await find({ tags: { env: 'prod', region: 'eu', 'http.status_code': '500' } })).toEqual([]);
          // A value of another key, and a key with a value prefix, are no match.
          expect(await find({ tags: { env: 'eu' } })).toEqual([]);
          expect(await find({ tags: { env: 'pro' } })).toEqual([]);
          expect(await find({ tags: {} })).toEqual(['f1', 'f2', 'f3', 'f4', 'f5']);
        });
      });

      it('bounds the whole-trace duration, both bounds inclusive', async () => {
        await eventually(async () => {
          expect(await find({ minDurationUs: 100 * MS_US })).toEqual(['f2', 'f3', 'f4', 'f5']);
          expect(await find({ minDurationUs: 100 * MS_US + 1 })).toEqual(['f2', 'f4', 'f5']);
          expect(await find({ maxDurationUs: 100 * MS_US })).toEqual(['f1', 'f3']);
          expect(await find({ maxDurationUs: 100 * MS_US - 1 })).toEqual(['f1']);
          expect(await find({ minDurationUs: 200 * MS_US, maxDurationUs: 200 * MS_US })).toEqual(['f2', 'f4']);
          expect(await find({ minDurationUs: 100 * MS_US, maxDurationUs: 200 * MS_US })).toEqual(['f2', 'f3', 'f4']);
          expect(await find({ minDurationUs: 300 * MS_US + 1 })).toEqual([]);
        });
      });

      it('keeps only traces with a failed span when errorsOnly, combined with the other filters', async () => {
        await eventually(async () => {
          expect(await find({ errorsOnly: true })).toEqual(['f1', 'f3']);
          expect(await find({ errorsOnly: false })).toEqual(['f1', 'f2', 'f3', 'f4', 'f5']);
          expect(await find({ errorsOnly: true, tags: { env: 'prod' } })).toEqual(['f1']);
          expect(await find({ errorsOnly: true, minDurationUs: 100 * MS_US })).toEqual(['f3']);
          expect(await find({ errorsOnly: true, service: 'payments' })).toEqual(['f3']);
          expect(await find({ errorsOnly: true, service: 'api', operation: 'GET /b' })).toEqual([]);
        });
      });

      it('sorts in every order, breaking ties by traceId ascending', async () => {
        const expected: Record<TraceSort, string[]> = {
          newest: [...byTraceId(f4, f5), f3.traceId, f2.traceId, f1.traceId],
          oldest: [f1.traceId, f2.traceId, f3.traceId, ...byTraceId(f4, f5)],
          longest: [f5.traceId, ...byTraceId(f2, f4), f3.traceId, f1.traceId],
          shortest: [f1.traceId, f3.traceId, ...byTraceId(f2, f4), f5.traceId],
          most_spans: [f2.traceId, ...byTraceId(f3, f4), f1.traceId, f5.traceId],
          fewest_spans: [f5.traceId, f1.traceId, ...byTraceId(f3, f4), f2.traceId],
        };
        await eventually(async () => {
          for (const [sort, order] of Object.entries(expected) as [TraceSort, string[]][]) {
            expect({ sort, found: await ids({ sort }) }).toEqual({ sort, found: order });
          }
          // No sort is newest first.
          expect(await ids({})).toEqual(expected.newest);
        });
      });

      it('applies the limit after sorting (the first n of the sorted matches)', async () => {
        await eventually(async () => {
          expect(await ids({ sort: 'longest', limit: 2 })).toEqual([f5.traceId, byTraceId(f2, f4)[0]]);
          expect(await ids({ sort: 'fewest_spans', limit: 3 })).toEqual([f5.traceId, f1.traceId, byTraceId(f3, f4)[0]]);
          expect(await ids({ sort: 'oldest', limit: 1 })).toEqual([f1.traceId]);
          expect(await ids({ sort: 'shortest', limit: 2, tags: { env: 'prod' } })).toEqual([f1.traceId, byTraceId(f2, f4)[0]]);
          expect(await ids({ sort: 'most_spans', limit: 2, errorsOnly: true })).toEqual([f3.traceId, f1.traceId]);
        });
      });
    });

    describe('searchTraces query string', () => {
      const windowStart = midnightDaysAgoUs(16) + 6 * HOUR_US;
      const window = { startUs: windowStart, endUs: windowStart + HOUR_US, limit: 10 };
      const at = (minutes: number) => windowStart + minutes * MINUTE_US;
      const web = (tags: Record<string, string> = { env: 'prod' }) => ({ service: 'web', operation: 'GET /cart', tags });
      // `match` passes every clause of the issue's example; each of the next four fails exactly one of them.
      const traces = {
        match: chainTrace({
          startTimeUs: at(5),
          durationUs: 300 * MS_US,
          spans: [
            web(),
            { service: 'checkout', operation: 'POST /checkout', tags: { 'http.status_code': '500' }, error: true },
            { service: 'payments', operation: 'charge', tags: { 'customer.id': 'c-42' } },
          ],
        }),
        noCheckout: chainTrace({
          startTimeUs: at(10),
          durationUs: 300 * MS_US,
          spans: [web(), { service: 'cart', operation: 'POST /cart', tags: { 'http.status_code': '500' } }],
        }),
        // duration>200ms is exclusive: exactly 200 ms fails it.
        short: chainTrace({
          startTimeUs: at(15),
          durationUs: 200 * MS_US,
          spans: [web(), { service: 'checkout', operation: 'POST /checkout', tags: { 'http.status_code': '500' } }],
        }),
        ok200: chainTrace({
          startTimeUs: at(20),
          durationUs: 300 * MS_US,
          spans: [web(), { service: 'checkout', operation: 'POST /checkout', tags: { 'http.status_code': '200' } }],
        }),
        // env=prod on its root and env=staging on another span: NOT env:staging excludes it.
        staging: chainTrace({
          startTimeUs: at(25),
          durationUs: 300 * MS_US,
          spans: [
            web(),
            { service: 'checkout', operation: 'POST /checkout', tags: { 'http.status_code': '500' } },
            { service: 'checkout', operation: 'audit', tags: { env: 'staging' } },
          ],
        }),
        // Its root never arrives: flag orphans, rootService "".
        orphan: chainTrace({
          startTimeUs: at(30),
          durationUs: 250 * MS_US,
          orphan: true,
          spans: [
            { service: 'checkout', operation: 'POST /checkout', tags: { 'http.status_code': '503' } },
            { service: 'payments', operation: 'charge', error: true },
          ],
        }),
      };
      const names = namer(traces);
      const all = Object.keys(traces).sort();
      const find = async (query: string, search: Partial<TraceSearch> = {}) => names(await store.searchTraces({ ...window, ...search, query: parseTraceQuery(query) }));
      const ISSUE_QUERY = 'service:checkout AND duration>200ms AND http.status_code:500 AND NOT env:staging';

      beforeAll(async () => {
        await storeTraces(Object.values(traces));
        await eventually(async () => expect(names(await store.searchTraces(window))).toEqual(all));
      });

      it("finds exactly the trace matching every clause of the issue's example", async () => {
        await eventually(async () => {
          expect(await find(ISSUE_QUERY)).toEqual(['match']);
          // The same with implicit AND and the short NOT.
          expect(await find('service:checkout duration>200ms http.status_code:500 -env:staging')).toEqual(['match']);
          // Each clause on its own, so every fixture fails the one it was built to fail.
          expect(await find('service:checkout')).toEqual(['match', 'ok200', 'orphan', 'short', 'staging']);
          expect(await find('duration>200ms')).toEqual(['match', 'noCheckout', 'ok200', 'orphan', 'staging']);
          expect(await find('http.status_code:500')).toEqual(['match', 'noCheckout', 'short', 'staging']);
          expect(await find('NOT env:staging')).toEqual(['match', 'noCheckout', 'ok200', 'orphan', 'short']);
          expect(await find(ISSUE_QUERY.replace('duration>200ms', 'duration>=200ms'))).toEqual(['match', 'short']);
        });
      });

      it('evaluates OR, NOT and parentheses with NOT before AND before OR', async () => {
        await eventually(async () => {
          expect(await find('service:cart OR duration<=200ms')).toEqual(['noCheckout', 'short']);
          // AND binds tighter: cart OR (≤ 200 ms AND status 200), and short has status 500.
          expect(await find('service:cart OR duration<=200ms http.status_code:200')).toEqual(['noCheckout']);
          expect(await find('(service:cart OR duration<=200ms) http.status_code:500')).toEqual(['noCheckout', 'short']);
          expect(await find('NOT (service:cart OR service:payments)')).toEqual(['ok200', 'short', 'staging']);
          expect(await find('NOT service:cart OR service:payments')).toEqual(['match', 'ok200', 'orphan', 'short', 'staging']);
          expect(await find('-service:web')).toEqual(['orphan']);
          expect(await find('NOT NOT service:cart')).toEqual(['noCheckout']);
          expect(await find('service:web && !(http.status_code:500 || env:staging)')).toEqual(['ok200']);
          expect(await find('(service:cart OR service:payments) AND (error:true OR spans:2)')).toEqual(['match', 'noCheckout', 'orphan']);
        });
      });

      it('matches wildcards on service, operation and tag values (whole value, case-sensitive)', async () => {
        await eventually(async () => {
          expect(await find('service:check*')).toEqual(['match', 'ok200', 'orphan', 'short', 'staging']);
          expect(await find('service:?art')).toEqual(['noCheckout']);
          expect(await find('service:*ay*')).toEqual(['match', 'orphan']);
          expect(await find('service:check')).toEqual([]);
          expect(await find('service:Check*')).toEqual([]);
          expect(await find('operation:aud?t')).toEqual(['staging']);
          expect(await find('operation:cha*')).toEqual(['match', 'orphan']);
          expect(await find('operation:POST\\ /ca*')).toEqual(['noCheckout']);
          expect(await find('operation:"POST /checkout"')).toEqual(['match', 'ok200', 'orphan', 'short', 'staging']);
          // Quoted values are literal: no operation is named "POST*".
          expect(await find('operation:"POST*"')).toEqual([]);
          expect(await find('http.status_code:5*')).toEqual(['match', 'noCheckout', 'orphan', 'short', 'staging']);
          expect(await find('http.status_code:5?3')).toEqual(['orphan']);
          expect(await find('env:stag*')).toEqual(['staging']);
          expect(await find('env:*')).toEqual(['match', 'noCheckout', 'ok200', 'short', 'staging']);
        });
      });

      it('finds tag existence (key:*), flags, errors, the root and span counts', async () => {
        const { match } = traces;
        await eventually(async () => {
          expect(await find('customer.id:*')).toEqual(['match']);
          expect(await find('NOT env:*')).toEqual(['orphan']);
          expect(await find('customer:*')).toEqual([]);
          expect(await find('flag:orphans')).toEqual(['orphan']);
          expect(await find('flag:skew_adjusted OR flag:truncated')).toEqual([]);
          expect(await find('error:true')).toEqual(['match', 'orphan']);
          expect(await find('error:false')).toEqual(['noCheckout', 'ok200', 'short', 'staging']);
          expect(await find('errors>=1 service:web')).toEqual(['match']);
          expect(await find('rootService:web')).toEqual(['match', 'noCheckout', 'ok200', 'short', 'staging']);
          expect(await find('rootService:""')).toEqual(['orphan']);
          expect(await find('rootService:checkout')).toEqual([]);
          expect(await find('rootOperation:"GET /cart" AND spans>2')).toEqual(['match', 'staging']);
          expect(await find('spans>2')).toEqual(['match', 'staging']);
          expect(await find('spans:2')).toEqual(['noCheckout', 'ok200', 'orphan', 'short']);
          expect(await find('spans<=2 duration>200ms')).toEqual(['noCheckout', 'ok200', 'orphan']);
          expect(await find('depth>=2')).toEqual(['match', 'staging']);
          expect(await find(`traceId:${match.traceId.toUpperCase()}`)).toEqual(['match']);
          expect(await find(`start>=${Math.floor(traces.orphan.spans[0].startTimeUs / 1000)}`)).toEqual(['orphan']);
        });
      });

      it('ANDs the query with the other filters, the time range, the sort and the limit', async () => {
        const { match, orphan, short } = traces;
        await eventually(async () => {
          expect(await find(ISSUE_QUERY, { service: 'payments' })).toEqual(['match']);
          expect(await find(ISSUE_QUERY, { service: 'web', operation: 'GET /cart' })).toEqual(['match']);
          expect(await find(ISSUE_QUERY, { service: 'cart' })).toEqual([]);
          expect(await find(ISSUE_QUERY, { errorsOnly: true, tags: { 'customer.id': 'c-42' } })).toEqual(['match']);
          expect(await find(ISSUE_QUERY, { tags: { env: 'staging' } })).toEqual([]);
          expect(await find(ISSUE_QUERY, { maxDurationUs: 300 * MS_US - 1 })).toEqual([]);
          expect(await find(ISSUE_QUERY, { minDurationUs: 300 * MS_US, maxDurationUs: 300 * MS_US })).toEqual(['match']);
          expect(await find(ISSUE_QUERY, { startUs: match.spans[0].startTimeUs + 1 })).toEqual([]);
          expect(await find('flag:orphans', { service: 'checkout' })).toEqual(['orphan']);
          expect(await find('flag:orphans', { service: 'web' })).toEqual([]);
          expect(await find('service:check* OR service:cart', { errorsOnly: true })).toEqual(['match', 'orphan']);
          const shortestFirst = await store.searchTraces({ ...window, query: parseTraceQuery('service:check*'), sort: 'shortest', limit: 2 });
          expect(shortestFirst.map((summary) => summary.traceId)).toEqual([short.traceId, orphan.traceId]);
          const newestFirst = await store.searchTraces({ ...window, query: parseTraceQuery('error:true'), limit: 1 });
          expect(newestFirst.map((summary) => summary.traceId)).toEqual([orphan.traceId]);
        });
      });
    });

    describe('listServices and listOperations', () => {
      const windowStart = midnightDaysAgoUs(18) + 6 * HOUR_US;
      const windowEnd = windowStart + HOUR_US;
      const range = { startUs: windowStart, endUs: windowEnd };
      const span = (service: string, operation: string) => ({ service, operation });
      const first = chainTrace({
        startTimeUs: windowStart + 10 * MINUTE_US,
        durationUs: 10 * MS_US,
        spans: [span('web', 'GET /'), span('orders', 'POST /orders'), span('orders', 'GET /orders')],
      });
      const second = chainTrace({
        startTimeUs: windowStart + 50 * MINUTE_US,
        durationUs: 10 * MS_US,
        // `web.v2` and an orders operation named like a web one: listOperations('web') must take neither.
        spans: [span('web', 'GET /health'), span('web.v2', 'GET /v2'), span('orders', 'web'), span('payments', 'charge')],
      });
      const before = chainTrace({ startTimeUs: windowStart - 10 * MINUTE_US, durationUs: 10 * MS_US, spans: [span('legacy', 'old'), span('orders', 'DELETE /orders')] });
      const after = chainTrace({ startTimeUs: windowEnd + 10 * MINUTE_US, durationUs: 10 * MS_US, spans: [span('late', 'new'), span('web', 'GET /late')] });

      beforeAll(async () => {
        await storeTraces([first, second, before, after]);
        await eventually(async () => expect(await store.searchTraces({ startUs: windowStart - HOUR_US, endUs: windowEnd + HOUR_US, limit: 10 })).toHaveLength(4));
      });

      it('lists the services of the range only, sorted', async () => {
        await eventually(async () => {
          expect(await store.listServices(range)).toEqual(['orders', 'payments', 'web', 'web.v2']);
          expect(await store.listServices({ startUs: windowStart - HOUR_US, endUs: windowEnd + HOUR_US })).toEqual(['late', 'legacy', 'orders', 'payments', 'web', 'web.v2']);
          // Both bounds are inclusive.
          expect(await store.listServices({ startUs: first.spans[0].startTimeUs, endUs: first.spans[0].startTimeUs })).toEqual(['orders', 'web']);
          expect(await store.listServices({ startUs: windowStart + 11 * MINUTE_US, endUs: windowEnd })).toEqual(['orders', 'payments', 'web', 'web.v2']);
          expect(await store.listServices({ startUs: windowStart + 11 * MINUTE_US, endUs: windowStart + 49 * MINUTE_US })).toEqual([]);
        });
      });

      it('lists the operations of one service in the range, sorted', async () => {
        await eventually(async () => {
          expect(await store.listOperations('orders', range)).toEqual(['GET /orders', 'POST /orders', 'web']);
          expect(await store.listOperations('web', range)).toEqual(['GET /', 'GET /health']);
          expect(await store.listOperations('web.v2', range)).toEqual(['GET /v2']);
          expect(await store.listOperations('payments', range)).toEqual(['charge']);
          expect(await store.listOperations('legacy', range)).toEqual([]);
          expect(await store.listOperations('no-such-service', range)).toEqual([]);
          expect(await store.listOperations('orders', { startUs: windowStart - HOUR_US, endUs: windowEnd })).toEqual(['DELETE /orders', 'GET /orders', 'POST /orders', 'web']);
          expect(await store.listOperations('web', { startUs: second.spans[0].startTimeUs, endUs: windowEnd + HOUR_US })).toEqual(['GET /health', 'GET /late']);
        });
      });
    });

    it('keeps a trace crossing UTC midnight whole when its later spans come in a second write', async () => {
      const midnight = midnightDaysAgoUs(20);
      // Root first (day before midnight), children later; and the other way round.
      const rootFirst = threeServiceTrace({ startTimeUs: midnight - 1_000 });
      const rootLast = threeServiceTrace({ startTimeUs: midnight - 2_000 });
      expect(rootFirst.spans.slice(1).every((span) => span.startTimeUs >= midnight)).toBe(true);
      expect(rootLast.spans.slice(1).every((span) => span.startTimeUs >= midnight)).toBe(true);
      expect(await store.writeSpans([rootFirst.spans[0], ...rootLast.spans.slice(1)])).toEqual({ failures: [] });
      expect(await store.writeSpans([...rootFirst.spans.slice(1), rootLast.spans[0]])).toEqual({ failures: [] });
      const states = [stateOf(rootFirst.spans), stateOf(rootLast.spans)];
      expect(await store.saveSummaryStates(states)).toEqual({ failures: [] });
      // Located by a span of the other day than the one the trace was placed in.
      const loaded = await store.loadSummaryStates([
        { traceId: rootFirst.traceId, startTimeUs: rootFirst.spans[4].startTimeUs },
        { traceId: rootLast.traceId, startTimeUs: rootLast.spans[0].startTimeUs },
      ]);
      expect(loaded.get(rootFirst.traceId)).toEqual(states[0]);
      expect(loaded.get(rootLast.traceId)).toEqual(states[1]);

      await eventually(async () => {
        expect(await store.getTraceSpans(rootFirst.traceId)).toEqual([...rootFirst.spans].sort(byStartThenId));
        expect(await store.getTraceSpans(rootLast.traceId)).toEqual([...rootLast.spans].sort(byStartThenId));
        const found = await store.searchTraces({ startUs: midnight - HOUR_US, endUs: midnight + HOUR_US, limit: 10 });
        expect(found.map((summary) => summary.traceId)).toEqual([rootFirst.traceId, rootLast.traceId]);
        expect(found).toEqual(states.map((state) => state.summary));
      });
    });

    describe('deleteBefore (retention)', () => {
      // Far in the past, so no other group's window is touched by the cutoffs below.
      const day42 = midnightDaysAgoUs(42);
      const day41 = midnightDaysAgoUs(41);
      const day40 = midnightDaysAgoUs(40);
      const everything = { startUs: day42 - HOUR_US, endUs: day40 + DAY_US, limit: 100 };
      const old = threeServiceTrace({ startTimeUs: day42 + 12 * HOUR_US });
      const middle = threeServiceTrace({ startTimeUs: day41 + 12 * HOUR_US });
      const recent = threeServiceTrace({ startTimeUs: day40 + 12 * HOUR_US });
      // Cross midnight; each belongs to the day of the earliest span of its first write (root first, or children first).
      const oldCrossing = threeServiceTrace({ startTimeUs: day41 - 1_000 });
      const middleCrossing = threeServiceTrace({ startTimeUs: day40 - 1_000 });
      const recentLateRoot = threeServiceTrace({ startTimeUs: day40 - 2_000 });
      const all = [old, middle, recent, oldCrossing, middleCrossing, recentLateRoot];

      const expectGone = async (traces: typeof all) => {
        for (const trace of traces) {
          expect({ traceId: trace.traceId, spans: await store.getTraceSpans(trace.traceId) }).toEqual({ traceId: trace.traceId, spans: [] });
        }
        const states = await store.loadSummaryStates(traces.map((trace) => ({ traceId: trace.traceId, startTimeUs: trace.spans[0].startTimeUs })));
        expect([...states.keys()]).toEqual([]);
      };
      const expectKept = async (traces: typeof all) => {
        for (const trace of traces) expect(sortedById(await store.getTraceSpans(trace.traceId))).toEqual(sortedById(trace.spans));
        const states = await store.loadSummaryStates(traces.map((trace) => ({ traceId: trace.traceId, startTimeUs: trace.spans[0].startTimeUs })));
        for (const trace of traces) expect(states.get(trace.traceId)).toEqual(stateOf(trace.spans));
      };
      const searched = async () => (await store.searchTraces(everything)).map((summary) => summary.traceId).sort();

      beforeAll(async () => {
        expect(await store.writeSpans([...old.spans, ...middle.spans, ...recent.spans, oldCrossing.spans[0], middleCrossing.spans[0], ...recentLateRoot.spans.slice(1)])).toEqual({
          failures: [],
        });
        expect(await store.writeSpans([...oldCrossing.spans.slice(1), ...middleCrossing.spans.slice(1), recentLateRoot.spans[0]])).toEqual({ failures: [] });
        expect(await store.saveSummaryStates(all.map((trace) => stateOf(trace.spans)))).toEqual({ failures: [] });
        await eventually(async () => {
          expect(await searched()).toEqual(byTraceId(...all));
          await expectKept(all);
        });
      });

      it('deletes nothing when no day ended before the cutoff', async () => {
        expect(await store.deleteBefore(day42)).toEqual([]);
        expect(await store.deleteBefore(day42 + 23 * HOUR_US)).toEqual([]);
        await eventually(async () => expect(await searched()).toEqual(byTraceId(...all)));
        await expectKept(all);
      });

      it('deletes whole days that ended at or before the cutoff, with every trace placed in them', async () => {
        // Noon of day 41: day 42 ended before it, day 41 did not.
        expect((await store.deleteBefore(day41 + 12 * HOUR_US)).length).toBeGreaterThan(0);
        await eventually(async () => expect(await searched()).toEqual(byTraceId(middle, recent, middleCrossing, recentLateRoot)));
        await expectGone([old, oldCrossing]);
        await expectKept([middle, recent, middleCrossing, recentLateRoot]);
        expect(await store.deleteBefore(day41 + 12 * HOUR_US)).toEqual([]);

        // Exactly the end of day 41: it ended at the cutoff, so it goes too; recentLateRoot starts in day 41 but lives in day 40.
        expect((await store.deleteBefore(day40)).length).toBeGreaterThan(0);
        await eventually(async () => expect(await searched()).toEqual(byTraceId(recent, recentLateRoot)));
        await expectGone([old, oldCrossing, middle, middleCrossing]);
        await expectKept([recent, recentLateRoot]);
        expect(await store.deleteBefore(day40)).toEqual([]);
        // Writes of other groups (3–20 days ago) are untouched.
        expect((await store.searchTraces({ startUs: midnightDaysAgoUs(21), endUs: Date.now() * 1000, limit: 1 })).length).toBe(1);
      });
    });
  });
}
