import { MINUTE_MS, emptyWindow } from '@skein/domain';
import { metricStoreContract } from '@skein/testing';
import { MemoryMetricStore } from './memory-metric-store.adapter';

metricStoreContract('MemoryMetricStore', async () => ({ store: new MemoryMetricStore() }));

describe('MemoryMetricStore', () => {
  const M = Date.UTC(2024, 0, 15, 10, 0);
  const key = { service: 'svc', operation: 'op' };
  const window = () => ({ ...emptyWindow(key, M), calls: 2, totalDurationUs: 300, maxDurationUs: 200, histogram: new Map([[5, 2]]) });

  it('keeps its own copies: mutating applied or returned windows does not change what is stored', async () => {
    const store = new MemoryMetricStore();
    const applied = window();
    await store.applyWindows([applied], { stream: 's', offset: 1 });
    applied.calls = 99;
    applied.histogram.set(5, 99);
    const [read] = await store.getWindows(key, M, M);
    read.calls = 42;
    read.histogram.clear();
    expect(await store.getWindows(key, M, M)).toEqual([window()]);
  });

  it('drops windows windowTtlMs after their last update, but keeps listing their names (as Redis sets do)', async () => {
    let now = 1_000_000;
    const store = new MemoryMetricStore({ windowTtlMs: 10 * MINUTE_MS, now: () => now });
    await store.applyWindows([window()], { stream: 's', offset: 1 });
    now += 9 * MINUTE_MS;
    await store.applyWindows([window()], { stream: 's', offset: 2 }); // refreshes the TTL
    now += 9 * MINUTE_MS;
    expect((await store.getWindows(key, M, M))[0].calls).toBe(4);
    now += 2 * MINUTE_MS;
    expect(await store.getWindows(key, M, M)).toEqual([]);
    await store.applyWindows([window()], { stream: 's', offset: 3 }); // starts afresh, not on top of the expired counts
    expect((await store.getWindows(key, M, M))[0].calls).toBe(2);
    expect(await store.listOperations('svc')).toEqual(['op']);
  });

  it('is not ready and refuses work once closed', async () => {
    const store = new MemoryMetricStore();
    await store.close();
    expect(await store.ready()).toBe(false);
    await expect(store.applyWindows([window()], { stream: 's', offset: 1 })).rejects.toThrow(/closed/);
    await expect(store.getWindows(key, M, M)).rejects.toThrow(/closed/);
  });
});
