import { MINUTE_MS, MetricKey, MetricStore, MinuteWindow, StreamCheckpoint, mergeWindow } from '@skein/domain';

/**
 * MAX_MEMORY_WINDOW_RANGE_MINUTES: the most minute starts one getWindows call may span (a 24-hour span, both ends
 * inclusive). The same limit as the Redis store, so code that works embedded does not fail against Redis.
 */
export const MAX_MEMORY_WINDOW_RANGE_MINUTES = 1441;

/** MemoryMetricStoreOptions: retention of the in-memory windows. */
export interface MemoryMetricStoreOptions {
  /** windowTtlMs: a window is dropped this long after its last update, milliseconds. Default 7 days (as Redis). */
  windowTtlMs?: number;
  /** now: the clock, epoch milliseconds; tests inject one. Default Date.now. */
  now?: () => number;
}

interface StoredWindow {
  window: MinuteWindow;
  /** expiresAt: epoch ms after which the window is gone, like a Redis key TTL refreshed on each update. */
  expiresAt: number;
}

/**
 * MemoryMetricStore: the MetricStore in process memory, for the embedded single-process mode and tests. Same
 * semantics as the Redis store: windows merge by summing (max for maxDurationUs), a batch whose offset is <= the
 * stream's checkpoint is ignored, windows expire after windowTtlMs without updates, and service/operation names
 * stay listed after their windows expire.
 */
export class MemoryMetricStore implements MetricStore {
  /** metric key id → minute → window. */
  private readonly windows = new Map<string, Map<number, StoredWindow>>();
  private readonly checkpoints = new Map<string, number>();
  /** service → its operations. */
  private readonly operations = new Map<string, Set<string>>();
  private readonly windowTtlMs: number;
  private readonly now: () => number;
  private nextSweepAt = 0;
  private closed = false;

  constructor(options: MemoryMetricStoreOptions = {}) {
    this.windowTtlMs = options.windowTtlMs ?? 7 * 24 * 3600 * 1000;
    this.now = options.now ?? Date.now;
  }

  async applyWindows(windows: MinuteWindow[], checkpoint: StreamCheckpoint): Promise<boolean> {
    this.assertOpen();
    // No await before the last write: the whole batch lands in one turn of the event loop, i.e. atomically.
    const stored = this.checkpoints.get(checkpoint.stream);
    if (stored !== undefined && stored >= checkpoint.offset) return false;
    const now = this.now();
    this.sweep(now);
    for (const w of windows) {
      const id = keyId(w);
      let minutes = this.windows.get(id);
      if (minutes === undefined) {
        minutes = new Map();
        this.windows.set(id, minutes);
      }
      const current = minutes.get(w.minute);
      if (current === undefined || current.expiresAt <= now) minutes.set(w.minute, { window: copyWindow(w), expiresAt: now + this.windowTtlMs });
      else {
        mergeWindow(current.window, w);
        current.expiresAt = now + this.windowTtlMs;
      }
      let ops = this.operations.get(w.service);
      if (ops === undefined) {
        ops = new Set();
        this.operations.set(w.service, ops);
      }
      ops.add(w.operation);
    }
    this.checkpoints.set(checkpoint.stream, checkpoint.offset);
    return true;
  }

  async getCheckpoint(stream: string): Promise<number | undefined> {
    this.assertOpen();
    return this.checkpoints.get(stream);
  }

  async getWindows(key: MetricKey, fromMinute: number, toMinute: number): Promise<MinuteWindow[]> {
    this.assertOpen();
    const first = Math.ceil(fromMinute / MINUTE_MS) * MINUTE_MS;
    const last = Math.floor(toMinute / MINUTE_MS) * MINUTE_MS;
    const count = (last - first) / MINUTE_MS + 1;
    if (count > MAX_MEMORY_WINDOW_RANGE_MINUTES) {
      throw new RangeError(`getWindows range of ${count} minutes exceeds the maximum of ${MAX_MEMORY_WINDOW_RANGE_MINUTES}; query in smaller ranges`);
    }
    const now = this.now();
    const out: MinuteWindow[] = [];
    for (const [minute, stored] of this.windows.get(keyId(key)) ?? []) {
      if (minute >= fromMinute && minute <= toMinute && stored.expiresAt > now) out.push(copyWindow(stored.window));
    }
    return out.sort((a, b) => a.minute - b.minute);
  }

  async listServices(): Promise<string[]> {
    this.assertOpen();
    return [...this.operations.keys()].sort();
  }

  async listOperations(service: string): Promise<string[]> {
    this.assertOpen();
    return [...(this.operations.get(service) ?? [])].sort();
  }

  async ready(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('MemoryMetricStore is closed');
  }

  /** sweep: frees expired windows, at most once a minute so a busy stream does not rescan the map per batch. */
  private sweep(now: number): void {
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + MINUTE_MS;
    for (const [id, minutes] of this.windows) {
      for (const [minute, stored] of minutes) if (stored.expiresAt <= now) minutes.delete(minute);
      if (minutes.size === 0) this.windows.delete(id);
    }
  }
}

function keyId(key: MetricKey): string {
  return JSON.stringify([key.service, key.operation]);
}

/** copyWindow: callers own what they pass in and get back, so neither side can change stored counts by mutation. */
function copyWindow(w: MinuteWindow): MinuteWindow {
  return { service: w.service, operation: w.operation, minute: w.minute, calls: w.calls, errors: w.errors, totalDurationUs: w.totalDurationUs, maxDurationUs: w.maxDurationUs, histogram: new Map(w.histogram) };
}
