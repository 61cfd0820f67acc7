import Redis from 'ioredis';
import { SlaState, SlaStateStore } from '@skein/domain';
import { DEFAULT_REDIS_KEY_PREFIX, RedisKeys } from '@skein/contracts';
import { deleteKeysWithPrefix, pingWithin, quit } from './redis-key-cleanup';

/** RedisSlaStateStoreOptions: how to reach Redis and where the keys live. */
export interface RedisSlaStateStoreOptions {
  /** url: e.g. `redis://127.0.0.1:6379`. Required unless `redis` is given. */
  url?: string;
  /** keyPrefix: first segment of every key (see RedisKeys). Default DEFAULT_REDIS_KEY_PREFIX (`skein`). */
  keyPrefix?: string;
  /** redis: an existing client to use instead of connecting to `url`; the caller keeps ownership (close() leaves it open). */
  redis?: Redis;
  /** connectTimeoutMs: timeout of each connection attempt, milliseconds. Default 5000. Ignored with `redis`. */
  connectTimeoutMs?: number;
  /** readyTimeoutMs: how long ready() waits for PONG, milliseconds. Default 2000. */
  readyTimeoutMs?: number;
}

/**
 * COMPARE_AND_SET_LUA: read-compare-write in one script, so two checker instances cannot both win a transition.
 * The stored state is compared by value (decoded), not as text, so a state written with another key order or
 * spacing still matches. KEYS: [1] state key. ARGV: [1] `1` when a state is expected (`0` = key must not exist),
 * [2] expected breached (`1`/`0`), [3] expected lastMinute, [4] next state JSON.
 */
const COMPARE_AND_SET_LUA = `
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if current then return 0 end
else
  if not current then return 0 end
  local ok, state = pcall(cjson.decode, current)
  if not ok or type(state) ~= 'table' or state.breached ~= (ARGV[2] == '1') or state.lastMinute ~= tonumber(ARGV[3]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[4])
return 1
`;

/** The command defineCommand adds to the client; ioredis types cannot know it. */
interface CompareAndSetCommand {
  skeinSlaCompareAndSet(key: string, expectedPresent: string, expectedBreached: string, expectedLastMinute: string, next: string): Promise<number>;
}

/** RedisSlaStateStore: the SlaStateStore on Redis: one JSON string per rule, no TTL (a rule's state lives as long as the rule). */
export class RedisSlaStateStore implements SlaStateStore {
  /** prefix: the key prefix in use. */
  readonly prefix: string;
  private readonly redis: Redis;
  private readonly ownsClient: boolean;
  private readonly readyTimeoutMs: number;

  constructor(options: RedisSlaStateStoreOptions) {
    this.prefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
    this.readyTimeoutMs = options.readyTimeoutMs ?? 2000;
    if (options.redis !== undefined) {
      this.redis = options.redis;
      this.ownsClient = false;
    } else {
      if (options.url === undefined || options.url === '') throw new Error('RedisSlaStateStore needs a url or a redis client');
      this.redis = new Redis(options.url, { connectTimeout: options.connectTimeoutMs ?? 5000 });
      // Connection failures already surface as failed commands and ready() = false; without a listener ioredis
      // would also print every reconnect attempt.
      this.redis.on('error', () => undefined);
      this.ownsClient = true;
    }
    this.redis.defineCommand('skeinSlaCompareAndSet', { lua: COMPARE_AND_SET_LUA, numberOfKeys: 1 });
  }

  async get(rule: string): Promise<SlaState | undefined> {
    const stored = await this.redis.get(RedisKeys.slaState(this.prefix, rule));
    return stored === null ? undefined : parseSlaState(rule, stored);
  }

  async compareAndSet(rule: string, expected: SlaState | undefined, next: SlaState): Promise<boolean> {
    const set = await (this.redis as unknown as CompareAndSetCommand).skeinSlaCompareAndSet(
      RedisKeys.slaState(this.prefix, rule),
      expected === undefined ? '0' : '1',
      expected?.breached ? '1' : '0',
      expected === undefined ? '0' : String(expected.lastMinute),
      serializeSlaState(next),
    );
    return set === 1;
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

/** serializeSlaState: fixed fields in a fixed order, so stored values are predictable (and extra fields are dropped). */
function serializeSlaState(state: SlaState): string {
  return JSON.stringify({ breached: state.breached, lastMinute: state.lastMinute });
}

function parseSlaState(rule: string, stored: string): SlaState {
  let value: unknown;
  try {
    value = JSON.parse(stored);
  } catch {
    value = undefined;
  }
  const state = value as Partial<SlaState> | undefined;
  if (typeof state !== 'object' || state === null || typeof state.breached !== 'boolean' || typeof state.lastMinute !== 'number') {
    throw new Error(`SLA state of rule ${JSON.stringify(rule)} is not {breached, lastMinute} JSON: ${stored.slice(0, 200)}`);
  }
  return { breached: state.breached, lastMinute: state.lastMinute };
}
