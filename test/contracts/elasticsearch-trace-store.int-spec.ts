import { Client } from '@elastic/elasticsearch';
import { ElasticsearchTraceStore } from '@skein/adapter-elasticsearch';
import { dailyIndexName } from '@skein/contracts';
import { Span, mergeTraceSummary } from '@skein/domain';
import { eventually, infraFromEnv, randomSpanId, threeServiceTrace, traceStoreContract, uniqueName } from '@skein/testing';

// Project-level testTimeout is not honoured by jest 29 inside `projects`, so set it here: polls wait for refreshes.
jest.setTimeout(120_000);

const DAY_US = 86_400_000_000;

function newStore(indexPrefix: string, node = infraFromEnv().elasticsearchUrl): ElasticsearchTraceStore {
  return new ElasticsearchTraceStore({ node, indexPrefix, requestTimeout: 10_000 });
}

traceStoreContract('ElasticsearchTraceStore', async () => {
  const store = newStore(uniqueName('t'));
  return { store, cleanup: () => store.deleteAllIndices() };
});

describe('ElasticsearchTraceStore (Elasticsearch specifics)', () => {
  const prefix = uniqueName('tes');
  let store: ElasticsearchTraceStore;

  beforeAll(async () => {
    store = newStore(prefix);
    await store.ensureSchema();
  });

  afterAll(async () => {
    try {
      await store.deleteAllIndices();
    } finally {
      await store.close();
    }
  });

  it('reports a tag that conflicts with the mapping as a permanent failure and stores the rest of the bulk', async () => {
    const trace = threeServiceTrace();
    const first: Span = { ...trace.spans[0], tags: { a: 'x' } };
    expect(await store.writeSpans([first])).toEqual({ failures: [] });

    // `tags.a` is now a keyword; `a.b` needs `tags.a` to be an object.
    const conflicting: Span = { ...trace.spans[1], tags: { 'a.b': 'y' } };
    const others = trace.spans.slice(2);
    const result = await store.writeSpans([others[0], conflicting, ...others.slice(1)]);
    expect(result.failures).toHaveLength(1);
    const [failure] = result.failures;
    expect(failure.id).toBe(`${trace.traceId}-${conflicting.spanId}`);
    expect(failure.retryable).toBe(false);
    expect(failure.reason).toMatch(/tags\.a/);

    await store.refresh();
    const stored = await store.getTraceSpans(trace.traceId);
    expect(stored.map((span) => span.spanId).sort()).toEqual([first, ...others].map((span) => span.spanId).sort());
  });

  it('a fresh store finds a summary stored under the neighbouring day and writes it back there, never duplicating it', async () => {
    const midnight = Math.floor(Date.now() / 86_400_000) * DAY_US - 2 * DAY_US;
    const trace = threeServiceTrace({ startTimeUs: midnight - 1_000 });
    const [root, ...rest] = trace.spans;
    const early = mergeTraceSummary(undefined, rest);
    expect(await store.saveSummaryStates([early])).toEqual({ failures: [] });

    // A second process (no remembered placement) receives the root, which starts the day before.
    const other = newStore(prefix);
    try {
      const loaded = await other.loadSummaryStates([{ traceId: trace.traceId, startTimeUs: root.startTimeUs }]);
      expect(loaded.get(trace.traceId)).toEqual(early);
      const full = mergeTraceSummary(loaded.get(trace.traceId), [root]);
      expect(dailyIndexName(prefix, 'traces', full.summary.startTimeUs)).not.toBe(dailyIndexName(prefix, 'traces', early.summary.startTimeUs));
      expect(await other.saveSummaryStates([full])).toEqual({ failures: [] });

      await other.refresh();
      const found = await other.searchTraces({ startUs: midnight - DAY_US, endUs: midnight + DAY_US, limit: 100 });
      expect(found.filter((summary) => summary.traceId === trace.traceId)).toEqual([full.summary]);
      // The copy lives in the day of the first save, not in the root's day.
      const raw = new Client({ node: infraFromEnv().elasticsearchUrl });
      try {
        const copy = await raw.get({ index: dailyIndexName(prefix, 'traces', early.summary.startTimeUs), id: trace.traceId });
        expect(copy._source).toMatchObject({ startTimeUs: root.startTimeUs, spanCount: 5 });
      } finally {
        await raw.close();
      }
    } finally {
      await other.close();
    }
  });

  it('writes each span to the daily index of its own start, under the id traceId-spanId', async () => {
    const dayStart = Math.floor(Date.now() / 86_400_000) * DAY_US - 10 * DAY_US;
    const trace = threeServiceTrace({ startTimeUs: dayStart + 1 });
    const late: Span = { ...trace.spans[4], spanId: randomSpanId(), startTimeUs: dayStart + DAY_US + 1 };
    expect(await store.writeSpans([...trace.spans, late])).toEqual({ failures: [] });

    const raw = new Client({ node: infraFromEnv().elasticsearchUrl });
    try {
      const first = await raw.get<Record<string, unknown>>({ index: dailyIndexName(prefix, 'spans', dayStart), id: `${trace.traceId}-${trace.spans[0].spanId}` });
      expect(first._source).toMatchObject({ startTime: new Date(Math.floor((dayStart + 1) / 1000)).toISOString(), startTimeUs: dayStart + 1 });
      const second = await raw.get({ index: dailyIndexName(prefix, 'spans', dayStart + DAY_US), id: `${trace.traceId}-${late.spanId}` });
      expect(second.found).toBe(true);
      const mapping = await raw.indices.getMapping({ index: dailyIndexName(prefix, 'spans', dayStart) });
      expect(JSON.stringify(mapping)).toContain('"status_code":{"type":"keyword"');
    } finally {
      await raw.close();
    }
    await eventually(async () => expect(await store.getTraceSpans(trace.traceId)).toHaveLength(6));
  });

  it('rejects every call against an unreachable Elasticsearch instead of reporting success', async () => {
    const dead = new ElasticsearchTraceStore({ node: 'http://127.0.0.1:1', indexPrefix: uniqueName('dead'), requestTimeout: 2_000, maxRetries: 1 });
    try {
      const trace = threeServiceTrace();
      await expect(dead.writeSpans(trace.spans)).rejects.toThrow();
      await expect(dead.saveSummaryStates([mergeTraceSummary(undefined, trace.spans)])).rejects.toThrow();
      await expect(dead.loadSummaryStates([{ traceId: trace.traceId, startTimeUs: trace.spans[0].startTimeUs }])).rejects.toThrow();
      await expect(dead.getTraceSpans(trace.traceId)).rejects.toThrow();
      expect(await dead.ready()).toBe(false);
    } finally {
      await dead.close();
    }
  });
});
