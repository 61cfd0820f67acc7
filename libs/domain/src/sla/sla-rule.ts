import { MinuteStats } from '../metrics/minute-window';

/** SlaRule: a service-level objective on one operation's minute windows. */
export interface SlaRule {
  /** name: unique rule name; alerts and breach state are keyed by it. */
  name: string;
  service: string;
  operation: string;
  /** maxP99Ms: breach when the minute's p99 latency exceeds this, milliseconds. Optional. */
  maxP99Ms?: number;
  /** maxErrorRate: breach when errors/calls exceeds this fraction (0..1). Optional. */
  maxErrorRate?: number;
  /** minCalls: minutes with fewer calls are not judged (too little evidence). Default 1. */
  minCalls: number;
  /** webhookUrl: where alerts for this rule are POSTed. */
  webhookUrl: string;
}

/** SlaViolation: one objective a minute failed, with the measured and allowed values. */
export interface SlaViolation {
  metric: 'p99Ms' | 'errorRate';
  actual: number;
  threshold: number;
}

/** SlaVerdict: the judgement of one rule on one minute. `skipped` when calls < minCalls. */
export type SlaVerdict = { status: 'skipped' } | { status: 'ok' } | { status: 'breached'; violations: SlaViolation[] };

/** evaluateSlaMinute: judges one closed minute against a rule. */
export function evaluateSlaMinute(rule: SlaRule, stats: MinuteStats | undefined): SlaVerdict {
  if (stats === undefined || stats.calls < rule.minCalls) return { status: 'skipped' };
  const violations: SlaViolation[] = [];
  if (rule.maxP99Ms !== undefined && stats.p99Ms > rule.maxP99Ms) violations.push({ metric: 'p99Ms', actual: stats.p99Ms, threshold: rule.maxP99Ms });
  if (rule.maxErrorRate !== undefined && stats.errorRate > rule.maxErrorRate) {
    violations.push({ metric: 'errorRate', actual: stats.errorRate, threshold: rule.maxErrorRate });
  }
  return violations.length > 0 ? { status: 'breached', violations } : { status: 'ok' };
}

/** SlaState: what the checker remembers per rule between evaluations. */
export interface SlaState {
  /** breached: whether the rule is currently in breach (an alert has fired and not resolved). */
  breached: boolean;
  /** lastMinute: the last minute (epoch ms) evaluated, so each minute is judged once. */
  lastMinute: number;
}

/** SlaAlert: a notification to send: `firing` on entering breach, `resolved` on leaving it. */
export interface SlaAlert {
  rule: string;
  service: string;
  operation: string;
  status: 'firing' | 'resolved';
  /** minute: the minute (epoch ms) whose evaluation changed the state. */
  minute: number;
  violations: SlaViolation[];
  stats: MinuteStats;
}

/**
 * nextSlaState: the state transition of one evaluation. An alert is produced only on a change — entering breach
 * (`firing`) or leaving it (`resolved`) — so a breach lasting many minutes notifies once, not every minute.
 */
export function nextSlaState(rule: SlaRule, state: SlaState, minute: number, stats: MinuteStats | undefined): { state: SlaState; alert?: SlaAlert } {
  const verdict = evaluateSlaMinute(rule, stats);
  const base = { rule: rule.name, service: rule.service, operation: rule.operation, minute };
  if (verdict.status === 'skipped' || stats === undefined) return { state: { ...state, lastMinute: minute } };
  if (verdict.status === 'breached' && !state.breached) {
    return { state: { breached: true, lastMinute: minute }, alert: { ...base, status: 'firing', violations: verdict.violations, stats } };
  }
  if (verdict.status === 'ok' && state.breached) {
    return { state: { breached: false, lastMinute: minute }, alert: { ...base, status: 'resolved', violations: [], stats } };
  }
  return { state: { breached: state.breached, lastMinute: minute } };
}
