import { BusBatch, BusBatchHandler, BusMessage, BusRecord, BusSubscription, MessageBus, SubscribeOptions } from '@skein/domain';
import { uniqueName } from '../fixtures/trace-fixtures';
import { eventually } from '../infra-env';

/** MessageBusContractFactory: makes the bus under test; `cleanup` runs after the bus is closed (e.g. delete topics). */
export type MessageBusContractFactory = () => Promise<{ bus: MessageBus; cleanup?: () => Promise<void> }>;

/** TEST_TIMEOUT_MS: per test; generous because a Kafka consumer-group join alone can take seconds. */
const TEST_TIMEOUT_MS = 90_000;

/** Received: one delivered record with where it came from. */
interface Received extends BusRecord {
  partition: number;
}

/**
 * messageBusContract: the behaviour every MessageBus adapter must show (jest suite). Topic and group names are
 * unique per test, so it can run against a shared broker. Delivery is at-least-once, so assertions are on sets
 * of records unless a test is about duplicates.
 */
export function messageBusContract(name: string, factory: MessageBusContractFactory): void {
  describe(`MessageBus contract: ${name}`, () => {
    let bus: MessageBus;
    let cleanup: (() => Promise<void>) | undefined;
    const running: BusSubscription[] = [];

    beforeAll(async () => {
      ({ bus, cleanup } = await factory());
    }, TEST_TIMEOUT_MS);

    afterEach(async () => {
      await Promise.all(running.splice(0).map((s) => s.stop()));
    }, TEST_TIMEOUT_MS);

    afterAll(async () => {
      await bus?.close();
      await cleanup?.();
    }, TEST_TIMEOUT_MS);

    const newTopic = async (partitions = 3): Promise<string> => {
      const topic = uniqueName('bus-contract');
      await bus.ensureTopics([{ topic, partitions }]);
      return topic;
    };

    const subscribe = async (options: SubscribeOptions, handler: BusBatchHandler): Promise<BusSubscription> => {
      const subscription = await bus.subscribe(options, handler);
      running.push(subscription);
      return subscription;
    };

    /** collect: a handler that records every delivered record, plus accessors. */
    const collector = () => {
      const batches: BusBatch[] = [];
      const handler: BusBatchHandler = async (batch) => {
        batches.push({ ...batch, records: [...batch.records] });
      };
      const records = (): Received[] => batches.flatMap((b) => b.records.map((r) => ({ ...r, partition: b.partition })));
      const values = (): Set<string> => new Set(records().map((r) => r.value.toString('utf8')));
      return { batches, handler, records, values };
    };

    const text = (key: string, value: string): BusMessage => ({ key, value: Buffer.from(value, 'utf8') });

    const expectAll = async (values: () => Set<string>, expected: string[]): Promise<void> => {
      await eventually(() => {
        const got = values();
        const missing = expected.filter((v) => !got.has(v));
        if (missing.length > 0) throw new Error(`${missing.length} of ${expected.length} messages not delivered, e.g. ${missing[0]}`);
      });
    };

    /** settle: gives a bus time to deliver what it should not, before asserting it did not. */
    const settle = (ms = 1_000) => new Promise((resolve) => setTimeout(resolve, ms));

    it('is ready', async () => {
      expect(await bus.ready()).toBe(true);
    });

    it(
      'ensureTopics is idempotent, also for a mix of existing and new topics',
      async () => {
        const a = uniqueName('bus-contract');
        const b = uniqueName('bus-contract');
        await bus.ensureTopics([{ topic: a, partitions: 2, config: { 'compression.type': 'lz4' } }]);
        await bus.ensureTopics([{ topic: a, partitions: 2, config: { 'compression.type': 'lz4' } }]);
        await bus.ensureTopics([{ topic: a }, { topic: b, partitions: 1 }]);
        await bus.publish(a, [text('k', 'to-a')]);
        await bus.publish(b, [text('k', 'to-b')]);
        const got = collector();
        await subscribe({ topic: b, groupId: uniqueName('group') }, got.handler);
        await expectAll(got.values, ['to-b']);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'delivers every published message with its key and value bytes intact',
      async () => {
        const topic = await newTopic();
        const messages: BusMessage[] = [];
        for (let i = 0; i < 60; i++) {
          // Bytes that are not valid UTF-8 (0xc3 0x28, 0xff) and NULs: values are opaque binary.
          messages.push({ key: `key-${i % 7}`, value: Buffer.concat([Buffer.from([0, 0xff, 0xc3, 0x28, i]), Buffer.from(`value-${i}`)]) });
        }
        // A large, compressible value (several compression blocks' worth).
        messages.push({ key: 'big', value: Buffer.from('span '.repeat(60_000)) });
        await bus.publish(topic, messages.slice(0, 20));
        await bus.publish(topic, messages.slice(20, 45));
        await bus.publish(topic, messages.slice(45));

        const got = collector();
        await subscribe({ topic, groupId: uniqueName('group') }, got.handler);
        const hex = (r: { key: string | undefined; value: Buffer }) => `${r.key}=${r.value.toString('hex')}`;
        await eventually(() => expect(new Set(got.records().map(hex)).size).toBe(messages.length));
        expect(new Set(got.records().map(hex))).toEqual(new Set(messages.map(hex)));
        for (const batch of got.batches) {
          expect(batch.topic).toBe(topic);
          expect(batch.records.length).toBeGreaterThan(0);
          const offsets = batch.records.map((r) => r.offset);
          expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
        }
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'puts every message of a key on one partition, in publish order',
      async () => {
        const topic = await newTopic(4);
        const keys = ['trace-a', 'trace-b', 'trace-c', 'trace-d', 'trace-e'];
        const expected: string[] = [];
        for (let round = 0; round < 8; round++) {
          const messages: BusMessage[] = [];
          for (let i = 0; i < 5; i++) {
            for (const key of keys) {
              const value = `${key}#${String(round * 5 + i).padStart(3, '0')}`;
              messages.push(text(key, value));
              expected.push(value);
            }
          }
          await bus.publish(topic, messages);
        }
        const got = collector();
        await subscribe({ topic, groupId: uniqueName('group') }, got.handler);
        await expectAll(got.values, expected);

        for (const key of keys) {
          const ofKey = got.records().filter((r) => r.key === key);
          expect(new Set(ofKey.map((r) => r.partition)).size).toBe(1);
          const byOffset = [...new Map(ofKey.map((r) => [r.offset, r.value.toString('utf8')])).entries()].sort(([x], [y]) => x - y);
          const sequence = byOffset.map(([, value]) => value);
          expect(sequence).toEqual(expected.filter((v) => v.startsWith(`${key}#`)));
        }
        // Delivery order within a partition is offset order.
        const deliveredOffsets = new Map<number, number[]>();
        for (const r of got.records()) deliveredOffsets.set(r.partition, [...(deliveredOffsets.get(r.partition) ?? []), r.offset]);
        for (const offsets of deliveredOffsets.values()) expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'resumes a group after its committed offsets, while a new group reads from the beginning',
      async () => {
        const topic = await newTopic();
        const groupId = uniqueName('group');
        const first = Array.from({ length: 20 }, (_, i) => `first-${i}`);
        await bus.publish(topic, first.map((v, i) => text(`k${i}`, v)));
        const before = collector();
        const subscription = await subscribe({ topic, groupId }, before.handler);
        await expectAll(before.values, first);
        await subscription.stop();

        const second = Array.from({ length: 10 }, (_, i) => `second-${i}`);
        await bus.publish(topic, second.map((v, i) => text(`k${i}`, v)));
        const after = collector();
        await subscribe({ topic, groupId }, after.handler);
        await expectAll(after.values, second);
        await settle();
        expect([...after.values()].filter((v) => v.startsWith('first-'))).toEqual([]);

        const fresh = collector();
        await subscribe({ topic, groupId: uniqueName('group'), fromBeginning: true }, fresh.handler);
        await expectAll(fresh.values, [...first, ...second]);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'with fromBeginning false, a new group gets only messages published after subscribe resolved',
      async () => {
        const topic = await newTopic();
        await bus.publish(topic, Array.from({ length: 6 }, (_, i) => text(`k${i}`, `old-${i}`)));
        const got = collector();
        await subscribe({ topic, groupId: uniqueName('group'), fromBeginning: false }, got.handler);
        const fresh = Array.from({ length: 6 }, (_, i) => `new-${i}`);
        await bus.publish(topic, fresh.map((v, i) => text(`k${i}`, v)));
        await expectAll(got.values, fresh);
        await settle(500);
        expect([...got.values()].filter((v) => v.startsWith('old-'))).toEqual([]);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'redelivers a batch whose handler threw, loses nothing, and keeps consuming',
      async () => {
        const topic = await newTopic();
        const expected = Array.from({ length: 30 }, (_, i) => `m-${i}`);
        await bus.publish(topic, expected.map((v, i) => text(`k${i}`, v)));
        const failed: string[][] = [];
        const got = collector();
        let calls = 0;
        await subscribe({ topic, groupId: uniqueName('group') }, async (batch) => {
          calls += 1;
          // The first two deliveries fail: the batch must come back (twice, with growing backoff).
          if (calls <= 2) {
            failed.push(batch.records.map((r) => r.value.toString('utf8')));
            throw new Error(`handler failure #${calls} (expected by the test)`);
          }
          await got.handler(batch);
        });
        await expectAll(got.values, expected);
        expect(failed).toHaveLength(2);
        for (const values of failed) for (const v of values) expect(got.values().has(v)).toBe(true);

        const later = ['after-failure-1', 'after-failure-2'];
        await bus.publish(topic, later.map((v) => text(v, v)));
        await expectAll(got.values, later);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'gives every message to each of two groups',
      async () => {
        const topic = await newTopic();
        const one = collector();
        const two = collector();
        await Promise.all([
          subscribe({ topic, groupId: uniqueName('group-one') }, one.handler),
          subscribe({ topic, groupId: uniqueName('group-two') }, two.handler),
        ]);
        const expected = Array.from({ length: 25 }, (_, i) => `both-${i}`);
        await bus.publish(topic, expected.map((v, i) => text(`k${i}`, v)));
        await expectAll(one.values, expected);
        await expectAll(two.values, expected);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'reports the uncommitted messages as lag, down to 0 once handled',
      async () => {
        const topic = await newTopic();
        let open: () => void = () => undefined;
        const gate = new Promise<void>((resolve) => (open = resolve));
        const got = collector();
        const subscription = await subscribe({ topic, groupId: uniqueName('group') }, async (batch) => {
          await gate;
          await got.handler(batch);
        });
        expect(await subscription.lag()).toBe(0);
        const expected = Array.from({ length: 12 }, (_, i) => `lag-${i}`);
        await bus.publish(topic, expected.map((v, i) => text(`k${i}`, v)));
        await eventually(async () => expect(await subscription.lag()).toBe(12));
        open();
        await expectAll(got.values, expected);
        await eventually(async () => expect(await subscription.lag()).toBe(0));
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'stop waits for the batch in flight and commits it; stop is idempotent',
      async () => {
        const topic = await newTopic(1);
        const groupId = uniqueName('group');
        await bus.publish(topic, Array.from({ length: 10 }, (_, i) => text('one-key', `s-${i}`)));
        let started!: () => void;
        const handlerStarted = new Promise<void>((resolve) => (started = resolve));
        let finished = false;
        const firstBatchOffsets: number[] = [];
        const subscription = await subscribe({ topic, groupId }, async (batch) => {
          if (firstBatchOffsets.length > 0) return;
          firstBatchOffsets.push(...batch.records.map((r) => r.offset));
          started();
          await new Promise((resolve) => setTimeout(resolve, 500));
          finished = true;
        });
        await handlerStarted;
        await Promise.all([subscription.stop(), subscription.stop()]);
        expect(finished).toBe(true);
        await subscription.stop();

        const after = collector();
        await subscribe({ topic, groupId }, after.handler);
        await bus.publish(topic, [text('one-key', 'marker')]);
        await expectAll(after.values, ['marker']);
        const redelivered = after.records().filter((r) => firstBatchOffsets.includes(r.offset));
        expect(redelivered).toEqual([]);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'commits only the records before commitUpTo; the group gets the uncommitted rest again after a stop',
      async () => {
        // One partition: every record in one ordered log, so "the first two" are well defined.
        const topic = await newTopic(1);
        const groupId = uniqueName('group');
        const values = Array.from({ length: 8 }, (_, i) => `deferred-${i}`);
        await bus.publish(topic, values.map((v) => text('one-key', v)));
        let firstOffset: number | undefined;
        const got = collector();
        const subscription = await subscribe({ topic, groupId }, async (batch) => {
          firstOffset ??= batch.records[0].offset;
          await got.handler(batch);
          // Every batch (Kafka may split the log) defers everything from the third record on.
          return { commitUpTo: firstOffset + 2 };
        });
        await expectAll(got.values, values);
        expect(got.records()[0].value.toString('utf8')).toBe(values[0]);
        await eventually(async () => expect(await subscription.lag()).toBe(values.length - 2), 60_000);
        await settle();
        expect(await subscription.lag()).toBe(values.length - 2);
        await subscription.stop();

        // At-least-once: what was not committed is delivered again, what was committed is not.
        const again = collector();
        const second = await subscribe({ topic, groupId }, again.handler);
        await eventually(() => expect(again.values()).toEqual(new Set(values.slice(2))), 60_000);
        expect(again.records().map((r) => r.offset)).toEqual(
          expect.arrayContaining(Array.from({ length: values.length - 2 }, (_, i) => (firstOffset ?? 0) + 2 + i)),
        );
        await settle();
        expect([...again.values()].filter((v) => v === values[0] || v === values[1])).toEqual([]);
        await eventually(async () => expect(await second.lag()).toBe(0), 60_000);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'commit() outside a batch moves the committed offset: lag goes down, and the group resumes after it',
      async () => {
        const topic = await newTopic(1);
        const groupId = uniqueName('group');
        const values = Array.from({ length: 10 }, (_, i) => `later-${i}`);
        await bus.publish(topic, values.map((v) => text('one-key', v)));
        let firstOffset: number | undefined;
        let partition: number | undefined;
        const got = collector();
        const subscription = await subscribe({ topic, groupId }, async (batch) => {
          firstOffset ??= batch.records[0].offset;
          partition = batch.partition;
          await got.handler(batch);
          // Nothing is durable yet: the handler commits later, outside the batch.
          return { commitUpTo: firstOffset };
        });
        await expectAll(got.values, values);
        await eventually(async () => expect(await subscription.lag()).toBe(values.length), 60_000);
        const first = firstOffset ?? 0;

        await subscription.commit([{ partition: partition ?? 0, offset: first + 4 }]);
        await eventually(async () => expect(await subscription.lag()).toBe(values.length - 4), 60_000);
        await subscription.commit([{ partition: partition ?? 0, offset: first + values.length }]);
        await eventually(async () => expect(await subscription.lag()).toBe(0), 60_000);
        await subscription.stop();

        // The commit is the group's: a new member starts after it.
        const after = collector();
        await subscribe({ topic, groupId }, after.handler);
        await bus.publish(topic, [text('one-key', 'marker')]);
        await expectAll(after.values, ['marker']);
        await settle();
        expect([...after.values()]).toEqual(['marker']);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'pause() resolves once the batch in flight is done; afterwards the member gets no new batches',
      async () => {
        const topic = await newTopic(1);
        let open: () => void = () => undefined;
        const gate = new Promise<void>((resolve) => (open = resolve));
        let started: () => void = () => undefined;
        const handlerStarted = new Promise<void>((resolve) => (started = resolve));
        let finished = false;
        const got = collector();
        const subscription = await subscribe({ topic, groupId: uniqueName('group') }, async (batch) => {
          started();
          await gate;
          await got.handler(batch);
          finished = true;
        });
        await bus.publish(topic, [text('one-key', 'before-pause')]);
        await handlerStarted;

        let paused = false;
        const pausing = subscription.pause().then(() => {
          paused = true;
        });
        await settle(500);
        expect(paused).toBe(false);
        open();
        await pausing;
        expect(finished).toBe(true);
        expect(got.values()).toEqual(new Set(['before-pause']));

        const later = ['after-pause-1', 'after-pause-2', 'after-pause-3'];
        await bus.publish(topic, later.map((v) => text('one-key', v)));
        await settle(3_000);
        expect(got.values()).toEqual(new Set(['before-pause']));
        // Not delivered, so not committed either.
        await eventually(async () => expect(await subscription.lag()).toBe(later.length), 60_000);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'rejects a publish to a topic that does not exist',
      async () => {
        await expect(bus.publish(uniqueName('missing-topic'), [text('k', 'v')])).rejects.toThrow();
      },
      TEST_TIMEOUT_MS,
    );
  });
}
