import { EMPTY_POLICY_SET, PolicyConflict, PolicySet, PolicyStore, assertValidPolicySet, checkExpectedVersion } from '@skein/domain';

/**
 * MemoryPolicyStore: the PolicyStore in process memory (embedded mode, tests): the same validation,
 * versioning and compare-and-set as the Redis store. It keeps its own copies, so callers cannot change what is
 * stored by mutating a set they passed in or got back.
 */
export class MemoryPolicyStore implements PolicyStore {
  private stored: PolicySet = EMPTY_POLICY_SET;
  private closed = false;

  async get(): Promise<PolicySet> {
    this.assertOpen();
    return copy(this.stored);
  }

  async put(set: PolicySet, expectedVersion?: number): Promise<PolicySet> {
    this.assertOpen();
    checkExpectedVersion(expectedVersion);
    // validatePolicySet builds fresh rule objects: the stored set shares nothing with the caller's.
    const { rules } = assertValidPolicySet({ rules: set.rules });
    // Check and write with no await in between: the event loop cannot interleave another put.
    if (expectedVersion !== undefined && expectedVersion !== this.stored.version) throw new PolicyConflict(expectedVersion, this.stored.version);
    this.stored = { version: this.stored.version + 1, rules };
    return copy(this.stored);
  }

  async ready(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('MemoryPolicyStore is closed');
  }
}

function copy(set: PolicySet): PolicySet {
  return { version: set.version, rules: set.rules.map((rule) => ({ ...rule })) };
}
