import Redis from 'ioredis';
import { MINUTE_MS, MetricKey, MetricStore, MinuteWindow, StreamCheckpoint } from '@skein/domain';
import { DEFAULT_REDIS_KEY_PREFIX, RedisKeys } from '@skein/contracts';
import { deleteKeysWithPrefix, pingWithin, quit } from './redis-key-cleanup';

/** DEFAULT_WINDOW_TTL_SECONDS: how long a minute window key lives after its last update (7 days, in seconds). */
export const DEFAULT_WINDOW_TTL_SECONDS = 7 * 24 * 3600;

/**
 * MAX_WINDOW_RANGE_MINUTES: the most minute starts one getWindows call may read (one HGETALL each): 1441, i.e. a
 * 24-hour span with both ends inclusive, the widest range query-api accepts. MemoryMetricStore enforces the same.
 */
export const MAX_WINDOW_RANGE_MINUTES = 1441;

/** RedisMetricStoreOptions: how to reach Redis and how to lay out and age the keys. */
export interface RedisMetricStoreOptions {
  /** url: e.g. `redis://127.0.0.1:6379`. Required unless `redis` is given. */
  url?: string;
  /** keyPrefix: first segment of every key (see RedisKeys). Default DEFAULT_REDIS_KEY_PREFIX (`skein`). */
  keyPrefix?: string;
  /** windowTtlSeconds: TTL set on a minute window key at each update, seconds. Default 7 days. */
  windowTtlSeconds?: number;
  /** redis: an existing client to use instead of connecting to `url`; the caller keeps ownership (close() leaves it open). */
  redis?: Redis;
  /** connectTimeoutMs: timeout of each connection attempt, milliseconds. Default 5000. Ignored with `redis`. */
  connectTimeoutMs?: number;
  /** readyTimeoutMs: how long ready() waits for PONG, milliseconds. Default 2000. */
  readyTimeoutMs?: number;
}

/**
 * APPLY_WINDOWS_LUA: checkpoint guard and window merge in one script, so a batch is counted entirely or not at all
 * and a redelivered batch (offset <= stored checkpoint) is a no-op.
 * KEYS: [1] checkpoints hash, [2] services set, then per window i: [1+2i] window hash, [2+2i] operations set.
 * ARGV: [1] stream, [2] offset, [3] TTL seconds, [4] JSON [[service, operation, calls, errors, sumUs, maxUs,
 * [bucket, count, …]], …]. Counts travel as strings: a Lua number passed to redis.call is formatted with %.14g,
 * which would turn a large sum into `1e+14` and make HINCRBY fail half-way through the batch.
 */
const APPLY_WINDOWS_LUA = `
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored and tonumber(stored) >= tonumber(ARGV[2]) then return 0 end
local windows = cjson.decode(ARGV[4])
for i, w in ipairs(windows) do
  local key = KEYS[1 + 2 * i]
  redis.call('HINCRBY', key, 'calls', w[3])
  redis.call('HINCRBY', key, 'errors', w[4])
  redis.call('HINCRBY', key, 'sumUs', w[5])
  local max = redis.call('HGET', key, 'maxUs')
  if not max or tonumber(w[6]) > tonumber(max) then redis.call('HSET', key, 'maxUs', w[6]) end
  local h = w[7]
  for j = 1, #h, 2 do redis.call('HINCRBY', key, 'b' .. h[j], h[j + 1]) end
  redis.call('EXPIRE', key, ARGV[3])
  redis.call('SADD', KEYS[2], w[1])
  redis.call('SADD', KEYS[2 + 2 * i], w[2])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/** The command defineCommand adds to the client; ioredis types cannot know it. */
interface ApplyWindowsCommand {
  skeinApplyWindows(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
}

type EncodedWindow = [string, string, string, string, string, string, (number | string)[]];

/**
 * RedisMetricStore: the MetricStore on Redis. Each (service, operation, minute) is a hash of counters merged with
 * HINCRBY, so any number of aggregator instances can add to the same minute; a per-stream checkpoint applied in
 * the same Lua script makes redelivered bus batches count once.
 */
export class RedisMetricStore implements MetricStore {
  /** prefix: the key prefix in use (tests read it to inspect keys). */
  readonly prefix: string;
  /** windowTtlSeconds: TTL of minute window keys, seconds. */
  readonly windowTtlSeconds: number;
  private readonly redis: Redis;
  private readonly ownsClient: boolean;
  private readonly readyTimeoutMs: number;

  constructor(options: RedisMetricStoreOptions) {
    this.prefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
    this.windowTtlSeconds = options.windowTtlSeconds ?? DEFAULT_WINDOW_TTL_SECONDS;
    this.readyTimeoutMs = options.readyTimeoutMs ?? 2000;
    if (!Number.isSafeInteger(this.windowTtlSeconds) || this.windowTtlSeconds <= 0) {
      throw new RangeError(`windowTtlSeconds must be a positive integer, got ${this.windowTtlSeconds}`);
    }
    if (options.redis !== undefined) {
      this.redis = options.redis;
      this.ownsClient = false;
    } else {
      if (options.url === undefined || options.url === '') throw new Error('RedisMetricStore needs a url or a redis client');
      this.redis = new Redis(options.url, { connectTimeout: options.connectTimeoutMs ?? 5000 });
      // Connection failures already surface as failed commands and ready() = false; without a listener ioredis
      // would also print every reconnect attempt.
      this.redis.on('error', () => undefined);
      this.ownsClient = true;
    }
    this.redis.defineCommand('skeinApplyWindows', { lua: APPLY_WINDOWS_LUA });
  }

  async applyWindows(windows: MinuteWindow[], checkpoint: StreamCheckpoint): Promise<boolean> {
    if (!Number.isSafeInteger(checkpoint.offset)) throw new TypeError(`checkpoint offset must be an integer, got ${checkpoint.offset}`);
    // Validate everything before the script runs: Redis does not roll a script back when HINCRBY rejects a value.
    const keys = [RedisKeys.checkpoints(this.prefix), RedisKeys.services(this.prefix)];
    const encoded: EncodedWindow[] = [];
    for (const w of windows) {
      const histogram: (number | string)[] = [];
      for (const [bucket, count] of w.histogram) {
        histogram.push(integer(bucket, 'histogram bucket', w), countString(count, 'histogram count', w));
      }
      encoded.push([
        w.service,
        w.operation,
        countString(w.calls, 'calls', w),
        countString(w.errors, 'errors', w),
        countString(w.totalDurationUs, 'totalDurationUs', w),
        countString(w.maxDurationUs, 'maxDurationUs', w),
        histogram,
      ]);
      keys.push(RedisKeys.minuteWindow(this.prefix, w, minute(w.minute)), RedisKeys.operations(this.prefix, w.service));
    }
    const args = [checkpoint.stream, String(checkpoint.offset), String(this.windowTtlSeconds), JSON.stringify(encoded)];
    const applied = await (this.redis as unknown as ApplyWindowsCommand).skeinApplyWindows(keys.length, ...keys, ...args);
    return applied === 1;
  }

  async getCheckpoint(stream: string): Promise<number | undefined> {
    const stored = await this.redis.hget(RedisKeys.checkpoints(this.prefix), stream);
    return stored === null ? undefined : Number(stored);
  }

  async getWindows(key: MetricKey, fromMinute: number, toMinute: number): Promise<MinuteWindow[]> {
    // Only minute starts can hold windows, so round the range inward to them.
    const first = Math.ceil(fromMinute / MINUTE_MS) * MINUTE_MS;
    const last = Math.floor(toMinute / MINUTE_MS) * MINUTE_MS;
    if (last < first) return [];
    const count = (last - first) / MINUTE_MS + 1;
    if (count > MAX_WINDOW_RANGE_MINUTES) {
      throw new RangeError(`getWindows range of ${count} minutes exceeds the maximum of ${MAX_WINDOW_RANGE_MINUTES}; query in smaller ranges`);
    }
    const pipeline = this.redis.pipeline();
    for (let m = first; m <= last; m += MINUTE_MS) pipeline.hgetall(RedisKeys.minuteWindow(this.prefix, key, m));
    const results = (await pipeline.exec()) ?? [];
    const windows: MinuteWindow[] = [];
    results.forEach(([err, value], i) => {
      if (err) throw err;
      const hash = value as Record<string, string>;
      if (Object.keys(hash).length === 0) return;
      windows.push(decodeWindow(key, first + i * MINUTE_MS, hash));
    });
    return windows;
  }

  // Sets are unordered; sort() gives UTF-16 code-unit order, the same as MemoryMetricStore.
  async listServices(): Promise<string[]> {
    return (await this.redis.smembers(RedisKeys.services(this.prefix))).sort();
  }

  async listOperations(service: string): Promise<string[]> {
    return (await this.redis.smembers(RedisKeys.operations(this.prefix, service))).sort();
  }

  async ready(): Promise<boolean> {
    return pingWithin(this.redis, this.readyTimeoutMs);
  }

  async close(): Promise<void> {
    if (this.ownsClient) await quit(this.redis);
  }

  /** deleteAll: deletes every key under this store's prefix; for test cleanup. Returns the number of keys deleted. */
  async deleteAll(): Promise<number> {
    return deleteKeysWithPrefix(this.redis, this.prefix);
  }
}

function decodeWindow(key: MetricKey, minuteMs: number, hash: Record<string, string>): MinuteWindow {
  const histogram = new Map<number, number>();
  const buckets = Object.keys(hash)
    .filter((field) => field.startsWith('b'))
    .map((field) => Number(field.slice(1)))
    .sort((a, b) => a - b);
  for (const bucket of buckets) histogram.set(bucket, Number(hash[`b${bucket}`]));
  return {
    service: key.service,
    operation: key.operation,
    minute: minuteMs,
    calls: Number(hash['calls'] ?? 0),
    errors: Number(hash['errors'] ?? 0),
    totalDurationUs: Number(hash['sumUs'] ?? 0),
    maxDurationUs: Number(hash['maxUs'] ?? 0),
    histogram,
  };
}

function minute(value: number): number {
  if (!Number.isSafeInteger(value) || value % MINUTE_MS !== 0) throw new RangeError(`window minute must be a multiple of ${MINUTE_MS} ms, got ${value}`);
  return value;
}

function integer(value: number, what: string, w: MinuteWindow): number {
  if (!Number.isSafeInteger(value)) throw new TypeError(`${what} of window ${w.service}/${w.operation}@${w.minute} must be an integer, got ${value}`);
  return value;
}

function countString(value: number, what: string, w: MinuteWindow): string {
  if (integer(value, what, w) < 0) throw new RangeError(`${what} of window ${w.service}/${w.operation}@${w.minute} must be >= 0, got ${value}`);
  return String(value);
}
