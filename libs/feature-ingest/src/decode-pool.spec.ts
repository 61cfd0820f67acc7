import { BatchRejection, DEFAULT_BATCH_LIMITS, EMPTY_POLICY_SET, PolicyIndex, PolicySet, Span, encodeNativeBatch } from '@skein/domain';
import { join } from 'node:path';
import { DecodePool, handleDecodeTask } from './decode-pool';
import { PrepareRequest, prepareBatch } from './ingest-prepare';

// Workers load the TypeScript sources through the repository's require hook, as the gateway run from sources does.
const EXEC_ARGV = ['-r', join(__dirname, '..', '..', '..', 'tools', 'register.js')];

const TRACE_A = 'a'.repeat(32);
const TRACE_B = 'b'.repeat(32);
const span = (overrides: Partial<Span>): Span => ({ traceId: TRACE_A, spanId: '1'.repeat(16), service: 's', operation: 'o', kind: 'server', startTimeUs: 1_768_472_400_000_000, durationUs: 10, error: false, tags: { 'http.method': 'GET' }, ...overrides });
const spans = [span({ traceId: TRACE_A, spanId: '1'.repeat(16), service: 'checkout', operation: 'GET /cart' }), span({ traceId: TRACE_B, spanId: '2'.repeat(16), service: 'orders', operation: 'POST /orders' })];
const native = (app?: string): PrepareRequest => ({ protocol: 'native', body: encodeNativeBatch(spans), contentEncoding: 'lz4', app });
const offForOrders: PolicySet = { version: 3, rules: [{ app: 'shop', service: 'orders', sampleRate: 1, enabled: false, metricsForUnsampled: true }] };

describe('handleDecodeTask (the worker side)', () => {
  it('answers what prepareBatch answers, with the message values in one transferable buffer', () => {
    const state = { policy: undefined as PolicyIndex | undefined };
    const { reply, transfer } = handleDecodeTask({ id: 7, request: native('shop'), policy: offForOrders }, DEFAULT_BATCH_LIMITS, state);
    const expected = prepareBatch(native('shop'), DEFAULT_BATCH_LIMITS, new PolicyIndex(offForOrders));
    if (!reply.ok) throw new Error('expected ok');
    expect(reply.id).toBe(7);
    expect(transfer).toEqual([reply.values]);
    expect(reply.batch).toEqual({ valid: 2, rejectedSpans: 0, violations: [], traced: 1, metricsOnly: 0, switchedOff: 1, unsampled: 0 });
    expect(reply.keys).toEqual(expected.messages.map((m) => m.key));
    expect(Buffer.from(reply.values).equals(Buffer.concat(expected.messages.map((m) => m.value)))).toBe(true);
  });

  it('keeps the policy between tasks until a new set (or null: no policy) is sent', () => {
    const state = { policy: undefined as PolicyIndex | undefined };
    handleDecodeTask({ id: 1, request: native('shop'), policy: offForOrders }, DEFAULT_BATCH_LIMITS, state);
    const second = handleDecodeTask({ id: 2, request: native('shop') }, DEFAULT_BATCH_LIMITS, state).reply;
    expect(second.ok && second.batch.switchedOff).toBe(1);
    const third = handleDecodeTask({ id: 3, request: native('shop'), policy: null }, DEFAULT_BATCH_LIMITS, state).reply;
    expect(third.ok && third.batch.switchedOff).toBe(0);
  });

  it('returns a refused request as the rejection to rethrow', () => {
    const { reply } = handleDecodeTask({ id: 4, request: { protocol: 'native', body: Buffer.from('{"spans":['), contentEncoding: undefined, app: 'shop' } }, DEFAULT_BATCH_LIMITS, { policy: undefined });
    expect(reply).toMatchObject({ id: 4, ok: false, rejection: { reason: 'invalid_json' } });
  });
});

describe('DecodePool (worker threads)', () => {
  let pool: DecodePool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  it('prepares requests on its workers exactly as on the main thread, with the live policy', async () => {
    let current: PolicySet = EMPTY_POLICY_SET;
    const source = { current: () => current, resolve: (app: string, service?: string, operation?: string) => new PolicyIndex(current).resolve(app, service, operation) };
    pool = new DecodePool({ workers: 2, limits: DEFAULT_BATCH_LIMITS, policy: source, execArgv: EXEC_ARGV });
    const before = await Promise.all([pool.submit(native('shop')), pool.submit(native('shop'))]);
    for (const batch of before) expect(batch).toEqual(prepareBatch(native('shop'), DEFAULT_BATCH_LIMITS, source));
    current = offForOrders;
    const after = await Promise.all([pool.submit(native('shop')), pool.submit(native('shop')), pool.submit(native())]);
    expect(after.map((b) => b.switchedOff)).toEqual([1, 1, 0]);
    expect(after[0]).toEqual(prepareBatch(native('shop'), DEFAULT_BATCH_LIMITS, source));
  }, 60_000);

  it('rethrows a refused request as a BatchRejection, and refuses work beyond its queue bound', async () => {
    pool = new DecodePool({ workers: 1, maxQueued: 2, limits: DEFAULT_BATCH_LIMITS, execArgv: EXEC_ARGV });
    await expect(pool.submit({ protocol: 'native', body: Buffer.from('nope'), contentEncoding: 'lz4', app: undefined })).rejects.toBeInstanceOf(BatchRejection);
    const results = await Promise.allSettled([pool.submit(native()), pool.submit(native()), pool.submit(native())]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ name: 'DecodePoolFull' });
  }, 60_000);
});
