import { PolicySet } from '../ingest/sampling-policy';

/**
 * PolicyConflict: put() was given an expectedVersion that is no longer the stored version (another admin, or
 * another request, wrote first). Re-read, re-apply the change, and put again; the admin API answers 409.
 */
export class PolicyConflict extends Error {
  override readonly name = 'PolicyConflict';

  constructor(
    /** expectedVersion: the version the caller based its change on. */
    readonly expectedVersion: number,
    /** actualVersion: the version stored when the put was refused. */
    readonly actualVersion: number,
  ) {
    super(`policy set version conflict: expected version ${expectedVersion}, stored version is ${actualVersion}`);
  }
}

/**
 * PolicyStore: where the sampling and switch policy lives (Redis, or in-memory when embedded), shared by every
 * gateway instance; each instance reads it through a PolicyCache.
 */
export interface PolicyStore {
  /** get: the stored set, or EMPTY_POLICY_SET (version 0, no rules) when none was ever stored. */
  get(): Promise<PolicySet>;
  /**
   * put: replaces the rules (validated first: an invalid set throws InvalidPolicySetError and stores nothing) and
   * returns the stored set, whose version is the previous version + 1; `set.version` is ignored. With
   * `expectedVersion` it is a compare-and-set: when the stored version differs it throws PolicyConflict and
   * stores nothing, so of concurrent puts based on the same version exactly one wins. Without it, the last
   * writer wins.
   */
  put(set: PolicySet, expectedVersion?: number): Promise<PolicySet>;
  /** ready: whether the store is reachable right now (readiness probes). */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

/** checkExpectedVersion: throws RangeError unless `expectedVersion` is undefined or a non-negative integer; for adapters' put(). */
export function checkExpectedVersion(expectedVersion: number | undefined): void {
  if (expectedVersion !== undefined && (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0)) {
    throw new RangeError(`expectedVersion must be a non-negative integer, got ${expectedVersion}`);
  }
}
