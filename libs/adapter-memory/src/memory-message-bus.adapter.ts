import { BusBatchHandler, BusMessage, BusRecord, BusSubscription, MessageBus, PartitionOffset, SubscribeOptions, TopicSpec } from '@skein/domain';

/** MemoryBusLog: receives the bus's warnings (a handler that failed and will get its batch again). */
export type MemoryBusLog = (level: 'warn' | 'error', message: string, context?: Record<string, unknown>) => void;

/** MemoryMessageBusOptions: tuning of the in-process bus. Durations are milliseconds. */
export interface MemoryMessageBusOptions {
  /** defaultPartitions: partitions of a topic whose TopicSpec names none, default 3. */
  defaultPartitions?: number;
  /** maxBatchRecords: the most records handed to a handler at once, default 500. */
  maxBatchRecords?: number;
  /** redeliveryBackoffMs: first delay before a failed batch is delivered again, doubled per failure, default 500. */
  redeliveryBackoffMs?: number;
  /** maxRedeliveryBackoffMs: the cap of that delay, default 10000. */
  maxRedeliveryBackoffMs?: number;
  /** log: optional sink for warnings; without it the bus is silent. */
  log?: MemoryBusLog;
}

/**
 * MemoryMessageBus: the MessageBus inside one process, for the embedded all-in-one mode and tests. It keeps
 * Kafka's semantics that the services rely on: keyed partitioning (Kafka's murmur2, so a key lands on the same
 * partition number as with Kafka), per-partition order, consumer groups with committed offsets, at-least-once
 * redelivery after a handler failure. Not durable: everything is lost with the process.
 *
 * Memory is NOT bounded: partitions are append-only arrays that are never truncated, even once every group has
 * committed past them. Fine for tests and short embedded runs; a long-running embedded mode needs retention.
 */
export class MemoryMessageBus implements MessageBus {
  private readonly options: Required<Omit<MemoryMessageBusOptions, 'log'>> & { log: MemoryBusLog };
  private readonly topics = new Map<string, MemoryTopic>();
  private readonly groups = new Map<string, MemoryGroup>();
  private readonly subscriptions = new Set<MemorySubscription>();
  private closing: Promise<void> | undefined;

  constructor(options: MemoryMessageBusOptions = {}) {
    this.options = {
      defaultPartitions: options.defaultPartitions ?? 3,
      maxBatchRecords: options.maxBatchRecords ?? 500,
      redeliveryBackoffMs: options.redeliveryBackoffMs ?? 500,
      maxRedeliveryBackoffMs: options.maxRedeliveryBackoffMs ?? 10_000,
      log: options.log ?? (() => undefined),
    };
  }

  /** ensureTopics: creates missing topics; an existing topic keeps its partitions (as with Kafka). */
  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    this.assertOpen();
    for (const spec of topics) {
      if (this.topics.has(spec.topic)) continue;
      const partitions = spec.partitions ?? this.options.defaultPartitions;
      if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`MemoryMessageBus: topic "${spec.topic}" needs at least 1 partition`);
      this.topics.set(spec.topic, new MemoryTopic(partitions));
    }
  }

  /** publish: appends each message to the partition of its key; durable as soon as it resolves (in this process). */
  async publish(topic: string, messages: BusMessage[]): Promise<void> {
    this.assertOpen();
    const log = this.topic(topic);
    for (const m of messages) {
      // Copied: Kafka keeps its own bytes too, so a caller reusing its buffer cannot rewrite the log.
      log.partitions[partitionOf(m.key, log.partitions.length)].push({ key: m.key, value: Buffer.from(m.value) });
    }
    if (messages.length > 0) log.notify();
  }

  /**
   * subscribe: starts delivering to `handler`. Several subscriptions of one group share the partitions: each
   * partition is handled by one member at a time, in offset order.
   */
  async subscribe(options: SubscribeOptions, handler: BusBatchHandler): Promise<BusSubscription> {
    this.assertOpen();
    const topic = this.topic(options.topic);
    const groupKey = `${options.topic}\u0000${options.groupId}`;
    let group = this.groups.get(groupKey);
    if (group === undefined) {
      // As in Kafka, fromBeginning only matters for a group that has no committed offsets yet.
      const fromBeginning = options.fromBeginning ?? true;
      group = new MemoryGroup(topic.partitions.map((p) => (fromBeginning ? 0 : p.length)));
      this.groups.set(groupKey, group);
    }
    const subscription = new MemorySubscription(options, topic, group, handler, this.options, (s) => this.subscriptions.delete(s));
    this.subscriptions.add(subscription);
    subscription.start();
    return subscription;
  }

  /** ready: true until closed. */
  async ready(): Promise<boolean> {
    return this.closing === undefined;
  }

  /** close: stops every subscription (each finishes its batch in flight); publish and subscribe fail afterwards. */
  close(): Promise<void> {
    this.closing ??= Promise.all([...this.subscriptions].map((s) => s.stop())).then(() => undefined);
    return this.closing;
  }

  private topic(name: string): MemoryTopic {
    const topic = this.topics.get(name);
    if (topic === undefined) throw new Error(`MemoryMessageBus: topic "${name}" does not exist (call ensureTopics first)`);
    return topic;
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw new Error('MemoryMessageBus: the bus is closed');
  }
}

interface StoredMessage {
  key: string;
  value: Buffer;
}

/** MemoryTopic: the partitions of a topic (index in the array = offset) and the subscriptions to wake on publish. */
class MemoryTopic {
  readonly partitions: StoredMessage[][];
  readonly waiters = new Set<WakeSignal>();

  constructor(partitions: number) {
    this.partitions = Array.from({ length: partitions }, () => []);
  }

  notify(): void {
    for (const waiter of this.waiters) waiter.notify();
  }
}

/** MemoryGroup: one consumer group on one topic: positions, committed offsets and which partition is being handled. */
class MemoryGroup {
  /** committed: per partition, the committed offset (where a new owner would start). */
  readonly committed: number[];
  /** position: per partition, the offset of the next record to deliver (ahead of `committed` while a handler defers commits). */
  readonly position: number[];
  /** lastMember: per partition, the member that handled its last batch (its deferred work is lost if it stops). */
  readonly lastMember: (WakeSignal | undefined)[];
  /** busy: partitions whose batch is in a handler right now (one member at a time keeps the order). */
  readonly busy = new Set<number>();
  /** retryAt: per partition, when a failed batch may be delivered again (epoch ms; 0 = now). */
  readonly retryAt: number[];
  /** backoffMs: per partition, the next redelivery delay (0 = the initial one). */
  readonly backoffMs: number[];
  readonly members = new Set<WakeSignal>();

  constructor(committed: number[]) {
    this.committed = committed;
    this.position = [...committed];
    this.lastMember = committed.map(() => undefined);
    this.retryAt = committed.map(() => 0);
    this.backoffMs = committed.map(() => 0);
  }
}

/** MemorySubscription: one member of a group; a single async loop that hands out one batch at a time. */
class MemorySubscription implements BusSubscription {
  private readonly signal = new WakeSignal();
  private stopped = false;
  private paused = false;
  private inFlight: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** cursor: where the next search for work starts, so one busy partition cannot starve the others. */
  private cursor = 0;

  constructor(
    private readonly subscription: SubscribeOptions,
    private readonly topic: MemoryTopic,
    private readonly group: MemoryGroup,
    private readonly handler: BusBatchHandler,
    private readonly options: Required<Omit<MemoryMessageBusOptions, 'log'>> & { log: MemoryBusLog },
    private readonly onStopped: (s: MemorySubscription) => void,
  ) {}

  start(): void {
    this.topic.waiters.add(this.signal);
    this.group.members.add(this.signal);
    this.loop = this.run();
  }

  /** stop: ends the loop after the batch in flight (which commits if its handler succeeds); idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      this.signal.notify();
      await this.loop;
      this.topic.waiters.delete(this.signal);
      this.group.members.delete(this.signal);
      // As after a Kafka rebalance: what this member handled but did not commit is delivered again from the commit.
      this.group.lastMember.forEach((member, p) => {
        if (member === this.signal) {
          this.group.position[p] = this.group.committed[p];
          this.group.lastMember[p] = undefined;
        }
      });
      // Another member may take over the partitions this one would have handled.
      for (const member of this.group.members) member.notify();
      this.onStopped(this);
    })();
    return this.stopping;
  }

  /** commit: moves the group's committed offsets forward (never backwards, never past what was delivered). */
  async commit(offsets: PartitionOffset[]): Promise<void> {
    for (const { partition, offset } of offsets) {
      if (partition < 0 || partition >= this.group.committed.length) continue;
      this.group.committed[partition] = Math.max(this.group.committed[partition], Math.min(offset, this.group.position[partition]));
    }
  }

  /** pause: no new batch is delivered to this member; resolves once the batch in flight is done. */
  async pause(): Promise<void> {
    this.paused = true;
    await this.inFlight;
  }

  /** lag: records not yet committed by the group, summed over partitions. */
  async lag(): Promise<number> {
    return this.topic.partitions.reduce((sum, p, i) => sum + Math.max(0, p.length - this.group.committed[i]), 0);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const work = this.paused ? { waitMs: undefined } : this.nextWork(Date.now());
      if (typeof work === 'number') {
        this.inFlight = this.deliver(work);
        await this.inFlight;
        this.inFlight = undefined;
      } else await this.signal.wait(work.waitMs);
    }
  }

  /** nextWork: a partition to deliver now, or how long to sleep (undefined: until woken by a publish or a release). */
  private nextWork(now: number): number | { waitMs: number | undefined } {
    const { partitions } = this.topic;
    let waitMs: number | undefined;
    for (let i = 0; i < partitions.length; i++) {
      const p = (this.cursor + i) % partitions.length;
      if (this.group.busy.has(p) || this.group.position[p] >= partitions[p].length) continue;
      const retryAt = this.group.retryAt[p];
      if (retryAt <= now) {
        this.cursor = p + 1;
        return p;
      }
      waitMs = Math.min(waitMs ?? Infinity, retryAt - now);
    }
    return { waitMs };
  }

  private async deliver(partition: number): Promise<void> {
    const { group } = this;
    group.busy.add(partition);
    const from = group.position[partition];
    const records: BusRecord[] = this.topic.partitions[partition]
      .slice(from, from + this.options.maxBatchRecords)
      .map((m, i) => ({ offset: from + i, key: m.key, value: m.value }));
    try {
      const outcome = await this.handler({ topic: this.subscription.topic, partition, records });
      group.position[partition] = from + records.length;
      group.lastMember[partition] = this.signal;
      // A handler's commitUpTo never moves the committed offset backwards past what an earlier commit() recorded.
      const upTo = outcome ? Math.min(outcome.commitUpTo, from + records.length) : from + records.length;
      group.committed[partition] = Math.max(group.committed[partition], upTo);
      group.backoffMs[partition] = 0;
      group.retryAt[partition] = 0;
    } catch (err) {
      const delay = group.backoffMs[partition] || this.options.redeliveryBackoffMs;
      group.backoffMs[partition] = Math.min(delay * 2, this.options.maxRedeliveryBackoffMs);
      group.retryAt[partition] = Date.now() + delay;
      this.options.log(
        'warn',
        `MemoryMessageBus: handler of group "${this.subscription.groupId}" failed on ${this.subscription.topic}[${partition}] offsets ${from}..${from + records.length - 1}; redelivering in ${delay} ms: ${err instanceof Error ? err.message : String(err)}`,
      );
    } finally {
      group.busy.delete(partition);
      for (const member of group.members) if (member !== this.signal) member.notify();
    }
  }
}

/**
 * WakeSignal: a sticky wake-up: a notify() that comes while nobody waits is kept for the next wait(), so a
 * publish between "found no work" and "sleep" is never lost. Consumers sleep instead of polling.
 */
class WakeSignal {
  private pending = false;
  private wake: (() => void) | undefined;

  notify(): void {
    this.pending = true;
    this.wake?.();
  }

  async wait(timeoutMs: number | undefined): Promise<void> {
    if (!this.pending) {
      await new Promise<void>((resolve) => {
        const timer = timeoutMs === undefined ? undefined : setTimeout(() => done(), timeoutMs);
        const done = () => {
          clearTimeout(timer);
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
      });
    }
    this.pending = false;
  }
}

/**
 * partitionOf: Kafka's default partitioner for keyed messages: murmur2 of the UTF-8 key, sign bit cleared,
 * modulo the partition count. Same key → same partition, and the same number Kafka would pick.
 */
function partitionOf(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions;
}

/** murmur2: the 32-bit MurmurHash2 variant of Kafka's `Utils.murmur2` (seed 0x9747b28c). */
function murmur2(data: Buffer): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = 0x9747b28c ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = length - whole;
  if (rest >= 3) h ^= data[whole + 2] << 16;
  if (rest >= 2) h ^= data[whole + 1] << 8;
  if (rest >= 1) h = Math.imul(h ^ data[whole], m);
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}
