import { PolicyStore } from '../ports/policy-store.port';
import { DEFAULT_POLICY_REFRESH_MS, PolicyCache } from './policy-cache';
import { DEFAULT_POLICY, EMPTY_POLICY_SET, PolicySet } from './sampling-policy';

function policy(version: number, sampleRate: number): PolicySet {
  return { version, rules: [{ app: 'shop', sampleRate, enabled: true, metricsForUnsampled: true }] };
}

/** FakeStore: a PolicyStore whose get() the test scripts: a set, an error, or a slow answer; counts reads. */
class FakeStore implements PolicyStore {
  set: PolicySet = EMPTY_POLICY_SET;
  failWith: Error | undefined;
  delayMs = 0;
  reads = 0;
  inFlight = 0;
  maxInFlight = 0;

  async get(): Promise<PolicySet> {
    this.reads++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      if (this.failWith !== undefined) throw this.failWith;
      return this.set;
    } finally {
      this.inFlight--;
    }
  }

  async put(): Promise<PolicySet> {
    throw new Error('not used');
  }

  async ready(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    return undefined;
  }
}

describe('PolicyCache', () => {
  let store: FakeStore;
  let clock: number;
  const now = () => clock;

  beforeEach(() => {
    store = new FakeStore();
    clock = 1_000_000;
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('serves the empty set (keep everything) before the first read', () => {
    const cache = new PolicyCache(store, { now });
    expect(cache.current()).toEqual({ version: 0, rules: [] });
    expect(cache.resolve('shop', 's', 'o')).toEqual(DEFAULT_POLICY);
    expect(cache.lastRefreshOkAt).toBeUndefined();
    expect(store.reads).toBe(0);
  });

  it('serves what refresh() read, and records when', async () => {
    const cache = new PolicyCache(store, { now });
    store.set = policy(3, 0.25);
    expect(await cache.refresh()).toBe(true);
    expect(cache.current()).toBe(store.set);
    expect(cache.resolve('shop', 's', 'o')).toEqual({ sampleRate: 0.25, enabled: true, metricsForUnsampled: true, scope: 'app' });
    expect(cache.effective('shop', 's')).toMatchObject({ version: 3, default: { sampleRate: 0.25 } });
    expect(cache.lastRefreshOkAt).toBe(1_000_000);
    expect(cache.lastError).toBeUndefined();
  });

  it('keeps serving the last good set while the store fails, and reports the failure', async () => {
    const errors: unknown[] = [];
    const cache = new PolicyCache(store, { now, onError: (e) => errors.push(e) });
    store.set = policy(1, 0.5);
    await cache.refresh();
    store.failWith = new Error('ECONNREFUSED');
    clock += 10_000;
    expect(await cache.refresh()).toBe(false);
    expect(cache.current()).toEqual(policy(1, 0.5));
    expect(cache.resolve('shop').sampleRate).toBe(0.5);
    expect(cache.lastRefreshOkAt).toBe(1_000_000); // staleness = now - lastRefreshOkAt = 10 s
    expect(cache.lastError).toBe(store.failWith);
    expect(errors).toEqual([store.failWith]);

    store.failWith = undefined;
    store.set = policy(2, 0.75);
    expect(await cache.refresh()).toBe(true);
    expect(cache.lastError).toBeUndefined();
    expect(cache.lastRefreshOkAt).toBe(1_010_000);
    expect(cache.resolve('shop').sampleRate).toBe(0.75);
  });

  it('reports version changes through onChange, once per change; a lower version is taken too', async () => {
    const changes: [number, number][] = [];
    const cache = new PolicyCache(store, { now, onChange: (next, previous) => changes.push([previous.version, next.version]) });
    store.set = policy(4, 0.1);
    await cache.refresh();
    await cache.refresh();
    store.set = policy(5, 0.2);
    await cache.refresh();
    store.set = policy(1, 0.3); // e.g. Redis was reset: the store is the source of truth
    await cache.refresh();
    expect(changes).toEqual([
      [0, 4],
      [4, 5],
      [5, 1],
    ]);
    expect(cache.resolve('shop').sampleRate).toBe(0.3);
  });

  it('does not fail a refresh because a hook throws', async () => {
    const errors: unknown[] = [];
    const cache = new PolicyCache(store, {
      onChange: () => {
        throw new Error('logger broke');
      },
      onError: (e) => errors.push(e),
    });
    store.set = policy(1, 0.5);
    expect(await cache.refresh()).toBe(true);
    expect(cache.current().version).toBe(1);
    expect(errors).toEqual([new Error('logger broke')]);
  });

  it('joins a refresh in flight instead of reading again', async () => {
    jest.useFakeTimers();
    store.delayMs = 100;
    const cache = new PolicyCache(store);
    const results = Promise.all([cache.refresh(), cache.refresh(), cache.refresh()]);
    await jest.advanceTimersByTimeAsync(100);
    expect(await results).toEqual([true, true, true]);
    expect(store.reads).toBe(1);
  });

  it('after start(), re-reads every refreshMs (default 2 s) so a change applies within 5 s, until stop()', async () => {
    jest.useFakeTimers();
    const cache = new PolicyCache(store);
    expect(await cache.start()).toBe(true);
    expect(store.reads).toBe(1);
    store.set = policy(1, 0.1);
    await jest.advanceTimersByTimeAsync(DEFAULT_POLICY_REFRESH_MS - 1);
    expect(cache.current().version).toBe(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(cache.current().version).toBe(1);
    await jest.advanceTimersByTimeAsync(3 * DEFAULT_POLICY_REFRESH_MS);
    expect(store.reads).toBe(5);
    await cache.stop();
    await jest.advanceTimersByTimeAsync(10 * DEFAULT_POLICY_REFRESH_MS);
    expect(store.reads).toBe(5);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('starts even when the store is down, and picks the policy up once it answers', async () => {
    jest.useFakeTimers();
    store.failWith = new Error('down');
    const cache = new PolicyCache(store, { refreshMs: 500 });
    expect(await cache.start()).toBe(false);
    expect(cache.resolve('shop')).toEqual(DEFAULT_POLICY);
    store.failWith = undefined;
    store.set = policy(1, 0.2);
    await jest.advanceTimersByTimeAsync(500);
    expect(cache.resolve('shop').sampleRate).toBe(0.2);
    await cache.stop();
  });

  it('never overlaps reads against a slow store, and start() twice runs one loop', async () => {
    jest.useFakeTimers();
    store.delayMs = 5_000;
    const cache = new PolicyCache(store, { refreshMs: 1_000 });
    const started = cache.start();
    const again = cache.start();
    await jest.advanceTimersByTimeAsync(5_000);
    await Promise.all([started, again]);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(store.maxInFlight).toBe(1);
    // Each cycle is 1 s of wait + 5 s of read: 1 initial read, then one per 6 s.
    expect(store.reads).toBe(1 + Math.ceil(60_000 / 6_000));
    const stopped = cache.stop();
    await jest.advanceTimersByTimeAsync(5_000);
    await stopped;
    const reads = store.reads;
    await jest.advanceTimersByTimeAsync(60_000);
    expect(store.reads).toBe(reads);
  });

  it('runs one loop after a stop() and start() while a read is in flight', async () => {
    jest.useFakeTimers();
    store.delayMs = 100;
    const cache = new PolicyCache(store, { refreshMs: 1_000 });
    const first = cache.start();
    await jest.advanceTimersByTimeAsync(100);
    await first;
    await jest.advanceTimersByTimeAsync(1_000); // the loop's read is now in flight
    void cache.stop();
    const second = cache.start();
    await jest.advanceTimersByTimeAsync(100);
    await second;
    const reads = store.reads;
    await jest.advanceTimersByTimeAsync(11_000);
    // One loop: a read every 1.1 s (1 s wait + 0.1 s read), not two.
    expect(store.reads - reads).toBe(10);
    expect(jest.getTimerCount()).toBe(1);
    await cache.stop();
  });

  it('rejects a non-positive refreshMs', () => {
    expect(() => new PolicyCache(store, { refreshMs: 0 })).toThrow(/refreshMs must be a positive number/);
  });
});
