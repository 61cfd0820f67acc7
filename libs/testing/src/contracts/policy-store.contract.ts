import { InvalidPolicySetError, PolicyConflict, PolicyRule, PolicySet, PolicyStore } from '@skein/domain';

/** PolicyStoreUnderTest: what a contract factory returns: the store, and how to delete what the test wrote. */
export interface PolicyStoreUnderTest {
  store: PolicyStore;
  /** cleanup: runs after each test before store.close() (e.g. delete the test's Redis key). */
  cleanup?: () => Promise<void>;
}

const RULES: PolicyRule[] = [
  { app: 'shop', sampleRate: 0.1, enabled: true, metricsForUnsampled: true },
  { app: 'shop', service: 'order-service', sampleRate: 0.5, enabled: true, metricsForUnsampled: false },
  { app: 'shop', service: 'order-service', operation: 'POST /orders', sampleRate: 1, enabled: false, metricsForUnsampled: true },
];

function set(rules: PolicyRule[], version = 0): PolicySet {
  return { version, rules };
}

function rate(sampleRate: number): PolicyRule[] {
  return [{ app: 'shop', sampleRate, enabled: true, metricsForUnsampled: true }];
}

/** rejection: what a promise rejected with, or a failure when it resolved. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/**
 * policyStoreContract: the behaviour every PolicyStore adapter must have: the empty set at version 0 at first,
 * each put storing the rules at the next version, compare-and-set on the version with exactly one winner among
 * concurrent writers, validation before anything is stored, and exact round trips of every field. A store holds
 * one set, so the factory runs before every test and must return an empty store (e.g. a fresh key prefix).
 */
export function policyStoreContract(name: string, factory: () => Promise<PolicyStoreUnderTest>): void {
  describe(`PolicyStore contract: ${name}`, () => {
    let store: PolicyStore;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
    });

    afterEach(async () => {
      if (cleanup !== undefined) await cleanup();
      await store?.close();
    });

    it('is ready', async () => {
      expect(await store.ready()).toBe(true);
    });

    it('holds the empty set at version 0 before the first put', async () => {
      expect(await store.get()).toEqual({ version: 0, rules: [] });
    });

    it('stores each put at the next version, ignoring the version of the set given', async () => {
      expect(await store.put(set(RULES, 41))).toEqual(set(RULES, 1));
      expect(await store.get()).toEqual(set(RULES, 1));
      expect(await store.put(set(RULES.slice(0, 1), 7))).toEqual(set(RULES.slice(0, 1), 2));
      expect(await store.put(set([]))).toEqual(set([], 3));
      expect(await store.get()).toEqual(set([], 3));
    });

    it('round-trips every field exactly: rates, flags, absent optional fields, unicode and separator names', async () => {
      const rules: PolicyRule[] = [
        { app: 'a.b_c-1', sampleRate: 0.123456789012345, enabled: true, metricsForUnsampled: false },
        { app: 'a.b_c-1', service: 'svc:with:colons', sampleRate: 1e-7, enabled: false, metricsForUnsampled: true },
        { app: 'a.b_c-1', service: 'svc:with:colons', operation: 'GET /commandes/{id} — résumé ⚠️ "q"', sampleRate: 0, enabled: true, metricsForUnsampled: true },
      ];
      await store.put(set(rules));
      const read = await store.get();
      expect(read).toEqual(set(rules, 1));
      // toEqual ignores `key: undefined`; a stored rule must not even have the key.
      expect(Object.keys(read.rules[0]!).sort()).toEqual(['app', 'enabled', 'metricsForUnsampled', 'sampleRate']);
    });

    it('compare-and-set: succeeds against the stored version, throws PolicyConflict otherwise and stores nothing', async () => {
      expect((await store.put(set(rate(0.1)), 0)).version).toBe(1);
      const stale = await rejection(store.put(set(rate(0.2)), 0));
      expect(stale).toBeInstanceOf(PolicyConflict);
      expect(stale).toMatchObject({ expectedVersion: 0, actualVersion: 1 });
      const ahead = await rejection(store.put(set(rate(0.3)), 5));
      expect(ahead).toMatchObject({ name: 'PolicyConflict', expectedVersion: 5, actualVersion: 1 });
      expect(await store.get()).toEqual(set(rate(0.1), 1));
      expect(await store.put(set(rate(0.4)), 1)).toEqual(set(rate(0.4), 2));
      // Without an expected version the last writer wins.
      expect((await store.put(set(rate(0.5)))).version).toBe(3);
    });

    it('compare-and-set against version 0 means "nothing stored yet"', async () => {
      await store.put(set(rate(0.1)), 0);
      await expect(store.put(set(rate(0.2)), 0)).rejects.toBeInstanceOf(PolicyConflict);
    });

    it('lets exactly one of many concurrent writers based on the same version win', async () => {
      await store.put(set(rate(0.5)));
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.put(set(rate(i / 10)), 1)));
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(PolicyConflict);
      expect(await store.get()).toEqual(set(rate(won[0]! / 10), 2));
    });

    it('validates before storing: an invalid set throws InvalidPolicySetError naming the field, and nothing changes', async () => {
      await store.put(set(rate(0.5)));
      const invalid = await rejection(store.put(set([{ app: 'shop', sampleRate: 2, enabled: true, metricsForUnsampled: true }])));
      expect(invalid).toBeInstanceOf(InvalidPolicySetError);
      expect((invalid as InvalidPolicySetError).violations).toEqual([{ path: 'rules[0].sampleRate', message: expect.any(String) }]);
      await expect(store.put(set([...rate(0.1), ...rate(0.2)]))).rejects.toThrow(/rules\[1\].*same scope as rules\[0\]/);
      await expect(store.put(set(rate(0.1)), -1)).rejects.toThrow(RangeError);
      expect(await store.get()).toEqual(set(rate(0.5), 1));
    });

    it('shares no objects with callers: mutating a set given or returned does not change what is stored', async () => {
      (await store.get()).rules.push(...rate(0.1));
      expect(await store.get()).toEqual(set([], 0));
      const given = set(rate(0.5));
      const returned = await store.put(given);
      given.rules[0]!.sampleRate = 0.9;
      returned.rules[0]!.enabled = false;
      const read = await store.get();
      read.rules.push(...rate(0.1));
      expect(await store.get()).toEqual(set(rate(0.5), 1));
    });
  });
}
