import { APP_NAME_PATTERN } from './api-keys';

/**
 * PolicyRule: the sampling and switch policy of one scope: an application, one service of it, or one operation
 * of that service. The most specific rule wins whole: fields are not inherited from less specific rules.
 */
export interface PolicyRule {
  /** app: the application (as authenticated by its API key). */
  app: string;
  /** service: narrows the rule to one service of the application. */
  service?: string;
  /** operation: narrows the rule to one operation of `service` (which is then required). */
  operation?: string;
  /** sampleRate: fraction of traces stored, 0..1 (decided per trace id, see isTraceSampled). */
  sampleRate: number;
  /**
   * enabled: the switch. false = nothing of the scope is kept, neither traces nor metrics: the gateway still
   * answers 2xx (so SDKs neither retry nor report errors) and counts the spans as dropped{reason="switched_off"}.
   */
  enabled: boolean;
  /** metricsForUnsampled: whether spans of unsampled traces still feed the minute metrics (default true: metrics count every call). */
  metricsForUnsampled: boolean;
}

/** PolicySet: every rule, with the version the store assigned (0 = nothing stored yet; each put adds 1). */
export interface PolicySet {
  version: number;
  rules: PolicyRule[];
}

/** EMPTY_POLICY_SET: what a store holds before the first put: version 0, no rules (so the default policy everywhere). */
export const EMPTY_POLICY_SET: PolicySet = Object.freeze({ version: 0, rules: Object.freeze([]) as unknown as PolicyRule[] });

/** PolicyScope: which rule decided a policy: none (`default`), or the rule of the app, of the service, or of the operation. */
export type PolicyScope = 'default' | 'app' | 'service' | 'operation';

/** ResolvedPolicy: the policy in force for one (app, service, operation). */
export interface ResolvedPolicy {
  sampleRate: number;
  enabled: boolean;
  metricsForUnsampled: boolean;
  scope: PolicyScope;
}

/** DEFAULT_POLICY: the policy where no rule applies: keep every trace (sampleRate 1), enabled, metrics for all. */
export const DEFAULT_POLICY: ResolvedPolicy = Object.freeze({ sampleRate: 1, enabled: true, metricsForUnsampled: true, scope: 'default' as const });

/** MAX_POLICY_RULES: the most rules one set may have (10 000): the whole set is one Redis value, read every refresh. */
export const MAX_POLICY_RULES = 10_000;

/** MAX_POLICY_NAME_LENGTH: longest service or operation name in a rule, characters (256, as for spans). */
export const MAX_POLICY_NAME_LENGTH = 256;

/** PolicyViolation: one problem in a policy set: `path` names the field, e.g. `rules[2].sampleRate`. */
export interface PolicyViolation {
  path: string;
  message: string;
}

/** PolicyValidationResult: the normalised set, or every violation found. */
export type PolicyValidationResult = { ok: true; set: PolicySet } | { ok: false; violations: PolicyViolation[] };

/** InvalidPolicySetError: thrown by assertValidPolicySet; the message lists the violations (first 10). */
export class InvalidPolicySetError extends Error {
  override readonly name = 'InvalidPolicySetError';

  constructor(readonly violations: PolicyViolation[]) {
    const shown = violations.slice(0, 10).map((v) => `${v.path}: ${v.message}`);
    if (violations.length > 10) shown.push(`… and ${violations.length - 10} more`);
    super(`invalid policy set: ${shown.join('; ')}`);
  }
}

const RULE_FIELDS = new Set(['app', 'service', 'operation', 'sampleRate', 'enabled', 'metricsForUnsampled']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function scopeKey(app: string, service: string | undefined, operation: string | undefined): string {
  return JSON.stringify([app, service ?? null, operation ?? null]);
}

/**
 * validatePolicySet: checks an untrusted JSON value (admin API body, stored value) and returns a normalised
 * PolicySet, or every violation. `{ version?, rules: [...] }`: version defaults to 0; per rule `app`, `sampleRate`
 * and `enabled` are required (a missing rate must not silently mean "keep everything"), `metricsForUnsampled`
 * defaults to true, `operation` needs `service`, unknown fields are errors (they are usually typos), and two rules
 * may not have the same scope.
 */
export function validatePolicySet(input: unknown): PolicyValidationResult {
  const violations: PolicyViolation[] = [];
  const fail = (path: string, message: string) => violations.push({ path, message });
  if (!isRecord(input)) return { ok: false, violations: [{ path: '', message: 'must be a JSON object {version?, rules}' }] };
  for (const field of Object.keys(input)) if (field !== 'version' && field !== 'rules') fail(field, 'unknown field');

  const version = input['version'] ?? 0;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) fail('version', 'must be a non-negative integer');

  const rawRules = input['rules'];
  if (!Array.isArray(rawRules)) {
    fail('rules', 'required: an array of rules');
    return { ok: false, violations };
  }
  if (rawRules.length > MAX_POLICY_RULES) {
    fail('rules', `more than ${MAX_POLICY_RULES} rules`);
    return { ok: false, violations };
  }

  const rules: PolicyRule[] = [];
  const seen = new Map<string, number>();
  rawRules.forEach((raw: unknown, index) => {
    const at = `rules[${index}]`;
    if (!isRecord(raw)) {
      fail(at, 'must be a JSON object');
      return;
    }
    const before = violations.length;
    for (const field of Object.keys(raw)) if (!RULE_FIELDS.has(field)) fail(`${at}.${field}`, 'unknown field');

    const app = raw['app'];
    if (typeof app !== 'string' || !APP_NAME_PATTERN.test(app)) fail(`${at}.app`, `required: an application name matching ${APP_NAME_PATTERN.source}`);
    const name = (field: 'service' | 'operation'): string | undefined => {
      const value = raw[field];
      if (value === undefined || value === null) return undefined;
      if (typeof value !== 'string' || value.length === 0) fail(`${at}.${field}`, 'must be a non-empty string');
      else if (value.length > MAX_POLICY_NAME_LENGTH) fail(`${at}.${field}`, `longer than ${MAX_POLICY_NAME_LENGTH} characters`);
      else return value;
      return undefined;
    };
    const service = name('service');
    const operation = name('operation');
    if (operation !== undefined && (raw['service'] === undefined || raw['service'] === null)) {
      fail(`${at}.operation`, 'needs service: operation names are per service');
    }
    const sampleRate = raw['sampleRate'];
    if (typeof sampleRate !== 'number' || !Number.isFinite(sampleRate) || sampleRate < 0 || sampleRate > 1) {
      fail(`${at}.sampleRate`, 'required: a number from 0 to 1');
    }
    const flag = (field: 'enabled' | 'metricsForUnsampled', fallback: boolean | undefined): boolean => {
      const value = raw[field] ?? fallback;
      if (typeof value === 'boolean') return value;
      fail(`${at}.${field}`, fallback === undefined ? 'required: true or false' : 'must be true or false');
      return false;
    };
    const enabled = flag('enabled', undefined);
    const metricsForUnsampled = flag('metricsForUnsampled', true);
    if (violations.length > before) return;

    // Fields in a fixed order, optional ones only when set: stored JSON is predictable and compares by text.
    const rule: PolicyRule = {
      app: app as string,
      ...(service === undefined ? {} : { service }),
      ...(operation === undefined ? {} : { operation }),
      sampleRate: sampleRate as number,
      enabled,
      metricsForUnsampled,
    };
    const key = scopeKey(rule.app, service, operation);
    const first = seen.get(key);
    if (first !== undefined) fail(at, `same scope as rules[${first}]`);
    else seen.set(key, index);
    rules.push(rule);
  });

  return violations.length > 0 ? { ok: false, violations } : { ok: true, set: { version: version as number, rules } };
}

/** assertValidPolicySet: validatePolicySet that returns the normalised set or throws InvalidPolicySetError. */
export function assertValidPolicySet(input: unknown): PolicySet {
  const result = validatePolicySet(input);
  if (!result.ok) throw new InvalidPolicySetError(result.violations);
  return result.set;
}

function resolved(rule: PolicyRule, scope: PolicyScope): ResolvedPolicy {
  return Object.freeze({ sampleRate: rule.sampleRate, enabled: rule.enabled, metricsForUnsampled: rule.metricsForUnsampled, scope });
}

/**
 * PolicyIndex: a policy set indexed by scope, so resolving a span's policy is at most three nested map lookups
 * whatever the number of rules, with no key string built per span (the gateway resolves every span). The
 * policies it returns are built once per set and frozen. Built once per set; later changes to the set are not seen.
 */
export class PolicyIndex {
  private readonly byApp = new Map<string, ResolvedPolicy>();
  private readonly byService = new Map<string, Map<string, ResolvedPolicy>>();
  private readonly byOperation = new Map<string, Map<string, Map<string, ResolvedPolicy>>>();

  constructor(readonly set: PolicySet) {
    // First rule of a scope wins, as in resolvePolicy (a validated set has one rule per scope anyway).
    for (const rule of set.rules) {
      if (rule.service === undefined) {
        if (!this.byApp.has(rule.app)) this.byApp.set(rule.app, resolved(rule, 'app'));
      } else if (rule.operation === undefined) {
        const services = getOrCreate(this.byService, rule.app);
        if (!services.has(rule.service)) services.set(rule.service, resolved(rule, 'service'));
      } else {
        const operations = getOrCreate(getOrCreate(this.byOperation, rule.app), rule.service);
        if (!operations.has(rule.operation)) operations.set(rule.operation, resolved(rule, 'operation'));
      }
    }
  }

  /** resolve: the policy of (app, service, operation): operation rule, else service rule, else app rule, else DEFAULT_POLICY (frozen objects). */
  resolve(app: string, service?: string, operation?: string): ResolvedPolicy {
    if (service !== undefined) {
      if (operation !== undefined) {
        const policy = this.byOperation.get(app)?.get(service)?.get(operation);
        if (policy !== undefined) return policy;
      }
      const policy = this.byService.get(app)?.get(service);
      if (policy !== undefined) return policy;
    }
    return this.byApp.get(app) ?? DEFAULT_POLICY;
  }

  /** operationsOf: the operations of (app, service) that have their own rule, sorted. */
  operationsOf(app: string, service: string): string[] {
    return [...(this.byOperation.get(app)?.get(service)?.keys() ?? [])].sort();
  }
}

function getOrCreate<K, V>(map: Map<K, Map<string, V>>, key: K): Map<string, V> {
  let inner = map.get(key);
  if (inner === undefined) {
    inner = new Map<string, V>();
    map.set(key, inner);
  }
  return inner;
}

/**
 * resolvePolicy: the policy of (app, service, operation) in `set`: the most specific rule wins (operation >
 * service > app > DEFAULT_POLICY). Indexes the set on each call; use a PolicyIndex (or PolicyCache.resolve) per span.
 */
export function resolvePolicy(set: PolicySet, app: string, service?: string, operation?: string): ResolvedPolicy {
  return new PolicyIndex(set).resolve(app, service, operation);
}

const TWO_POW_64 = 2 ** 64;

/** isHexTraceId: 16 or 32 hex characters, either case (a char-code loop: it runs for every span ingested). */
function isHexTraceId(traceId: string): boolean {
  if (traceId.length !== 16 && traceId.length !== 32) return false;
  for (let i = 0; i < traceId.length; i++) {
    const c = traceId.charCodeAt(i) | 0x20; // ASCII upper case to lower case; other characters stay out of range
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/**
 * isTraceSampled: whether the trace is kept at `sampleRate` (0..1). A pure function of the trace id, as
 * OpenTelemetry's TraceIdRatioBased sampler: the lower 8 bytes of the id (the random part of W3C and
 * time-prefixed ids; all of a 16-hex id) read as an unsigned 64-bit number, compared with rate × 2^64. So:
 * - consistent: every span of a trace gets the same answer on every gateway instance, whichever service sent it;
 * - nested: a trace kept at rate r is kept at every rate >= r, so when services of one trace have different rates
 *   the traces stored for the lower rate are a subset of those stored for the higher one.
 * SDKs that sample by the same rule agree with the gateway. Throws RangeError for an id that is not 16 or 32 hex.
 */
export function isTraceSampled(traceId: string, sampleRate: number): boolean {
  if (!isHexTraceId(traceId)) throw new RangeError(`traceId must be 16 or 32 hex characters, got ${JSON.stringify(traceId)}`);
  if (!(sampleRate > 0)) return false; // also NaN
  if (sampleRate >= 1) return true;
  // rate × 2^64 is below 2^64 and, above 2^53, every double is an integer: the floor is exact.
  const bound = BigInt(Math.floor(sampleRate * TWO_POW_64));
  return BigInt(`0x${traceId.slice(-16)}`) < bound;
}

/**
 * SpanDecision: where the gateway sends one span: `trace` = trace storage and metrics; `metrics` = minute metrics
 * only, never trace storage; `drop` = nowhere, counted as dropped{reason}.
 */
export type SpanDecision = { route: 'trace' } | { route: 'metrics' } | { route: 'drop'; reason: 'switched_off' | 'unsampled' };

/**
 * decideSpan: applies a resolved policy to one span. Each span is decided by the rule of its own (app, service,
 * operation), not by its trace's root (the gateway rarely has the root: spans of one trace arrive from many
 * services); consistency across services comes from isTraceSampled being a function of the trace id.
 */
export function decideSpan(policy: ResolvedPolicy, traceId: string): SpanDecision {
  if (!policy.enabled) return SWITCHED_OFF;
  if (isTraceSampled(traceId, policy.sampleRate)) return TRACE;
  return policy.metricsForUnsampled ? METRICS : UNSAMPLED;
}

// The four decisions, shared and frozen: decideSpan runs for every span and allocates nothing.
const TRACE: SpanDecision = Object.freeze({ route: 'trace' });
const METRICS: SpanDecision = Object.freeze({ route: 'metrics' });
const SWITCHED_OFF: SpanDecision = Object.freeze({ route: 'drop', reason: 'switched_off' });
const UNSAMPLED: SpanDecision = Object.freeze({ route: 'drop', reason: 'unsampled' });

/** EffectivePolicy: what an SDK of one service fetches (GET endpoint, in the spirit of Jaeger remote sampling). */
export interface EffectivePolicy {
  /** version: the PolicySet version, so an SDK can tell whether anything changed. */
  version: number;
  app: string;
  service: string;
  /** default: the policy of the service's operations without their own rule. */
  default: ResolvedPolicy;
  /** operations: the operations with their own rule. */
  operations: Record<string, ResolvedPolicy>;
}

/** effectivePolicy: the policy of every operation of (app, service), as served to SDKs. */
export function effectivePolicy(set: PolicySet | PolicyIndex, app: string, service: string): EffectivePolicy {
  const index = set instanceof PolicyIndex ? set : new PolicyIndex(set);
  // fromEntries defines own properties: an operation named `__proto__` stays a plain entry.
  const operations = Object.fromEntries(index.operationsOf(app, service).map((operation) => [operation, index.resolve(app, service, operation)]));
  return { version: index.set.version, app, service, default: index.resolve(app, service), operations };
}
