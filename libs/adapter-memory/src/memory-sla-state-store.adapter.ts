import { SlaState, SlaStateStore } from '@skein/domain';

/**
 * MemorySlaStateStore: the SlaStateStore in process memory (embedded mode, tests). compareAndSet compares the
 * stored state by value, as the Redis store does.
 */
export class MemorySlaStateStore implements SlaStateStore {
  private readonly states = new Map<string, SlaState>();
  private closed = false;

  async get(rule: string): Promise<SlaState | undefined> {
    this.assertOpen();
    const state = this.states.get(rule);
    return state === undefined ? undefined : { ...state };
  }

  async compareAndSet(rule: string, expected: SlaState | undefined, next: SlaState): Promise<boolean> {
    this.assertOpen();
    const current = this.states.get(rule);
    const matches =
      expected === undefined ? current === undefined : current !== undefined && current.breached === expected.breached && current.lastMinute === expected.lastMinute;
    if (!matches) return false;
    // Only the two fields, like the Redis store's JSON: extra properties of `next` are not kept.
    this.states.set(rule, { breached: next.breached, lastMinute: next.lastMinute });
    return true;
  }

  async ready(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('MemorySlaStateStore is closed');
  }
}
