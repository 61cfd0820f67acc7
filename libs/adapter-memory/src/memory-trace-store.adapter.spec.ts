import { threeServiceTrace, traceStoreContract } from '@skein/testing';
import { MemoryTraceStore } from './memory-trace-store.adapter';

traceStoreContract('MemoryTraceStore', async () => ({ store: new MemoryTraceStore() }));

describe('MemoryTraceStore', () => {
  it('keeps its own copies: mutating written or returned spans does not change what is stored', async () => {
    const store = new MemoryTraceStore();
    const trace = threeServiceTrace();
    await store.writeSpans(trace.spans);
    trace.spans[0].tags['http.method'] = 'CHANGED';
    const read = await store.getTraceSpans(trace.traceId);
    read[0].service = 'changed';
    expect((await store.getTraceSpans(trace.traceId))[0]).toMatchObject({ service: 'api-gateway', tags: { 'http.method': 'POST' } });
  });

  it('is not ready and refuses work once closed', async () => {
    const store = new MemoryTraceStore();
    await store.close();
    expect(await store.ready()).toBe(false);
    await expect(store.writeSpans(threeServiceTrace().spans)).rejects.toThrow(/closed/);
  });
});
