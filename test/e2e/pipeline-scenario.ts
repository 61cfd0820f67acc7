import { createHmac } from 'node:crypto';
import { MINUTE_MS, Span, compressLz4Frame, encodeNativeBatch, minuteOf } from '@skein/domain';
import { ThreeServiceTrace, eventually, threeServiceTrace } from '@skein/testing';
import { WebhookReceiver } from '../support/webhook-receiver';

/** ScenarioTarget: a running Skein, whichever way it is deployed (separate processes on real infrastructure, or embedded). */
export interface ScenarioTarget {
  gatewayUrl: string;
  queryUrl: string;
  webhook: WebhookReceiver;
  webhookSecret: string;
  /** apiKey: the key of application {@link SCENARIO_APP}. */
  apiKey: string;
  /** minuteCallsInStore: the calls of a minute window read straight from the metric store (Redis), when the target has one. */
  minuteCallsInStore?: (service: string, operation: string, minute: number) => Promise<number>;
}

/** SLA_RULE_NAME / slaRulesYaml: the rule the scenario breaches on purpose: order-service `POST /orders` p99 < 50 ms. */
export const SLA_RULE_NAME = 'order-latency';
export function slaRulesYaml(webhookUrl: string): string {
  return [
    'rules:',
    `  - name: ${SLA_RULE_NAME}`,
    '    service: order-service',
    '    operation: POST /orders',
    '    maxP99Ms: 50',
    '    maxErrorRate: 0.01',
    `    webhookUrl: ${webhookUrl}/alerts`,
    '',
  ].join('\n');
}

/** SCENARIO_APP / SCENARIO_API_KEY / SCENARIO_GATEWAY_ENV: the application the scenario sends as, and its key. */
export const SCENARIO_APP = 'shop';
export const SCENARIO_API_KEY = 'shop-key-0123456789abcdef';
export const SCENARIO_GATEWAY_ENV = { SKEIN_API_KEYS: `${SCENARIO_APP}:${SCENARIO_API_KEY}`, SKEIN_ADMIN_TOKEN: 'admin-token-0123456789abcdef' };

/** SCENARIO_SLA_ENV: SLA timing for tests: evaluate every second, close a minute 5 s after its end. */
export const SCENARIO_SLA_ENV = { SKEIN_SLA_INTERVAL_MS: '1000', SKEIN_SLA_GRACE_MS: '5000' };

/** postBatch: sends spans to the native endpoint as an lz4 batch. */
export async function postBatch(gatewayUrl: string, spans: Span[], apiKey = SCENARIO_API_KEY): Promise<Response> {
  return fetch(`${gatewayUrl}/api/v1/spans`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-encoding': 'lz4', authorization: `Bearer ${apiKey}` },
    body: encodeNativeBatch(spans),
  });
}

interface NodeView {
  spanId: string;
  service: string;
  kind: string;
  rpcId: string;
  children: NodeView[];
}

/**
 * pipelineScenario: the end-to-end acceptance scenario, registered as jest tests against `target()`:
 * a trace across three services goes in through the gateway and comes back from the query API as the right
 * tree; its calls are in the minute metrics; its slow order call breaches the SLA and exactly one signed
 * webhook POST arrives.
 */
export function pipelineScenario(target: () => ScenarioTarget): void {
  let trace: ThreeServiceTrace;

  it('accepts a trace across three services and serves it back as the correct tree', async () => {
    const { gatewayUrl, queryUrl } = target();
    // 200 ms in order-service breaches the SLA's 50 ms p99; start "now" so the minute closes after the spans arrive.
    trace = threeServiceTrace({ startTimeUs: Date.now() * 1000, orderLatencyUs: 200_000 });
    const response = await postBatch(gatewayUrl, trace.spans);
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ accepted: 5, metricsOnly: 0, dropped: 0 });

    const view = await eventually(async () => {
      const res = await fetch(`${queryUrl}/api/traces/${trace.traceId}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { spanCount: number; roots: NodeView[] };
      expect(body.spanCount).toBe(5);
      return body;
    }, 60_000);
    expect(view.roots).toHaveLength(1);
    expect((view.roots[0] as NodeView & { app?: string }).app).toBe(SCENARIO_APP);
    const walk = (node: NodeView): unknown => ({ id: node.spanId, service: node.service, kind: node.kind, rpcId: node.rpcId, children: node.children.map(walk) });
    const { ids } = trace;
    expect(walk(view.roots[0] as NodeView)).toEqual({
      id: ids.gatewayServer, service: 'api-gateway', kind: 'server', rpcId: '0',
      children: [{
        id: ids.gatewayClient, service: 'api-gateway', kind: 'client', rpcId: '0.1',
        children: [{
          id: ids.orderServer, service: 'order-service', kind: 'server', rpcId: '0.1.1',
          children: [{
            id: ids.orderClient, service: 'order-service', kind: 'client', rpcId: '0.1.1.1',
            children: [{ id: ids.paymentServer, service: 'payment-service', kind: 'server', rpcId: '0.1.1.1.1', children: [] }],
          }],
        }],
      }],
    });

    const search = await eventually(async () => {
      const res = await fetch(`${queryUrl}/api/traces?service=payment-service&limit=10`);
      const body = (await res.json()) as { traces: { traceId: string; spanCount: number; rootService: string; services: string[] }[] };
      const found = body.traces.find((t) => t.traceId === trace.traceId);
      expect(found).toBeDefined();
      return found;
    }, 30_000);
    expect(search).toMatchObject({ spanCount: 5, rootService: 'api-gateway', services: ['api-gateway', 'order-service', 'payment-service'] });
  });

  it('serves the same trace through the Zipkin v2 read API (what Zipkin\'s UI calls)', async () => {
    const { queryUrl } = target();
    const get = async <T>(path: string): Promise<T> => {
      const res = await fetch(`${queryUrl}${path}`);
      expect(res.status).toBe(200);
      return (await res.json()) as T;
    };
    type ZipkinSpan = { traceId: string; id: string; parentId?: string; kind?: string; localEndpoint?: { serviceName?: string } };
    const spans = await get<ZipkinSpan[]>(`/api/v2/trace/${trace.traceId}`);
    expect(spans.map((span) => span.id).sort()).toEqual(trace.spans.map((span) => span.spanId).sort());
    const payment = spans.find((span) => span.id === trace.ids.paymentServer);
    expect(payment).toMatchObject({ traceId: trace.traceId, parentId: trace.ids.orderClient, kind: 'SERVER', localEndpoint: { serviceName: 'payment-service' } });
    expect(await get<string[]>('/api/v2/services')).toEqual(expect.arrayContaining(['api-gateway', 'order-service', 'payment-service']));
    expect(await get<string[]>('/api/v2/spans?serviceName=order-service')).toEqual(expect.arrayContaining(['POST /orders']));
    const traces = await get<ZipkinSpan[][]>('/api/v2/traces?serviceName=payment-service&limit=10');
    expect(traces.find((found) => found[0]?.traceId === trace.traceId)).toHaveLength(5);
  });

  it('counts the calls in the minute metrics', async () => {
    const { queryUrl, minuteCallsInStore } = target();
    const minute = minuteOf(trace.spans[0]!.startTimeUs);
    const stats = await eventually(async () => {
      const q = new URLSearchParams({ service: 'order-service', operation: 'POST /orders', from: String(minute), to: String(minute + MINUTE_MS - 1) });
      const res = await fetch(`${queryUrl}/api/metrics?${q}`);
      const body = (await res.json()) as { minutes: { minute: number; calls: number; errors: number; p99Ms: number }[] };
      expect(body.minutes).toHaveLength(1);
      return body.minutes[0]!;
    }, 30_000);
    expect(stats.minute).toBe(minute);
    expect(stats.calls).toBe(1);
    expect(stats.errors).toBe(0);
    expect(stats.p99Ms).toBeGreaterThan(198);
    expect(stats.p99Ms).toBeLessThanOrEqual(200);
    // Entry spans only: the gateway's client span is not a call of api-gateway's "POST /orders".
    const clientSide = await fetch(`${queryUrl}/api/metrics?${new URLSearchParams({ service: 'api-gateway', operation: 'POST /orders', from: String(minute), to: String(minute) })}`);
    expect(((await clientSide.json()) as { minutes: unknown[] }).minutes).toEqual([]);
    if (minuteCallsInStore) {
      expect(await minuteCallsInStore('order-service', 'POST /orders', minute)).toBe(1);
      expect(await minuteCallsInStore('payment-service', 'charge', minute)).toBe(1);
      expect(await minuteCallsInStore('api-gateway', 'POST /checkout', minute)).toBe(1);
    }
  });

  it('sends exactly one signed webhook POST for the breached SLA', async () => {
    const { webhook, webhookSecret } = target();
    const minute = minuteOf(trace.spans[0]!.startTimeUs);
    // The minute closes at its end plus the 5 s grace; the checker looks every second.
    const waitMs = Math.max(0, minute + MINUTE_MS + 5_000 - Date.now()) + 20_000;
    await eventually(() => expect(webhook.received.length).toBeGreaterThanOrEqual(1), waitMs, 250);
    // Several more evaluation rounds: a breach must not be re-sent every minute evaluation.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(webhook.received).toHaveLength(1);
    const [post] = webhook.received;
    expect(post!.path).toBe('/alerts');
    const timestamp = String(post!.headers['x-skein-timestamp']);
    const expected = `sha256=${createHmac('sha256', webhookSecret).update(`${timestamp}.${post!.body}`).digest('hex')}`;
    expect(post!.headers['x-skein-signature']).toBe(expected);
    const alert = JSON.parse(post!.body) as { rule: string; status: string; minute: number; violations: { metric: string }[]; stats: { calls: number } };
    expect(alert).toMatchObject({ rule: SLA_RULE_NAME, status: 'firing', minute, stats: { calls: 1 } });
    expect(alert.violations.map((v) => v.metric)).toEqual(['p99Ms']);
  });

  it('answers 401 without a valid API key, and stores nothing', async () => {
    const { gatewayUrl } = target();
    const spans = threeServiceTrace().spans;
    expect((await fetch(`${gatewayUrl}/api/v1/spans`, { method: 'POST', headers: { 'content-encoding': 'lz4' }, body: encodeNativeBatch(spans) })).status).toBe(401);
    const wrong = await postBatch(gatewayUrl, spans, 'not-a-key-of-anyone-000');
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: 'unauthenticated', message: 'unknown API key' });
  });

  it('answers 400 with a reason to bad batches', async () => {
    const { gatewayUrl } = target();
    const post = (body: Buffer | string, encoding = 'lz4') =>
      fetch(`${gatewayUrl}/api/v1/spans`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': encoding, authorization: `Bearer ${SCENARIO_API_KEY}` }, body });
    const good = encodeNativeBatch(threeServiceTrace().spans);
    const corrupt = Buffer.from(good);
    corrupt.fill(0xff, 12, 40);
    const cases: [string, Promise<Response>, string, RegExp][] = [
      ['corrupt lz4', post(corrupt), 'corrupt_lz4', /LZ4/],
      ['not lz4 at all', post(Buffer.from('hello world, not compressed')), 'corrupt_lz4', /LZ4 frame/],
      ['invalid JSON', post(encodeNativeBatchRaw('{"spans": [')), 'invalid_json', /not valid JSON/],
      ['span without traceId', post(encodeNativeBatchRaw(JSON.stringify({ spans: threeServiceTrace().spans.map((s, i) => (i === 2 ? { ...s, traceId: undefined } : s)) }))), 'invalid_span', /spans\[2\]\.traceId: required/],
    ];
    for (const [name, pending, error, message] of cases) {
      const res = await pending;
      const body = (await res.json()) as { error: string; message: string };
      expect({ name, status: res.status, error: body.error }).toEqual({ name, status: 400, error });
      expect(body.message).toMatch(message);
    }
  });
}

/** encodeNativeBatchRaw: lz4-compresses an arbitrary (possibly invalid) JSON text, like a buggy SDK would. */
export function encodeNativeBatchRaw(json: string): Buffer {
  return compressLz4Frame(Buffer.from(json));
}
