import Redis from 'ioredis';
import { RedisMetricStore, RedisSlaStateStore } from '@skein/adapter-redis';
import { RedisKeys } from '@skein/contracts';
import { MINUTE_MS, MinuteWindow, emptyWindow, histogramBucket } from '@skein/domain';
import { infraFromEnv, metricStoreContract, slaStateStoreContract, uniqueName } from '@skein/testing';

// Project-level testTimeout is not honoured by jest 29 inside `projects`, so set it here.
jest.setTimeout(60_000);

const M = Date.UTC(2024, 0, 15, 10, 0);

metricStoreContract('RedisMetricStore', async () => {
  const store = new RedisMetricStore({ url: infraFromEnv().redisUrl, keyPrefix: uniqueName('t') });
  return { store, cleanup: async () => void (await store.deleteAll()) };
});

slaStateStoreContract('RedisSlaStateStore', async () => {
  const store = new RedisSlaStateStore({ url: infraFromEnv().redisUrl, keyPrefix: uniqueName('t') });
  return { store, cleanup: async () => void (await store.deleteAll()) };
});

function window(service: string, calls: number, totalDurationUs: number, maxDurationUs: number): MinuteWindow {
  const w: MinuteWindow = { ...emptyWindow({ service, operation: 'op' }, M), calls, totalDurationUs, maxDurationUs };
  w.histogram.set(histogramBucket(maxDurationUs), calls);
  return w;
}

describe('RedisMetricStore (Redis specifics)', () => {
  const prefix = uniqueName('rms');
  const ttl = 3_600;
  let redis: Redis;
  let store: RedisMetricStore;

  beforeAll(() => {
    redis = new Redis(infraFromEnv().redisUrl);
    store = new RedisMetricStore({ url: infraFromEnv().redisUrl, keyPrefix: prefix, windowTtlSeconds: ttl });
  });

  afterAll(async () => {
    await store?.deleteAll();
    await store?.close();
    await redis?.quit();
  });

  it('gives window keys the TTL (0 < TTL <= windowTtlSeconds); checkpoints and name sets never expire', async () => {
    const w = window('ttl-svc', 3, 3_000, 1_500);
    expect(await store.applyWindows([w], { stream: 'ttl', offset: 1 })).toBe(true);
    const windowTtl = await redis.ttl(RedisKeys.minuteWindow(prefix, w, M));
    expect(windowTtl).toBeGreaterThan(0);
    expect(windowTtl).toBeLessThanOrEqual(ttl);
    // Expiring a checkpoint would let a redelivered batch count twice; the sets are tiny.
    expect(await redis.ttl(RedisKeys.checkpoints(prefix))).toBe(-1);
    expect(await redis.ttl(RedisKeys.services(prefix))).toBe(-1);
    expect(await redis.ttl(RedisKeys.operations(prefix, 'ttl-svc'))).toBe(-1);
  });

  it('lays a window out as documented in RedisKeys: calls, errors, sumUs, maxUs, b<bucket>', async () => {
    const w = { ...window('layout-svc', 4, 10_000, 7_000), errors: 1 };
    await store.applyWindows([w], { stream: 'layout', offset: 1 });
    expect(await redis.hgetall(RedisKeys.minuteWindow(prefix, w, M))).toEqual({
      calls: '4',
      errors: '1',
      sumUs: '10000',
      maxUs: '7000',
      [`b${histogramBucket(7_000)}`]: '4',
    });
    expect(await redis.hget(RedisKeys.checkpoints(prefix), 'layout')).toBe('1');
  });

  it('rejects a malformed batch before running the script, so nothing is half-applied', async () => {
    const good = window('reject-svc', 1, 100, 100);
    const bad = { ...window('reject-svc-2', 1, 100, 100), totalDurationUs: 1.5 };
    await expect(store.applyWindows([good, bad], { stream: 'reject', offset: 1 })).rejects.toThrow(/totalDurationUs.*integer/);
    await expect(store.applyWindows([{ ...good, minute: M + 1 }], { stream: 'reject', offset: 1 })).rejects.toThrow(/multiple of 60000/);
    expect(await store.getCheckpoint('reject')).toBeUndefined();
    expect(await store.getWindows(good, M, M)).toEqual([]);
  });

  it('deleteAll removes only keys under its own prefix', async () => {
    const neighbour = new RedisMetricStore({ url: infraFromEnv().redisUrl, keyPrefix: `${prefix}x` });
    try {
      const w = window('neighbour-svc', 1, 10, 10);
      await neighbour.applyWindows([w], { stream: 'n', offset: 1 });
      const mine = new RedisMetricStore({ redis, keyPrefix: `${prefix}-del` });
      await mine.applyWindows([w], { stream: 'n', offset: 1 });
      expect(await mine.deleteAll()).toBe(4); // window, checkpoints, services, operations
      expect(await mine.getCheckpoint('n')).toBeUndefined();
      expect(await neighbour.getCheckpoint('n')).toBe(1);
      await mine.close(); // an injected client stays open
      expect(await redis.ping()).toBe('PONG');
    } finally {
      await neighbour.deleteAll();
      await neighbour.close();
    }
  });

  it('is not ready, within about 2 s, when Redis is unreachable', async () => {
    // An injected client with a short disconnectTimeout: disconnecting while ioredis is between reconnect attempts
    // otherwise leaves its 2 s "destroy the stream" timer behind, and jest reports an open handle.
    const client = new Redis('redis://127.0.0.1:1', { connectTimeout: 500, disconnectTimeout: 10 });
    client.on('error', () => undefined);
    const down = new RedisMetricStore({ redis: client });
    const started = Date.now();
    try {
      expect(await down.ready()).toBe(false);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      client.disconnect();
    }
  });
});

describe('RedisSlaStateStore (Redis specifics)', () => {
  const prefix = uniqueName('rss');
  let redis: Redis;
  let store: RedisSlaStateStore;

  beforeAll(() => {
    redis = new Redis(infraFromEnv().redisUrl);
    store = new RedisSlaStateStore({ redis, keyPrefix: prefix });
  });

  afterAll(async () => {
    await store?.deleteAll();
    await redis?.quit();
  });

  it('stores fixed-order JSON without TTL', async () => {
    await store.compareAndSet('r1', undefined, { breached: true, lastMinute: M });
    const key = RedisKeys.slaState(prefix, 'r1');
    expect(await redis.get(key)).toBe(`{"breached":true,"lastMinute":${M}}`);
    expect(await redis.ttl(key)).toBe(-1);
  });

  it('compares the stored state by value, whatever its key order', async () => {
    await redis.set(RedisKeys.slaState(prefix, 'r2'), `{ "lastMinute": ${M}, "breached": false }`);
    expect(await store.get('r2')).toEqual({ breached: false, lastMinute: M });
    expect(await store.compareAndSet('r2', { breached: false, lastMinute: M }, { breached: true, lastMinute: M + MINUTE_MS })).toBe(true);
  });

  it('fails a compare against unreadable stored state instead of overwriting it, and get() names the rule', async () => {
    await redis.set(RedisKeys.slaState(prefix, 'r3'), 'not json');
    expect(await store.compareAndSet('r3', { breached: false, lastMinute: M }, { breached: true, lastMinute: M })).toBe(false);
    await expect(store.get('r3')).rejects.toThrow(/"r3"/);
  });
});
