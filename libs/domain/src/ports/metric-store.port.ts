import { MetricKey, MinuteWindow } from '../metrics/minute-window';

/** StreamCheckpoint: the last bus offset folded into the store for one stream (consumer group + topic + partition). */
export interface StreamCheckpoint {
  stream: string;
  offset: number;
}

/** MetricStore: the port to minute-window storage (Redis, or in-memory when embedded). */
export interface MetricStore {
  /**
   * applyWindows: adds the windows to the stored ones and records the checkpoint, atomically. When the stored
   * checkpoint of the stream is already >= `checkpoint.offset` nothing is applied and it returns false, so a
   * redelivered batch is never counted twice.
   */
  applyWindows(windows: MinuteWindow[], checkpoint: StreamCheckpoint): Promise<boolean>;
  /** getCheckpoint: the stored offset of a stream, or undefined before its first batch. */
  getCheckpoint(stream: string): Promise<number | undefined>;
  /** getWindows: stored windows of one key with fromMinute <= minute <= toMinute (epoch ms), oldest first. */
  getWindows(key: MetricKey, fromMinute: number, toMinute: number): Promise<MinuteWindow[]>;
  /** listServices / listOperations: the keys that have windows. */
  listServices(): Promise<string[]>;
  listOperations(service: string): Promise<string[]>;
  ready(): Promise<boolean>;
  close(): Promise<void>;
}
