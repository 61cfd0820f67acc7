import { IncomingHttpHeaders, Server, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { MemoryMetricStore, MemorySlaStateStore } from '@skein/adapter-memory';
import { MINUTE_MS, MetricStore, MinuteAggregator, SlaRule, SlaState, SlaStateStore, minuteStats } from '@skein/domain';
import pino from 'pino';
import { Registry } from 'prom-client';
import { SlaCheckerOptions, SlaCheckerService } from './sla-checker.service';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook } from './webhook-notifier';

const SECRET = 'whsec-0123456789abcdef';
const GRACE_MS = 15_000;
const LOOKBACK_MS = 10 * MINUTE_MS;
/** M0: 2026-01-15T10:00:00Z, minute 0 of every scenario. */
const M0 = Date.UTC(2026, 0, 15, 10, 0);
const at = (n: number) => M0 + n * MINUTE_MS;
/** closedAfter: the moment minute n closes (its end plus the grace period): a pass then judges minutes up to n. */
const closedAfter = (n: number) => at(n + 1) + GRACE_MS;
const KEY = { service: 'order-service', operation: 'POST /orders' };

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

interface Receiver {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** counter: the value of a counter (with exactly these labels) in a registry; 0 when never incremented. */
async function counter(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`metric ${name} is not registered`);
  const { values } = await metric.get();
  const wanted = Object.entries(labels);
  const value = values.find((v) => Object.keys(v.labels).length === wanted.length && wanted.every(([k, l]) => v.labels[k] === l));
  return value?.value ?? 0;
}

/** RecordingStateStore: the in-memory SLA state store, recording each compare-and-set outcome. */
class RecordingStateStore implements SlaStateStore {
  readonly outcomes: boolean[] = [];
  constructor(private readonly inner: SlaStateStore) {}
  get(rule: string): Promise<SlaState | undefined> {
    return this.inner.get(rule);
  }
  async compareAndSet(rule: string, expected: SlaState | undefined, next: SlaState): Promise<boolean> {
    const outcome = await this.inner.compareAndSet(rule, expected, next);
    this.outcomes.push(outcome);
    return outcome;
  }
  ready(): Promise<boolean> {
    return this.inner.ready();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('SlaCheckerService', () => {
  let receiver: Receiver;
  let metrics: MemoryMetricStore;
  let states: MemorySlaStateStore;
  let clock: { now: number };
  let offset: number;
  let rule: SlaRule;

  beforeEach(async () => {
    receiver = await startReceiver();
    metrics = new MemoryMetricStore();
    states = new MemorySlaStateStore();
    clock = { now: closedAfter(-1) };
    offset = 0;
    rule = { name: 'order-latency', ...KEY, maxP99Ms: 50, minCalls: 5, webhookUrl: receiver.url };
  });

  afterEach(async () => {
    await receiver.close();
  });

  /** recordMinute: `calls` entry spans of order-service in minute n, each lasting `latencyMs`, stored as the aggregator would. */
  async function recordMinute(n: number, latencyMs: number, calls = 10): Promise<void> {
    const aggregator = new MinuteAggregator();
    for (let i = 0; i < calls; i++) {
      const spanId = (n * 1000 + i + 100_000).toString(16).padStart(16, '0');
      aggregator.add({ traceId: spanId.repeat(2), spanId, ...KEY, kind: 'server', startTimeUs: (at(n) + i * 1000) * 1000, durationUs: latencyMs * 1000, error: false, tags: {} });
    }
    expect(await metrics.applyWindows(aggregator.drain(), { stream: 'test/skein.spans.v1/0', offset: offset++ })).toBe(true);
  }

  const slow = (n: number) => recordMinute(n, 120);
  const healthy = (n: number) => recordMinute(n, 20);

  function checker(overrides: Partial<SlaCheckerOptions> = {}): { service: SlaCheckerService; registry: Registry } {
    const registry = new Registry();
    const service = new SlaCheckerService({
      rules: [rule],
      metrics,
      states,
      intervalMs: 10_000,
      graceMs: GRACE_MS,
      lookbackMs: LOOKBACK_MS,
      webhook: { secret: SECRET, timeoutMs: 2_000, attempts: 1 },
      registry,
      logger: pino({ level: 'silent' }),
      now: () => clock.now,
      ...overrides,
    });
    return { service, registry };
  }

  async function statsOf(n: number) {
    const [window] = await metrics.getWindows(KEY, at(n), at(n));
    return minuteStats(window);
  }

  const bodies = () => receiver.received.map((r) => JSON.parse(r.body) as Record<string, unknown>);

  it('sends exactly one firing alert for a breach lasting 3 consecutive minutes, and one resolved alert on recovery', async () => {
    await healthy(-1);
    await slow(0);
    await slow(1);
    await slow(2);
    await healthy(3);
    const { service, registry } = checker();

    // First pass: no stored state, so the last LOOKBACK_MS (10 minutes: -10 … -1) are judged.
    await service.evaluateAll();
    expect(receiver.received).toHaveLength(0);
    expect(await states.get(rule.name)).toEqual({ breached: false, lastMinute: at(-1) });
    expect(await counter(registry, 'skein_sla_minutes_evaluated_total')).toBe(10);

    clock.now = closedAfter(0);
    await service.evaluateAll();
    expect(receiver.received).toHaveLength(1);
    const firingStats = await statsOf(0);
    expect(firingStats.p99Ms).toBeGreaterThan(50);
    expect(bodies()[0]).toEqual({
      type: 'skein.sla.alert.v1',
      rule: 'order-latency',
      ...KEY,
      status: 'firing',
      minute: at(0),
      violations: [{ metric: 'p99Ms', actual: firingStats.p99Ms, threshold: 50 }],
      stats: firingStats,
    });
    const { headers, body } = receiver.received[0];
    expect(headers[SIGNATURE_HEADER]).toBe(signWebhook(SECRET, headers[TIMESTAMP_HEADER] as string, body));

    for (const n of [1, 2]) {
      clock.now = closedAfter(n);
      await service.evaluateAll();
    }
    expect(receiver.received).toHaveLength(1);
    expect(await states.get(rule.name)).toEqual({ breached: true, lastMinute: at(2) });

    clock.now = closedAfter(3);
    await service.evaluateAll();
    expect(receiver.received).toHaveLength(2);
    expect(bodies()[1]).toEqual({ type: 'skein.sla.alert.v1', rule: 'order-latency', ...KEY, status: 'resolved', minute: at(3), violations: [], stats: await statsOf(3) });
    expect(await states.get(rule.name)).toEqual({ breached: false, lastMinute: at(3) });

    expect(await counter(registry, 'skein_sla_alerts_sent_total', { status: 'firing' })).toBe(1);
    expect(await counter(registry, 'skein_sla_alerts_sent_total', { status: 'resolved' })).toBe(1);
    expect(await counter(registry, 'skein_sla_alerts_failed_total')).toBe(0);
    expect(await counter(registry, 'skein_sla_minutes_evaluated_total')).toBe(14);
  });

  it('judges several closed minutes in one pass and sends their alerts in minute order', async () => {
    await slow(-2);
    await slow(-1);
    await healthy(0);
    clock.now = closedAfter(0);
    const { service, registry } = checker();
    await service.evaluateAll();
    expect(bodies().map((b) => [b['status'], b['minute']])).toEqual([
      ['firing', at(-2)],
      ['resolved', at(0)],
    ]);
    expect(await counter(registry, 'skein_sla_minutes_evaluated_total')).toBe(10);
  });

  it('does not judge a minute before its grace period has passed', async () => {
    await slow(0);
    clock.now = at(1) + GRACE_MS - 1;
    const { service } = checker();
    await service.evaluateAll();
    expect(receiver.received).toHaveLength(0);
    expect(await states.get(rule.name)).toEqual({ breached: false, lastMinute: at(-1) });
    clock.now = at(1) + GRACE_MS;
    await service.evaluateAll();
    expect(bodies().map((b) => b['status'])).toEqual(['firing']);
  });

  it('skips minutes with fewer than minCalls calls', async () => {
    await recordMinute(0, 500, 4);
    clock.now = closedAfter(0);
    const { service, registry } = checker();
    await service.evaluateAll();
    expect(receiver.received).toHaveLength(0);
    expect(await states.get(rule.name)).toEqual({ breached: false, lastMinute: at(0) });
    expect(await counter(registry, 'skein_sla_minutes_evaluated_total')).toBe(10);
  });

  it('a second instance started on the same state store sends nothing again', async () => {
    await slow(0);
    clock.now = closedAfter(0);
    await checker().service.evaluateAll();
    expect(bodies().map((b) => b['status'])).toEqual(['firing']);

    const restarted = checker();
    await restarted.service.evaluateAll();
    expect(receiver.received).toHaveLength(1);
    expect(await counter(restarted.registry, 'skein_sla_minutes_evaluated_total')).toBe(0);

    // The breach goes on: still no second firing alert from the restarted instance.
    await slow(1);
    clock.now = closedAfter(1);
    await restarted.service.evaluateAll();
    expect(receiver.received).toHaveLength(1);
    expect(await states.get(rule.name)).toEqual({ breached: true, lastMinute: at(1) });
    expect(await counter(restarted.registry, 'skein_sla_minutes_evaluated_total')).toBe(1);
    expect(await counter(restarted.registry, 'skein_sla_alerts_sent_total', { status: 'firing' })).toBe(0);
  });

  it('two instances evaluating concurrently send the alert once (compare-and-set)', async () => {
    await slow(0);
    clock.now = closedAfter(0);
    const recording = new RecordingStateStore(states);
    const a = checker({ states: recording });
    const b = checker({ states: recording });
    await Promise.all([a.service.evaluateAll(), b.service.evaluateAll()]);

    // Both read "no state" and computed the same transition; only one save won.
    expect(recording.outcomes.sort()).toEqual([false, true]);
    expect(receiver.received).toHaveLength(1);
    expect(bodies()[0]['status']).toBe('firing');
    const sent = (await counter(a.registry, 'skein_sla_alerts_sent_total', { status: 'firing' })) + (await counter(b.registry, 'skein_sla_alerts_sent_total', { status: 'firing' }));
    expect(sent).toBe(1);
    expect(await states.get(rule.name)).toEqual({ breached: true, lastMinute: at(0) });
  });

  it('after a long outage (state 3 days old) evaluates only the last lookbackMs of minutes, without error', async () => {
    expect(await states.compareAndSet(rule.name, undefined, { breached: true, lastMinute: at(0) - 3 * 24 * 3_600_000 })).toBe(true);
    // Minute -11 is older than the lookback (minutes -9 … 0 at closedAfter(0)): it must not be judged.
    await healthy(-11);
    await healthy(-3);
    clock.now = closedAfter(0);
    const { service, registry } = checker();
    await expect(service.evaluateAll()).resolves.toBeUndefined();
    expect(bodies().map((b) => [b['status'], b['minute']])).toEqual([['resolved', at(-3)]]);
    expect(await counter(registry, 'skein_sla_minutes_evaluated_total')).toBe(10);
    expect(await states.get(rule.name)).toEqual({ breached: false, lastMinute: at(0) });
  });

  it('with the longest lookback (one day) still reads one bounded range after a 3-day outage', async () => {
    expect(await states.compareAndSet(rule.name, undefined, { breached: false, lastMinute: at(0) - 3 * 24 * 3_600_000 })).toBe(true);
    await slow(-1);
    clock.now = closedAfter(0);
    const { service, registry } = checker({ lookbackMs: 24 * 3_600_000 });
    await service.evaluateAll();
    expect(bodies().map((b) => [b['status'], b['minute']])).toEqual([['firing', at(-1)]]);
    expect(await counter(registry, 'skein_sla_minutes_evaluated_total')).toBe(1440);
  });

  it('counts an alert whose webhook fails, and does not send it again on the next pass', async () => {
    const unreachable = await startReceiver();
    await unreachable.close();
    rule = { ...rule, webhookUrl: unreachable.url };
    await slow(0);
    clock.now = closedAfter(0);
    const { service, registry } = checker();
    await service.evaluateAll();
    expect(await counter(registry, 'skein_sla_alerts_failed_total')).toBe(1);
    expect(await counter(registry, 'skein_sla_alerts_sent_total', { status: 'firing' })).toBe(0);
    expect(await states.get(rule.name)).toEqual({ breached: true, lastMinute: at(0) });
    await service.evaluateAll();
    expect(await counter(registry, 'skein_sla_alerts_failed_total')).toBe(1);
  });

  it('evaluates every rule independently', async () => {
    await slow(0);
    const lenient: SlaRule = { ...rule, name: 'order-latency-lenient', maxP99Ms: 500 };
    clock.now = closedAfter(0);
    const { service } = checker({ rules: [rule, lenient] });
    await service.evaluateAll();
    expect(bodies().map((b) => [b['rule'], b['status']])).toEqual([['order-latency', 'firing']]);
    expect(await states.get('order-latency')).toEqual({ breached: true, lastMinute: at(0) });
    expect(await states.get('order-latency-lenient')).toEqual({ breached: false, lastMinute: at(0) });
  });

  it('start() evaluates at once and stop() ends the loop', async () => {
    await slow(0);
    clock.now = closedAfter(0);
    const { service, registry } = checker();
    service.start();
    const deadline = Date.now() + 5_000;
    while (receiver.received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    await service.stop();
    expect(bodies().map((b) => b['status'])).toEqual(['firing']);
    expect(await counter(registry, 'skein_sla_minutes_evaluated_total')).toBe(10);
  });

  it('retries at the next interval after a pass failed, and stop() ends the loop', async () => {
    await slow(0);
    clock.now = closedAfter(0);
    let failures = 1;
    const flaky: MetricStore = {
      applyWindows: (windows, checkpoint) => metrics.applyWindows(windows, checkpoint),
      getCheckpoint: (stream) => metrics.getCheckpoint(stream),
      getWindows: async (key, from, to) => {
        if (failures-- > 0) throw new Error('redis: connection lost');
        return metrics.getWindows(key, from, to);
      },
      listServices: () => metrics.listServices(),
      listOperations: (service) => metrics.listOperations(service),
      ready: () => metrics.ready(),
      close: () => metrics.close(),
    };
    const { service, registry } = checker({ metrics: flaky, intervalMs: 20 });
    service.start();
    const deadline = Date.now() + 5_000;
    while (receiver.received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    await service.stop();
    expect(bodies().map((b) => b['status'])).toEqual(['firing']);
    expect(await states.get(rule.name)).toEqual({ breached: true, lastMinute: at(0) });
    const evaluated = await counter(registry, 'skein_sla_minutes_evaluated_total');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await counter(registry, 'skein_sla_minutes_evaluated_total')).toBe(evaluated);
  });
});
