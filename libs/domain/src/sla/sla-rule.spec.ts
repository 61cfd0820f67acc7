import { MinuteStats } from '../metrics/minute-window';
import { SlaAlert, SlaRule, SlaState, evaluateSlaMinute, nextSlaState } from './sla-rule';

const M0 = Date.UTC(2026, 0, 15, 10, 0);
const minute = (n: number) => M0 + n * 60_000;

const RULE: SlaRule = {
  name: 'orders-latency',
  service: 'order-service',
  operation: 'POST /orders',
  maxP99Ms: 100,
  maxErrorRate: 0.05,
  minCalls: 10,
  webhookUrl: 'http://alerts.example/hook',
};

function stats(overrides: Partial<MinuteStats> = {}): MinuteStats {
  return {
    service: 'order-service',
    operation: 'POST /orders',
    minute: M0,
    calls: 600,
    errors: 6,
    qps: 10,
    errorRate: 0.01,
    meanMs: 20,
    maxMs: 150,
    p50Ms: 18,
    p90Ms: 40,
    p99Ms: 80,
    p999Ms: 120,
    ...overrides,
  };
}

const healthy = (n: number) => stats({ minute: minute(n) });
const slow = (n: number) => stats({ minute: minute(n), p99Ms: 250, p999Ms: 400, maxMs: 500 });
const idle = (n: number) => stats({ minute: minute(n), calls: 3, errors: 3, errorRate: 1, p99Ms: 9_000 });

/** run: feeds minutes 0, 1, … to nextSlaState from a fresh state; returns every alert and the final state. */
function run(rule: SlaRule, minutes: (MinuteStats | undefined)[], initial: SlaState = { breached: false, lastMinute: 0 }) {
  let state = initial;
  const alerts: SlaAlert[] = [];
  const states: SlaState[] = [];
  minutes.forEach((value, n) => {
    const next = nextSlaState(rule, state, minute(n), value);
    state = next.state;
    states.push(state);
    if (next.alert) alerts.push(next.alert);
  });
  return { alerts, states, state };
}

describe('evaluateSlaMinute', () => {
  it('skips a minute without stats', () => {
    expect(evaluateSlaMinute(RULE, undefined)).toEqual({ status: 'skipped' });
  });

  it('skips a minute with fewer than minCalls calls, however bad it looks', () => {
    expect(evaluateSlaMinute(RULE, stats({ calls: 9, errorRate: 1, p99Ms: 10_000 }))).toEqual({ status: 'skipped' });
    expect(evaluateSlaMinute(RULE, stats({ calls: 0, errorRate: 0, p99Ms: 0 }))).toEqual({ status: 'skipped' });
  });

  it('judges a minute with exactly minCalls calls', () => {
    expect(evaluateSlaMinute(RULE, stats({ calls: 10, p99Ms: 101 }))).toEqual({ status: 'breached', violations: [{ metric: 'p99Ms', actual: 101, threshold: 100 }] });
  });

  it('is ok when every objective is met, including values exactly at the threshold', () => {
    expect(evaluateSlaMinute(RULE, stats())).toEqual({ status: 'ok' });
    expect(evaluateSlaMinute(RULE, stats({ p99Ms: 100, errorRate: 0.05 }))).toEqual({ status: 'ok' });
  });

  it('reports a p99 breach with the measured and allowed values', () => {
    expect(evaluateSlaMinute(RULE, stats({ p99Ms: 100.001 }))).toEqual({ status: 'breached', violations: [{ metric: 'p99Ms', actual: 100.001, threshold: 100 }] });
  });

  it('reports an error-rate breach with the measured and allowed values', () => {
    expect(evaluateSlaMinute(RULE, stats({ errorRate: 0.051 }))).toEqual({ status: 'breached', violations: [{ metric: 'errorRate', actual: 0.051, threshold: 0.05 }] });
  });

  it('reports both breaches, p99 first', () => {
    expect(evaluateSlaMinute(RULE, stats({ p99Ms: 300, errorRate: 0.5 }))).toEqual({
      status: 'breached',
      violations: [
        { metric: 'p99Ms', actual: 300, threshold: 100 },
        { metric: 'errorRate', actual: 0.5, threshold: 0.05 },
      ],
    });
  });

  it('checks only the objectives a rule sets', () => {
    const latencyOnly: SlaRule = { ...RULE, maxErrorRate: undefined };
    const errorsOnly: SlaRule = { ...RULE, maxP99Ms: undefined };
    const neither: SlaRule = { ...RULE, maxP99Ms: undefined, maxErrorRate: undefined };
    const bad = stats({ p99Ms: 300, errorRate: 0.5 });
    expect(evaluateSlaMinute(latencyOnly, bad)).toEqual({ status: 'breached', violations: [{ metric: 'p99Ms', actual: 300, threshold: 100 }] });
    expect(evaluateSlaMinute(errorsOnly, bad)).toEqual({ status: 'breached', violations: [{ metric: 'errorRate', actual: 0.5, threshold: 0.05 }] });
    expect(evaluateSlaMinute(neither, bad)).toEqual({ status: 'ok' });
  });

  it('treats a zero threshold as "none allowed"', () => {
    const noErrors: SlaRule = { ...RULE, maxP99Ms: undefined, maxErrorRate: 0 };
    expect(evaluateSlaMinute(noErrors, stats({ errorRate: 0 }))).toEqual({ status: 'ok' });
    expect(evaluateSlaMinute(noErrors, stats({ errorRate: 0.001 }))).toEqual({ status: 'breached', violations: [{ metric: 'errorRate', actual: 0.001, threshold: 0 }] });
  });

  it('judges a minute with no calls when minCalls is 0', () => {
    expect(evaluateSlaMinute({ ...RULE, minCalls: 0 }, stats({ calls: 0, errors: 0, errorRate: 0, p99Ms: 0 }))).toEqual({ status: 'ok' });
  });
});

describe('nextSlaState', () => {
  it('fires exactly once for a breach lasting 5 minutes and resolves exactly once on recovery', () => {
    const { alerts, states } = run(RULE, [healthy(0), slow(1), slow(2), slow(3), slow(4), slow(5), healthy(6), healthy(7)]);
    expect(alerts).toEqual([
      {
        rule: 'orders-latency',
        service: 'order-service',
        operation: 'POST /orders',
        status: 'firing',
        minute: minute(1),
        violations: [{ metric: 'p99Ms', actual: 250, threshold: 100 }],
        stats: slow(1),
      },
      {
        rule: 'orders-latency',
        service: 'order-service',
        operation: 'POST /orders',
        status: 'resolved',
        minute: minute(6),
        violations: [],
        stats: healthy(6),
      },
    ]);
    expect(states.map((s) => s.breached)).toEqual([false, true, true, true, true, true, false, false]);
    expect(states.map((s) => s.lastMinute)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map(minute));
  });

  it('keeps the state through skipped minutes (no data, too few calls) during a breach: no resolve, no second fire', () => {
    const { alerts, states } = run(RULE, [slow(0), undefined, idle(2), slow(3), undefined, slow(5), healthy(6)]);
    expect(alerts.map((a) => [a.status, a.minute])).toEqual([
      ['firing', minute(0)],
      ['resolved', minute(6)],
    ]);
    expect(states.map((s) => s.breached)).toEqual([true, true, true, true, true, true, false]);
    expect(states.map((s) => s.lastMinute)).toEqual([0, 1, 2, 3, 4, 5, 6].map(minute));
  });

  it('keeps a healthy state through skipped minutes, even ones that would breach with enough calls', () => {
    const { alerts, states } = run(RULE, [healthy(0), idle(1), undefined, idle(3), healthy(4)]);
    expect(alerts).toEqual([]);
    expect(states.every((s) => !s.breached)).toBe(true);
  });

  it('stays breached while a rule has no traffic at all', () => {
    const { alerts, state } = run(RULE, [slow(0), ...Array.from({ length: 30 }, () => undefined)]);
    expect(alerts.map((a) => a.status)).toEqual(['firing']);
    expect(state).toEqual({ breached: true, lastMinute: minute(30) });
  });

  it('alerts on every change of a flapping operation, once per change', () => {
    const { alerts } = run(RULE, [slow(0), healthy(1), slow(2), slow(3), healthy(4), healthy(5), slow(6)]);
    expect(alerts.map((a) => [a.status, a.minute])).toEqual([
      ['firing', minute(0)],
      ['resolved', minute(1)],
      ['firing', minute(2)],
      ['resolved', minute(4)],
      ['firing', minute(6)],
    ]);
  });

  it('does not fire again when the kind of breach changes (latency, then errors)', () => {
    const errors = (n: number) => stats({ minute: minute(n), errors: 120, errorRate: 0.2 });
    const { alerts } = run(RULE, [slow(0), errors(1), errors(2)]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.violations).toEqual([{ metric: 'p99Ms', actual: 250, threshold: 100 }]);
  });

  it('resumes from a stored breached state: recovery resolves without a new fire', () => {
    const { alerts } = run(RULE, [slow(0), healthy(1)], { breached: true, lastMinute: minute(-1) });
    expect(alerts.map((a) => [a.status, a.minute])).toEqual([['resolved', minute(1)]]);
  });

  it('returns no alert key when nothing changes, and does not modify the given state', () => {
    const state: SlaState = { breached: false, lastMinute: minute(0) };
    const result = nextSlaState(RULE, state, minute(1), healthy(1));
    expect(result).toEqual({ state: { breached: false, lastMinute: minute(1) } });
    expect('alert' in result).toBe(false);
    expect(state).toEqual({ breached: false, lastMinute: minute(0) });
    expect(nextSlaState(RULE, state, minute(2), undefined)).toEqual({ state: { breached: false, lastMinute: minute(2) } });
  });
});
