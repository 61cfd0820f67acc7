import { createHmac } from 'node:crypto';
import { IncomingHttpHeaders, Server, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { SlaAlert } from '@skein/domain';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, sendAlertWebhook, signWebhook } from './webhook-notifier';

const SECRET = 'whsec-0123456789abcdef';
const M0 = Date.UTC(2026, 0, 15, 10, 0);

const ALERT: SlaAlert = {
  rule: 'order-latency',
  service: 'order-service',
  operation: 'POST /orders',
  status: 'firing',
  minute: M0,
  violations: [{ metric: 'p99Ms', actual: 120.5, threshold: 50 }],
  stats: { service: 'order-service', operation: 'POST /orders', minute: M0, calls: 60, errors: 0, qps: 1, errorRate: 0, meanMs: 40, maxMs: 130, p50Ms: 30, p90Ms: 90, p99Ms: 120.5, p999Ms: 130 },
};

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** Receiver: a local HTTP server answering each request with the next scripted status ('hang' = never answer). */
interface Receiver {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

async function startReceiver(script: Array<number | 'hang'>, fallback: number | 'hang' = 200): Promise<Receiver> {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const status = script.shift() ?? fallback;
      if (status !== 'hang') response.writeHead(status, { 'content-type': 'text/plain' }).end(`status ${status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/skein`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** closedPortUrl: a URL on 127.0.0.1 where nothing listens (a port that was just freed). */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/hooks`;
}

describe('signWebhook', () => {
  it('matches a known answer (openssl dgst -sha256 -hmac)', () => {
    // printf '%s' '1768472400.{"type":"skein.sla.alert.v1","rule":"r"}' | openssl dgst -sha256 -hmac 'whsec-0123456789abcdef'
    expect(signWebhook(SECRET, '1768472400', '{"type":"skein.sla.alert.v1","rule":"r"}')).toBe('sha256=ee9f73d2a6bb3bae133bee8125eb48c934260bbdbbdfa9c40d4a3876a7042ddc');
  });

  it('is HMAC-SHA256(secret, "<timestamp>.<body>") in hex, prefixed sha256=', () => {
    const body = JSON.stringify({ type: 'skein.sla.alert.v1', ...ALERT });
    const expected = `sha256=${createHmac('sha256', SECRET).update(`1768472460.${body}`).digest('hex')}`;
    expect(signWebhook(SECRET, '1768472460', body)).toBe(expected);
  });

  it('changes with the secret, the timestamp and the body', () => {
    const base = signWebhook(SECRET, '1768472400', 'body');
    expect(signWebhook(`${SECRET}x`, '1768472400', 'body')).not.toBe(base);
    expect(signWebhook(SECRET, '1768472401', 'body')).not.toBe(base);
    expect(signWebhook(SECRET, '1768472400', 'body ')).not.toBe(base);
    expect(signWebhook(SECRET, '1768472400', 'body')).toBe(base);
  });
});

describe('sendAlertWebhook', () => {
  const receivers: Receiver[] = [];
  const receiver = async (script: Array<number | 'hang'>, fallback?: number | 'hang') => {
    const started = await startReceiver(script, fallback);
    receivers.push(started);
    return started;
  };
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });

  it('POSTs the alert as signed JSON and resolves true on a 2xx', async () => {
    const hook = await receiver([204]);
    const before = Math.floor(Date.now() / 1000);
    await expect(sendAlertWebhook(hook.url, ALERT, { secret: SECRET, timeoutMs: 2_000, attempts: 3 })).resolves.toBe(true);
    const after = Math.floor(Date.now() / 1000);
    expect(hook.received).toHaveLength(1);
    const [request] = hook.received;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/hooks/skein');
    expect(request.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request.body)).toEqual({ type: 'skein.sla.alert.v1', ...ALERT });
    const timestamp = request.headers[TIMESTAMP_HEADER] as string;
    expect(timestamp).toMatch(/^\d+$/);
    expect(Number(timestamp)).toBeGreaterThanOrEqual(before);
    expect(Number(timestamp)).toBeLessThanOrEqual(after);
    // The receiver's check: HMAC over the raw body it got, with the timestamp it got.
    const expected = `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${request.body}`).digest('hex')}`;
    expect(request.headers[SIGNATURE_HEADER]).toBe(expected);
    expect(request.headers[SIGNATURE_HEADER]).not.toBe(`sha256=${createHmac('sha256', 'another-secret-16ch').update(`${timestamp}.${request.body}`).digest('hex')}`);
  });

  it('retries after a 500 (after about 0.5 s) and resolves true when the next attempt gets a 200', async () => {
    const hook = await receiver([500, 200]);
    await expect(sendAlertWebhook(hook.url, ALERT, { secret: SECRET, timeoutMs: 2_000, attempts: 5 })).resolves.toBe(true);
    expect(hook.received).toHaveLength(2);
    expect(hook.received[1].at - hook.received[0].at).toBeGreaterThanOrEqual(450);
    expect(hook.received[1].body).toBe(hook.received[0].body);
    for (const request of hook.received) {
      const timestamp = request.headers[TIMESTAMP_HEADER] as string;
      expect(request.headers[SIGNATURE_HEADER]).toBe(signWebhook(SECRET, timestamp, request.body));
    }
  });

  it('retries a 429', async () => {
    const hook = await receiver([429, 200]);
    await expect(sendAlertWebhook(hook.url, ALERT, { secret: SECRET, timeoutMs: 2_000, attempts: 2 })).resolves.toBe(true);
    expect(hook.received).toHaveLength(2);
  });

  it('resolves false on a 400 without retrying', async () => {
    const hook = await receiver([400, 200]);
    await expect(sendAlertWebhook(hook.url, ALERT, { secret: SECRET, timeoutMs: 2_000, attempts: 5 })).resolves.toBe(false);
    expect(hook.received).toHaveLength(1);
  });

  it('resolves false once every attempt got a 5xx, after exactly `attempts` requests with growing backoff', async () => {
    const hook = await receiver([], 503);
    await expect(sendAlertWebhook(hook.url, ALERT, { secret: SECRET, timeoutMs: 2_000, attempts: 3 })).resolves.toBe(false);
    expect(hook.received).toHaveLength(3);
    const [first, second, third] = hook.received.map((r) => r.at);
    expect(second - first).toBeGreaterThanOrEqual(450);
    expect(third - second).toBeGreaterThanOrEqual(950);
  });

  it('with a single attempt, resolves false on the first 5xx', async () => {
    const hook = await receiver([502, 200]);
    await expect(sendAlertWebhook(hook.url, ALERT, { secret: SECRET, timeoutMs: 2_000, attempts: 1 })).resolves.toBe(false);
    expect(hook.received).toHaveLength(1);
  });

  it('retries an attempt that timed out', async () => {
    const hook = await receiver(['hang', 200]);
    await expect(sendAlertWebhook(hook.url, ALERT, { secret: SECRET, timeoutMs: 200, attempts: 2 })).resolves.toBe(true);
    expect(hook.received).toHaveLength(2);
  });

  it('resolves false when nothing listens, after every attempt', async () => {
    await expect(sendAlertWebhook(await closedPortUrl(), ALERT, { secret: SECRET, timeoutMs: 1_000, attempts: 2 })).resolves.toBe(false);
  });
});
