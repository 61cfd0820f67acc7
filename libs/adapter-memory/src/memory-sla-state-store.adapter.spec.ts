import { slaStateStoreContract } from '@skein/testing';
import { MemorySlaStateStore } from './memory-sla-state-store.adapter';

slaStateStoreContract('MemorySlaStateStore', async () => ({ store: new MemorySlaStateStore() }));

describe('MemorySlaStateStore', () => {
  it('keeps its own copies: mutating a set or returned state does not change what is stored', async () => {
    const store = new MemorySlaStateStore();
    const next = { breached: true, lastMinute: 60_000 };
    await store.compareAndSet('r', undefined, next);
    next.breached = false;
    const read = await store.get('r');
    if (read !== undefined) read.lastMinute = 0;
    expect(await store.get('r')).toEqual({ breached: true, lastMinute: 60_000 });
  });

  it('is not ready and refuses work once closed', async () => {
    const store = new MemorySlaStateStore();
    await store.close();
    expect(await store.ready()).toBe(false);
    await expect(store.compareAndSet('r', undefined, { breached: false, lastMinute: 0 })).rejects.toThrow(/closed/);
  });
});
