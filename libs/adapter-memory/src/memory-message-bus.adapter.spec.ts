import { BusBatch } from '@skein/domain';
import { eventually, messageBusContract } from '@skein/testing';
import { MemoryMessageBus } from './memory-message-bus.adapter';

messageBusContract('MemoryMessageBus', async () => ({ bus: new MemoryMessageBus() }));

describe('MemoryMessageBus', () => {
  it('picks the partition Kafka would (murmur2 of the key)', async () => {
    const bus = new MemoryMessageBus();
    // Expected partitions computed with kafkajs' DefaultPartitioner (Java-compatible murmur2).
    const cases: Array<[string, number, number]> = [
      ['trace-1', 3, 1],
      ['trace-1', 12, 4],
      ['4bf92f3577b34da6a3ce929d0e0e4736', 7, 4],
      ['a', 7, 5],
      ['skein', 7, 6],
    ];
    for (const [key, partitions, expected] of cases) {
      const topic = `t-${key}-${partitions}`;
      await bus.ensureTopics([{ topic, partitions }]);
      await bus.publish(topic, [{ key, value: Buffer.from('v') }]);
      let partition = -1;
      const subscription = await bus.subscribe({ topic, groupId: 'g' }, async (batch) => {
        partition = batch.partition;
      });
      await eventually(() => expect(partition).toBe(expected), 2_000, 5);
      await subscription.stop();
    }
    await bus.close();
  });

  it('shares the partitions of a group between its members without handing a record to both', async () => {
    const bus = new MemoryMessageBus({ maxBatchRecords: 5 });
    await bus.ensureTopics([{ topic: 't', partitions: 4 }]);
    const seen: Array<{ member: number; batch: BusBatch }> = [];
    const member = (id: number) => async (batch: BusBatch) => {
      seen.push({ member: id, batch });
      await new Promise((resolve) => setTimeout(resolve, 2));
    };
    await Promise.all([bus.subscribe({ topic: 't', groupId: 'g' }, member(1)), bus.subscribe({ topic: 't', groupId: 'g' }, member(2))]);
    await bus.publish('t', Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: Buffer.from(String(i)) })));
    await eventually(() => expect(seen.flatMap((s) => s.batch.records)).toHaveLength(200), 5_000, 10);
    const ids = seen.flatMap((s) => s.batch.records.map((r) => `${s.batch.partition}/${r.offset}`));
    expect(new Set(ids).size).toBe(200);
    expect(new Set(seen.map((s) => s.member))).toEqual(new Set([1, 2]));
    await bus.close();
  });

  it('caps batches at maxBatchRecords and sleeps (no handler calls) while idle', async () => {
    const bus = new MemoryMessageBus({ maxBatchRecords: 500 });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    await bus.publish('t', Array.from({ length: 1_200 }, (_, i) => ({ key: 'same', value: Buffer.from(String(i)) })));
    const sizes: number[] = [];
    const subscription = await bus.subscribe({ topic: 't', groupId: 'g' }, async (batch) => {
      sizes.push(batch.records.length);
    });
    await eventually(() => expect(sizes.reduce((a, b) => a + b, 0)).toBe(1_200), 2_000, 5);
    expect(sizes).toEqual([500, 500, 200]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sizes).toHaveLength(3);
    expect(await subscription.lag()).toBe(0);
    await bus.close();
  });

  it('rejects publish and subscribe once closed, and is no longer ready', async () => {
    const bus = new MemoryMessageBus();
    await bus.ensureTopics([{ topic: 't' }]);
    await bus.close();
    await bus.close();
    expect(await bus.ready()).toBe(false);
    await expect(bus.publish('t', [{ key: 'k', value: Buffer.from('v') }])).rejects.toThrow(/closed/);
    await expect(bus.subscribe({ topic: 't', groupId: 'g' }, async () => undefined)).rejects.toThrow(/closed/);
  });
});
