import Redis from 'ioredis';
import { EMPTY_POLICY_SET, PolicyConflict, PolicySet, PolicyStore, assertValidPolicySet, checkExpectedVersion, validatePolicySet } from '@skein/domain';
import { DEFAULT_REDIS_KEY_PREFIX, RedisKeys } from '@skein/contracts';
import { deleteKeysWithPrefix, pingWithin, quit } from './redis-key-cleanup';

/** RedisPolicyStoreOptions: how to reach Redis and where the key lives. */
export interface RedisPolicyStoreOptions {
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
 * PUT_POLICY_LUA: version check and write in one script, so of concurrent puts based on one version exactly one
 * wins. The new value is assembled from the rules JSON as text rather than re-encoded by cjson, which would round
 * rates to 14 digits and turn an empty rule list into `{}`.
 * KEYS: [1] policy key. ARGV: [1] expected version, or '' for none; [2] rules JSON array.
 * Returns {1, new version} when written, {0, stored version} on conflict, {-1, 0} when the stored value is unreadable.
 */
const PUT_POLICY_LUA = `
local version = 0
local current = redis.call('GET', KEYS[1])
if current then
  local ok, stored = pcall(cjson.decode, current)
  if not ok or type(stored) ~= 'table' or type(stored.version) ~= 'number' then return {-1, 0} end
  version = stored.version
end
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= version then return {0, version} end
version = version + 1
redis.call('SET', KEYS[1], '{"version":' .. string.format('%d', version) .. ',"rules":' .. ARGV[2] .. '}')
return {1, version}
`;

/** The command defineCommand adds to the client; ioredis types cannot know it. */
interface PutPolicyCommand {
  skeinPutPolicy(key: string, expectedVersion: string, rulesJson: string): Promise<[number, number]>;
}

/**
 * RedisPolicyStore: the PolicyStore on Redis: one JSON string `{"version":n,"rules":[…]}` at RedisKeys.policy,
 * no TTL. Every gateway instance reads it through its PolicyCache; the admin API writes it with put().
 */
export class RedisPolicyStore implements PolicyStore {
  /** prefix: the key prefix in use. */
  readonly prefix: string;
  /** key: the Redis key of the policy set. */
  readonly key: string;
  private readonly redis: Redis;
  private readonly ownsClient: boolean;
  private readonly readyTimeoutMs: number;

  constructor(options: RedisPolicyStoreOptions) {
    this.prefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
    this.key = RedisKeys.policy(this.prefix);
    this.readyTimeoutMs = options.readyTimeoutMs ?? 2000;
    if (options.redis !== undefined) {
      this.redis = options.redis;
      this.ownsClient = false;
    } else {
      if (options.url === undefined || options.url === '') throw new Error('RedisPolicyStore needs a url or a redis client');
      this.redis = new Redis(options.url, { connectTimeout: options.connectTimeoutMs ?? 5000 });
      // Connection failures already surface as failed commands and ready() = false; without a listener ioredis
      // would also print every reconnect attempt.
      this.redis.on('error', () => undefined);
      this.ownsClient = true;
    }
    this.redis.defineCommand('skeinPutPolicy', { lua: PUT_POLICY_LUA, numberOfKeys: 1 });
  }

  async get(): Promise<PolicySet> {
    const stored = await this.redis.get(this.key);
    if (stored === null) return { version: EMPTY_POLICY_SET.version, rules: [] };
    let value: unknown;
    try {
      value = JSON.parse(stored);
    } catch {
      throw new Error(`policy set at Redis key ${JSON.stringify(this.key)} is not JSON: ${stored.slice(0, 200)}`);
    }
    const result = validatePolicySet(value);
    if (!result.ok) {
      const first = result.violations[0];
      throw new Error(`policy set at Redis key ${JSON.stringify(this.key)} is invalid: ${first?.path}: ${first?.message}`);
    }
    return result.set;
  }

  async put(set: PolicySet, expectedVersion?: number): Promise<PolicySet> {
    checkExpectedVersion(expectedVersion);
    const { rules } = assertValidPolicySet({ rules: set.rules });
    const [status, version] = await (this.redis as unknown as PutPolicyCommand).skeinPutPolicy(
      this.key,
      expectedVersion === undefined ? '' : String(expectedVersion),
      JSON.stringify(rules),
    );
    if (status === -1) throw new Error(`policy set at Redis key ${JSON.stringify(this.key)} is unreadable; not overwritten (delete it to start over)`);
    if (status === 0) throw new PolicyConflict(expectedVersion as number, version);
    return { version, rules };
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
