import { MemoryMessageBus, MemoryTraceStore } from '@skein/adapter-memory';
import { DEAD_LETTER_TOPIC, decodeDeadLetter, encodeSpanMessages } from '@skein/contracts';
import {
  BusBatch,
  BusRecord,
  Span,
  SpanWriter,
  StoreFailure,
  StoreWriteResult,
  SummaryCreateResult,
  TimeRange,
  TraceLocator,
  TraceSearch,
  TraceStore,
  TraceSummary,
  TraceSummaryState,
  collectingSpanWriter,
  spanDocumentId,
} from '@skein/domain';
import { eventually, threeServiceTrace } from '@skein/testing';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { Histogram, Registry } from 'prom-client';
import { BackpressureError, RetryableStoreError, SpanAssemblerOptions, SpanAssemblerService } from './span-assembler.service';

const TOPIC = 'skein.spans.v1';
/** T0_US: 2026-01-15T10:20:00Z in microseconds. */
const T0_US = Date.UTC(2026, 0, 15, 10, 20) * 1000;
const IDLE_MS = 5_000;

/** histogram: the observation count and sum of an unlabelled histogram in a registry. */
async function histogram(registry: Registry, name: string): Promise<{ count: number; sum: number }> {
  const metric = registry.getSingleMetric(name);
  if (!(metric instanceof Histogram)) throw new Error(`metric ${name} is not a registered histogram`);
  const { values } = await metric.get();
  const of = (suffix: string) => values.find((v) => v.metricName === `${name}_${suffix}`)?.value ?? NaN;
  return { count: of('count'), sum: of('sum') };
}

/** counter: the value of a counter (with exactly these labels) in a registry; 0 when never incremented. */
async function counter(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`metric ${name} is not registered`);
  const { values } = await metric.get();
  const wanted = Object.entries(labels);
  const value = values.find((v) => Object.keys(v.labels).length === wanted.length && wanted.every(([k, l]) => v.labels[k] === l));
  return value?.value ?? 0;
}

/** batchOf: a consumed batch of span messages (one per trace, as the gateway writes them) from `firstOffset`. */
function batchOf(spans: Span[], firstOffset = 0, partition = 0, sampled = true): BusBatch {
  return { topic: TOPIC, partition, records: encodeSpanMessages(spans, sampled).map((m, i) => ({ offset: firstOffset + i, key: m.key, value: m.value })) };
}

/** FlakyTraceStore: the in-memory trace store, refusing the ids listed in `refuseSpans` / `refuseSummaries` as a real store would. */
/** storeCallGate: holds a store call open (`await hold()`) until `release()`; `started` resolves once it is held. */
function storeCallGate(): { hold(): Promise<void>; started: Promise<void>; release(): void } {
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  return {
    hold: () => {
      markStarted();
      return released;
    },
    started,
    release,
  };
}

/** collectGarbage: a full garbage collection once the current job has ended (a WeakRef keeps its target until then). */
async function collectGarbage(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  await new Promise((resolve) => setImmediate(resolve));
  gc();
}

class FlakyTraceStore implements TraceStore {
  readonly refuseSpans = new Map<string, Omit<StoreFailure, 'id'>>();
  readonly refuseSummaries = new Map<string, Omit<StoreFailure, 'id'>>();
  /** down: every call throws, as a client does while Elasticsearch is unreachable. */
  down = false;
  readonly deleteCalls: number[] = [];
  /** loadedTraces: the trace ids of every loadSummaryStates call, in order. */
  readonly loadedTraces: string[] = [];
  constructor(readonly inner: MemoryTraceStore) {}
  ensureSchema(): Promise<void> {
    return this.inner.ensureSchema();
  }
  spanWriter(): SpanWriter {
    return collectingSpanWriter((spans) => this.writeSpans(spans));
  }
  async writeSpans(spans: Span[]): Promise<StoreWriteResult> {
    this.assertUp();
    const failures = spans.flatMap((span) => {
      const refusal = this.refuseSpans.get(spanDocumentId(span));
      return refusal === undefined ? [] : [{ id: spanDocumentId(span), ...refusal }];
    });
    await this.inner.writeSpans(spans.filter((span) => !this.refuseSpans.has(spanDocumentId(span))));
    return { failures };
  }
  loadSummaryStates(traces: TraceLocator[]): Promise<Map<string, TraceSummaryState>> {
    this.assertUp();
    this.loadedTraces.push(...traces.map((trace) => trace.traceId));
    return this.inner.loadSummaryStates(traces);
  }
  async saveSummaryStates(states: TraceSummaryState[]): Promise<StoreWriteResult> {
    const { failures, accepted } = this.refusedSummaries(states);
    await this.inner.saveSummaryStates(accepted);
    return { failures };
  }
  async createSummaryStates(states: TraceSummaryState[]): Promise<SummaryCreateResult> {
    const { failures, accepted } = this.refusedSummaries(states);
    const created = await this.inner.createSummaryStates(accepted);
    return { failures: [...failures, ...created.failures], existing: created.existing };
  }
  private refusedSummaries(states: TraceSummaryState[]): { failures: StoreFailure[]; accepted: TraceSummaryState[] } {
    this.assertUp();
    const failures = states.flatMap((state) => {
      const refusal = this.refuseSummaries.get(state.summary.traceId);
      return refusal === undefined ? [] : [{ id: state.summary.traceId, ...refusal }];
    });
    return { failures, accepted: states.filter((state) => !this.refuseSummaries.has(state.summary.traceId)) };
  }
  getTraceSpans(traceId: string): Promise<Span[]> {
    return this.inner.getTraceSpans(traceId);
  }
  searchTraces(search: TraceSearch): Promise<TraceSummary[]> {
    return this.inner.searchTraces(search);
  }
  listServices(range: TimeRange): Promise<string[]> {
    return this.inner.listServices(range);
  }
  listOperations(service: string, range: TimeRange): Promise<string[]> {
    return this.inner.listOperations(service, range);
  }
  async deleteBefore(cutoffUs: number): Promise<string[]> {
    this.deleteCalls.push(cutoffUs);
    return this.inner.deleteBefore(cutoffUs);
  }
  ready(): Promise<boolean> {
    return this.inner.ready();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  private assertUp(): void {
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:9200');
  }
}

describe('SpanAssemblerService', () => {
  let memory: MemoryTraceStore;
  let store: FlakyTraceStore;
  let registry: Registry;
  let bus: MemoryMessageBus;
  let nowMs: number;

  function assembler(overrides: Partial<SpanAssemblerOptions> = {}): SpanAssemblerService {
    return new SpanAssemblerService({
      bus,
      store,
      spansTopic: TOPIC,
      deadLetterTopic: DEAD_LETTER_TOPIC,
      groupId: 'skein.span-assembler.v1',
      registry,
      logger: pino({ level: 'silent' }),
      limits: { idleMs: IDLE_MS },
      now: () => nowMs,
      ...overrides,
    });
  }

  async function summaryOf(traceId: string): Promise<TraceSummary | undefined> {
    return (await memory.loadSummaryStates([{ traceId, startTimeUs: T0_US }])).get(traceId)?.summary;
  }

  async function deadLetters(): Promise<BusRecord[]> {
    const records: BusRecord[] = [];
    const subscription = await bus.subscribe({ topic: DEAD_LETTER_TOPIC, groupId: `dlq-reader-${Math.random()}` }, async (batch) => {
      records.push(...batch.records);
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await subscription.stop();
    return records;
  }

  /** idle: lets the idle period pass and runs the flusher once. */
  async function idle(service: SpanAssemblerService, ms = IDLE_MS): Promise<void> {
    nowMs += ms;
    await service.flushDue(false);
  }

  const sortById = (spans: Span[]) => [...spans].sort((a, b) => a.spanId.localeCompare(b.spanId));

  beforeEach(async () => {
    memory = new MemoryTraceStore();
    store = new FlakyTraceStore(memory);
    registry = new Registry();
    bus = new MemoryMessageBus();
    await bus.ensureTopics([{ topic: TOPIC }, { topic: DEAD_LETTER_TOPIC }]);
    nowMs = Date.UTC(2026, 0, 15, 10, 21);
  });

  afterEach(async () => {
    await bus.close();
  });

  it('stores spans at once and writes one summary per trace only after the idle period', async () => {
    const a = threeServiceTrace({ startTimeUs: T0_US });
    const b = threeServiceTrace({ startTimeUs: T0_US + 5_000_000, paymentError: true });
    const service = assembler();
    const outcome = await service.handleBatch(batchOf([...a.spans, ...b.spans], 10));

    expect(sortById(await memory.getTraceSpans(a.traceId))).toEqual(sortById(a.spans));
    expect(sortById(await memory.getTraceSpans(b.traceId))).toEqual(sortById(b.spans));
    // Open: nothing summarised, and the records may not be committed yet.
    expect(await summaryOf(a.traceId)).toBeUndefined();
    expect(outcome).toEqual({ commitUpTo: 10 });
    expect(service.openTraces).toBe(2);

    await idle(service, IDLE_MS - 1);
    expect(await summaryOf(a.traceId)).toBeUndefined();
    await idle(service, 1);
    expect(service.openTraces).toBe(0);
    expect(await summaryOf(a.traceId)).toMatchObject({
      traceId: a.traceId,
      startTimeUs: T0_US,
      durationUs: 30_000,
      rootService: 'api-gateway',
      rootOperation: 'POST /checkout',
      spanCount: 5,
      errorCount: 0,
      services: ['api-gateway', 'order-service', 'payment-service'],
      maxDepth: 4,
      orphanCount: 0,
      truncated: false,
      flags: [],
      tags: ['http.method=POST', 'http.status_code=200'],
    });
    expect((await summaryOf(b.traceId))?.errorCount).toBe(2);
    expect(await counter(registry, 'skein_assembler_summaries_written_total')).toBe(2);
    expect(await counter(registry, 'skein_assembler_spans_written_total')).toBe(10);
    // Every stored batch is observed: its spans, and the store's time for it.
    const batches = await histogram(registry, 'skein_assembler_batch_spans');
    expect(batches.sum).toBe(10);
    expect(batches.count).toBeGreaterThan(0);
    expect((await histogram(registry, 'skein_assembler_batch_store_seconds')).count).toBe(batches.count);
    // New traces: their summaries are created without reading the store first.
    expect(store.loadedTraces).toEqual([]);
  });

  it("lets each record's decoded spans go once they are in the store's writer, before the store's round trip", async () => {
    const added: WeakRef<Span>[] = [];
    const write = storeCallGate();
    // A writer that, like the Elasticsearch one, keeps nothing of a span it was given (here: a weak reference).
    store.spanWriter = () => ({
      add: (span: Span) => void added.push(new WeakRef(span)),
      get size() {
        return added.length;
      },
      write: async () => {
        await write.hold();
        return { failures: [] };
      },
    });
    const traces = [1, 2, 3].map((i) => threeServiceTrace({ startTimeUs: T0_US + i }));
    const handled = assembler().handleBatch(batchOf(traces.flatMap((trace) => trace.spans)));
    await write.started;
    await collectGarbage();
    // One record per trace; the first record's decoded spans are garbage while the store works. (The last
    // record's may still sit in a stale interpreter register, so only the first is asserted.)
    expect(added).toHaveLength(15);
    expect(added.slice(0, 5).filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    write.release();
    await handled;
  });

  it("lets the summary states go once the store has taken them, before the store's round trip", async () => {
    const given: WeakRef<TraceSummaryState>[] = [];
    const create = storeCallGate();
    // A store that, like the Elasticsearch one, keeps only what it sent of the states (here: their trace ids).
    store.createSummaryStates = (states: TraceSummaryState[]) => {
      for (const state of states) given.push(new WeakRef(state));
      const ids = states.map((state) => state.summary.traceId);
      return (async () => {
        await create.hold();
        await memory.createSummaryStates(ids.map((traceId) => ({ summary: { traceId } as TraceSummary, spans: [] })));
        return { failures: [], existing: [] };
      })();
    };
    const service = assembler();
    await service.handleBatch(batchOf([1, 2, 3].flatMap((i) => threeServiceTrace({ startTimeUs: T0_US + i }).spans)));
    nowMs += IDLE_MS;
    const flushed = service.flushDue(false);
    await create.started;
    await collectGarbage();
    expect(given).toHaveLength(3);
    expect(given.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    create.release();
    await flushed;
    expect(service.openTraces).toBe(0);
  });

  it('the idle clock restarts with every span of the trace', async () => {
    const a = threeServiceTrace({ startTimeUs: T0_US });
    const service = assembler();
    await service.handleBatch(batchOf(a.spans.slice(0, 2), 0));
    nowMs += 4_000;
    await service.handleBatch(batchOf(a.spans.slice(2), 1));
    await idle(service, 4_000);
    expect(await summaryOf(a.traceId)).toBeUndefined();
    await idle(service, 1_000);
    expect((await summaryOf(a.traceId))?.spanCount).toBe(5);
    // One write for the whole trace, not one per message.
    expect(await counter(registry, 'skein_assembler_summaries_written_total')).toBe(1);
  });

  it('a late span updates the summary in place: one document, new counts', async () => {
    const a = threeServiceTrace({ startTimeUs: T0_US });
    const [root, ...rest] = a.spans;
    const late = rest.pop() as Span;
    const service = assembler();
    await service.handleBatch(batchOf([root, ...rest], 0));
    await idle(service);
    expect(await summaryOf(a.traceId)).toMatchObject({ spanCount: 4, maxDepth: 3 });

    await service.handleBatch(batchOf([late], 1));
    await idle(service);
    expect(await summaryOf(a.traceId)).toMatchObject({ spanCount: 5, maxDepth: 4, services: ['api-gateway', 'order-service', 'payment-service'] });
    // Only the second summary, refused by create as existing, read the stored one to merge with.
    expect(store.loadedTraces).toEqual([a.traceId]);
    const found = await memory.searchTraces({ startUs: T0_US - 1, endUs: T0_US + 1, limit: 10 });
    expect(found.map((summary) => summary.traceId)).toEqual([a.traceId]);
  });

  it('replaying a batch (at-least-once) changes nothing that is stored', async () => {
    const a = threeServiceTrace({ startTimeUs: T0_US });
    const service = assembler();
    await service.handleBatch(batchOf(a.spans));
    await idle(service);
    const first = await summaryOf(a.traceId);
    await service.handleBatch(batchOf(a.spans));
    await idle(service);
    expect(await summaryOf(a.traceId)).toEqual(first);
    expect(await memory.getTraceSpans(a.traceId)).toHaveLength(5);
  });

  it('commits a partition only up to its oldest record whose summary is not durable', async () => {
    const a = threeServiceTrace({ startTimeUs: T0_US });
    const b = threeServiceTrace({ startTimeUs: T0_US });
    const service = assembler();
    expect(await service.handleBatch(batchOf(a.spans, 100))).toEqual({ commitUpTo: 100 });
    nowMs += 3_000;
    expect(await service.handleBatch(batchOf(b.spans, 101))).toEqual({ commitUpTo: 100 });
    // a is idle, b is not: a's record is released, b's holds the watermark.
    await idle(service, 2_000);
    expect(await summaryOf(a.traceId)).toBeDefined();
    expect(await summaryOf(b.traceId)).toBeUndefined();
    expect(await service.handleBatch(batchOf([], 102))).toEqual({ commitUpTo: 101 });
    await idle(service, 3_000);
    expect(await service.handleBatch({ topic: TOPIC, partition: 0, records: [] })).toEqual({ commitUpTo: 102 });
  });

  it('does not store spans of unsampled messages (metrics only), and counts them', async () => {
    const a = threeServiceTrace({ startTimeUs: T0_US });
    const service = assembler();
    expect(await service.handleBatch(batchOf(a.spans, 0, 0, false))).toEqual({ commitUpTo: 1 });
    await idle(service);
    expect(await memory.getTraceSpans(a.traceId)).toEqual([]);
    expect(await summaryOf(a.traceId)).toBeUndefined();
    expect(await counter(registry, 'skein_assembler_spans_unsampled_total')).toBe(5);
  });

  it('skips and counts invalid records and stores the valid ones of the batch', async () => {
    const a = threeServiceTrace({ startTimeUs: T0_US });
    const batch = batchOf(a.spans, 0);
    batch.records.unshift({ offset: -1, key: 'x', value: Buffer.from('{"v":1,"spans":[{"traceId":"nope"}]}') });
    batch.records.unshift({ offset: -2, key: 'x', value: Buffer.from('not json') });
    await assembler().handleBatch(batch);
    expect(await memory.getTraceSpans(a.traceId)).toHaveLength(5);
    expect(await counter(registry, 'skein_assembler_messages_rejected_total', { reason: 'invalid_message' })).toBe(2);
  });

  it('throws when the store refuses a span for now (429), opening no trace, so the batch is redelivered', async () => {
    const a = threeServiceTrace({ startTimeUs: T0_US });
    store.refuseSpans.set(spanDocumentId(a.spans[2]), { reason: 'es_rejected_execution_exception: queue full', retryable: true });
    const service = assembler();
    await expect(service.handleBatch(batchOf(a.spans))).rejects.toThrow(RetryableStoreError);
    expect(service.openTraces).toBe(0);
    store.refuseSpans.clear();
    await service.handleBatch(batchOf(a.spans));
    await idle(service);
    expect((await summaryOf(a.traceId))?.spanCount).toBe(5);
  });

  it('sends a span refused permanently to the dead-letter topic with the reason and the original span', async () => {
    const a = threeServiceTrace({ startTimeUs: T0_US });
    // A tag only the refused span has: the summary (of the stored spans) must not list it.
    const bad = { ...a.spans[3], tags: { ...a.spans[3].tags, 'only.refused': 'yes' } };
    a.spans[3] = bad;
    store.refuseSpans.set(spanDocumentId(bad), { reason: 'mapper_parsing_exception: failed to parse field [tags.x]', retryable: false });
    const service = assembler();
    expect(await service.handleBatch(batchOf(a.spans, 7, 2))).toEqual({ commitUpTo: 7 });
    await idle(service);

    const letters = (await deadLetters()).map((record) => ({ key: record.key, message: decodeDeadLetter(record.value) }));
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ key: a.traceId, message: { reason: 'mapper_parsing_exception: failed to parse field [tags.x]', source: { topic: TOPIC, partition: 2, offset: 7 }, span: bad } });
    expect(await memory.getTraceSpans(a.traceId)).toHaveLength(4);
    const summary = await summaryOf(a.traceId);
    expect(summary?.spanCount).toBe(4);
    expect(summary?.tags).not.toContain('only.refused=yes');
    const storedTag = Object.entries(a.spans[0].tags)[0];
    expect(summary?.tags).toContain(`${storedTag?.[0]}=${storedTag?.[1]}`);
    expect(await counter(registry, 'skein_assembler_spans_dead_lettered_total')).toBe(1);
    // Dead-lettered is not dropped: no drop reason counts anything.
    const drops = (await registry.getSingleMetric('skein_assembler_spans_dropped_total')?.get())?.values ?? [];
    expect(drops.filter((value) => value.value !== 0)).toEqual([]);
  });

  it('throws when the dead-letter topic cannot take the refused span, so nothing is lost', async () => {
    const a = threeServiceTrace({ startTimeUs: T0_US });
    store.refuseSpans.set(spanDocumentId(a.spans[0]), { reason: 'mapper_parsing_exception', retryable: false });
    const service = assembler({ deadLetterTopic: 'no-such-topic' });
    await expect(service.handleBatch(batchOf(a.spans))).rejects.toThrow(/no-such-topic/);
    expect(service.openTraces).toBe(0);
  });

  it('keeps a trace open while the store is down and writes its summary once it is back', async () => {
    const a = threeServiceTrace({ startTimeUs: T0_US });
    const service = assembler();
    await service.handleBatch(batchOf(a.spans, 0));
    store.down = true;
    await idle(service);
    expect(service.openTraces).toBe(1);
    expect(await counter(registry, 'skein_assembler_summary_failures_total', { outcome: 'retried' })).toBe(1);
    store.down = false;
    // The flusher backs off after a failure; the next attempt comes after the backoff.
    await idle(service, 10_000);
    expect(service.openTraces).toBe(0);
    expect((await summaryOf(a.traceId))?.spanCount).toBe(5);
  });

  it('keeps a summary refused for now (retryable) open and counts a permanent refusal as dropped', async () => {
    const a = threeServiceTrace({ startTimeUs: T0_US });
    const b = threeServiceTrace({ startTimeUs: T0_US });
    store.refuseSummaries.set(a.traceId, { reason: 'status 429', retryable: true });
    store.refuseSummaries.set(b.traceId, { reason: 'mapper_parsing_exception', retryable: false });
    const service = assembler();
    await service.handleBatch(batchOf([...a.spans, ...b.spans]));
    await idle(service);
    expect(service.openTraces).toBe(1);
    expect(await counter(registry, 'skein_assembler_spans_dropped_total', { reason: 'summary_rejected' })).toBe(1);
    store.refuseSummaries.clear();
    await idle(service, 10_000);
    expect(service.openTraces).toBe(0);
    expect(await summaryOf(a.traceId)).toBeDefined();
  });

  it('marks the summary truncated beyond maxSpansPerTrace, still storing every span', async () => {
    const a = threeServiceTrace({ startTimeUs: T0_US });
    const service = assembler({ limits: { idleMs: IDLE_MS, maxSpansPerTrace: 3 } });
    await service.handleBatch(batchOf(a.spans));
    await idle(service);
    expect(await memory.getTraceSpans(a.traceId)).toHaveLength(5);
    expect(await summaryOf(a.traceId)).toMatchObject({ spanCount: 3, truncated: true, flags: expect.arrayContaining(['truncated']) });
  });

  it('applies backpressure when maxOpenTraces is reached: waits, then gives the batch back', async () => {
    const a = threeServiceTrace({ startTimeUs: T0_US });
    const b = threeServiceTrace({ startTimeUs: T0_US });
    const service = assembler({ limits: { idleMs: IDLE_MS, maxOpenTraces: 1 }, backpressureWaitMs: 300, now: Date.now });
    await service.handleBatch(batchOf(a.spans, 0));
    await expect(service.handleBatch(batchOf(b.spans, 1))).rejects.toThrow(BackpressureError);
    expect(await memory.getTraceSpans(b.traceId)).toEqual([]);
    expect(await counter(registry, 'skein_assembler_backpressure_waits_total')).toBe(1);
  });

  it('consumes the topic, summarises after the idle period, and on stop writes open summaries and commits everything', async () => {
    const a = threeServiceTrace({ startTimeUs: T0_US });
    const b = threeServiceTrace({ startTimeUs: T0_US });
    const service = assembler({ limits: { idleMs: 200 }, flushIntervalMs: 20, now: Date.now });
    await service.start();
    await bus.publish(TOPIC, encodeSpanMessages(a.spans));
    await eventually(async () => expect((await summaryOf(a.traceId))?.spanCount).toBe(5), 5_000);
    // b is still open (idle period of 60 s) when the service stops: stop writes it and commits.
    registry = new Registry();
    const slow = assembler({ limits: { idleMs: 60_000 }, flushIntervalMs: 20, now: Date.now, groupId: 'slow-group' });
    await slow.start();
    await bus.publish(TOPIC, encodeSpanMessages(b.spans));
    await eventually(async () => expect(slow.openTraces).toBeGreaterThan(0), 5_000);
    expect(await summaryOf(b.traceId)).toBeUndefined();
    await slow.stop();
    expect((await summaryOf(b.traceId))?.spanCount).toBe(5);
    await service.stop();
    const lag = await bus.subscribe({ topic: TOPIC, groupId: 'slow-group' }, async () => undefined);
    expect(await lag.lag()).toBe(0);
    await lag.stop();
  });

  it('runs the retention job at start with the cutoff of the configured days', async () => {
    const service = assembler({ retentionDays: 3, now: () => Date.UTC(2026, 0, 15, 10, 21) });
    await service.start();
    await eventually(async () => expect(store.deleteCalls).toEqual([Date.UTC(2026, 0, 12) * 1000]));
    await service.stop();
  });
});
