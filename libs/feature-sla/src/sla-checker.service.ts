import { MINUTE_MS, MetricStore, SlaAlert, SlaRule, SlaState, SlaStateStore, minuteStats, nextSlaState } from '@skein/domain';
import { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import { WebhookOptions, sendAlertWebhook } from './webhook-notifier';

/** SlaCheckerOptions: rules, stores, timing (all ms) and webhook settings. */
export interface SlaCheckerOptions {
  rules: SlaRule[];
  metrics: MetricStore;
  states: SlaStateStore;
  /** intervalMs: how often closed minutes are evaluated. */
  intervalMs: number;
  /** graceMs: a minute is closed this long after it ends, so late spans are counted first. */
  graceMs: number;
  /** lookbackMs: how far back a rule with no stored state (or one stale after an outage) starts evaluating; at most one day. */
  lookbackMs: number;
  webhook: WebhookOptions;
  registry: Registry;
  logger: Logger;
  now?: () => number;
}

/**
 * SlaCheckerService: every interval, judges each rule on the minutes that closed since its last evaluation and
 * sends an alert only when the rule enters or leaves breach. The new state is saved with compare-and-set
 * before alerts go out, so two checker instances never both send the same alert.
 */
export class SlaCheckerService {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly evaluations: Counter;
  private readonly alerts: Counter;
  private readonly failedAlerts: Counter;

  constructor(private readonly options: SlaCheckerOptions) {
    const registers = [options.registry];
    this.evaluations = new Counter({ name: 'skein_sla_minutes_evaluated_total', help: 'Rule-minutes evaluated.', registers });
    this.alerts = new Counter({ name: 'skein_sla_alerts_sent_total', help: 'Alerts delivered to webhooks, by status.', labelNames: ['status'], registers });
    this.failedAlerts = new Counter({ name: 'skein_sla_alerts_failed_total', help: 'Alerts whose webhook failed after every retry.', registers });
  }

  start(): void {
    const tick = () => {
      this.running = this.evaluateAll()
        .catch((err: unknown) => this.options.logger.error({ err }, 'SLA evaluation failed; retrying next interval'))
        .finally(() => {
          this.running = undefined;
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.options.intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** evaluateAll: one evaluation pass over every rule. */
  async evaluateAll(): Promise<void> {
    for (const rule of this.options.rules) await this.evaluateRule(rule);
  }

  private async evaluateRule(rule: SlaRule): Promise<void> {
    const now = (this.options.now ?? Date.now)();
    // The newest closed minute: its end plus the grace period has passed.
    const lastClosed = Math.floor((now - this.options.graceMs) / MINUTE_MS) * MINUTE_MS - MINUTE_MS;
    const stored = await this.options.states.get(rule.name);
    // Never look further back than lookbackMs: after a long outage the checker resumes at recent minutes
    // instead of asking the store for days of windows.
    const oldest = Math.floor((now - this.options.lookbackMs) / MINUTE_MS) * MINUTE_MS;
    const initial: SlaState = stored ?? { breached: false, lastMinute: oldest - MINUTE_MS };
    if (lastClosed <= initial.lastMinute) return;
    const from = Math.max(initial.lastMinute + MINUTE_MS, oldest);
    const windows = await this.options.metrics.getWindows({ service: rule.service, operation: rule.operation }, from, lastClosed);
    const byMinute = new Map(windows.map((window) => [window.minute, window]));
    let state = initial;
    const alerts: SlaAlert[] = [];
    for (let minute = from; minute <= lastClosed; minute += MINUTE_MS) {
      const window = byMinute.get(minute);
      const step = nextSlaState(rule, state, minute, window === undefined ? undefined : minuteStats(window));
      state = step.state;
      if (step.alert) alerts.push(step.alert);
      this.evaluations.inc();
    }
    if (!(await this.options.states.compareAndSet(rule.name, stored, state))) return;
    for (const alert of alerts) {
      const delivered = await sendAlertWebhook(rule.webhookUrl, alert, this.options.webhook);
      if (delivered) this.alerts.inc({ status: alert.status });
      else this.failedAlerts.inc();
      this.options.logger[delivered ? 'info' : 'error']({ rule: rule.name, status: alert.status, minute: new Date(alert.minute).toISOString(), violations: alert.violations, delivered }, 'SLA alert');
    }
  }
}
