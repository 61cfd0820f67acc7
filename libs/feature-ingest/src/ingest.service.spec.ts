import { MemoryMessageBus } from '@skein/adapter-memory';
import { decodeSpanMessage } from '@skein/contracts';
import { BatchRejection, BusBatchHandler, BusMessage, BusRecord, BusSubscription, DEFAULT_BATCH_LIMITS, MessageBus, Span, SubscribeOptions, TopicSpec, encodeNativeBatch } from '@skein/domain';
import { eventually, threeServiceTrace, uniqueName } from '@skein/testing';
import { Histogram, Registry } from 'prom-client';
import { BusUnavailable, IngestOptions, IngestService, Overloaded } from './ingest.service';

/** counter: the value of a counter (with exactly these labels) in a registry; 0 when never incremented. */
async function counter(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`metric ${name} is not registered`);
  const { values } = await metric.get();
  const wanted = Object.entries(labels);
  const value = values.find((v) => Object.keys(v.labels).length === wanted.length && wanted.every(([k, l]) => v.labels[k] === l));
  return value?.value ?? 0;
}

async function produceCount(registry: Registry): Promise<number> {
  const { values } = await (registry.getSingleMetric('skein_ingest_produce_seconds') as Histogram).get();
  return values.find((v) => v.metricName === 'skein_ingest_produce_seconds_count')?.value ?? 0;
}

/** SlowBus: the in-memory bus, but every publish waits until `release()`, as a Kafka that is slow to acknowledge. */
class SlowBus extends MemoryMessageBus {
  private waiting: Array<() => void> = [];
  get pending(): number {
    return this.waiting.length;
  }
  override async publish(topic: string, messages: BusMessage[]): Promise<void> {
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    await super.publish(topic, messages);
  }
  release(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}

/** RejectingBus: a MessageBus whose publish always fails, as Kafka does when no broker acknowledges. */
class RejectingBus implements MessageBus {
  publishes = 0;
  async ensureTopics(_topics: TopicSpec[]): Promise<void> {
    // nothing to create
  }
  async publish(_topic: string, _messages: BusMessage[]): Promise<void> {
    this.publishes++;
    throw new Error('KafkaJSNumberOfRetriesExceeded: broker 127.0.0.1:9092 not reachable');
  }
  async subscribe(_options: SubscribeOptions, _handler: BusBatchHandler): Promise<BusSubscription> {
    throw new Error('not used');
  }
  async ready(): Promise<boolean> {
    return false;
  }
  async close(): Promise<void> {
    // nothing to release
  }
}

describe('IngestService', () => {
  let bus: MemoryMessageBus;
  let registry: Registry;
  let topic: string;
  let consumed: Array<BusRecord & { partition: number }>;
  let subscription: BusSubscription;

  function service(overrides: Partial<IngestOptions> = {}): IngestService {
    return new IngestService({ bus, spansTopic: topic, limits: DEFAULT_BATCH_LIMITS, maxBodyBytes: 1024 * 1024, registry, ...overrides });
  }

  beforeEach(async () => {
    bus = new MemoryMessageBus();
    registry = new Registry();
    topic = uniqueName('spans');
    consumed = [];
    await bus.ensureTopics([{ topic, partitions: 3 }]);
    subscription = await bus.subscribe({ topic, groupId: uniqueName('check') }, async (batch) => {
      consumed.push(...batch.records.map((record) => ({ ...record, partition: batch.partition })));
    });
  });

  afterEach(async () => {
    await subscription.stop();
    await bus.close();
  });

  it('publishes a valid lz4 batch as one message per trace, keyed by traceId, and counts its spans', async () => {
    const a = threeServiceTrace();
    const b = threeServiceTrace({ paymentError: true });
    const spans: Span[] = [...a.spans, ...b.spans];
    const ingest = service();

    await expect(ingest.ingestNative(encodeNativeBatch(spans), 'lz4')).resolves.toMatchObject({ accepted: 10 });

    await eventually(() => expect(consumed).toHaveLength(2), 2_000, 5);
    const byKey = new Map(consumed.map((record) => [record.key, record]));
    expect([...byKey.keys()].sort()).toEqual([a.traceId, b.traceId].sort());
    for (const trace of [a, b]) {
      const decoded = decodeSpanMessage((byKey.get(trace.traceId) as BusRecord).value);
      expect(decoded).toEqual({ ok: true, message: { v: 2, traceId: trace.traceId, sampled: true, spans: trace.spans }, json: trace.spans.map(() => expect.anything()) });
    }
    expect(await counter(registry, 'skein_ingest_spans_received_total', { protocol: 'native' })).toBe(10);
    expect(await counter(registry, 'skein_ingest_spans_accepted_total', { route: 'trace' })).toBe(10);
    expect((await registry.getSingleMetric('skein_ingest_batches_rejected_total')?.get())?.values).toEqual([]);
    expect(await counter(registry, 'skein_ingest_spans_dropped_total', { reason: 'switched_off' })).toBe(0);
    expect(await produceCount(registry)).toBe(1);
  });

  it('puts the spans of one trace from one request in a single message, whatever their order in the batch', async () => {
    const a = threeServiceTrace();
    const b = threeServiceTrace();
    const interleaved = [a.spans[0], b.spans[0], a.spans[1], b.spans[1], a.spans[2], a.spans[3], a.spans[4]];
    await expect(service().ingestNative(encodeNativeBatch(interleaved), 'LZ4')).resolves.toMatchObject({ accepted: 7 });
    await eventually(() => expect(consumed).toHaveLength(2), 2_000, 5);
    const spansOf = (traceId: string) => {
      const decoded = decodeSpanMessage((consumed.find((r) => r.key === traceId) as BusRecord).value);
      return decoded.ok ? decoded.message.spans : [];
    };
    expect(spansOf(a.traceId)).toEqual(a.spans);
    expect(spansOf(b.traceId)).toEqual(b.spans.slice(0, 2));
  });

  it('sends every message of one trace to the same partition across requests', async () => {
    const trace = threeServiceTrace();
    const ingest = service();
    await ingest.ingestNative(encodeNativeBatch(trace.spans.slice(0, 2)), 'lz4');
    await ingest.ingestNative(encodeNativeBatch(trace.spans.slice(2)), 'lz4');
    await eventually(() => expect(consumed).toHaveLength(2), 2_000, 5);
    expect(consumed[0].partition).toBe(consumed[1].partition);
    expect(consumed.map((r) => r.offset)).toEqual([0, 1]);
    expect(await counter(registry, 'skein_ingest_spans_accepted_total', { route: 'trace' })).toBe(5);
  });

  it('accepts plain JSON without Content-Encoding', async () => {
    const trace = threeServiceTrace();
    await expect(service().ingestNative(Buffer.from(JSON.stringify({ spans: trace.spans })), undefined)).resolves.toMatchObject({ accepted: 5 });
    await eventually(() => expect(consumed).toHaveLength(1), 2_000, 5);
    expect(consumed[0].key).toBe(trace.traceId);
  });

  it('rejects an invalid batch with a BatchRejection naming span and field, counts it by reason, and publishes nothing', async () => {
    const trace = threeServiceTrace();
    const bad = trace.spans.map((span, index) => (index === 1 ? { ...span, traceId: 'not-hex' } : span));
    const ingest = service();

    const rejection = await ingest.ingestNative(encodeNativeBatch(bad), 'lz4').catch((err: unknown) => err);
    expect(rejection).toBeInstanceOf(BatchRejection);
    expect((rejection as BatchRejection).reason).toBe('invalid_span');
    expect((rejection as BatchRejection).violations).toEqual([{ path: 'spans[1].traceId', message: 'must be 16 or 32 hex characters' }]);

    await expect(ingest.ingestNative(Buffer.from('not an lz4 frame at all'), 'lz4')).rejects.toMatchObject({ name: 'BatchRejection', reason: 'corrupt_lz4' });
    await expect(ingest.ingestNative(Buffer.from('{"spans":'), undefined)).rejects.toMatchObject({ reason: 'invalid_json' });
    await expect(ingest.ingestNative(Buffer.from('{"spans":[]}'), undefined)).rejects.toMatchObject({ reason: 'invalid_batch' });
    await expect(ingest.ingestNative(encodeNativeBatch(trace.spans), 'gzip')).rejects.toMatchObject({ reason: 'unsupported_encoding' });

    expect(await counter(registry, 'skein_ingest_batches_rejected_total', { reason: 'invalid_span' })).toBe(1);
    expect(await counter(registry, 'skein_ingest_batches_rejected_total', { reason: 'corrupt_lz4' })).toBe(1);
    expect(await counter(registry, 'skein_ingest_batches_rejected_total', { reason: 'invalid_json' })).toBe(1);
    expect(await counter(registry, 'skein_ingest_batches_rejected_total', { reason: 'invalid_batch' })).toBe(1);
    expect(await counter(registry, 'skein_ingest_batches_rejected_total', { reason: 'unsupported_encoding' })).toBe(1);
    expect(await counter(registry, 'skein_ingest_batches_rejected_total', { reason: 'kafka_unavailable' })).toBe(0);
    expect(await counter(registry, 'skein_ingest_spans_received_total', { protocol: 'native' })).toBe(0);
    expect(await counter(registry, 'skein_ingest_spans_accepted_total', { route: 'trace' })).toBe(0);
    expect(await produceCount(registry)).toBe(0);
    expect(await subscription.lag()).toBe(0);

    // The next valid batch is the first thing on the topic: offset 0 of its partition.
    await ingest.ingestNative(encodeNativeBatch(trace.spans), 'lz4');
    await eventually(() => expect(consumed).toHaveLength(1), 2_000, 5);
    expect(consumed[0]).toMatchObject({ key: trace.traceId, offset: 0 });
    expect(await counter(registry, 'skein_ingest_spans_accepted_total', { route: 'trace' })).toBe(5);
  });

  it('rejects a batch over the configured limits as too_large, once per request', async () => {
    const trace = threeServiceTrace();
    const ingest = service({ limits: { ...DEFAULT_BATCH_LIMITS, maxSpansPerBatch: 4 } });
    await expect(ingest.ingestNative(encodeNativeBatch(trace.spans), 'lz4')).rejects.toMatchObject({ reason: 'too_large', message: 'batch has 5 spans, more than the limit of 4' });
    await expect(ingest.ingestNative(encodeNativeBatch(trace.spans), 'lz4')).rejects.toBeInstanceOf(BatchRejection);
    await expect(ingest.ingestNative(encodeNativeBatch(trace.spans.slice(0, 4)), 'lz4')).resolves.toMatchObject({ accepted: 4 });
    expect(await counter(registry, 'skein_ingest_batches_rejected_total', { reason: 'too_large' })).toBe(2);
    expect(await counter(registry, 'skein_ingest_spans_received_total', { protocol: 'native' })).toBe(4);
    expect(await counter(registry, 'skein_ingest_spans_accepted_total', { route: 'trace' })).toBe(4);
  });

  it('throws BusUnavailable when the bus does not acknowledge, without counting the spans as accepted', async () => {
    const rejecting = new RejectingBus();
    const ingest = service({ bus: rejecting });
    const trace = threeServiceTrace();

    const err = await ingest.ingestNative(encodeNativeBatch(trace.spans), 'lz4').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BusUnavailable);
    expect((err as Error).message).toBe('the span log (Kafka) did not acknowledge the batch: KafkaJSNumberOfRetriesExceeded: broker 127.0.0.1:9092 not reachable');
    expect(rejecting.publishes).toBe(1);
    expect(await counter(registry, 'skein_ingest_spans_received_total', { protocol: 'native' })).toBe(5);
    expect(await counter(registry, 'skein_ingest_spans_accepted_total', { route: 'trace' })).toBe(0);
    expect(await counter(registry, 'skein_ingest_batches_rejected_total', { reason: 'kafka_unavailable' })).toBe(1);
    expect(await produceCount(registry)).toBe(1);
  });

  it('throws BusUnavailable when the bus is closed', async () => {
    const closed = new MemoryMessageBus();
    await closed.ensureTopics([{ topic }]);
    await closed.close();
    const ingest = service({ bus: closed });
    await expect(ingest.ingestNative(encodeNativeBatch(threeServiceTrace().spans), 'lz4')).rejects.toBeInstanceOf(BusUnavailable);
    expect(await counter(registry, 'skein_ingest_spans_accepted_total', { route: 'trace' })).toBe(0);
    expect(await counter(registry, 'skein_ingest_batches_rejected_total', { reason: 'kafka_unavailable' })).toBe(1);
  });

  it('bounds the bytes waiting for Kafka: beyond maxInFlightBytes a request is refused (503 overloaded), not queued', async () => {
    const slow = new SlowBus();
    await slow.ensureTopics([{ topic, partitions: 3 }]);
    const body = encodeNativeBatch(threeServiceTrace().spans);
    // A request is always let through when nothing is in flight (else a body above the limit could never pass).
    const ingest = service({ bus: slow, maxInFlightBytes: 1 });
    const first = ingest.ingestNative(body, 'lz4');
    await eventually(() => expect(slow.pending).toBe(1));

    const second = await ingest.ingestNative(encodeNativeBatch(threeServiceTrace().spans), 'lz4').catch((e: unknown) => e);
    expect(second).toBeInstanceOf(Overloaded);
    expect(slow.pending).toBe(1);
    expect(await counter(registry, 'skein_ingest_batches_rejected_total', { reason: 'overloaded' })).toBe(1);
    expect(await counter(registry, 'skein_ingest_spans_accepted_total', { route: 'trace' })).toBe(0);

    // Once Kafka acknowledges, the bytes are released and the next request goes through.
    slow.release();
    expect((await first).accepted).toBe(5);
    const third = ingest.ingestNative(encodeNativeBatch(threeServiceTrace().spans), 'lz4');
    await eventually(() => expect(slow.pending).toBe(1));
    slow.release();
    expect((await third).accepted).toBe(5);
    await slow.close();
  });
});
