import { Client } from '@elastic/elasticsearch';
import { ElasticsearchTraceStore } from '@skein/adapter-elasticsearch';
import { dayIndexName, indexDay, indexPattern, traceDaysIndexName, traceDaysPattern } from '@skein/contracts';
import { Span, mergeTraceSummary } from '@skein/domain';
import { eventually, infraFromEnv, randomSpanId, threeServiceTrace, traceStoreContract, uniqueName } from '@skein/testing';

// Project-level testTimeout is not honoured by jest 29 inside `projects`, so set it here: polls wait for refreshes.
jest.setTimeout(120_000);

const DAY_US = 86_400_000_000;

function newStore(indexPrefix: string, node = infraFromEnv().elasticsearchUrl): ElasticsearchTraceStore {
  return new ElasticsearchTraceStore({ node, indexPrefix, requestTimeout: 10_000 });
}

/** recordingStore: a store on its own client (nothing cached), and the decoded path of every request that client sends. */
function recordingStore(indexPrefix: string): { store: ElasticsearchTraceStore; paths: string[] } {
  const client = new Client({ node: infraFromEnv().elasticsearchUrl });
  const paths: string[] = [];
  client.diagnostic.on('request', (_err, event) => {
    if (event?.meta.request.params.path !== undefined) paths.push(decodeURIComponent(event.meta.request.params.path));
  });
  return { store: new ElasticsearchTraceStore({ client, indexPrefix }), paths };
}

traceStoreContract('ElasticsearchTraceStore', async () => {
  const store = newStore(uniqueName('t'));
  return { store, cleanup: () => store.deleteAllIndices() };
});

describe('ElasticsearchTraceStore (Elasticsearch specifics)', () => {
  const prefix = uniqueName('tes');
  let store: ElasticsearchTraceStore;
  let raw: Client;

  beforeAll(async () => {
    store = newStore(prefix);
    raw = new Client({ node: infraFromEnv().elasticsearchUrl });
    await store.ensureSchema();
  });

  afterAll(async () => {
    try {
      await store.deleteAllIndices();
    } finally {
      await store.close();
      await raw.close();
    }
  });

  const todayUs = () => Math.floor(Date.now() / 86_400_000) * DAY_US;

  it('stores tags whose keys nest (`a` and `a.b`) side by side: tags are not split into objects', async () => {
    const trace = threeServiceTrace();
    const first: Span = { ...trace.spans[0], tags: { a: 'x' } };
    const nested: Span = { ...trace.spans[1], tags: { 'a.b': 'y', 'http.status_code': '200' } };
    expect(await store.writeSpans([first])).toEqual({ failures: [] });
    expect(await store.writeSpans([nested, ...trace.spans.slice(2)])).toEqual({ failures: [] });
    await store.refresh();
    expect(await store.getTraceSpans(trace.traceId)).toHaveLength(5);
  });

  it('reports a span that conflicts with the index mapping as a permanent failure and stores the rest of the bulk', async () => {
    const dayStart = todayUs() - 12 * DAY_US;
    // An index created by hand (or by an older template) where a tag is numeric: "abc" cannot go there.
    await raw.indices.create({
      index: dayIndexName(prefix, 'spans', indexDay(dayStart)),
      mappings: { properties: { tags: { type: 'object', dynamic: true, subobjects: false, properties: { 'http.status_code': { type: 'long' } } } } },
    });
    const trace = threeServiceTrace({ startTimeUs: dayStart + 1_000 });
    const conflicting: Span = { ...trace.spans[1], tags: { 'http.status_code': 'abc' } };
    const result = await store.writeSpans([trace.spans[0], conflicting, ...trace.spans.slice(2)]);
    expect(result.failures).toHaveLength(1);
    const [failure] = result.failures;
    expect(failure.id).toBe(`${trace.traceId}-${conflicting.spanId}`);
    expect(failure.retryable).toBe(false);
    expect(failure.reason).toMatch(/http\.status_code/);
    await store.refresh();
    expect((await store.getTraceSpans(trace.traceId)).map((span) => span.spanId).sort()).toEqual(trace.spans.filter((s) => s !== trace.spans[1]).map((span) => span.spanId).sort());
  });

  it('keeps a whole trace in the day of its first spans, also when later spans start the next day', async () => {
    const dayStart = todayUs() - 10 * DAY_US;
    const trace = threeServiceTrace({ startTimeUs: dayStart + DAY_US - 10_000 });
    expect(await store.writeSpans(trace.spans.slice(0, 2))).toEqual({ failures: [] });
    const late: Span = { ...trace.spans[4], spanId: randomSpanId(), startTimeUs: dayStart + DAY_US + 1 };
    expect(await store.writeSpans([...trace.spans.slice(2), late])).toEqual({ failures: [] });

    const day = indexDay(dayStart);
    const first = await raw.get<Record<string, unknown>>({ index: dayIndexName(prefix, 'spans', day), id: `${trace.traceId}-${trace.spans[0].spanId}` });
    expect(first._source).toMatchObject({ startTime: new Date(Math.floor(trace.spans[0].startTimeUs / 1000)).toISOString(), startTimeUs: trace.spans[0].startTimeUs });
    const next = await raw.get({ index: dayIndexName(prefix, 'spans', day), id: `${trace.traceId}-${late.spanId}` });
    expect(next.found).toBe(true);
    expect(await raw.indices.exists({ index: dayIndexName(prefix, 'spans', indexDay(dayStart + DAY_US)) })).toBe(false);
    const lookup = await raw.get<{ day: string }>({ index: traceDaysIndexName(prefix, day), id: trace.traceId });
    expect(lookup._source).toEqual({ day });
    const mapping = await raw.indices.getMapping({ index: dayIndexName(prefix, 'spans', day) });
    expect(JSON.stringify(mapping)).toContain('"http.status_code":{"type":"keyword"');
    await eventually(async () => expect(await store.getTraceSpans(trace.traceId)).toHaveLength(6));
  });

  it('keeps a span\'s given JSON text as its document (plus startTime) instead of serializing the span again', async () => {
    const trace = threeServiceTrace();
    const [given, serialized] = trace.spans;
    // Members in reverse order: only the given text has them so, a serialized span has the object's order.
    const text = JSON.stringify(Object.fromEntries(Object.entries(given as Span).reverse()));
    const bytes = Buffer.from(`{"v":2}\n${text}`);
    expect(await store.writeSpans([given as Span, serialized as Span], [{ bytes, start: bytes.length - Buffer.byteLength(text), end: bytes.length }, undefined])).toEqual({ failures: [] });
    const index = dayIndexName(prefix, 'spans', indexDay((given as Span).startTimeUs));
    const source = async (span: Span) => (await raw.get<Record<string, unknown>>({ index, id: `${span.traceId}-${span.spanId}` }))._source as Record<string, unknown>;
    const givenSource = await source(given as Span);
    expect(Object.keys(givenSource)).toEqual([...Object.keys(given as Span).reverse(), 'startTime']);
    expect(givenSource).toEqual({ ...given, startTime: new Date((given as Span).startTimeUs / 1000).toISOString() });
    expect(Object.keys(await source(serialized as Span))).toEqual([...Object.keys(serialized as Span), 'startTime']);
  });

  it('uses bulk body buffers again once their requests are over, without changing what any request stored', async () => {
    // One kept buffer, so every bulk after the first (span and summary bodies alike) reuses one another's memory.
    const pooled = new ElasticsearchTraceStore({ node: infraFromEnv().elasticsearchUrl, indexPrefix: prefix, bodyBuffersKept: 1 });
    try {
      const traces = Array.from({ length: 8 }, (_, i) => threeServiceTrace({ paymentError: i % 2 === 0 }));
      const write = async (trace: (typeof traces)[number]) => {
        const writer = pooled.spanWriter(trace.spans.length);
        for (const span of trace.spans) writer.add(span, undefined);
        expect(await writer.write()).toEqual({ failures: [] });
        expect(await pooled.createSummaryStates([mergeTraceSummary(undefined, trace.spans)])).toEqual({ failures: [], existing: [] });
      };
      await Promise.all(traces.slice(0, 4).map(write)); // bulks in flight at once: each needs a buffer of its own
      for (const trace of traces.slice(4)) await write(trace); // one after another: each reuses the last one's
      await pooled.refresh();
      const bySpanId = (a: Span, b: Span) => a.spanId.localeCompare(b.spanId);
      for (const trace of traces) {
        expect([...(await pooled.getTraceSpans(trace.traceId))].sort(bySpanId)).toEqual([...trace.spans].sort(bySpanId));
        const summary = (await pooled.loadSummaryStates([{ traceId: trace.traceId, startTimeUs: trace.spans[0].startTimeUs }])).get(trace.traceId);
        expect(summary?.summary).toEqual(mergeTraceSummary(undefined, trace.spans).summary);
      }
    } finally {
      await pooled.close();
    }
  });

  it('a lookup by trace id reads the trace-day lookup, then only that one day\'s span index', async () => {
    const trace = threeServiceTrace({ startTimeUs: todayUs() - 3 * DAY_US + 3_600_000_000 });
    // Neighbouring days hold data too, so a wildcard search would have something to touch.
    const before = threeServiceTrace({ startTimeUs: todayUs() - 4 * DAY_US + 3_600_000_000 });
    const after = threeServiceTrace({ startTimeUs: todayUs() - 2 * DAY_US + 3_600_000_000 });
    expect(await store.writeSpans([...before.spans, ...trace.spans, ...after.spans])).toEqual({ failures: [] });
    await store.refresh();

    const { store: fresh, paths } = recordingStore(prefix);
    try {
      expect(await fresh.getTraceSpans(trace.traceId)).toHaveLength(5);
      const day = indexDay(trace.spans[0].startTimeUs);
      expect(paths).toEqual([`/${traceDaysPattern(prefix)}/_search`, `/${dayIndexName(prefix, 'spans', day)}/_search`]);
      expect(paths.join(' ')).not.toContain(indexPattern(prefix, 'spans'));
    } finally {
      await fresh.close();
    }
  });

  it('places a new trace with one lookup create (no read first), and a trace recorded elsewhere by reading its lookup back after the 409', async () => {
    // Mid-month, so each trace's lookup can only be in one monthly index.
    const now = new Date();
    const noon15th = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 15, 12) * 1000;
    const known = threeServiceTrace({ startTimeUs: noon15th });
    expect(await store.writeSpans(known.spans.slice(0, 3))).toEqual({ failures: [] });

    const { store: other, paths } = recordingStore(prefix);
    try {
      const fresh = threeServiceTrace({ startTimeUs: noon15th + 1_000_000 });
      expect(await other.writeSpans(fresh.spans)).toEqual({ failures: [] });
      expect(paths).toEqual(['/_bulk', '/_bulk']);

      // A later span of `known`, an hour after its start (still the same day), reaches a store that never saw it.
      paths.length = 0;
      const late: Span = { ...known.spans[4], spanId: randomSpanId(), startTimeUs: noon15th + 3_600_000_000 };
      expect(await other.writeSpans([late])).toEqual({ failures: [] });
      expect(paths).toEqual(['/_bulk', '/_mget', '/_bulk']);
      const day = indexDay(noon15th);
      expect((await raw.get({ index: dayIndexName(prefix, 'spans', day), id: `${known.traceId}-${late.spanId}` })).found).toBe(true);
      const lookup = await raw.get<{ day: string }>({ index: traceDaysIndexName(prefix, day), id: known.traceId });
      expect(lookup._source).toEqual({ day });

      // Now cached: no lookup request at all.
      paths.length = 0;
      expect(await other.writeSpans([{ ...late, spanId: randomSpanId() }])).toEqual({ failures: [] });
      expect(paths).toEqual(['/_bulk']);
    } finally {
      await other.close();
    }
  });

  it('a fresh store (nothing cached) finds a trace\'s day and writes its summary back to the same index', async () => {
    const midnight = todayUs() - 2 * DAY_US;
    const trace = threeServiceTrace({ startTimeUs: midnight - 1_000 });
    const [root, ...rest] = trace.spans;
    expect(await store.writeSpans(rest)).toEqual({ failures: [] });
    const early = mergeTraceSummary(undefined, rest);
    expect(await store.saveSummaryStates([early])).toEqual({ failures: [] });

    // A second process receives the root, which starts the day before the trace's recorded day.
    const other = newStore(prefix);
    try {
      expect(await other.writeSpans([root])).toEqual({ failures: [] });
      const loaded = await other.loadSummaryStates([{ traceId: trace.traceId, startTimeUs: root.startTimeUs }]);
      expect(loaded.get(trace.traceId)).toEqual(early);
      const full = mergeTraceSummary(loaded.get(trace.traceId), [root]);
      expect(await other.saveSummaryStates([full])).toEqual({ failures: [] });
      await other.refresh();
      const found = await other.searchTraces({ startUs: midnight - DAY_US, endUs: midnight + DAY_US, limit: 100 });
      expect(found.filter((summary) => summary.traceId === trace.traceId)).toEqual([full.summary]);
      const copy = await raw.get({ index: dayIndexName(prefix, 'traces', indexDay(rest[0].startTimeUs)), id: trace.traceId });
      expect(copy._source).toMatchObject({ startTimeUs: root.startTimeUs, spanCount: 5 });
      expect(await other.getTraceSpans(trace.traceId)).toHaveLength(5);
    } finally {
      await other.close();
    }
  });

  it('stores a summary\'s compact spans as a span table, and still merges into a summary stored as a list of spans (the format before it)', async () => {
    const dayStart = todayUs() - 3 * DAY_US;
    const trace = threeServiceTrace({ startTimeUs: dayStart + 5_000 });
    const [root, ...rest] = trace.spans;
    expect(await store.writeSpans(trace.spans)).toEqual({ failures: [] });
    const early = mergeTraceSummary(undefined, rest);
    expect(await store.saveSummaryStates([early])).toEqual({ failures: [] });
    const index = dayIndexName(prefix, 'traces', indexDay(rest[0].startTimeUs));
    const stored = await raw.get<{ spans: { table: number; rows: unknown[] } }>({ index, id: trace.traceId });
    expect(stored._source?.spans).toMatchObject({ table: 1 });
    expect(stored._source?.spans.rows).toHaveLength(rest.length);

    // The same summary as the assembler wrote it before span tables: `spans` a list of compact span objects.
    const { startTime } = stored._source as unknown as { startTime: string };
    await raw.index({ index, id: trace.traceId, refresh: true, document: { ...early.summary, startTime, spans: early.spans } });
    const loaded = await store.loadSummaryStates([{ traceId: trace.traceId, startTimeUs: rest[0].startTimeUs }]);
    expect(loaded.get(trace.traceId)).toEqual(early);
    const full = mergeTraceSummary(loaded.get(trace.traceId), [root]);
    expect(full.summary.spanCount).toBe(trace.spans.length);
    expect(await store.saveSummaryStates([full])).toEqual({ failures: [] });
    expect((await store.loadSummaryStates([{ traceId: trace.traceId, startTimeUs: root.startTimeUs }])).get(trace.traceId)).toEqual(full);

    // A table this reader cannot read is an error naming the trace, never an empty summary that would overwrite it.
    await raw.index({ index, id: trace.traceId, refresh: true, document: { ...early.summary, startTime, spans: { table: 9, rows: [] } } });
    await expect(store.loadSummaryStates([{ traceId: trace.traceId, startTimeUs: root.startTimeUs }])).rejects.toThrow(`trace summary ${trace.traceId}: its span table has version 9`);
  });

  it('retries bulk items Elasticsearch refuses with 429 and succeeds once it accepts them again', async () => {
    const dayStart = todayUs() - 20 * DAY_US;
    const warm = threeServiceTrace({ startTimeUs: dayStart + 1_000 });
    expect(await store.writeSpans(warm.spans)).toEqual({ failures: [] });
    const index = dayIndexName(prefix, 'spans', indexDay(dayStart));
    const trace = threeServiceTrace({ startTimeUs: dayStart + 2_000 });
    // The block ES sets itself at the flood-stage disk watermark; writes get 429 TOO_MANY_REQUESTS.
    await raw.indices.putSettings({ index, settings: { 'index.blocks.read_only_allow_delete': true } });
    const retrying = new ElasticsearchTraceStore({ node: infraFromEnv().elasticsearchUrl, indexPrefix: prefix, bulkRetries: 6, bulkRetryBackoffMs: 100 });
    try {
      const stillBlocked = await newStoreWithoutRetries(prefix).then(async (once) => {
        try {
          return await once.writeSpans(threeServiceTrace({ startTimeUs: dayStart + 3_000 }).spans);
        } finally {
          await once.close();
        }
      });
      expect(stillBlocked.failures).toHaveLength(5);
      expect(stillBlocked.failures.every((failure) => failure.retryable && /429|cluster_block/.test(failure.reason))).toBe(true);

      const write = retrying.writeSpans(trace.spans);
      await new Promise((resolve) => setTimeout(resolve, 400));
      await raw.indices.putSettings({ index, settings: { 'index.blocks.read_only_allow_delete': null } });
      expect(await write).toEqual({ failures: [] });
    } finally {
      await raw.indices.putSettings({ index, settings: { 'index.blocks.read_only_allow_delete': null } });
      await retrying.close();
    }
  });

  it('retention deletes the daily indices of expired days (and expired lookup months) and nothing newer', async () => {
    const retentionPrefix = uniqueName('ret');
    const retention = newStore(retentionPrefix);
    try {
      await retention.ensureSchema();
      const old = Date.UTC(2025, 0, 30, 12) * 1000;
      const kept = Date.UTC(2025, 1, 2, 12) * 1000;
      const oldTrace = threeServiceTrace({ startTimeUs: old });
      const keptTrace = threeServiceTrace({ startTimeUs: kept });
      expect(await retention.writeSpans([...oldTrace.spans, ...keptTrace.spans])).toEqual({ failures: [] });
      expect(await retention.saveSummaryStates([mergeTraceSummary(undefined, oldTrace.spans), mergeTraceSummary(undefined, keptTrace.spans)])).toEqual({ failures: [] });

      // Cutoff 2025-02-01T00:00Z: January's days and January's lookup month have ended; February stays.
      const deleted = await retention.deleteBefore(Date.UTC(2025, 1, 1) * 1000);
      expect(deleted).toEqual([`${retentionPrefix}-spans-2025-01-30`, `${retentionPrefix}-trace-days-2025-01`, `${retentionPrefix}-traces-2025-01-30`]);
      for (const index of deleted) expect(await raw.indices.exists({ index })).toBe(false);
      for (const index of [`${retentionPrefix}-spans-2025-02-02`, `${retentionPrefix}-traces-2025-02-02`, `${retentionPrefix}-trace-days-2025-02`]) expect(await raw.indices.exists({ index })).toBe(true);
      await retention.refresh();
      expect(await retention.getTraceSpans(oldTrace.traceId)).toEqual([]);
      expect(await retention.getTraceSpans(keptTrace.traceId)).toHaveLength(5);
      expect(await retention.deleteBefore(Date.UTC(2025, 1, 1) * 1000)).toEqual([]);
    } finally {
      await retention.deleteAllIndices();
      await retention.close();
    }
  });

  it('rejects every call against an unreachable Elasticsearch instead of reporting success', async () => {
    const dead = new ElasticsearchTraceStore({ node: 'http://127.0.0.1:1', indexPrefix: uniqueName('dead'), requestTimeout: 2_000, maxRetries: 1 });
    try {
      const trace = threeServiceTrace();
      await expect(dead.writeSpans(trace.spans)).rejects.toThrow();
      await expect(dead.saveSummaryStates([mergeTraceSummary(undefined, trace.spans)])).rejects.toThrow();
      await expect(dead.loadSummaryStates([{ traceId: trace.traceId, startTimeUs: trace.spans[0].startTimeUs }])).rejects.toThrow();
      await expect(dead.getTraceSpans(trace.traceId)).rejects.toThrow();
      await expect(dead.deleteBefore(0)).rejects.toThrow();
      expect(await dead.ready()).toBe(false);
    } finally {
      await dead.close();
    }
  });
});

async function newStoreWithoutRetries(prefix: string): Promise<ElasticsearchTraceStore> {
  return new ElasticsearchTraceStore({ node: infraFromEnv().elasticsearchUrl, indexPrefix: prefix, bulkRetries: 0 });
}
