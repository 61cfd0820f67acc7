/** PartitionLanesOptions: how far ahead of the handler a consumer may fetch, and how many partitions it handles at once. */
export interface PartitionLanesOptions<T> {
  /** prefetch: batches per partition that may wait while one is handled (0: a lane holds only the batch being handled). */
  prefetch: number;
  /** concurrency: batches of different partitions handled at once, at least 1. */
  concurrency: number;
  /** handle: handles one batch. When it throws, the partition is blocked (see {@link PartitionLanes.block}) and `failed` is told. */
  handle: (item: T) => Promise<void>;
  /** failed: a batch's handling threw; the caller arranges its redelivery and then calls {@link PartitionLanes.unblock}. */
  failed: (item: T, err: unknown) => void;
}

/** Admission: a queued batch; `handled` resolves once it is handled, or dropped unhandled (reset, block, close). */
export interface Admission {
  handled: Promise<void>;
}

interface Waiting<T> {
  item: T;
  done: () => void;
}

/** Lane: one partition's batches: the one being handled and those waiting, oldest first. */
interface Lane<T> {
  partition: number;
  waiting: Waiting<T>[];
  /** working: the lane's worker loop runs (it may be waiting for a slot). */
  working: boolean;
  /** handling: a batch of the lane is being handled. */
  handling: boolean;
  blocked: boolean;
  /** epoch: changes when the lane's waiting batches are dropped; an admission that sees it change gives up. */
  epoch: number;
  /** wake: re-checks the admission waiting for room, if any (one per partition: a consumer fetches one batch per partition at a time). */
  wake: (() => void) | undefined;
}

/**
 * PartitionLanes: per partition, the fetched batches waiting for the handler, handled one at a time in offset
 * order, while batches of other partitions are handled side by side (at most `concurrency` at once). A consumer
 * thus fetches a partition's next batch while the current one is being handled, instead of fetching only after
 * every batch of the previous fetch is done; a full lane makes {@link admit} wait, which holds back fetching
 * (backpressure). Pure scheduling, no Kafka: the subscription decides what handling and committing mean.
 */
export class PartitionLanes<T> {
  private readonly lanes = new Map<number, Lane<T>>();
  private readonly active = new Set<Promise<void>>();
  private handling = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly options: PartitionLanesOptions<T>) {
    if (!Number.isInteger(options.prefetch) || options.prefetch < 0) throw new Error(`PartitionLanes: prefetch must be an integer ≥ 0, got ${options.prefetch}`);
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new Error(`PartitionLanes: concurrency must be an integer ≥ 1, got ${options.concurrency}`);
  }

  /**
   * admit: waits until the partition's lane has room (at most `prefetch` batches waiting besides the one being
   * handled), then queues `item`. Resolves with its {@link Admission}, or `undefined` when the batch was not
   * queued: the lane is blocked, its waiting batches were dropped meanwhile ({@link reset}, {@link block}), the
   * lanes are closed, or `abandon` resolved first (e.g. the group is rebalancing and the consumer must return).
   */
  async admit(partition: number, item: T, abandon?: Promise<unknown>): Promise<Admission | undefined> {
    const lane = this.lane(partition);
    const epoch = lane.epoch;
    let abandoned = false;
    void abandon?.then(() => {
      abandoned = true;
      lane.wake?.();
    });
    while (!this.closed && !abandoned && !lane.blocked && lane.epoch === epoch && this.isFull(lane)) {
      await new Promise<void>((resolve) => (lane.wake = resolve));
      lane.wake = undefined;
    }
    if (this.closed || abandoned || lane.blocked || lane.epoch !== epoch) return undefined;
    let done!: () => void;
    const handled = new Promise<void>((resolve) => (done = resolve));
    lane.waiting.push({ item, done });
    if (!lane.working) this.track(this.work(lane));
    // Wrapped: an async function returning a promise would wait for it.
    return { handled };
  }

  /** block: drops the partition's waiting batches and refuses new ones until {@link unblock} (a failed batch is redelivered after a backoff). */
  block(partition: number): void {
    const lane = this.lane(partition);
    lane.blocked = true;
    this.drop(lane);
  }

  /** unblock: the partition takes batches again. */
  unblock(partition: number): void {
    this.lane(partition).blocked = false;
  }

  /** reset: drops every waiting batch and unblocks every partition (a rebalance: the consumer reads again from the last commit). */
  reset(): void {
    for (const lane of this.lanes.values()) {
      lane.blocked = false;
      this.drop(lane);
    }
  }

  /** close: drops every waiting batch, refuses new ones, and resolves once the batches being handled are done. */
  async close(): Promise<void> {
    this.closed = true;
    for (const lane of this.lanes.values()) this.drop(lane);
    while (this.active.size > 0) await Promise.allSettled([...this.active]);
  }

  /** waitingCount: batches queued but not yet being handled, over all partitions (tests, metrics). */
  get waitingCount(): number {
    let count = 0;
    for (const lane of this.lanes.values()) count += lane.waiting.length;
    return count;
  }

  private lane(partition: number): Lane<T> {
    let lane = this.lanes.get(partition);
    if (lane === undefined) {
      lane = { partition, waiting: [], working: false, handling: false, blocked: false, epoch: 0, wake: undefined };
      this.lanes.set(partition, lane);
    }
    return lane;
  }

  private isFull(lane: Lane<T>): boolean {
    return lane.waiting.length + (lane.handling ? 1 : 0) > this.options.prefetch;
  }

  private drop(lane: Lane<T>): void {
    lane.epoch++;
    // A dropped batch counts as done for whoever waits on it: it was never handled, and is fetched again.
    for (const entry of lane.waiting.splice(0)) entry.done();
    lane.wake?.();
  }

  private async work(lane: Lane<T>): Promise<void> {
    lane.working = true;
    try {
      while (lane.waiting.length > 0) {
        await this.acquire();
        // The lane may have been emptied (reset, block, close) while waiting for a slot.
        const next = lane.waiting.shift();
        if (next === undefined) {
          this.release();
          continue;
        }
        lane.handling = true;
        try {
          await this.options.handle(next.item);
        } catch (err) {
          // Nothing after a failed batch may be handled before it: it is redelivered first.
          this.block(lane.partition);
          this.options.failed(next.item, err);
        } finally {
          lane.handling = false;
          next.done();
          this.release();
          lane.wake?.();
        }
      }
    } finally {
      lane.working = false;
    }
  }

  private acquire(): Promise<void> {
    if (this.handling < this.options.concurrency) {
      this.handling++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.slotWaiters.push(resolve));
  }

  private release(): void {
    const next = this.slotWaiters.shift();
    // The slot passes straight to the next waiter, so `handling` stays the same.
    if (next !== undefined) next();
    else this.handling--;
  }

  private track(work: Promise<void>): void {
    this.active.add(work);
    void work.finally(() => this.active.delete(work));
  }
}
