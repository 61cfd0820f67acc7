import Redis from 'ioredis';
import { RedisPolicyStore } from '@skein/adapter-redis';
import { RedisKeys } from '@skein/contracts';
import { PolicyCache, PolicyConflict, PolicyRule } from '@skein/domain';
import { eventually, infraFromEnv, policyStoreContract, uniqueName } from '@skein/testing';

// Project-level testTimeout is not honoured by jest 29 inside `projects`, so set it here.
jest.setTimeout(60_000);

policyStoreContract('RedisPolicyStore', async () => {
  const store = new RedisPolicyStore({ url: infraFromEnv().redisUrl, keyPrefix: uniqueName('t') });
  return { store, cleanup: async () => void (await store.deleteAll()) };
});

const RULE: PolicyRule = { app: 'shop', service: 'order-service', sampleRate: 0.25, enabled: true, metricsForUnsampled: false };

describe('RedisPolicyStore (Redis specifics)', () => {
  const prefixes: string[] = [];
  let redis: Redis;

  /** store: a store on a fresh prefix, sharing the test client (closed once in afterAll). */
  function store(prefix = uniqueName('rps')): RedisPolicyStore {
    prefixes.push(prefix);
    return new RedisPolicyStore({ redis, keyPrefix: prefix });
  }

  beforeAll(() => {
    redis = new Redis(infraFromEnv().redisUrl);
  });

  afterAll(async () => {
    for (const prefix of prefixes) await new RedisPolicyStore({ redis, keyPrefix: prefix }).deleteAll();
    await redis?.quit();
  });

  it('stores fixed-order JSON {"version","rules"} at RedisKeys.policy, without TTL', async () => {
    const s = store();
    await s.put({ version: 0, rules: [RULE, { app: 'shop', sampleRate: 0.123456789012345, enabled: false, metricsForUnsampled: true }] });
    expect(s.key).toBe(RedisKeys.policy(s.prefix));
    expect(await redis.get(s.key)).toBe(
      '{"version":1,"rules":[{"app":"shop","service":"order-service","sampleRate":0.25,"enabled":true,"metricsForUnsampled":false},' +
        '{"app":"shop","sampleRate":0.123456789012345,"enabled":false,"metricsForUnsampled":true}]}',
    );
    expect(await redis.ttl(s.key)).toBe(-1);
    await s.put({ version: 0, rules: [] });
    expect(await redis.get(s.key)).toBe('{"version":2,"rules":[]}');
  });

  it('reads a value written by hand (any key order, defaults filled) and continues its version', async () => {
    const s = store();
    await redis.set(s.key, ' { "rules": [ { "enabled": true, "sampleRate": 0.5, "app": "shop" } ], "version": 41 } ');
    expect(await s.get()).toEqual({ version: 41, rules: [{ app: 'shop', sampleRate: 0.5, enabled: true, metricsForUnsampled: true }] });
    await expect(s.put({ version: 0, rules: [] }, 40)).rejects.toMatchObject({ expectedVersion: 40, actualVersion: 41 });
    expect((await s.put({ version: 0, rules: [] }, 41)).version).toBe(42);
  });

  it('refuses to read or overwrite an unreadable stored value, naming the key', async () => {
    const s = store();
    await redis.set(s.key, 'not json');
    await expect(s.get()).rejects.toThrow(new RegExp(`${s.key}.*not JSON`));
    await expect(s.put({ version: 0, rules: [RULE] })).rejects.toThrow(/unreadable; not overwritten/);
    await redis.set(s.key, '{"version":"x","rules":[]}');
    await expect(s.put({ version: 0, rules: [RULE] }, 0)).rejects.toThrow(/unreadable/);
    await redis.set(s.key, '{"version":3,"rules":[{"app":"shop","sampleRate":7,"enabled":true}]}');
    await expect(s.get()).rejects.toThrow(/is invalid: rules\[0\]\.sampleRate/);
    expect(await redis.get(s.key)).toBe('{"version":3,"rules":[{"app":"shop","sampleRate":7,"enabled":true}]}');
  });

  it('is shared by every instance on the prefix: CAS across two gateways, and one conflict', async () => {
    const prefix = uniqueName('rps');
    const gatewayA = store(prefix);
    const gatewayB = store(prefix);
    await gatewayA.put({ version: 0, rules: [RULE] }, 0);
    expect(await gatewayB.get()).toEqual({ version: 1, rules: [RULE] });
    const [a, b] = await Promise.allSettled([
      gatewayA.put({ version: 0, rules: [{ ...RULE, sampleRate: 0.1 }] }, 1),
      gatewayB.put({ version: 0, rules: [{ ...RULE, sampleRate: 0.9 }] }, 1),
    ]);
    expect([a, b].filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = [a, b].find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(PolicyConflict);
    expect((await gatewayA.get()).version).toBe(2);
  });

  it('reaches a running PolicyCache of another instance within its refresh period', async () => {
    const prefix = uniqueName('rps');
    const admin = store(prefix);
    const cache = new PolicyCache(store(prefix), { refreshMs: 200 });
    expect(await cache.start()).toBe(true);
    try {
      expect(cache.resolve('shop', 'order-service', 'op').sampleRate).toBe(1);
      const written = Date.now();
      await admin.put({ version: 0, rules: [RULE] });
      await eventually(() => expect(cache.resolve('shop', 'order-service', 'op')).toMatchObject({ sampleRate: 0.25, scope: 'service' }), 5_000, 20);
      expect(Date.now() - written).toBeLessThan(2_000);
    } finally {
      await cache.stop();
    }
  });

  it('is not ready, within about 2 s, when Redis is unreachable; a PolicyCache keeps its last good set', async () => {
    const client = new Redis('redis://127.0.0.1:1', { connectTimeout: 500, disconnectTimeout: 10, maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    const down = new RedisPolicyStore({ redis: client });
    const started = Date.now();
    try {
      expect(await down.ready()).toBe(false);
      expect(Date.now() - started).toBeLessThan(3_000);
      const cache = new PolicyCache(down);
      expect(await cache.refresh()).toBe(false);
      expect(cache.current()).toEqual({ version: 0, rules: [] });
      expect(cache.lastError).toBeInstanceOf(Error);
    } finally {
      client.disconnect();
    }
  });
});
