import { SlaState } from '../sla/sla-rule';

/** SlaStateStore: where sla-checker keeps each rule's breach state, shared by all checker instances. */
export interface SlaStateStore {
  get(rule: string): Promise<SlaState | undefined>;
  /**
   * compareAndSet: saves `next` only if the stored state still equals `expected` (undefined = none stored).
   * Returns false when another checker instance got there first; that instance then owns the alert.
   */
  compareAndSet(rule: string, expected: SlaState | undefined, next: SlaState): Promise<boolean>;
  ready(): Promise<boolean>;
  close(): Promise<void>;
}
