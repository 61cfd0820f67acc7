import { PolicyStore } from '../ports/policy-store.port';
import { EMPTY_POLICY_SET, EffectivePolicy, PolicyIndex, PolicySet, ResolvedPolicy, effectivePolicy } from './sampling-policy';

/** DEFAULT_POLICY_REFRESH_MS: how often a PolicyCache re-reads the store, milliseconds (2000: a change applies within 5 s). */
export const DEFAULT_POLICY_REFRESH_MS = 2_000;

/** PolicyCacheOptions: refresh period, clock, and hooks for logging. */
export interface PolicyCacheOptions {
  /** refreshMs: period between the end of one refresh and the start of the next, milliseconds. Default 2000. */
  refreshMs?: number;
  /** now: the clock of lastRefreshOkAt, epoch milliseconds. Default Date.now. */
  now?: () => number;
  /** onChange: called after a refresh that found another version than the one served before. */
  onChange?: (next: PolicySet, previous: PolicySet) => void;
  /** onError: called with the error of each failed refresh (the last good set keeps being served). */
  onError?: (error: unknown) => void;
}

/**
 * PolicyCache: one gateway instance's view of the PolicyStore. current() and resolve() are synchronous (they run
 * for every span) and serve the last set read successfully; before the first success that is EMPTY_POLICY_SET,
 * i.e. keep everything: an unreachable store must not stop ingest. start() re-reads the store every refreshMs;
 * refresh() does one read, for tests and for an admin write to apply at once on the instance that made it.
 * A lower version than the one served is accepted too: the store is the source of truth (e.g. after a Redis reset).
 */
export class PolicyCache {
  private index = new PolicyIndex(EMPTY_POLICY_SET);
  private okAt: number | undefined;
  private error: unknown;
  private inFlight: Promise<boolean> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  // Bumped by every start() and stop(): a timer callback of an earlier run never re-arms itself.
  private generation = 0;
  private readonly refreshMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: PolicyStore,
    private readonly options: PolicyCacheOptions = {},
  ) {
    this.refreshMs = options.refreshMs ?? DEFAULT_POLICY_REFRESH_MS;
    if (!Number.isFinite(this.refreshMs) || this.refreshMs <= 0) throw new RangeError(`refreshMs must be a positive number, got ${this.refreshMs}`);
    this.now = options.now ?? Date.now;
  }

  /** current: the policy set in force on this instance. */
  current(): PolicySet {
    return this.index.set;
  }

  /** resolve: the policy of (app, service, operation) in the current set (see PolicyIndex.resolve). */
  resolve(app: string, service?: string, operation?: string): ResolvedPolicy {
    return this.index.resolve(app, service, operation);
  }

  /** effective: what the SDK endpoint serves to one service (see effectivePolicy). */
  effective(app: string, service: string): EffectivePolicy {
    return effectivePolicy(this.index, app, service);
  }

  /** lastRefreshOkAt: when the store was last read successfully (epoch ms, from `now`), undefined if never: staleness = now - this. */
  get lastRefreshOkAt(): number | undefined {
    return this.okAt;
  }

  /** lastError: the error of the latest refresh, undefined when it succeeded. */
  get lastError(): unknown {
    return this.error;
  }

  /**
   * refresh: reads the store once; resolves true when it succeeded, false when it failed (the last good set
   * stays). Never rejects. A call while a refresh is in flight joins it instead of reading again.
   */
  refresh(): Promise<boolean> {
    this.inFlight ??= this.load().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** start: a first refresh (its result is returned, a failure does not throw), then one every refreshMs until stop(). */
  async start(): Promise<boolean> {
    if (this.running) return this.okAt !== undefined;
    this.running = true;
    const generation = ++this.generation;
    const ok = await this.refresh();
    this.schedule(generation);
    return ok;
  }

  /** stop: no further refreshes; waits for the one in flight, if any. */
  async stop(): Promise<void> {
    this.running = false;
    this.generation++;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  private schedule(generation: number): void {
    if (!this.running || generation !== this.generation) return;
    // One timer at a time, re-armed after each read: a slow store never gets overlapping reads.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh().then(() => this.schedule(generation));
    }, this.refreshMs);
    // The policy is a background concern: it must not keep a process alive that is otherwise shutting down.
    this.timer.unref?.();
  }

  private async load(): Promise<boolean> {
    let next: PolicySet;
    try {
      next = await this.store.get();
    } catch (error) {
      this.error = error;
      this.options.onError?.(error);
      return false;
    }
    const previous = this.index.set;
    this.index = new PolicyIndex(next);
    this.okAt = this.now();
    this.error = undefined;
    if (next.version !== previous.version) {
      try {
        this.options.onChange?.(next, previous);
      } catch (error) {
        // A failing hook (a logger) must not turn a good read into a failed refresh.
        this.options.onError?.(error);
      }
    }
    return true;
  }
}
