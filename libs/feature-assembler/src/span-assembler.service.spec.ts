import { MemoryMessageBus, MemoryTraceStore } from '@skein/adapter-memory';
import { encodeSpanMessages } from '@skein/contracts';
import {
  BusBatch,
  Span,
  StoreFailure,
  StoreWriteResult,
  TraceLocator,
  TraceSearch,
  TraceStore,
  TraceSummary,
  TraceSummaryState,
  spanDocumentId,
} from '@skein/domain';
import { eventually, threeServiceTrace, uniqueName } from '@skein/testing';
import pino from 'pino';
import { Registry } from 'prom-client';
import { RetryableStoreError, SpanAssemblerOptions, SpanAssemblerService } from './span-assembler.service';

const TOPIC = 'skein.spans.v1';
/** T0_US: 2026-01-15T10:20:00Z in microseconds. */
const T0_US = Date.UTC(2026, 0, 15, 10, 20) * 1000;

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
class FlakyTraceStore implements TraceStore {
  readonly refuseSpans = new Map<string, Omit<StoreFailure, 'id'>>();
  readonly refuseSummaries = new Map<string, Omit<StoreFailure, 'id'>>();
  constructor(readonly inner: MemoryTraceStore) {}
  ensureSchema(): Promise<void> {
    return this.inner.ensureSchema();
  }
  async writeSpans(spans: Span[]): Promise<StoreWriteResult> {
    const failures = spans.flatMap((span) => {
      const refusal = this.refuseSpans.get(spanDocumentId(span));
      return refusal === undefined ? [] : [{ id: spanDocumentId(span), ...refusal }];
    });
    await this.inner.writeSpans(spans.filter((span) => !this.refuseSpans.has(spanDocumentId(span))));
    return { failures };
  }
  loadSummaryStates(traces: TraceLocator[]): Promise<Map<string, TraceSummaryState>> {
    return this.inner.loadSummaryStates(traces);
  }
  async saveSummaryStates(states: TraceSummaryState[]): Promise<StoreWriteResult> {
    const failures = states.flatMap((state) => {
      const refusal = this.refuseSummaries.get(state.summary.traceId);
      return refusal === undefined ? [] : [{ id: state.summary.traceId, ...refusal }];
    });
    await this.inner.saveSummaryStates(states.filter((state) => !this.refuseSummaries.has(state.summary.traceId)));
    return { failures };
  }
  getTraceSpans(traceId: string): Promise<Span[]> {
    return this.inner.getTraceSpans(traceId);
  }
  searchTraces(search: TraceSearch): Promise<TraceSummary[]> {
    return this.inner.searchTraces(search);
  }
  ready(): Promise<boolean> {
    return this.inner.ready();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('SpanAssemblerService', () => {
  let memory: MemoryTraceStore;
  let store: FlakyTraceStore;
  let registry: Registry;

  function assembler(overrides: Partial<SpanAssemblerOptions> = {}): SpanAssemblerService {
    return new SpanAssemblerService({ bus: new MemoryMessageBus(), store, spansTopic: TOPIC, groupId: 'skein.span-assembler.v1', registry, logger: pino({ level: 'silent' }), ...overrides });
  }

  async function summaryOf(traceId: string): Promise<TraceSummary | undefined> {
    return (await memory.loadSummaryStates([{ traceId, startTimeUs: T0_US }])).get(traceId)?.summary;
  }

  const sortById = (spans: Span[]) => [...spans].sort((a, b) => a.spanId.localeCompare(b.spanId));

  beforeEach(() => {
    memory = new MemoryTraceStore();
    store = new FlakyTraceStore(memory);
    registry = new Registry();
  });

  it('stores every span and creates one summary per trace', async () => {
    const a = threeServiceTrace({ startTimeUs: T0_US });
    const b = threeServiceTrace({ startTimeUs: T0_US + 5_000_000, paymentError: true });
    await assembler().handleBatch(batchOf([...a.spans, ...b.spans]));

    expect(sortById(await memory.getTraceSpans(a.traceId))).toEqual(sortById(a.spans));
    expect(sortById(await memory.getTraceSpans(b.traceId))).toEqual(sortById(b.spans));
    expect(await summaryOf(a.traceId)).toEqual({
      traceId: a.traceId,
      startTimeUs: T0_US,
      durationUs: 30_000,
      rootService: 'api-gateway',
      rootOperation: 'POST /checkout',
      spanCount: 5,
      errorCount: 0,
      services: ['api-gateway', 'order-service', 'payment-service'],
      operations: ['api-gateway:POST /checkout', 'api-gateway:POST /orders', 'order-service:POST /orders', 'order-service:charge', 'payment-service:charge'],
      maxDepth: 4,
      orphanCount: 0,
      truncated: false,
    });
    expect(await summaryOf(b.traceId)).toMatchObject({ startTimeUs: T0_US + 5_000_000, spanCount: 5, errorCount: 2 });
    expect(await counter(registry, 'skein_assembler_spans_received_total')).toBe(10);
    expect(await counter(registry, 'skein_assembler_spans_written_total')).toBe(10);
    expect(await counter(registry, 'skein_assembler_summaries_written_total')).toBe(2);
    expect(await counter(registry, 'skein_assembler_spans_dropped_total', { reason: 'store_rejected' })).toBe(0);
    expect((await registry.getSingleMetric('skein_assembler_messages_rejected_total')?.get())?.values).toEqual([]);
  });

  it('merges two messages of the same trace in one batch into one summary', async () => {
    const trace = threeServiceTrace({ startTimeUs: T0_US });
    const batch = batchOf(trace.spans.slice(0, 2));
    batch.records.push(...batchOf(trace.spans.slice(2), 1).records);
    await assembler().handleBatch(batch);
    expect(await summaryOf(trace.traceId)).toMatchObject({ spanCount: 5, maxDepth: 4, durationUs: 30_000 });
    expect(await counter(registry, 'skein_assembler_summaries_written_total')).toBe(1);
  });

  it('replaying the same batch changes nothing that is stored', async () => {
    const trace = threeServiceTrace({ startTimeUs: T0_US });
    const service = assembler();
    await service.handleBatch(batchOf(trace.spans));
    const spansBefore = await memory.getTraceSpans(trace.traceId);
    const stateBefore = await memory.loadSummaryStates([{ traceId: trace.traceId, startTimeUs: T0_US }]);

    await service.handleBatch(batchOf(trace.spans));

    expect(await memory.getTraceSpans(trace.traceId)).toEqual(spansBefore);
    expect(await memory.loadSummaryStates([{ traceId: trace.traceId, startTimeUs: T0_US }])).toEqual(stateBefore);
    expect(await memory.searchTraces({ startUs: 0, endUs: Number.MAX_SAFE_INTEGER, limit: 100 })).toHaveLength(1);
  });

  it('a late span updates the summary: span count, duration and depth', async () => {
    const trace = threeServiceTrace({ startTimeUs: T0_US });
    const service = assembler();
    await service.handleBatch(batchOf(trace.spans));
    expect(await summaryOf(trace.traceId)).toMatchObject({ spanCount: 5, durationUs: 30_000, maxDepth: 4 });

    const late: Span = {
      traceId: trace.traceId,
      spanId: 'feedfacecafebeef',
      parentSpanId: trace.ids.paymentServer,
      service: 'payment-service',
      operation: 'SELECT ledger',
      kind: 'client',
      startTimeUs: T0_US + 7_000,
      durationUs: 50_000,
      error: true,
      tags: {},
    };
    await service.handleBatch(batchOf([late], 1));

    expect(await memory.getTraceSpans(trace.traceId)).toHaveLength(6);
    expect(await summaryOf(trace.traceId)).toMatchObject({
      spanCount: 6,
      durationUs: 57_000,
      maxDepth: 5,
      errorCount: 1,
      rootService: 'api-gateway',
      operations: ['api-gateway:POST /checkout', 'api-gateway:POST /orders', 'order-service:POST /orders', 'order-service:charge', 'payment-service:SELECT ledger', 'payment-service:charge'],
    });
  });

  it('a root arriving after its children turns the orphans into one tree', async () => {
    const trace = threeServiceTrace({ startTimeUs: T0_US });
    const service = assembler();
    await service.handleBatch(batchOf(trace.spans.slice(1)));
    expect(await summaryOf(trace.traceId)).toMatchObject({ spanCount: 4, orphanCount: 1, rootService: '', rootOperation: '' });
    await service.handleBatch(batchOf(trace.spans.slice(0, 1), 1));
    expect(await summaryOf(trace.traceId)).toMatchObject({ spanCount: 5, orphanCount: 0, rootService: 'api-gateway', rootOperation: 'POST /checkout', maxDepth: 4 });
  });

  it('skips and counts invalid records, and stores the valid ones of the batch', async () => {
    const trace = threeServiceTrace({ startTimeUs: T0_US });
    const valid = batchOf(trace.spans).records[0];
    const batch: BusBatch = {
      topic: TOPIC,
      partition: 2,
      records: [
        { offset: 10, key: 'x', value: Buffer.from('not json') },
        { ...valid, offset: 11 },
        { offset: 12, key: trace.traceId, value: Buffer.from(JSON.stringify({ v: 2, traceId: trace.traceId, spans: trace.spans })) },
        { offset: 13, key: trace.traceId, value: Buffer.from(JSON.stringify({ v: 1, traceId: trace.traceId, spans: [{ ...trace.spans[0], durationUs: -1 }] })) },
      ],
    };
    await assembler().handleBatch(batch);
    expect(await memory.getTraceSpans(trace.traceId)).toHaveLength(5);
    expect(await counter(registry, 'skein_assembler_messages_rejected_total', { reason: 'invalid_message' })).toBe(3);
    expect(await counter(registry, 'skein_assembler_spans_received_total')).toBe(5);
    expect(await counter(registry, 'skein_assembler_spans_written_total')).toBe(5);
  });

  it('does not store spans of unsampled messages (metrics only), and counts them', async () => {
    const kept = threeServiceTrace({ startTimeUs: T0_US });
    const metricsOnly = threeServiceTrace({ startTimeUs: T0_US });
    const batch = batchOf(kept.spans);
    batch.records.push(...batchOf(metricsOnly.spans, 1, 0, false).records);
    await assembler().handleBatch(batch);
    expect(await memory.getTraceSpans(kept.traceId)).toHaveLength(5);
    expect(await memory.getTraceSpans(metricsOnly.traceId)).toEqual([]);
    expect(await summaryOf(metricsOnly.traceId)).toBeUndefined();
    expect(await counter(registry, 'skein_assembler_spans_unsampled_total')).toBe(5);
    expect(await counter(registry, 'skein_assembler_spans_received_total')).toBe(5);
    expect(await counter(registry, 'skein_assembler_spans_written_total')).toBe(5);
    expect(await counter(registry, 'skein_assembler_summaries_written_total')).toBe(1);
  });

  it('a batch of invalid records only is counted and stores nothing', async () => {
    await assembler().handleBatch({ topic: TOPIC, partition: 0, records: [{ offset: 0, key: undefined, value: Buffer.from('[]') }] });
    expect(await counter(registry, 'skein_assembler_messages_rejected_total', { reason: 'invalid_message' })).toBe(1);
    expect(await counter(registry, 'skein_assembler_spans_received_total')).toBe(0);
    expect(await memory.searchTraces({ startUs: 0, endUs: Number.MAX_SAFE_INTEGER, limit: 100 })).toEqual([]);
  });

  it('throws when the store refuses a span for now (retryable), so the batch is redelivered, and writes no summary', async () => {
    const trace = threeServiceTrace({ startTimeUs: T0_US });
    store.refuseSpans.set(spanDocumentId(trace.spans[2]), { reason: 'es_rejected_execution_exception', retryable: true });
    const service = assembler();

    const err = await service.handleBatch(batchOf(trace.spans)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableStoreError);
    expect((err as Error).message).toBe('1 document(s) refused for now, first: es_rejected_execution_exception');
    expect(await summaryOf(trace.traceId)).toBeUndefined();
    expect(await counter(registry, 'skein_assembler_spans_written_total')).toBe(0);
    expect(await counter(registry, 'skein_assembler_spans_dropped_total', { reason: 'store_rejected' })).toBe(0);

    // Redelivered once the store accepts again: everything lands.
    store.refuseSpans.clear();
    await service.handleBatch(batchOf(trace.spans));
    expect(await memory.getTraceSpans(trace.traceId)).toHaveLength(5);
    expect(await summaryOf(trace.traceId)).toMatchObject({ spanCount: 5 });
  });

  it('throws when the store refuses a summary for now (retryable)', async () => {
    const trace = threeServiceTrace({ startTimeUs: T0_US });
    store.refuseSummaries.set(trace.traceId, { reason: 'timeout', retryable: true });
    await expect(assembler().handleBatch(batchOf(trace.spans))).rejects.toThrow(RetryableStoreError);
    expect(await counter(registry, 'skein_assembler_summaries_written_total')).toBe(0);
  });

  it('counts a span refused permanently as dropped and stores the rest, with a summary of the stored spans', async () => {
    const trace = threeServiceTrace({ startTimeUs: T0_US });
    store.refuseSpans.set(spanDocumentId(trace.spans[4]), { reason: 'mapper_parsing_exception', retryable: false });
    await expect(assembler().handleBatch(batchOf(trace.spans))).resolves.toBeUndefined();

    expect(sortById(await memory.getTraceSpans(trace.traceId))).toEqual(sortById(trace.spans.slice(0, 4)));
    expect(await summaryOf(trace.traceId)).toMatchObject({ spanCount: 4, maxDepth: 3, services: ['api-gateway', 'order-service'] });
    expect(await counter(registry, 'skein_assembler_spans_dropped_total', { reason: 'store_rejected' })).toBe(1);
    expect(await counter(registry, 'skein_assembler_spans_received_total')).toBe(5);
    expect(await counter(registry, 'skein_assembler_spans_written_total')).toBe(4);
    expect(await counter(registry, 'skein_assembler_summaries_written_total')).toBe(1);
  });

  it('does not count a summary refused permanently as written', async () => {
    const a = threeServiceTrace({ startTimeUs: T0_US });
    const b = threeServiceTrace({ startTimeUs: T0_US });
    store.refuseSummaries.set(a.traceId, { reason: 'mapper_parsing_exception', retryable: false });
    await assembler().handleBatch(batchOf([...a.spans, ...b.spans]));
    expect(await summaryOf(a.traceId)).toBeUndefined();
    expect(await summaryOf(b.traceId)).toMatchObject({ spanCount: 5 });
    expect(await counter(registry, 'skein_assembler_summaries_written_total')).toBe(1);
    expect(await counter(registry, 'skein_assembler_spans_written_total')).toBe(10);
  });

  it('consumes the spans topic once started, counts a failed batch as a retry, and stops', async () => {
    const bus = new MemoryMessageBus({ redeliveryBackoffMs: 10 });
    const topic = uniqueName('spans');
    await bus.ensureTopics([{ topic, partitions: 1 }]);
    const trace = threeServiceTrace({ startTimeUs: T0_US });
    store.refuseSpans.set(spanDocumentId(trace.spans[0]), { reason: 'es_rejected_execution_exception', retryable: true });
    const service = assembler({ bus, spansTopic: topic });
    await service.start();
    await bus.publish(topic, encodeSpanMessages(trace.spans));
    await eventually(async () => expect(await counter(registry, 'skein_assembler_kafka_lag')).toBe(1), 2_000, 5);
    await eventually(async () => expect(await counter(registry, 'skein_assembler_batch_retries_total')).toBeGreaterThanOrEqual(1), 2_000, 5);
    store.refuseSpans.clear();
    await eventually(async () => expect(await summaryOf(trace.traceId)).toMatchObject({ spanCount: 5 }), 2_000, 5);
    await eventually(async () => expect(await counter(registry, 'skein_assembler_kafka_lag')).toBe(0), 2_000, 5);
    await service.stop();
    await bus.publish(topic, encodeSpanMessages(threeServiceTrace({ startTimeUs: T0_US }).spans));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(await counter(registry, 'skein_assembler_spans_written_total')).toBe(5);
    await bus.close();
  });
});
