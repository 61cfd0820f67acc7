/** BusMessage: one message to publish: `key` picks the partition (Skein uses the traceId). */
export interface BusMessage {
  key: string;
  value: Buffer;
}

/** BusRecord: one consumed message with its partition offset. */
export interface BusRecord {
  offset: number;
  key: string | undefined;
  value: Buffer;
}

/** BusBatch: consecutive records of one partition of one topic, oldest first. */
export interface BusBatch {
  topic: string;
  partition: number;
  records: BusRecord[];
}

/**
 * BatchOutcome: what a handler that keeps work in memory (e.g. traces waiting for their idle period) tells the
 * bus: `commitUpTo` is the offset of the partition's first record that is not durable yet — the bus commits
 * everything before it and nothing after. The rest is committed later with {@link BusSubscription.commit}.
 */
export interface BatchOutcome {
  commitUpTo: number;
}

/**
 * BusBatchHandler: processes one batch. Resolving with nothing means every record is durably handled: the bus
 * then commits the offsets; resolving with a {@link BatchOutcome} commits only up to its offset. Throwing means
 * nothing of the batch is committed: it is delivered again later (at-least-once), after a backoff.
 */
export type BusBatchHandler = (batch: BusBatch) => Promise<void | BatchOutcome>;

/** PartitionOffset: the next offset to read in a partition of the subscription's topic (everything before it is done). */
export interface PartitionOffset {
  partition: number;
  offset: number;
}

/** TopicSpec: a topic to create if missing. */
export interface TopicSpec {
  topic: string;
  /** partitions: partition count, default 3. */
  partitions?: number;
  /** config: topic-level settings, e.g. `compression.type: lz4`. */
  config?: Record<string, string>;
}

/** SubscribeOptions: a consumer-group subscription to one topic. */
export interface SubscribeOptions {
  topic: string;
  groupId: string;
  /** fromBeginning: a new group starts at the oldest message (default true: no span is skipped). */
  fromBeginning?: boolean;
  /**
   * partitionsConcurrently: batches of different partitions this member may handle at once (default 1); a
   * handler that waits on I/O overlaps its requests this way. Order within a partition is always kept. A hint:
   * the in-memory bus hands out one batch at a time.
   */
  partitionsConcurrently?: number;
}

/** BusSubscription: a running consumer. */
export interface BusSubscription {
  /**
   * commit: commits offsets outside a batch (work a handler deferred with {@link BatchOutcome}); a member's
   * commits only move forward. A partition no longer assigned to this consumer may be skipped: its new owner
   * re-reads from the last commit (at-least-once).
   */
  commit(offsets: PartitionOffset[]): Promise<void>;
  /** pause: stops fetching new batches (graceful shutdown: flush deferred work, commit, then stop). */
  pause(): Promise<void>;
  /** stop: stops fetching, waits for the batch in flight, commits, and leaves the group. */
  stop(): Promise<void>;
  /** lag: messages not yet committed by this group, summed over partitions. */
  lag(): Promise<number>;
}

/** MessageBus: the port to the log between the gateway and its consumers (Kafka, or in-memory when embedded). */
export interface MessageBus {
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  /** publish: resolves only once every message is durable (Kafka: acknowledged by all in-sync replicas). */
  publish(topic: string, messages: BusMessage[]): Promise<void>;
  subscribe(options: SubscribeOptions, handler: BusBatchHandler): Promise<BusSubscription>;
  /** ready: whether the bus is reachable right now (readiness probes). */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}
