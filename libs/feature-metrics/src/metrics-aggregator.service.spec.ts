import { MemoryMessageBus, MemoryMetricStore } from '@skein/adapter-memory';
import { encodeSpanMessages } from '@skein/contracts';
import { BusBatch, BusRecord, MetricKey, MinuteWindow, Span, histogramBucket } from '@skein/domain';
import { eventually, threeServiceTrace, uniqueName } from '@skein/testing';
import pino from 'pino';
import { Registry } from 'prom-client';
import { MetricsAggregatorOptions, MetricsAggregatorService } from './metrics-aggregator.service';

const TOPIC = 'skein.spans.v1';
const GROUP = 'skein.metrics-aggregator.v1';
/** M0: 2026-01-15T10:20:00Z, epoch ms; spans of the fixtures start 10 s into it. */
const M0 = Date.UTC(2026, 0, 15, 10, 20);
const START_US = (M0 + 10_000) * 1000;

/** counter: the value of a counter (with exactly these labels) in a registry; 0 when never incremented. */
async function counter(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`metric ${name} is not registered`);
  const { values } = await metric.get();
  const wanted = Object.entries(labels);
  const value = values.find((v) => Object.keys(v.labels).length === wanted.length && wanted.every(([k, l]) => v.labels[k] === l));
  return value?.value ?? 0;
}

/** recordsOf: one record per trace, with consecutive offsets from `firstOffset`. */
function recordsOf(traces: Span[][], firstOffset: number, sampled = true): BusRecord[] {
  return traces.map((spans, i) => {
    const [message] = encodeSpanMessages(spans, sampled);
    return { offset: firstOffset + i, key: message.key, value: message.value };
  });
}

const batch = (records: BusRecord[], partition = 0): BusBatch => ({ topic: TOPIC, partition, records });

describe('MetricsAggregatorService', () => {
  let store: MemoryMetricStore;
  let registry: Registry;

  function aggregator(overrides: Partial<MetricsAggregatorOptions> = {}): MetricsAggregatorService {
    return new MetricsAggregatorService({ bus: new MemoryMessageBus(), store, spansTopic: TOPIC, groupId: GROUP, registry, logger: pino({ level: 'silent' }), ...overrides });
  }

  async function windowOf(key: MetricKey, minute = M0): Promise<MinuteWindow | undefined> {
    const windows = await store.getWindows(key, minute, minute);
    expect(windows.length).toBeLessThanOrEqual(1);
    return windows[0];
  }

  const calls = async (key: MetricKey, minute = M0) => (await windowOf(key, minute))?.calls ?? 0;

  const GATEWAY = { service: 'api-gateway', operation: 'POST /checkout' };
  const ORDERS = { service: 'order-service', operation: 'POST /orders' };
  const PAYMENT = { service: 'payment-service', operation: 'charge' };

  beforeEach(() => {
    store = new MemoryMetricStore();
    registry = new Registry();
  });

  it('counts only entry spans into minute windows per service operation', async () => {
    const a = threeServiceTrace({ startTimeUs: START_US, orderLatencyUs: 20_000 });
    const b = threeServiceTrace({ startTimeUs: START_US + 1_000_000, orderLatencyUs: 40_000, paymentError: true });
    await aggregator().handleBatch(batch(recordsOf([a.spans, b.spans], 0)));

    expect(await windowOf(ORDERS)).toEqual({
      ...ORDERS,
      minute: M0,
      calls: 2,
      errors: 0,
      totalDurationUs: 60_000,
      maxDurationUs: 40_000,
      histogram: new Map([
        [histogramBucket(20_000), 1],
        [histogramBucket(40_000), 1],
      ]),
    });
    expect(await windowOf(GATEWAY)).toMatchObject({ calls: 2, errors: 0, totalDurationUs: 80_000, maxDurationUs: 50_000 });
    expect(await windowOf(PAYMENT)).toMatchObject({ calls: 2, errors: 1, totalDurationUs: 12_000, maxDurationUs: 6_000 });
    // Client spans are not calls: the gateway's call to order-service is counted once, by order-service.
    expect(await windowOf({ service: 'api-gateway', operation: 'POST /orders' })).toBeUndefined();
    expect(await windowOf({ service: 'order-service', operation: 'charge' })).toBeUndefined();
    expect(await store.listServices()).toEqual(['api-gateway', 'order-service', 'payment-service']);
    expect(await store.listOperations('api-gateway')).toEqual(['POST /checkout']);

    expect(await counter(registry, 'skein_metrics_spans_received_total')).toBe(10);
    expect(await counter(registry, 'skein_metrics_calls_counted_total')).toBe(6);
    expect(await counter(registry, 'skein_metrics_windows_written_total')).toBe(3);
    expect(await counter(registry, 'skein_metrics_records_replayed_total')).toBe(0);
    expect(await store.getCheckpoint(`${GROUP}/${TOPIC}/0`)).toBe(1);
  });

  it('counts the calls of unsampled (metrics-only) messages too', async () => {
    const records = [...recordsOf([threeServiceTrace({ startTimeUs: START_US }).spans], 0), ...recordsOf([threeServiceTrace({ startTimeUs: START_US, paymentError: true }).spans], 1, false)];
    await aggregator().handleBatch(batch(records));
    expect(await calls(ORDERS)).toBe(2);
    expect(await windowOf(PAYMENT)).toMatchObject({ calls: 2, errors: 1 });
    expect(await counter(registry, 'skein_metrics_calls_counted_total')).toBe(6);
    expect(await counter(registry, 'skein_metrics_spans_received_total')).toBe(10);
  });

  it('puts each call in the minute it started', async () => {
    const early = threeServiceTrace({ startTimeUs: M0 * 1000 + 59_999_000 });
    const late = threeServiceTrace({ startTimeUs: (M0 + 60_000) * 1000 });
    await aggregator().handleBatch(batch(recordsOf([early.spans, late.spans], 0)));
    expect(await calls(ORDERS, M0)).toBe(0);
    expect(await calls(GATEWAY, M0)).toBe(1);
    // The order-service span of `early` starts 3 ms later, in the next minute.
    expect(await calls(ORDERS, M0 + 60_000)).toBe(2);
    expect(await calls(GATEWAY, M0 + 60_000)).toBe(1);
  });

  it('does not count a replayed batch (same offsets) twice', async () => {
    const records = recordsOf([threeServiceTrace({ startTimeUs: START_US }).spans, threeServiceTrace({ startTimeUs: START_US }).spans], 0);
    const service = aggregator();
    await service.handleBatch(batch(records));
    const before = await windowOf(ORDERS);

    await service.handleBatch(batch(records));

    expect(await windowOf(ORDERS)).toEqual(before);
    expect(await calls(ORDERS)).toBe(2);
    expect(await counter(registry, 'skein_metrics_calls_counted_total')).toBe(6);
    expect(await counter(registry, 'skein_metrics_records_replayed_total')).toBe(2);
    expect(await counter(registry, 'skein_metrics_spans_received_total')).toBe(10);
    expect(await counter(registry, 'skein_metrics_windows_written_total')).toBe(3);
  });

  it('counts only the records after the checkpoint of a batch overlapping it', async () => {
    const traces = [1, 2, 3, 4].map((i) => threeServiceTrace({ startTimeUs: START_US + i * 1_000, orderLatencyUs: i * 10_000 }).spans);
    const service = aggregator();
    await service.handleBatch(batch(recordsOf(traces.slice(0, 2), 100)));
    expect(await store.getCheckpoint(`${GROUP}/${TOPIC}/0`)).toBe(101);

    // Redelivery from offset 101 (already applied) to 103: only 102 and 103 are new.
    await service.handleBatch(batch(recordsOf(traces.slice(1, 4), 101)));

    expect(await windowOf(ORDERS)).toMatchObject({ calls: 4, totalDurationUs: 100_000, maxDurationUs: 40_000 });
    expect(await store.getCheckpoint(`${GROUP}/${TOPIC}/0`)).toBe(103);
    expect(await counter(registry, 'skein_metrics_records_replayed_total')).toBe(1);
    expect(await counter(registry, 'skein_metrics_calls_counted_total')).toBe(12);
    expect(await counter(registry, 'skein_metrics_spans_received_total')).toBe(20);
  });

  it('keeps a checkpoint per partition', async () => {
    const service = aggregator();
    await service.handleBatch(batch(recordsOf([threeServiceTrace({ startTimeUs: START_US }).spans], 0), 0));
    await service.handleBatch(batch(recordsOf([threeServiceTrace({ startTimeUs: START_US }).spans], 0), 1));
    expect(await calls(ORDERS)).toBe(2);
    expect(await store.getCheckpoint(`${GROUP}/${TOPIC}/0`)).toBe(0);
    expect(await store.getCheckpoint(`${GROUP}/${TOPIC}/1`)).toBe(0);
    expect(await counter(registry, 'skein_metrics_records_replayed_total')).toBe(0);
  });

  it('counts as replayed a batch another instance applied between the checkpoint read and the write', async () => {
    const records = recordsOf([threeServiceTrace({ startTimeUs: START_US }).spans], 0);
    const other = new Registry();
    const service = aggregator();
    const racer = aggregator({ registry: other });
    await Promise.all([service.handleBatch(batch(records)), racer.handleBatch(batch(records))]);
    expect(await calls(ORDERS)).toBe(1);
    const counted = (await counter(registry, 'skein_metrics_calls_counted_total')) + (await counter(other, 'skein_metrics_calls_counted_total'));
    const replayed = (await counter(registry, 'skein_metrics_records_replayed_total')) + (await counter(other, 'skein_metrics_records_replayed_total'));
    expect(counted).toBe(3);
    expect(replayed).toBe(1);
  });

  it('skips and counts invalid records, and still moves the checkpoint past them', async () => {
    const trace = threeServiceTrace({ startTimeUs: START_US });
    const records: BusRecord[] = [
      ...recordsOf([trace.spans], 0),
      { offset: 1, key: 'k', value: Buffer.from('{"v":1,"traceId":"abc","spans":[{}]}') },
      { offset: 2, key: 'k', value: Buffer.from('\u0000\u0001') },
    ];
    const service = aggregator();
    await service.handleBatch(batch(records));
    expect(await counter(registry, 'skein_metrics_messages_rejected_total', { reason: 'invalid_message' })).toBe(2);
    expect(await counter(registry, 'skein_metrics_spans_received_total')).toBe(5);
    expect(await calls(ORDERS)).toBe(1);
    expect(await store.getCheckpoint(`${GROUP}/${TOPIC}/0`)).toBe(2);

    // A batch of invalid records only still advances the checkpoint, so it is not re-read forever.
    await service.handleBatch(batch([{ offset: 3, key: 'k', value: Buffer.from('nope') }]));
    expect(await store.getCheckpoint(`${GROUP}/${TOPIC}/0`)).toBe(3);
    expect(await counter(registry, 'skein_metrics_messages_rejected_total', { reason: 'invalid_message' })).toBe(3);
  });

  it('does nothing for an empty batch', async () => {
    await aggregator().handleBatch(batch([]));
    expect(await store.getCheckpoint(`${GROUP}/${TOPIC}/0`)).toBeUndefined();
    expect(await store.listServices()).toEqual([]);
  });

  it('consumes the spans topic once started and stops', async () => {
    const bus = new MemoryMessageBus();
    const topic = uniqueName('spans');
    await bus.ensureTopics([{ topic, partitions: 2 }]);
    const service = aggregator({ bus, spansTopic: topic });
    await service.start();
    await bus.publish(topic, encodeSpanMessages([...threeServiceTrace({ startTimeUs: START_US }).spans, ...threeServiceTrace({ startTimeUs: START_US }).spans]));
    await eventually(async () => expect(await calls(ORDERS)).toBe(2), 2_000, 5);
    await eventually(async () => expect(await counter(registry, 'skein_metrics_kafka_lag')).toBe(0), 2_000, 5);
    await service.stop();
    await bus.close();
  });
});
