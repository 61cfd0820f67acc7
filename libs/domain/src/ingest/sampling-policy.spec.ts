import {
  DEFAULT_POLICY,
  EMPTY_POLICY_SET,
  InvalidPolicySetError,
  MAX_POLICY_RULES,
  PolicyIndex,
  PolicyRule,
  PolicySet,
  PolicyViolation,
  assertValidPolicySet,
  decideSpan,
  effectivePolicy,
  isTraceSampled,
  resolvePolicy,
  validatePolicySet,
} from './sampling-policy';

function rule(overrides: Partial<PolicyRule> & { app?: string } = {}): PolicyRule {
  return { app: 'shop', sampleRate: 0.5, enabled: true, metricsForUnsampled: true, ...overrides };
}

const SET: PolicySet = {
  version: 7,
  rules: [
    rule({ sampleRate: 0.1 }),
    rule({ service: 'order-service', sampleRate: 0.2, metricsForUnsampled: false }),
    rule({ service: 'order-service', operation: 'POST /orders', sampleRate: 0.3 }),
    rule({ service: 'order-service', operation: 'GET /health', sampleRate: 0, enabled: false }),
    rule({ app: 'billing', service: 'invoice-service', sampleRate: 0.4 }),
  ],
};

/**
 * mulberry32: a small seeded PRNG (32-bit state), so the property runs see the same 100k trace ids on every run
 * and a failure can be replayed.
 */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function traceIds(count: number, seed: number): string[] {
  const next = mulberry32(seed);
  const word = () => next().toString(16).padStart(8, '0');
  return Array.from({ length: count }, () => word() + word() + word() + word());
}

const IDS = traceIds(100_000, 0x5e1e);

describe('resolvePolicy', () => {
  it('picks the most specific rule: operation > service > app > default', () => {
    expect(resolvePolicy(SET, 'shop', 'order-service', 'POST /orders')).toEqual({ sampleRate: 0.3, enabled: true, metricsForUnsampled: true, scope: 'operation' });
    expect(resolvePolicy(SET, 'shop', 'order-service', 'GET /orders')).toEqual({ sampleRate: 0.2, enabled: true, metricsForUnsampled: false, scope: 'service' });
    expect(resolvePolicy(SET, 'shop', 'order-service')).toMatchObject({ sampleRate: 0.2, scope: 'service' });
    expect(resolvePolicy(SET, 'shop', 'cart-service', 'POST /orders')).toEqual({ sampleRate: 0.1, enabled: true, metricsForUnsampled: true, scope: 'app' });
    expect(resolvePolicy(SET, 'shop')).toMatchObject({ sampleRate: 0.1, scope: 'app' });
    expect(resolvePolicy(SET, 'other', 'order-service', 'POST /orders')).toEqual(DEFAULT_POLICY);
  });

  it('does not inherit fields from less specific rules: the winning rule applies whole', () => {
    // The service rule has metricsForUnsampled false; the operation rule under it says true.
    expect(resolvePolicy(SET, 'shop', 'order-service', 'POST /orders').metricsForUnsampled).toBe(true);
  });

  it('falls back to the default policy where an application has only narrower rules', () => {
    expect(resolvePolicy(SET, 'billing', 'invoice-service', 'x')).toMatchObject({ sampleRate: 0.4, scope: 'service' });
    expect(resolvePolicy(SET, 'billing', 'payment-service', 'x')).toEqual({ sampleRate: 1, enabled: true, metricsForUnsampled: true, scope: 'default' });
  });

  it('matches names exactly (case, separators)', () => {
    expect(resolvePolicy(SET, 'shop', 'Order-Service', 'POST /orders').scope).toBe('app');
    expect(resolvePolicy(SET, 'shop', 'order-service', 'post /orders').scope).toBe('service');
    const tricky: PolicySet = { version: 1, rules: [rule({ service: 'a","b', sampleRate: 0.9 }), rule({ service: 'a', operation: 'b', sampleRate: 0.8 })] };
    expect(resolvePolicy(tricky, 'shop', 'a', 'b').sampleRate).toBe(0.8);
    expect(resolvePolicy(tricky, 'shop', 'a","b', 'c').sampleRate).toBe(0.9);
  });

  it('gives the default everywhere for the empty set, as frozen policies no caller can change', () => {
    const policy = resolvePolicy(EMPTY_POLICY_SET, 'shop', 's', 'o');
    expect(policy).toEqual(DEFAULT_POLICY);
    expect(() => {
      policy.sampleRate = 0;
    }).toThrow(TypeError);
    expect(DEFAULT_POLICY.sampleRate).toBe(1);
    const index = new PolicyIndex({ version: 1, rules: [rule({ service: 's', sampleRate: 0.5 })] });
    expect(Object.isFrozen(index.resolve('shop', 's', 'o'))).toBe(true);
    expect(index.resolve('shop', 's', 'o')).toBe(index.resolve('shop', 's', 'other'));
  });

  it('decides without allocating: decideSpan returns the same frozen decision each time', () => {
    expect(decideSpan(DEFAULT_POLICY, 'ab'.repeat(16))).toBe(decideSpan(DEFAULT_POLICY, 'cd'.repeat(16)));
    expect(Object.isFrozen(decideSpan(DEFAULT_POLICY, 'ab'.repeat(16)))).toBe(true);
  });

  it('PolicyIndex resolves like resolvePolicy', () => {
    const index = new PolicyIndex(SET);
    for (const [app, service, operation] of [
      ['shop', 'order-service', 'POST /orders'],
      ['shop', 'order-service', 'nope'],
      ['shop', 'nope', 'nope'],
      ['nope', undefined, undefined],
    ] as const) {
      expect(index.resolve(app, service, operation)).toEqual(resolvePolicy(SET, app, service, operation));
    }
    expect(index.operationsOf('shop', 'order-service')).toEqual(['GET /health', 'POST /orders']);
  });
});

describe('validatePolicySet', () => {
  function violations(input: unknown): PolicyViolation[] {
    const result = validatePolicySet(input);
    if (result.ok) throw new Error(`expected violations, got ${JSON.stringify(result.set)}`);
    return result.violations;
  }

  it('accepts a valid set, defaulting version to 0 and metricsForUnsampled to true', () => {
    const result = validatePolicySet({ rules: [{ app: 'shop', sampleRate: 0.5, enabled: true }, { app: 'shop', service: 's', operation: 'o', sampleRate: 1, enabled: false, metricsForUnsampled: false }] });
    expect(result).toEqual({
      ok: true,
      set: {
        version: 0,
        rules: [
          { app: 'shop', sampleRate: 0.5, enabled: true, metricsForUnsampled: true },
          { app: 'shop', service: 's', operation: 'o', sampleRate: 1, enabled: false, metricsForUnsampled: false },
        ],
      },
    });
    expect(validatePolicySet(SET)).toEqual({ ok: true, set: SET });
    expect(validatePolicySet({ version: 3, rules: [] })).toEqual({ ok: true, set: { version: 3, rules: [] } });
  });

  it('treats null optional fields as absent and drops them', () => {
    const result = validatePolicySet({ rules: [{ app: 'shop', service: null, operation: null, sampleRate: 0, enabled: true, metricsForUnsampled: null }] });
    expect(result.ok && Object.keys(result.set.rules[0]!)).toEqual(['app', 'sampleRate', 'enabled', 'metricsForUnsampled']);
  });

  it.each([
    [null, '', 'must be a JSON object {version?, rules}'],
    [[], '', 'must be a JSON object {version?, rules}'],
    [{}, 'rules', 'required: an array of rules'],
    [{ rules: {} }, 'rules', 'required: an array of rules'],
    [{ version: -1, rules: [] }, 'version', 'must be a non-negative integer'],
    [{ version: 1.5, rules: [] }, 'version', 'must be a non-negative integer'],
    [{ version: '1', rules: [] }, 'version', 'must be a non-negative integer'],
    [{ rules: [], extra: 1 }, 'extra', 'unknown field'],
    [{ rules: ['x'] }, 'rules[0]', 'must be a JSON object'],
    [{ rules: [{ sampleRate: 1, enabled: true }] }, 'rules[0].app', 'required: an application name matching ^[a-z0-9][a-z0-9._-]*$'],
    [{ rules: [rule({ app: 'Shop' })] }, 'rules[0].app', 'required: an application name matching ^[a-z0-9][a-z0-9._-]*$'],
    [{ rules: [rule({ service: '' })] }, 'rules[0].service', 'must be a non-empty string'],
    [{ rules: [{ ...rule(), service: 5 }] }, 'rules[0].service', 'must be a non-empty string'],
    [{ rules: [rule({ service: 's'.repeat(257) })] }, 'rules[0].service', 'longer than 256 characters'],
    [{ rules: [rule({ operation: 'o' })] }, 'rules[0].operation', 'needs service: operation names are per service'],
    [{ rules: [{ app: 'shop', enabled: true }] }, 'rules[0].sampleRate', 'required: a number from 0 to 1'],
    [{ rules: [rule({ sampleRate: 1.01 })] }, 'rules[0].sampleRate', 'required: a number from 0 to 1'],
    [{ rules: [rule({ sampleRate: -0.1 })] }, 'rules[0].sampleRate', 'required: a number from 0 to 1'],
    [{ rules: [{ ...rule(), sampleRate: '0.5' }] }, 'rules[0].sampleRate', 'required: a number from 0 to 1'],
    [{ rules: [{ app: 'shop', sampleRate: 1 }] }, 'rules[0].enabled', 'required: true or false'],
    [{ rules: [{ ...rule(), enabled: 'yes' }] }, 'rules[0].enabled', 'required: true or false'],
    [{ rules: [{ ...rule(), metricsForUnsampled: 1 }] }, 'rules[0].metricsForUnsampled', 'must be true or false'],
    [{ rules: [{ ...rule(), sampleRatio: 0.1 }] }, 'rules[0].sampleRatio', 'unknown field'],
    [{ rules: [rule(), rule({ app: 'billing' }), rule({ sampleRate: 0.1 })] }, 'rules[2]', 'same scope as rules[0]'],
    [{ rules: [rule({ service: 's', operation: 'o' }), rule({ service: 's', operation: 'o' })] }, 'rules[1]', 'same scope as rules[0]'],
  ])('rejects %j: %s %s', (input, path, message) => {
    expect(violations(input)).toEqual([{ path, message }]);
  });

  it('reports every violation, naming each rule and field', () => {
    expect(violations({ version: -1, rules: [rule(), { app: 'x', sampleRate: 2, enabled: 'no' }, rule({ operation: 'o' })] })).toEqual([
      { path: 'version', message: 'must be a non-negative integer' },
      { path: 'rules[1].sampleRate', message: 'required: a number from 0 to 1' },
      { path: 'rules[1].enabled', message: 'required: true or false' },
      { path: 'rules[2].operation', message: 'needs service: operation names are per service' },
    ]);
  });

  it(`allows at most ${MAX_POLICY_RULES} rules`, () => {
    const many = Array.from({ length: MAX_POLICY_RULES + 1 }, (_, i) => rule({ service: `s${i}` }));
    expect(violations({ rules: many })).toEqual([{ path: 'rules', message: `more than ${MAX_POLICY_RULES} rules` }]);
    expect(validatePolicySet({ rules: many.slice(1) }).ok).toBe(true);
  });

  it('assertValidPolicySet returns the set or throws InvalidPolicySetError listing the violations', () => {
    expect(assertValidPolicySet(SET)).toEqual(SET);
    expect(() => assertValidPolicySet({ rules: [rule({ sampleRate: 2 })] })).toThrow(InvalidPolicySetError);
    expect(() => assertValidPolicySet({ rules: [rule({ sampleRate: 2 })] })).toThrow('invalid policy set: rules[0].sampleRate: required: a number from 0 to 1');
    const many = new InvalidPolicySetError(Array.from({ length: 12 }, (_, i) => ({ path: `p${i}`, message: 'm' })));
    expect(many.message).toMatch(/p9: m; … and 2 more$/);
    expect(many.violations).toHaveLength(12);
  });
});

describe('isTraceSampled', () => {
  const RATES = [0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1];

  it('keeps the configured fraction of 100k random traces, within ±1%', () => {
    for (const rate of RATES) {
      const sampled = IDS.filter((id) => isTraceSampled(id, rate)).length / IDS.length;
      expect(Math.abs(sampled - rate)).toBeLessThanOrEqual(0.01);
    }
  });

  it('is consistent: the decision depends only on the trace id and the rate', () => {
    const indexA = new PolicyIndex({ version: 1, rules: [rule({ sampleRate: 0.3 })] });
    const indexB = new PolicyIndex({ version: 1, rules: [rule({ sampleRate: 0.3 })] }); // another gateway instance
    let disagreements = 0;
    for (const id of IDS) {
      // Spans of one trace from three services of the app, decided on two gateways.
      const decisions = ['api', 'orders', 'payments'].flatMap((service) => [
        decideSpan(indexA.resolve('shop', service, 'op'), id).route,
        decideSpan(indexB.resolve('shop', service, 'op'), id).route,
      ]);
      if (new Set(decisions).size !== 1) disagreements++;
    }
    expect(disagreements).toBe(0);
  });

  it('is nested: a trace kept at one rate is kept at every higher rate', () => {
    let violations = 0;
    for (const id of IDS) {
      const decisions = RATES.map((rate) => isTraceSampled(id, rate));
      // Sorted rates: once true, never false again.
      if (decisions.some((kept, i) => !kept && i > 0 && decisions[i - 1])) violations++;
    }
    expect(violations).toBe(0);
  });

  it('gives the lower-rate service of a trace a subset of the higher-rate service\'s traces', () => {
    const policy: PolicySet = { version: 1, rules: [rule({ service: 'edge', sampleRate: 0.05 }), rule({ service: 'core', sampleRate: 0.2 })] };
    const index = new PolicyIndex(policy);
    const edge = new Set(IDS.filter((id) => decideSpan(index.resolve('shop', 'edge', 'op'), id).route === 'trace'));
    const core = new Set(IDS.filter((id) => decideSpan(index.resolve('shop', 'core', 'op'), id).route === 'trace'));
    expect(edge.size).toBeGreaterThan(4_000);
    for (const id of edge) expect(core.has(id)).toBe(true);
    expect(core.size).toBeGreaterThan(edge.size * 3);
  });

  it('reads the lower 8 bytes: a 64-bit id and its zero-padded 128-bit form agree; case does not matter', () => {
    for (const id of IDS.slice(0, 10_000)) {
      const low = id.slice(16);
      expect(isTraceSampled(id, 0.37)).toBe(isTraceSampled(low, 0.37));
      expect(isTraceSampled(`0000000000000000${low}`, 0.37)).toBe(isTraceSampled(low, 0.37));
      expect(isTraceSampled(id.toUpperCase(), 0.37)).toBe(isTraceSampled(id, 0.37));
    }
  });

  it('compares with rate × 2^64 exactly at the boundary', () => {
    expect(isTraceSampled('ffffffffffffffff7fffffffffffffff', 0.5)).toBe(true);
    expect(isTraceSampled('00000000000000008000000000000000', 0.5)).toBe(false);
    expect(isTraceSampled('0000000000000000', 1e-300)).toBe(false); // bound floors to 0
    expect(isTraceSampled('0000000000000000', Number.MIN_VALUE)).toBe(false);
    expect(isTraceSampled('0000000000000000', 2 ** -64)).toBe(true);
  });

  it('keeps nothing at 0 and everything at 1 (and beyond), whatever the id', () => {
    for (const id of ['ffffffffffffffffffffffffffffffff', '00000000000000000000000000000000', 'ffffffffffffffff']) {
      expect(isTraceSampled(id, 0)).toBe(false);
      expect(isTraceSampled(id, Number.NaN)).toBe(false);
      expect(isTraceSampled(id, 1)).toBe(true);
      expect(isTraceSampled(id, 2)).toBe(true);
    }
  });

  it.each(['', 'abc', 'g'.repeat(32), '0'.repeat(24), `${'0'.repeat(31)} `])('rejects trace id %j', (id) => {
    expect(() => isTraceSampled(id, 0.5)).toThrow(RangeError);
  });
});

describe('decideSpan', () => {
  const kept = IDS.find((id) => isTraceSampled(id, 0.5))!;
  const notKept = IDS.find((id) => !isTraceSampled(id, 0.5))!;

  it('sends sampled spans to trace storage (and metrics)', () => {
    expect(decideSpan({ ...DEFAULT_POLICY, sampleRate: 0.5 }, kept)).toEqual({ route: 'trace' });
  });

  it('sends unsampled spans to the metrics only, by default', () => {
    expect(decideSpan({ ...DEFAULT_POLICY, sampleRate: 0.5 }, notKept)).toEqual({ route: 'metrics' });
  });

  it('drops unsampled spans when metricsForUnsampled is false', () => {
    expect(decideSpan({ ...DEFAULT_POLICY, sampleRate: 0.5, metricsForUnsampled: false }, notKept)).toEqual({ route: 'drop', reason: 'unsampled' });
    expect(decideSpan({ ...DEFAULT_POLICY, sampleRate: 0.5, metricsForUnsampled: false }, kept)).toEqual({ route: 'trace' });
  });

  it('drops everything of a switched-off scope, sampled or not', () => {
    for (const id of [kept, notKept]) expect(decideSpan({ ...DEFAULT_POLICY, sampleRate: 1, enabled: false }, id)).toEqual({ route: 'drop', reason: 'switched_off' });
  });

  it('keeps everything under the default policy', () => {
    for (const id of IDS.slice(0, 1_000)) expect(decideSpan(resolvePolicy(EMPTY_POLICY_SET, 'shop', 's', 'o'), id)).toEqual({ route: 'trace' });
  });
});

describe('effectivePolicy', () => {
  it('lists the service default and every operation with its own rule', () => {
    expect(effectivePolicy(SET, 'shop', 'order-service')).toEqual({
      version: 7,
      app: 'shop',
      service: 'order-service',
      default: { sampleRate: 0.2, enabled: true, metricsForUnsampled: false, scope: 'service' },
      operations: {
        'GET /health': { sampleRate: 0, enabled: false, metricsForUnsampled: true, scope: 'operation' },
        'POST /orders': { sampleRate: 0.3, enabled: true, metricsForUnsampled: true, scope: 'operation' },
      },
    });
    expect(effectivePolicy(new PolicyIndex(SET), 'shop', 'cart-service')).toEqual({
      version: 7,
      app: 'shop',
      service: 'cart-service',
      default: { sampleRate: 0.1, enabled: true, metricsForUnsampled: true, scope: 'app' },
      operations: {},
    });
  });

  it('keeps an operation named __proto__ as a plain entry', () => {
    const set: PolicySet = { version: 1, rules: [rule({ service: 's', operation: '__proto__', sampleRate: 0.1 })] };
    const policy = effectivePolicy(set, 'shop', 's');
    expect(Object.keys(policy.operations)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(policy.operations)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(policy)).operations.__proto__.sampleRate).toBe(0.1);
  });
});
