import {
  Admin,
  CompressionTypes,
  Consumer,
  ConsumerCrashEvent,
  EachBatchPayload,
  Kafka,
  LogEntry,
  Partitioners,
  Producer,
  logLevel,
} from 'kafkajs';
import {
  BatchOutcome,
  BusBatchHandler,
  BusMessage,
  BusRecord,
  BusSubscription,
  MessageBus,
  PartitionOffset,
  SubscribeOptions,
  TopicSpec,
} from '@skein/domain';
import { registerLz4Codec } from './kafka-lz4.codec';
import { patchKafkaRequestQueue } from './kafka-request-queue.patch';
import { PartitionLanes } from './partition-lanes';

/** KafkaBusLog: receives kafkajs' own warnings and errors, and the bus's (e.g. a handler that failed). */
export type KafkaBusLog = (level: 'warn' | 'error', message: string, context?: Record<string, unknown>) => void;

/** KafkaMessageBusOptions: how to reach Kafka and how patient to be with it. Durations are milliseconds. */
export interface KafkaMessageBusOptions {
  /** brokers: bootstrap `host:port` list. */
  brokers: string[];
  /** clientId: the Kafka client id (shows up in broker logs and quotas), default `skein`. */
  clientId?: string;
  /** connectionTimeoutMs: TCP connect timeout per broker, default 3000. */
  connectionTimeoutMs?: number;
  /** requestTimeoutMs: client-side timeout of one Kafka request, default 10000. */
  requestTimeoutMs?: number;
  /** replicationFactor: replicas of topics created by ensureTopics, default 1 (a single local broker). */
  replicationFactor?: number;
  /** publishTimeoutMs: the most a publish may take, retries included, before it rejects; default 5000. */
  publishTimeoutMs?: number;
  /** publishRetries: producer retries within publishTimeoutMs, default 5. */
  publishRetries?: number;
  /** sessionTimeoutMs: consumer-group session timeout, default 30000 (the broker's minimum is usually 6000). */
  sessionTimeoutMs?: number;
  /** rebalanceTimeoutMs: how long the coordinator waits for members to rejoin, default 60000. */
  rebalanceTimeoutMs?: number;
  /** heartbeatIntervalMs: consumer heartbeat period, default 3000 (keep it under a third of the session timeout). */
  heartbeatIntervalMs?: number;
  /** maxBytesPerPartition: the most (compressed) bytes one fetch returns per partition, i.e. the size of a consumed batch; default 1 MiB (kafkajs'). */
  maxBytesPerPartition?: number;
  /**
   * prefetchBatches: batches per partition a consumer may fetch and queue while one is handled, default 1. The
   * next fetch then overlaps the handling of the current batches (a store's round trips, the next batch's
   * decoding) instead of waiting for all of them; 0 fetches only after every batch of the previous fetch is
   * handled. Memory: up to (prefetchBatches + 2) × maxBytesPerPartition per partition (compressed size; records take more once decompressed).
   */
  prefetchBatches?: number;
  /** maxWaitTimeMs: the longest a fetch waits for data (or for minBytes of it); also bounds how long stop() waits on an idle fetch. Default 1000. */
  maxWaitTimeMs?: number;
  /**
   * minBytes: the least (compressed) bytes, over all partitions of a broker, a fetch waits for before it returns,
   * up to maxWaitTimeMs; default 1 (return as soon as anything is there). Under a steady stream 1 means a fetch
   * per few records, so a consumer that writes each batch to a store sends many small writes; a larger value
   * trades at most maxWaitTimeMs of latency for batches of about this size.
   */
  minBytes?: number;
  /** subscribeTimeoutMs: the most subscribe() waits to join the group and position the consumer, default 90000. */
  subscribeTimeoutMs?: number;
  /** redeliveryBackoffMs: first delay before a failed batch is delivered again, doubled per failure, default 500. */
  redeliveryBackoffMs?: number;
  /** maxRedeliveryBackoffMs: the cap of that delay, default 10000. */
  maxRedeliveryBackoffMs?: number;
  /** readyTimeoutMs: how long ready() waits for the cluster to answer, default 2000. */
  readyTimeoutMs?: number;
  /** log: optional sink for warnings and errors; without it the bus is silent. */
  log?: KafkaBusLog;
}

type ResolvedOptions = Required<Omit<KafkaMessageBusOptions, 'log'>> & { log: KafkaBusLog };

/** DEFAULT_PARTITIONS: partition count of a topic whose TopicSpec names none. */
const DEFAULT_PARTITIONS = 3;

/**
 * KafkaMessageBus: the MessageBus on Kafka (kafkajs). Publishing uses an idempotent producer with acks=all,
 * one request in flight (ordering) and LZ4; consuming uses consumer groups with explicit commits after the
 * handler resolves, so delivery is at-least-once.
 */
export class KafkaMessageBus implements MessageBus {
  private readonly options: ResolvedOptions;
  private readonly kafka: Kafka;
  private producerSlot: ProducerSlot | undefined;
  private adminClient: { admin: Admin; connected: Promise<Admin> } | undefined;
  private readonly subscriptions = new Set<KafkaSubscription>();
  private closing: Promise<void> | undefined;

  constructor(options: KafkaMessageBusOptions) {
    if (options.brokers.length === 0) throw new Error('KafkaMessageBus: "brokers" is empty');
    this.options = {
      clientId: 'skein',
      connectionTimeoutMs: 3_000,
      requestTimeoutMs: 10_000,
      replicationFactor: 1,
      publishTimeoutMs: 5_000,
      publishRetries: 5,
      sessionTimeoutMs: 30_000,
      rebalanceTimeoutMs: 60_000,
      heartbeatIntervalMs: 3_000,
      maxWaitTimeMs: 1_000,
      minBytes: 1,
      maxBytesPerPartition: 1_048_576,
      prefetchBatches: 1,
      subscribeTimeoutMs: 90_000,
      redeliveryBackoffMs: 500,
      maxRedeliveryBackoffMs: 10_000,
      readyTimeoutMs: 2_000,
      ...definedOnly(options),
      brokers: options.brokers,
      log: options.log ?? (() => undefined),
    };
    registerLz4Codec();
    patchKafkaRequestQueue();
    this.kafka = new Kafka({
      brokers: this.options.brokers,
      clientId: this.options.clientId,
      connectionTimeout: this.options.connectionTimeoutMs,
      requestTimeout: this.options.requestTimeoutMs,
      // kafkajs logs INFO to the console by default; keep only warnings and errors and route them to `log`.
      logLevel: logLevel.WARN,
      logCreator: () => (entry: LogEntry) => this.forwardKafkaLog(entry),
    });
  }

  /** ensureTopics: creates missing topics (existing ones are left as they are) and waits for their leaders. */
  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    this.assertOpen();
    const admin = await this.admin();
    // One topic per call: when a batch mixes existing and new topics kafkajs reports "already exists" and skips
    // waiting for the leaders of the new ones.
    for (const spec of topics) {
      await this.createTopic(admin, spec);
    }
  }

  /**
   * createTopic: creates one topic and waits for its partition leaders. Right after creation the brokers may not
   * know the partitions yet (UNKNOWN_TOPIC_OR_PARTITION while waiting for leaders, more likely on a busy machine):
   * a retriable error is tried again, up to 5 times, before start-up fails.
   */
  private async createTopic(admin: Admin, spec: TopicSpec): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.createTopics({
          waitForLeaders: true,
          topics: [
            {
              topic: spec.topic,
              numPartitions: spec.partitions ?? DEFAULT_PARTITIONS,
              replicationFactor: this.options.replicationFactor,
              configEntries: Object.entries(spec.config ?? {}).map(([name, value]) => ({ name, value })),
            },
          ],
        });
        return;
      } catch (err) {
        const retriable = (err as { retriable?: boolean }).retriable === true || /does not host this topic-partition|leader/i.test(errorMessage(err));
        if (!retriable || attempt >= 5) throw new Error(`KafkaMessageBus: cannot create topic "${spec.topic}": ${errorMessage(err)}`, { cause: err });
        this.options.log('warn', `KafkaMessageBus: creating topic "${spec.topic}" (attempt ${attempt}): ${errorMessage(err)}; retrying`);
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
      }
    }
  }

  /** deleteTopics: deletes topics (test clean-up); unknown topics are ignored. */
  async deleteTopics(topics: string[]): Promise<void> {
    this.assertOpen();
    if (topics.length === 0) return;
    const admin = await this.admin();
    const existing = new Set(await admin.listTopics());
    const present = topics.filter((topic) => existing.has(topic));
    if (present.length > 0) await admin.deleteTopics({ topics: present });
  }

  /**
   * publish: resolves once every message is acknowledged by all in-sync replicas; rejects within
   * `publishTimeoutMs` otherwise, so callers can answer 503 instead of hanging.
   */
  async publish(topic: string, messages: BusMessage[]): Promise<void> {
    this.assertOpen();
    if (messages.length === 0) return;
    const started = Date.now();
    const slot = this.currentProducer();
    slot.inFlight += 1;
    try {
      const send = slot.connected.then(() =>
        slot.producer.send({
          topic,
          acks: -1,
          timeout: this.options.publishTimeoutMs,
          compression: CompressionTypes.LZ4,
          messages: messages.map((m) => ({ key: m.key, value: m.value })),
        }),
      );
      await withDeadline(send, this.options.publishTimeoutMs, 'no acknowledgement');
    } catch (err) {
      // After a failed send the idempotent producer's sequence numbers may no longer match the broker's: a
      // later batch could then be taken for a duplicate and dropped. A fresh producer gets a new producer id.
      this.retireProducer(slot);
      throw new Error(
        `KafkaMessageBus: publishing ${messages.length} message(s) to "${topic}" failed after ${Date.now() - started} ms: ${errorMessage(err)}`,
        { cause: err },
      );
    } finally {
      slot.inFlight -= 1;
      if (slot.retired && slot.inFlight === 0) void disconnectQuietly(slot.producer);
    }
  }

  /**
   * subscribe: starts a consumer of `groupId` on `topic`; resolves once it has joined the group and knows where
   * to read from (so with `fromBeginning: false`, messages published afterwards are not missed).
   */
  async subscribe(options: SubscribeOptions, handler: BusBatchHandler): Promise<BusSubscription> {
    this.assertOpen();
    const subscription = new KafkaSubscription(this.kafka, this.options, options, handler, () => this.admin(), (s) =>
      this.subscriptions.delete(s),
    );
    this.subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (err) {
      await subscription.stop();
      throw new Error(`KafkaMessageBus: cannot subscribe group "${options.groupId}" to "${options.topic}": ${errorMessage(err)}`, {
        cause: err,
      });
    }
    return subscription;
  }

  /** ready: true when the cluster answers a describe within `readyTimeoutMs`. */
  async ready(): Promise<boolean> {
    if (this.closing !== undefined) return false;
    try {
      const deadline = Date.now() + this.options.readyTimeoutMs;
      const admin = await withDeadline(this.admin(), this.options.readyTimeoutMs, 'no connection');
      await withDeadline(admin.describeCluster(), Math.max(1, deadline - Date.now()), 'no answer');
      return true;
    } catch {
      return false;
    }
  }

  /** close: stops every subscription (each finishes its batch in flight), then disconnects producer and admin. */
  close(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    const slot = this.producerSlot;
    this.producerSlot = undefined;
    const admin = this.adminClient?.admin;
    this.adminClient = undefined;
    // Not waiting for a connect still in progress (kafkajs keeps retrying an unreachable broker for seconds).
    await Promise.all([
      slot === undefined ? undefined : disconnectQuietly(slot.producer),
      admin === undefined ? undefined : disconnectQuietly(admin),
    ]);
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw new Error('KafkaMessageBus: the bus is closed');
  }

  private currentProducer(): ProducerSlot {
    if (this.producerSlot !== undefined) return this.producerSlot;
    const producer = this.kafka.producer({
      idempotent: true,
      // Idempotence allows up to 5; 1 keeps a retried batch from overtaking the next one.
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Explicit (the Java-compatible murmur2 one) so kafkajs does not warn that its default changed in v2.
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: {
        retries: this.options.publishRetries,
        initialRetryTime: 100,
        maxRetryTime: Math.max(100, Math.floor(this.options.publishTimeoutMs / 2)),
      },
    });
    const slot: ProducerSlot = { producer, connected: producer.connect(), inFlight: 0, retired: false };
    // A failed connect fails the publishes that wait on it; the next publish starts over with a new producer.
    slot.connected.catch(() => this.retireProducer(slot));
    this.producerSlot = slot;
    return slot;
  }

  private retireProducer(slot: ProducerSlot): void {
    if (this.producerSlot === slot) this.producerSlot = undefined;
    if (slot.retired) return;
    slot.retired = true;
    if (slot.inFlight === 0) void disconnectQuietly(slot.producer);
  }

  private admin(): Promise<Admin> {
    if (this.closing !== undefined) return Promise.reject(new Error('KafkaMessageBus: the bus is closed'));
    if (this.adminClient === undefined) {
      const admin = this.kafka.admin();
      const client = { admin, connected: admin.connect().then(() => admin) };
      // A failed connect fails its callers; the next call starts over.
      client.connected.catch(() => {
        if (this.adminClient === client) this.adminClient = undefined;
      });
      this.adminClient = client;
    }
    return this.adminClient.connected;
  }

  private forwardKafkaLog(entry: LogEntry): void {
    const { message, timestamp: _timestamp, ...context } = entry.log;
    // Deliberate: retries are bounded so publish can fail fast (503); a failed producer is replaced (see publish).
    if (message.startsWith('Limiting retries for the idempotent producer')) return;
    const level = entry.level === logLevel.ERROR ? 'error' : entry.level === logLevel.WARN ? 'warn' : undefined;
    if (level !== undefined) this.options.log(level, `kafkajs ${entry.namespace}: ${message}`, context);
  }
}

/** ProducerSlot: the producer in use, its connection, and how many publishes still use it. */
interface ProducerSlot {
  producer: Producer;
  connected: Promise<void>;
  inFlight: number;
  retired: boolean;
}

/** FetchedBatch: a consumed batch queued for the handler, with what committing it afterwards needs. */
interface FetchedBatch {
  /** generation: the group join it was fetched in; after a rejoin it is neither handled nor committed. */
  generation: number;
  topic: string;
  partition: number;
  records: BusRecord[];
  firstOffset: string;
  lastOffset: string;
  /** next: the offset after the batch (control records included), committed once the batch is handled. */
  next: number;
  commit: EachBatchPayload['commitOffsetsIfNecessary'];
  pause: EachBatchPayload['pause'];
  consumer: Consumer;
}

/**
 * KafkaSubscription: one consumer of one group on one topic. Fetched batches queue per partition
 * ({@link PartitionLanes}, `prefetchBatches` deep) and are handled in order while the next fetch runs; each is
 * committed once handled. A batch whose handler throws is not committed, nor is anything after it: the
 * partition's queue is dropped, the partition paused, and after a backoff the consumer seeks back to the batch's
 * first offset and resumes. Other partitions keep flowing meanwhile.
 */
class KafkaSubscription implements BusSubscription {
  private consumer: Consumer | undefined;
  private stopping: Promise<void> | undefined;
  /** joins: counts group (re)joins; a backoff that spans a rebalance must not seek (the partition may have moved). */
  private joins = 0;
  private positioned = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** backoffMs: the next redelivery delay per partition; absent after a success. */
  private readonly backoffMs = new Map<number, number>();
  private restartDelayMs: number;
  /** committed: per partition, the last offset this member committed (commits only move forward). */
  private readonly committed = new Map<number, number>();
  /** lanes: per partition, the fetched batches waiting for the handler and the one being handled. */
  private readonly lanes: PartitionLanes<FetchedBatch>;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: ResolvedOptions,
    private readonly subscription: SubscribeOptions,
    private readonly handler: BusBatchHandler,
    private readonly admin: () => Promise<Admin>,
    private readonly onStopped: (s: KafkaSubscription) => void,
  ) {
    this.restartDelayMs = options.redeliveryBackoffMs;
    this.lanes = new PartitionLanes<FetchedBatch>({
      prefetch: options.prefetchBatches,
      concurrency: subscription.partitionsConcurrently ?? 1,
      handle: (batch) => this.handleFetched(batch),
      failed: (batch, err) => this.redeliverLater(batch, err),
    });
  }

  /** start: runs the consumer and waits until it has fetched once (joined, assigned, offsets resolved). */
  async start(): Promise<void> {
    let settle: { resolve: () => void; reject: (err: Error) => void } | undefined;
    const positioned = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    const consumer = this.createConsumer((event) => {
      if (event === 'fetched') settle?.resolve();
      else settle?.reject(event);
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.subscription.topic, fromBeginning: this.subscription.fromBeginning ?? true });
    // run() resolves after the first join attempt; a failure there surfaces as a crash event instead.
    await consumer.run({
      partitionsConsumedConcurrently: this.subscription.partitionsConcurrently ?? 1,
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.onBatch(consumer, payload),
    });
    await withDeadline(positioned, this.options.subscribeTimeoutMs, 'the consumer did not join the group');
    this.positioned = true;
  }

  /** stop: stops fetching, lets the batch in flight finish (and commit), leaves the group; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  /** lag: per partition, high watermark − committed offset (a group without commits counts from its start). */
  async lag(): Promise<number> {
    const admin = await this.admin();
    const { topic, groupId } = this.subscription;
    const [watermarks, groupOffsets] = await Promise.all([
      admin.fetchTopicOffsets(topic),
      admin.fetchOffsets({ groupId, topics: [topic] }),
    ]);
    const committed = new Map<number, number>();
    for (const p of groupOffsets.find((t) => t.topic === topic)?.partitions ?? []) committed.set(p.partition, Number(p.offset));
    let lag = 0;
    for (const w of watermarks) {
      const high = Number(w.high);
      const done = committed.get(w.partition) ?? -1;
      // -1: nothing committed yet; the group will start at the oldest (fromBeginning) or the newest message.
      const start = done >= 0 ? done : (this.subscription.fromBeginning ?? true) ? Number(w.low) : high;
      lag += Math.max(0, high - start);
    }
    return lag;
  }

  private async stopNow(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    try {
      // Queued batches are dropped (uncommitted: whoever owns the partition next reads them again); the ones being
      // handled finish and commit while the member is still in the group. Then kafkajs stops fetching and leaves.
      await this.lanes.close();
      await this.consumer?.disconnect();
    } catch (err) {
      this.options.log('warn', `KafkaMessageBus: stopping group "${this.subscription.groupId}" failed: ${errorMessage(err)}`);
    } finally {
      this.onStopped(this);
    }
  }

  private createConsumer(onFirst: (event: 'fetched' | Error) => void): Consumer {
    const consumer = this.kafka.consumer({
      groupId: this.subscription.groupId,
      sessionTimeout: this.options.sessionTimeoutMs,
      rebalanceTimeout: this.options.rebalanceTimeoutMs,
      heartbeatInterval: this.options.heartbeatIntervalMs,
      maxWaitTimeInMs: this.options.maxWaitTimeMs,
      minBytes: this.options.minBytes,
      maxBytesPerPartition: this.options.maxBytesPerPartition,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    const { FETCH, GROUP_JOIN, CRASH } = consumer.events;
    const removeFetch = consumer.on(FETCH, () => {
      removeFetch();
      this.restartDelayMs = this.options.redeliveryBackoffMs;
      onFirst('fetched');
    });
    consumer.on(GROUP_JOIN, () => {
      this.joins += 1;
      // After a rebalance another member may have committed these partitions: forget what this one committed.
      this.committed.clear();
      // kafkajs reads every partition again from its last commit: what was queued would be handled twice.
      this.lanes.reset();
    });
    consumer.on(CRASH, (event: ConsumerCrashEvent) => this.onCrash(consumer, event, onFirst));
    return consumer;
  }

  /**
   * onCrash: kafkajs restarts the consumer itself after retriable failures. After a non-retriable one it gives up;
   * a service must keep consuming, so the bus starts a new consumer after a backoff (unless subscribe() is still
   * waiting: then subscribe fails).
   */
  private onCrash(consumer: Consumer, event: ConsumerCrashEvent, onFirst: (event: 'fetched' | Error) => void): void {
    const { error, restart } = event.payload;
    if (restart || this.stopping !== undefined || consumer !== this.consumer) return;
    if (!this.positioned) {
      onFirst(error);
      return;
    }
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(delay * 2, this.options.maxRedeliveryBackoffMs);
    this.options.log('error', `KafkaMessageBus: consumer of group "${this.subscription.groupId}" crashed; restarting in ${delay} ms: ${error.message}`);
    this.later(delay, () => {
      const next = this.createConsumer(() => undefined);
      void (async () => {
        try {
          await next.connect();
          await next.subscribe({ topic: this.subscription.topic, fromBeginning: this.subscription.fromBeginning ?? true });
          await next.run({
            partitionsConsumedConcurrently: this.subscription.partitionsConcurrently ?? 1,
            autoCommit: false,
            eachBatchAutoResolve: false,
            eachBatch: (payload) => this.onBatch(next, payload),
          });
        } catch (err) {
          this.onCrash(next, { ...event, payload: { ...event.payload, error: asError(err), restart: false } }, onFirst);
        }
      })();
    });
  }

  /**
   * onBatch: queues a fetched batch in its partition's lane and marks it read, so kafkajs fetches on while it is
   * handled. Waits while the lane is full (backpressure), heartbeating meanwhile. A batch that is not queued (the
   * partition failed, the group rebalances, the consumer stops) is left unread: it is fetched again.
   */
  private async onBatch(consumer: Consumer, payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale, pause } = payload;
    // Stopping, or a seek is pending for this partition: leave the batch unread, it is fetched again.
    if (!isRunning() || isStale() || this.stopping !== undefined) return;
    const { topic, partition, messages } = batch;
    if (messages.length === 0) return;
    const records: BusRecord[] = [];
    for (const m of messages) {
      // Tombstones (null value) carry nothing for Skein; they are skipped but committed with the batch.
      if (m.value === null) continue;
      records.push({ offset: Number(m.offset), key: m.key === null ? undefined : m.key.toString('utf8'), value: m.value });
    }
    const fetched: FetchedBatch = {
      generation: this.joins,
      topic,
      partition,
      records,
      firstOffset: messages[0].offset,
      lastOffset: messages[messages.length - 1].offset,
      next: Number(BigInt(batch.lastOffset()) + 1n),
      commit: commitOffsetsIfNecessary,
      pause,
      consumer,
    };
    // A slow handler (a store catching up) must not look like a dead member: heartbeat while waiting for room.
    // A heartbeat that reports a rebalance ends the wait: kafkajs must rejoin, and will fetch the batch again.
    let rebalancing!: () => void;
    const abandon = new Promise<void>((resolve) => (rebalancing = resolve));
    const beat = setInterval(() => void heartbeat().catch(() => rebalancing()), this.options.heartbeatIntervalMs);
    try {
      const admission = await this.lanes.admit(partition, fetched, abandon);
      if (admission === undefined) return;
      resolveOffset(fetched.lastOffset);
      if (this.options.prefetchBatches === 0) await admission.handled;
    } finally {
      clearInterval(beat);
      rebalancing();
    }
  }

  /**
   * handleFetched: runs the handler on a queued batch, then commits it (only up to the handler's `commitUpTo`,
   * when it deferred work). Throws when the handler does, so that nothing after the batch is handled before it.
   */
  private async handleFetched(fetched: FetchedBatch): Promise<void> {
    const { topic, partition, records } = fetched;
    // Fetched before a rejoin: kafkajs reads the partition again from its last commit (maybe in another member).
    if (fetched.generation !== this.joins) return;
    let outcome: BatchOutcome | undefined;
    try {
      if (records.length > 0) outcome = (await this.handler({ topic, partition, records })) ?? undefined;
    } catch (err) {
      if (fetched.generation !== this.joins || this.stopping !== undefined) return;
      throw err;
    }
    this.backoffMs.delete(partition);
    if (fetched.generation !== this.joins) return;
    // A handler that deferred work (BatchOutcome) gets only the records before its first pending one committed.
    const commitTo = outcome === undefined ? fetched.next : Math.min(outcome.commitUpTo, fetched.next);
    if (commitTo <= (this.committed.get(partition) ?? -1)) return;
    try {
      // The payload's commit rather than consumer.commitOffsets(): the latter silently skips the commit once stop()
      // has begun, which would drop the commit of a batch stop() is waiting for.
      await fetched.commit({ topics: [{ topic, partitions: [{ partition, offset: String(commitTo) }] }] });
      this.committed.set(partition, commitTo);
    } catch (err) {
      // Not fatal: the next batch's commit covers these records; until then they would be read again (at-least-once).
      this.options.log('warn', `KafkaMessageBus: commit of group "${this.subscription.groupId}" on ${topic}[${partition}] failed: ${errorMessage(err)}`);
    }
  }

  /** commit: commits deferred offsets of partitions this member handled; a failure (e.g. a rebalance) is logged, not thrown. */
  async commit(offsets: PartitionOffset[]): Promise<void> {
    const consumer = this.consumer;
    const fresh = offsets.filter(({ partition, offset }) => offset > (this.committed.get(partition) ?? -1));
    if (consumer === undefined || fresh.length === 0 || this.stopping !== undefined) return;
    try {
      await consumer.commitOffsets(fresh.map(({ partition, offset }) => ({ topic: this.subscription.topic, partition, offset: String(offset) })));
      for (const { partition, offset } of fresh) this.committed.set(partition, offset);
    } catch (err) {
      // Not fatal: the records stay uncommitted and are read again by whoever owns the partition (at-least-once).
      this.options.log('warn', `KafkaMessageBus: deferred commit of group "${this.subscription.groupId}" failed: ${errorMessage(err)}`);
    }
  }

  /**
   * pause: stops fetching every partition of the topic, drops the queued batches (not handled, so not committed)
   * and waits for the ones being handled. There is no resume: pause is the first step of a graceful stop.
   */
  async pause(): Promise<void> {
    this.consumer?.pause([{ topic: this.subscription.topic }]);
    await this.lanes.close();
  }

  /** redeliverLater: the partition's lane is blocked; after a backoff the consumer reads again from the failed batch. */
  private redeliverLater(fetched: FetchedBatch, err: unknown): void {
    const { consumer, topic, partition, firstOffset, lastOffset } = fetched;
    const delay = this.backoffMs.get(partition) ?? this.options.redeliveryBackoffMs;
    this.backoffMs.set(partition, Math.min(delay * 2, this.options.maxRedeliveryBackoffMs));
    this.options.log(
      'warn',
      `KafkaMessageBus: handler of group "${this.subscription.groupId}" failed on ${topic}[${partition}] offsets ${firstOffset}..${lastOffset}; redelivering in ${delay} ms: ${errorMessage(err)}`,
    );
    // Pause rather than throw: a throw makes kafkajs retry the whole fetch loop and, after a few attempts, restart
    // the consumer (a group rebalance); pausing holds back only this partition.
    const resume = fetched.pause();
    const joinsAtFailure = this.joins;
    this.later(delay, () => {
      if (consumer !== this.consumer) return;
      // Nothing is fetched before this callback ends, so unblocking ahead of the seek lets no batch in early.
      this.lanes.unblock(partition);
      try {
        // The batches after this one were marked read when queued: the seek makes the next fetch start here.
        // Skipped after a rebalance: the partition may belong to another member that has moved on, and kafkajs
        // reads from the last commit anyway.
        if (this.joins === joinsAtFailure) consumer.seek({ topic, partition, offset: firstOffset });
        resume();
      } catch (seekErr) {
        // The consumer is restarting: it resumes from the committed offset, i.e. this batch, by itself.
        this.options.log('warn', `KafkaMessageBus: could not resume ${topic}[${partition}]: ${errorMessage(seekErr)}`);
      }
    });
  }

  private later(delayMs: number, action: () => void): void {
    if (this.stopping !== undefined) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.stopping === undefined) action();
    }, delayMs);
    this.timers.add(timer);
  }
}

/** withDeadline: `work`, or a rejection naming `what` once `ms` have passed. */
async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function disconnectQuietly(client: { disconnect(): Promise<void> }): Promise<void> {
  try {
    await client.disconnect();
  } catch {
    // Closing: nothing left to do about a connection that will not close cleanly.
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
