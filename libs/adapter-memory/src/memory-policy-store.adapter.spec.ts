import { PolicyCache } from '@skein/domain';
import { policyStoreContract } from '@skein/testing';
import { MemoryPolicyStore } from './memory-policy-store.adapter';

policyStoreContract('MemoryPolicyStore', async () => ({ store: new MemoryPolicyStore() }));

describe('MemoryPolicyStore', () => {
  it('is not ready and refuses work once closed', async () => {
    const store = new MemoryPolicyStore();
    await store.close();
    expect(await store.ready()).toBe(false);
    await expect(store.get()).rejects.toThrow(/closed/);
    await expect(store.put({ version: 0, rules: [] })).rejects.toThrow(/closed/);
  });

  it('feeds a PolicyCache: a put is served after the next refresh', async () => {
    const store = new MemoryPolicyStore();
    const cache = new PolicyCache(store);
    await cache.refresh();
    expect(cache.resolve('shop', 'svc', 'op').sampleRate).toBe(1);
    await store.put({ version: 0, rules: [{ app: 'shop', sampleRate: 0.25, enabled: true, metricsForUnsampled: true }] });
    expect(await cache.refresh()).toBe(true);
    expect(cache.resolve('shop', 'svc', 'op')).toEqual({ sampleRate: 0.25, enabled: true, metricsForUnsampled: true, scope: 'app' });
    expect(cache.current().version).toBe(1);
  });
});
