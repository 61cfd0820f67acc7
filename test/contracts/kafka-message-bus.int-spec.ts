import { CompressionCodecs, CompressionTypes, Kafka, Partitioners, logLevel } from 'kafkajs';
import { MessageBus } from '@skein/domain';
import { KafkaMessageBus, KafkaMessageBusOptions } from '@skein/adapter-kafka';
import { eventually, infraFromEnv, messageBusContract, uniqueName } from '@skein/testing';

// Tuned for a single local broker (group.initial.rebalance.delay.ms=0): quick joins, quick stops, and a publish
// that gives up after a few seconds (the missing-topic test waits that long).
const fastOptions = (): KafkaMessageBusOptions => ({
  brokers: infraFromEnv().kafkaBrokers,
  clientId: uniqueName('skein-contract'),
  sessionTimeoutMs: 6_000,
  rebalanceTimeoutMs: 6_000,
  heartbeatIntervalMs: 500,
  maxWaitTimeMs: 200,
  publishTimeoutMs: 3_000,
  subscribeTimeoutMs: 30_000,
});

/** deleteTopics: removes what a test created, through a bus of its own (the tested one is closed by then). */
async function deleteTopics(topics: Iterable<string>): Promise<void> {
  const admin = new KafkaMessageBus(fastOptions());
  try {
    await admin.deleteTopics([...topics]);
  } finally {
    await admin.close();
  }
}

describe('KafkaMessageBus (Kafka specifics)', () => {
  let bus: KafkaMessageBus;
  const created: string[] = [];

  beforeAll(() => {
    bus = new KafkaMessageBus(fastOptions());
  });

  afterAll(async () => {
    await bus?.close();
    if (created.length > 0) await deleteTopics(created);
  });

  const newTopic = async (config: Record<string, string> = {}): Promise<string> => {
    const topic = uniqueName('kafka-bus');
    created.push(topic);
    await bus.ensureTopics([{ topic, partitions: 2, config }]);
    return topic;
  };

  // Runs first in the file: kafkajs keeps retrying an unreachable broker in the background for ~10 s after
  // close(), which would otherwise keep jest from exiting.
  it('is not ready, and publish rejects within its deadline, when no broker answers', async () => {
    const unreachable = new KafkaMessageBus({ brokers: ['127.0.0.1:1'], connectionTimeoutMs: 500, publishTimeoutMs: 1_500, readyTimeoutMs: 1_000 });
    try {
      let started = Date.now();
      expect(await unreachable.ready()).toBe(false);
      expect(Date.now() - started).toBeLessThan(2_500);
      started = Date.now();
      await expect(unreachable.publish('skein.nowhere', [{ key: 'k', value: Buffer.from('v') }])).rejects.toThrow(
        /KafkaMessageBus: publishing 1 message\(s\) to "skein.nowhere" failed/,
      );
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await unreachable.close();
    }
  });

  it('produces and consumes LZ4 batches through the registered codec (the broker validates them)', async () => {
    const topic = await newTopic({ 'compression.type': 'lz4' });
    // The codec the bus registered with kafkajs (kafkajs looks it up on every batch).
    const codec = CompressionCodecs[CompressionTypes.LZ4]() as { compress: () => Promise<Buffer>; decompress: () => Promise<Buffer> };
    const encode = jest.spyOn(codec, 'compress');
    const decode = jest.spyOn(codec, 'decompress');
    try {
      const values = Array.from({ length: 50 }, (_, i) => `{"v":1,"traceId":"t${i}","spans":[${'{"x":1},'.repeat(50)}{}]}`);
      await bus.publish(topic, values.map((v, i) => ({ key: `t${i}`, value: Buffer.from(v) })));
      expect(encode).toHaveBeenCalled();
      const got = new Set<string>();
      const subscription = await bus.subscribe({ topic, groupId: uniqueName('group') }, async (batch) => {
        batch.records.forEach((r) => got.add(r.value.toString()));
      });
      await eventually(() => expect(got.size).toBe(values.length));
      expect(decode).toHaveBeenCalled();
      await subscription.stop();
    } finally {
      encode.mockRestore();
      decode.mockRestore();
    }
  });

  it('skips tombstones (null values) and still commits past them', async () => {
    const topic = await newTopic();
    const kafka = new Kafka({ brokers: infraFromEnv().kafkaBrokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      await producer.send({
        topic,
        messages: [
          { key: 'k', value: null },
          { key: 'k', value: 'after-tombstone' },
          { key: null, value: 'no-key' },
        ],
      });
    } finally {
      await producer.disconnect();
    }
    const records: Array<{ key: string | undefined; value: string }> = [];
    const subscription = await bus.subscribe({ topic, groupId: uniqueName('group') }, async (batch) => {
      batch.records.forEach((r) => records.push({ key: r.key, value: r.value.toString() }));
    });
    await eventually(() => expect(records).toHaveLength(2));
    expect(records).toEqual(expect.arrayContaining([{ key: 'k', value: 'after-tombstone' }, { key: undefined, value: 'no-key' }]));
    await eventually(async () => expect(await subscription.lag()).toBe(0));
    await subscription.stop();
  });

  it('keeps a failing partition back while the other partitions flow', async () => {
    const topic = await newTopic();
    const delivered = new Set<string>();
    let failures = 0;
    const subscription = await bus.subscribe({ topic, groupId: uniqueName('group') }, async (batch) => {
      // Keys "poison-…" fail three times (backoff 0.5 s, 1 s, 2 s); everything else is handled.
      if (batch.records.some((r) => r.key?.startsWith('poison')) && failures < 3) {
        failures += 1;
        throw new Error('poison (expected by the test)');
      }
      batch.records.forEach((r) => delivered.add(r.value.toString()));
    });
    await bus.publish(topic, [{ key: 'poison-1', value: Buffer.from('poison') }]);
    const healthy = Array.from({ length: 40 }, (_, i) => `ok-${i}`);
    const started = Date.now();
    await bus.publish(topic, healthy.map((v) => ({ key: v, value: Buffer.from(v) })));
    // Messages on the other partition arrive long before the poisoned one recovers (≥ 3.5 s of backoff).
    await eventually(() => expect(healthy.filter((v) => delivered.has(v)).length).toBeGreaterThan(0));
    expect(Date.now() - started).toBeLessThan(3_000);
    await eventually(() => expect(delivered.has('poison')).toBe(true));
    expect(failures).toBe(3);
    for (const v of healthy) expect(delivered.has(v)).toBe(true);
    await subscription.stop();
  });

  it('with minBytes, a fetch waits (up to maxWaitTimeMs) for more: messages published one by one come in one or two batches, and a lone message still comes', async () => {
    const topic = await newTopic();
    const waiting = new KafkaMessageBus({ ...fastOptions(), minBytes: 1_048_576, maxWaitTimeMs: 2_000 });
    const batches: string[][] = [];
    try {
      const subscription = await waiting.subscribe({ topic, groupId: uniqueName('group') }, async (batch) => {
        batches.push(batch.records.map((r) => r.value.toString()));
      });
      // One key, one partition; each publish waits for its acknowledgement, so without the minimum every message
      // answers the pending fetch on its own (one batch each). Six messages take well under one wait, so at most
      // one fetch boundary falls among them.
      const values = Array.from({ length: 6 }, (_, i) => `m-${i}`);
      for (const value of values) await bus.publish(topic, [{ key: 'one-partition', value: Buffer.from(value) }]);
      await eventually(() => expect(batches.flat()).toEqual(values), 10_000);
      expect(batches.length).toBeLessThanOrEqual(2);
      // Far below the minimum: still delivered, once the wait is over.
      await bus.publish(topic, [{ key: 'one-partition', value: Buffer.from('lone') }]);
      await eventually(() => expect(batches.flat()).toEqual([...values, 'lone']), 10_000);
      await subscription.stop();
    } finally {
      await waiting.close();
    }
  });

  it('idle connections do not spin: a subscribed consumer and a producer with nothing to do check their request queues a few times a second, not ~1,000 times per connection', async () => {
    const topic = await newTopic();
    const idle = new KafkaMessageBus({ ...fastOptions(), maxWaitTimeMs: 500 });
    // kafkajs' per-connection request queue (internal); counting its checks observes the client, Kafka stays real.
    const queuePrototype = (require('kafkajs/src/network/requestQueue') as { prototype: { checkPendingRequests: () => void } }).prototype;
    const checks = jest.spyOn(queuePrototype, 'checkPendingRequests');
    try {
      await idle.publish(topic, [{ key: 'k', value: Buffer.from('warm-up') }]);
      const got: string[] = [];
      const subscription = await idle.subscribe({ topic, groupId: uniqueName('group') }, async (batch) => {
        got.push(...batch.records.map((r) => r.value.toString()));
      });
      await eventually(() => expect(got).toEqual(['warm-up']), 10_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      checks.mockClear();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      // Left alone: answers only (fetches every 500 ms, heartbeats every 500 ms). kafkajs 2.2.4 unpatched: ~2,000 per connection.
      expect(checks.mock.calls.length).toBeLessThan(100);
      await subscription.stop();
    } finally {
      checks.mockRestore();
      await idle.close();
    }
  });

  /** publishOneByOne: one record batch per message, so a consumer with a tiny fetch size gets one message per batch. */
  const publishOneByOne = async (target: MessageBus, topic: string, keys: string[]): Promise<void> => {
    for (const key of keys) await target.publish(topic, [{ key, value: Buffer.from(key) }]);
  };

  it('with batches fetched ahead, a failed batch is handled again before anything after it: in order, nothing lost', async () => {
    // One message per fetch (64 bytes per partition) and two batches queued ahead, so a failure finds later
    // batches already fetched and queued.
    const ahead = new KafkaMessageBus({ ...fastOptions(), maxBytesPerPartition: 64, prefetchBatches: 2, redeliveryBackoffMs: 300 });
    const topic = uniqueName('kafka-bus-ahead');
    created.push(topic);
    try {
      await ahead.ensureTopics([{ topic, partitions: 1 }]);
      const keys = Array.from({ length: 20 }, (_, i) => `m${String(i).padStart(2, '0')}`);
      await publishOneByOne(ahead, topic, keys);
      const attempts: string[] = [];
      let failed = false;
      const subscription = await ahead.subscribe({ topic, groupId: uniqueName('group') }, async (batch) => {
        for (const r of batch.records) attempts.push(r.value.toString());
        // Slow enough that the lane fills up behind the batch being handled.
        await new Promise((resolve) => setTimeout(resolve, 20));
        if (!failed && batch.records.some((r) => r.value.toString() === 'm05')) {
          failed = true;
          throw new Error('store refused m05 (expected by the test)');
        }
      });
      await eventually(async () => expect(await subscription.lag()).toBe(0));
      // m05 is attempted twice in a row, and nothing after it before its second attempt.
      expect(attempts).toEqual([...keys.slice(0, 6), ...keys.slice(5)]);
      await subscription.stop();
    } finally {
      await ahead.close();
    }
  });

  it('a member joining while batches are queued ahead: the group rebalances, nothing is lost, every offset gets committed', async () => {
    const options = { ...fastOptions(), maxBytesPerPartition: 64, prefetchBatches: 2 };
    const first = new KafkaMessageBus(options);
    const second = new KafkaMessageBus(options);
    const topic = uniqueName('kafka-bus-rebalance');
    created.push(topic);
    try {
      await first.ensureTopics([{ topic, partitions: 2 }]);
      const keys = Array.from({ length: 60 }, (_, i) => `r${i}`);
      await publishOneByOne(first, topic, keys);
      const seen = new Set<string>();
      const handledBy = { a: 0, b: 0 };
      const handler = (member: 'a' | 'b') => async (batch: { records: { value: Buffer }[] }) => {
        for (const r of batch.records) seen.add(r.value.toString());
        handledBy[member] += 1;
        await new Promise((resolve) => setTimeout(resolve, 50));
      };
      const groupId = uniqueName('group');
      const a = await first.subscribe({ topic, groupId, partitionsConcurrently: 2 }, handler('a'));
      await eventually(() => expect(seen.size).toBeGreaterThanOrEqual(6));
      const b = await second.subscribe({ topic, groupId, partitionsConcurrently: 2 }, handler('b'));
      await eventually(async () => expect(await a.lag()).toBe(0), 30_000);
      expect(keys.filter((k) => !seen.has(k))).toEqual([]);
      // The second member took over a partition with messages left: the rebalance happened mid-stream.
      expect(handledBy.b).toBeGreaterThan(0);
      await Promise.all([a.stop(), b.stop()]);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});

messageBusContract('KafkaMessageBus', async () => {
  const bus = new KafkaMessageBus(fastOptions());
  const created = new Set<string>();
  // Remembers the topics the contract creates, to delete them afterwards.
  const tracking: MessageBus = {
    ensureTopics: async (topics) => {
      topics.forEach((t) => created.add(t.topic));
      await bus.ensureTopics(topics);
    },
    publish: (topic, messages) => bus.publish(topic, messages),
    subscribe: (options, handler) => bus.subscribe(options, handler),
    ready: () => bus.ready(),
    close: () => bus.close(),
  };
  return { bus: tracking, cleanup: () => deleteTopics(created) };
});
