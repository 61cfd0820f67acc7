import { SlaState, SlaStateStore } from '@skein/domain';
import { uniqueName } from '../fixtures/trace-fixtures';

/** SlaStateStoreUnderTest: what a contract factory returns: the store, and how to delete what the suite wrote. */
export interface SlaStateStoreUnderTest {
  store: SlaStateStore;
  /** cleanup: runs in afterAll before store.close() (e.g. delete the suite's Redis keys). */
  cleanup?: () => Promise<void>;
}

const MINUTE = Date.UTC(2024, 0, 15, 10, 0);

/**
 * slaStateStoreContract: the behaviour every SlaStateStore adapter must have: no state at first, compare-and-set
 * that succeeds only against the current state (or against none), exactly one winner among concurrent checkers,
 * and independent rules. The factory runs once; tests isolate themselves with unique rule names.
 */
export function slaStateStoreContract(name: string, factory: () => Promise<SlaStateStoreUnderTest>): void {
  describe(`SlaStateStore contract: ${name}`, () => {
    let store: SlaStateStore;
    let cleanup: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      ({ store, cleanup } = await factory());
    });

    afterAll(async () => {
      if (cleanup !== undefined) await cleanup();
      await store?.close();
    });

    it('is ready', async () => {
      expect(await store.ready()).toBe(true);
    });

    it('has no state for a new rule', async () => {
      expect(await store.get(uniqueName('rule'))).toBeUndefined();
    });

    it('sets from "no state" once; a second set from "no state" fails', async () => {
      const rule = uniqueName('rule');
      const first: SlaState = { breached: false, lastMinute: MINUTE };
      expect(await store.compareAndSet(rule, undefined, first)).toBe(true);
      expect(await store.get(rule)).toEqual(first);
      expect(await store.compareAndSet(rule, undefined, { breached: true, lastMinute: MINUTE + 60_000 })).toBe(false);
      expect(await store.get(rule)).toEqual(first);
    });

    it('fails with a stale or wrong expected state and succeeds with the current one', async () => {
      const rule = uniqueName('rule');
      const s1: SlaState = { breached: false, lastMinute: MINUTE };
      const s2: SlaState = { breached: true, lastMinute: MINUTE + 60_000 };
      const s3: SlaState = { breached: false, lastMinute: MINUTE + 120_000 };
      expect(await store.compareAndSet(rule, undefined, s1)).toBe(true);

      expect(await store.compareAndSet(rule, { breached: true, lastMinute: MINUTE }, s2)).toBe(false); // wrong breached
      expect(await store.compareAndSet(rule, { breached: false, lastMinute: MINUTE - 60_000 }, s2)).toBe(false); // wrong minute
      expect(await store.get(rule)).toEqual(s1);

      expect(await store.compareAndSet(rule, s1, s2)).toBe(true);
      expect(await store.get(rule)).toEqual(s2);
      expect(await store.compareAndSet(rule, s1, s3)).toBe(false); // s1 is stale now
      expect(await store.compareAndSet(rule, { ...s2 }, s3)).toBe(true); // equal by value, not by identity
      expect(await store.get(rule)).toEqual(s3);
    });

    it('lets exactly one of many concurrent checkers win a transition', async () => {
      const rule = uniqueName('rule');
      const start: SlaState = { breached: false, lastMinute: MINUTE };
      expect(await store.compareAndSet(rule, undefined, start)).toBe(true);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => store.compareAndSet(rule, start, { breached: i % 2 === 0, lastMinute: MINUTE + (i + 1) * 60_000 })),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect(await store.get(rule)).toEqual({ breached: winner % 2 === 0, lastMinute: MINUTE + (winner + 1) * 60_000 });
    });

    it('keeps rules independent, including names with separators and unicode', async () => {
      const base = uniqueName('rule');
      const rules = [`${base}:a`, `${base}`, `${base} a`, `${base}%3Aa`, `${base} règle ⚠️`];
      for (const [i, rule] of rules.entries()) {
        expect(await store.get(rule)).toBeUndefined();
        expect(await store.compareAndSet(rule, undefined, { breached: i % 2 === 1, lastMinute: MINUTE + i * 60_000 })).toBe(true);
      }
      for (const [i, rule] of rules.entries()) expect(await store.get(rule)).toEqual({ breached: i % 2 === 1, lastMinute: MINUTE + i * 60_000 });
    });
  });
}
