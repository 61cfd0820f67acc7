import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SPANS_TOPIC, SpanMessage, decodeSpanMessage, topicName } from '@skein/contracts';
import { Span, compressLz4Frame, decompressLz4Frame, encodeNativeBatch } from '@skein/domain';
import { eventually, infraFromEnv, randomSpanId, randomTraceId, uniqueName } from '@skein/testing';
import Redis from 'ioredis';
import { CompressionCodecs, CompressionTypes, Consumer, Kafka, logLevel } from 'kafkajs';
import { ServiceProcess, startServiceProcess } from '../support/service-process';

/**
 * Fault test, serial: stops the shared Kafka (deploy/local/infra.sh stop kafka) under a running ingest-gateway and
 * starts it again. Only on infrastructure test/run-all.sh started itself (SKEIN_INFRA_MANAGED=1): a Kafka the
 * user pointed the tests at is never stopped. Run alone (--runInBand, after the parallel tests): every other test
 * on this Kafka would fail meanwhile.
 */

const ROOT = join(__dirname, '..', '..');
const MANAGED = process.env['SKEIN_INFRA_MANAGED'] === '1';
const SKIPPED =
  'SKIPPED: stops and restarts the shared Kafka, so it runs only with SKEIN_INFRA_MANAGED=1 (test/run-all.sh sets it when it started the infrastructure itself)';
const APP = 'shop';
const API_KEY = 'shop-key-0123456789abcdef';
/** ANSWER_WITHIN_MS: the longest a request may wait for its answer while Kafka is down (the gateway's publish deadline is 5 s). */
const ANSWER_WITHIN_MS = 15_000;
const execFileAsync = promisify(execFile);

/** infra: `deploy/local/infra.sh <action> kafka` from the repository root; `start` waits until Kafka is ready. */
async function infra(action: 'stop' | 'start'): Promise<void> {
  await execFileAsync('bash', [join(ROOT, 'deploy', 'local', 'infra.sh'), action, 'kafka'], { cwd: ROOT, timeout: 300_000 });
}

function spansOf(service: string, count: number): Span[] {
  const traceId = randomTraceId();
  const start = Date.now() * 1000;
  return Array.from({ length: count }, (_, i) => ({ traceId, spanId: randomSpanId(), service, operation: 'GET /items', kind: 'server' as const, startTimeUs: start + i, durationUs: 1_000, error: false, tags: {} }));
}

/** post: spans as an lz4 batch to the native endpoint, timed. */
async function post(url: string, spans: Span[]): Promise<{ status: number; retryAfter: string | null; error?: string; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${url}/api/v1/spans`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-encoding': 'lz4', authorization: `Bearer ${API_KEY}` },
    body: encodeNativeBatch(spans),
  });
  const body = (await res.json()) as { error?: string };
  return { status: res.status, retryAfter: res.headers.get('retry-after'), error: body.error, ms: Date.now() - started };
}

function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

// Jest does not print the names of a file's tests when all of them are skipped: say why here.
if (!MANAGED) process.stderr.write(`test/ingest/kafka-outage.serial.int-spec.ts ${SKIPPED}\n`);

(MANAGED ? describe : describe.skip)(MANAGED ? 'ingest-gateway while Kafka is down (serial fault test)' : `ingest-gateway while Kafka is down — ${SKIPPED}`, () => {
  const prefix = uniqueName('outage');
  const spansTopic = topicName(SPANS_TOPIC, prefix);
  const groupId = `${prefix}-reader`;
  let kafka: Kafka;
  let redis: Redis;
  let gateway: ServiceProcess | undefined;
  let consumer: Consumer | undefined;
  const received: SpanMessage[] = [];

  beforeAll(async () => {
    const infraEnv = infraFromEnv();
    // The gateway writes LZ4 batches; kafkajs has no LZ4 codec of its own.
    CompressionCodecs[CompressionTypes.LZ4] = () => ({
      compress: async (encoder: { buffer: Buffer }) => compressLz4Frame(encoder.buffer),
      decompress: async (buffer: Buffer) => decompressLz4Frame(buffer, 256 * 1024 * 1024),
    });
    kafka = new Kafka({ brokers: infraEnv.kafkaBrokers, clientId: 'kafka-outage-test', logLevel: logLevel.NOTHING });
    redis = new Redis(infraEnv.redisUrl, { lazyConnect: true });
    await redis.connect();
    gateway = await startServiceProcess('ingest-gateway', {
      SKEIN_KAFKA_BROKERS: infraEnv.kafkaBrokers.join(','),
      SKEIN_TOPIC_PREFIX: prefix,
      SKEIN_SPANS_PARTITIONS: '1',
      SKEIN_REDIS_URL: infraEnv.redisUrl,
      SKEIN_REDIS_KEY_PREFIX: prefix,
      SKEIN_API_KEYS: `${APP}:${API_KEY}`,
      SKEIN_ADMIN_TOKEN: 'admin-token-0123456789abcdef',
    });
  });

  afterAll(async () => {
    // Kafka is started again whatever happened above: the rest of the suite, and whoever runs next, need it.
    let restartError: unknown;
    await infra('start').catch((err: unknown) => (restartError = err));
    await consumer?.disconnect().catch(() => undefined);
    await gateway?.kill('SIGTERM');
    if (restartError === undefined && kafka !== undefined) {
      const admin = kafka.admin();
      await admin.connect().catch(() => undefined);
      await admin.deleteTopics({ topics: [spansTopic] }).catch(() => undefined);
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    }
    if (redis !== undefined) {
      const keys = await redis.keys(`${prefix}:*`).catch((): string[] => []);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
    if (restartError !== undefined) throw restartError;
  });

  const before = spansOf('outage-service', 3);
  const during = [spansOf('outage-service', 2), spansOf('outage-service', 2), spansOf('outage-service', 2), spansOf('outage-service', 2)];
  const after = spansOf('outage-service', 4);

  it('answers 503 with Retry-After, within 15 s and never 2xx, while Kafka is stopped; /readyz says so', async () => {
    const url = gateway!.url;
    expect((await post(url, before)).status).toBe(202);
    const metricsBefore = await (await fetch(`${url}/metrics`)).text();

    await infra('stop');

    // One request alone, then three at once: each is refused in bounded time, none is reported as accepted.
    const answers = [await post(url, during[0]!), ...(await Promise.all(during.slice(1).map((spans) => post(url, spans))))];
    for (const answer of answers) {
      expect({ status: answer.status, error: answer.error }).toEqual({ status: 503, error: 'unavailable' });
      expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(answer.ms).toBeLessThan(ANSWER_WITHIN_MS);
    }
    const metricsAfter = await (await fetch(`${url}/metrics`)).text();
    const series = 'skein_ingest_batches_rejected_total{reason="kafka_unavailable"}';
    expect(metric(metricsAfter, series) - metric(metricsBefore, series)).toBe(answers.length);
    expect(metric(metricsAfter, 'skein_ingest_spans_accepted_total{route="trace"}')).toBe(metric(metricsBefore, 'skein_ingest_spans_accepted_total{route="trace"}'));

    await eventually(async () => {
      const res = await fetch(`${url}/readyz`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { checks: Record<string, boolean> }).checks).toMatchObject({ kafka: false, redis: true });
    }, ANSWER_WITHIN_MS, 500);
  });

  it('after Kafka is started again: /readyz 200, a batch → 202, and its spans are in Kafka', async () => {
    const url = gateway!.url;
    await infra('start');
    await eventually(async () => expect((await fetch(`${url}/readyz`)).status).toBe(200), 90_000, 500);

    const answer = await post(url, after);
    expect(answer.status).toBe(202);

    consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic: spansTopic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const decoded = message.value === null ? undefined : decodeSpanMessage(message.value);
        if (decoded?.ok) received.push(decoded.message);
      },
    });
    const spansOfTrace = (traceId: string) => received.filter((m) => m.traceId === traceId).flatMap((m) => m.spans);
    await eventually(() => {
      expect(spansOfTrace(after[0]!.traceId).map((s) => s.spanId).sort()).toEqual(after.map((s) => s.spanId).sort());
      expect(spansOfTrace(before[0]!.traceId)).toHaveLength(before.length);
    }, 60_000, 250);
    expect(spansOfTrace(after[0]!.traceId).every((s) => s.app === APP)).toBe(true);
  });
});
