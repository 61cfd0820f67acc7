import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { CONSUMER_GROUPS, RedisKeys, SPANS_TOPIC, indexPattern, topicName } from '@skein/contracts';
import { Span } from '@skein/domain';
import { eventually, infraFromEnv, threeServiceTrace, uniqueName } from '@skein/testing';
import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { ServiceProcess, startServiceProcess } from '../support/service-process';
import { WebhookReceiver, startWebhookReceiver } from '../support/webhook-receiver';
import { SCENARIO_API_KEY, SCENARIO_GATEWAY_ENV, SCENARIO_SLA_ENV, ScenarioTarget, pipelineScenario, postBatch, slaRulesYaml } from './pipeline-scenario';

/**
 * The acceptance scenario on real infrastructure: ingest-gateway, span-assembler, metrics-aggregator,
 * sla-checker and query-api as five processes against local Kafka, Elasticsearch and Redis.
 */
describe('end to end: five services on Kafka, Elasticsearch and Redis', () => {
  const infra = infraFromEnv();
  const prefix = uniqueName('e2e');
  const webhookSecret = 'e2e-test-secret-0123456789abcdef';
  const spansTopic = topicName(SPANS_TOPIC, prefix);
  const services: Record<string, ServiceProcess> = {};
  let webhook: WebhookReceiver;
  let dir: string;
  let env: Record<string, string>;
  const es = new Client({ node: infra.elasticsearchUrl });
  const redis = new Redis(infra.redisUrl, { lazyConnect: true });
  const kafka = new Kafka({ brokers: infra.kafkaBrokers, clientId: 'e2e-test', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();

  const topicMessageCount = async () => (await admin.fetchTopicOffsets(spansTopic)).reduce((sum, p) => sum + Number(p.high), 0);
  const storedSpanCount = async (query: object = { match_all: {} }) => {
    await es.indices.refresh({ index: indexPattern(prefix, 'spans'), ignore_unavailable: true, allow_no_indices: true });
    const res = await es.count({ index: indexPattern(prefix, 'spans'), query, ignore_unavailable: true, allow_no_indices: true });
    return res.count;
  };
  const assemblerLag = async () => {
    const text = await (await fetch(`${services['span-assembler']!.url}/metrics`)).text();
    const match = /^skein_assembler_kafka_lag (\S+)$/m.exec(text);
    return match ? Number(match[1]) : Number.NaN;
  };

  beforeAll(async () => {
    await Promise.all([redis.connect(), admin.connect()]);
    webhook = await startWebhookReceiver();
    dir = mkdtempSync(join(tmpdir(), 'skein-e2e-'));
    writeFileSync(join(dir, 'sla.yaml'), slaRulesYaml(webhook.url));
    env = {
      SKEIN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      SKEIN_TOPIC_PREFIX: prefix,
      SKEIN_SPANS_PARTITIONS: '3',
      SKEIN_ES_URL: infra.elasticsearchUrl,
      SKEIN_ES_INDEX_PREFIX: prefix,
      SKEIN_REDIS_URL: infra.redisUrl,
      SKEIN_REDIS_KEY_PREFIX: prefix,
      SKEIN_SLA_RULES_FILE: join(dir, 'sla.yaml'),
      SKEIN_SLA_WEBHOOK_SECRET: webhookSecret,
      ...SCENARIO_SLA_ENV,
      ...SCENARIO_GATEWAY_ENV,
    };
    // The gateway first: it creates the topic; then the rest side by side.
    services['ingest-gateway'] = await startServiceProcess('ingest-gateway', env);
    const rest = await Promise.all(['span-assembler', 'metrics-aggregator', 'sla-checker', 'query-api'].map((app) => startServiceProcess(app, env)));
    for (const service of rest) services[service.name] = service;
  });

  afterAll(async () => {
    await Promise.all(Object.values(services).map((service) => service.kill('SIGTERM')));
    await webhook?.close();
    rmSync(dir, { recursive: true, force: true });
    await es.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => undefined);
    await es.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => undefined);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await admin.deleteTopics({ topics: [spansTopic] }).catch(() => undefined);
    await admin.deleteGroups([topicName(CONSUMER_GROUPS.spanAssembler, prefix), topicName(CONSUMER_GROUPS.metricsAggregator, prefix)]).catch(() => undefined);
    await Promise.all([admin.disconnect(), redis.quit(), es.close()]);
  });

  const target = (): ScenarioTarget => ({
    gatewayUrl: services['ingest-gateway']!.url,
    queryUrl: services['query-api']!.url,
    webhook,
    webhookSecret,
    apiKey: SCENARIO_API_KEY,
    minuteCallsInStore: async (service, operation, minute) => Number((await redis.hget(RedisKeys.minuteWindow(prefix, { service, operation }, minute), 'calls')) ?? 0),
  });
  pipelineScenario(target);

  it('runs each service as tools/start-service.sh starts it: span-assembler with its 64 MiB young generation and single-threaded GC, ingest-gateway with its heap growing factor', () => {
    const argsOf = (service: ServiceProcess | undefined) => readFileSync(`/proc/${service?.child.pid}/cmdline`, 'utf8').split('\0');
    const assembler = argsOf(services['span-assembler']);
    // exec: the pid the test holds is node's own, running the service's entry point.
    expect(assembler).toContain('--max-semi-space-size=64');
    expect(assembler).toContain('--single-threaded-gc');
    expect(assembler[assembler.length - 2]).toMatch(/apps\/span-assembler\/src\/main\.ts$/);
    expect(argsOf(services['ingest-gateway'])).toContain('--heap-growing-percent=300');
    expect(assembler.some((arg) => arg.startsWith('--heap-growing-percent'))).toBe(false);
    expect(argsOf(services['ingest-gateway'])).not.toContain('--single-threaded-gc');
    expect(argsOf(services['query-api']).some((arg) => arg.startsWith('--max-semi-space-size') || arg.startsWith('--heap-growing-percent') || arg === '--single-threaded-gc')).toBe(false);
  });

  it('lets no rejected batch reach Kafka, and counts each rejection by reason', async () => {
    const gateway = services['ingest-gateway']!.url;
    const rejected = async (reason: string) => {
      const text = await (await fetch(`${gateway}/metrics`)).text();
      const match = new RegExp(`^skein_ingest_batches_rejected_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
      return match ? Number(match[1]) : 0;
    };
    const before = { messages: await topicMessageCount(), corrupt: await rejected('corrupt_lz4'), invalid: await rejected('invalid_span') };
    const bad = [Buffer.from('garbage'), Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x64, 0x70, 0xb9, 0xff, 0xff])];
    for (const body of bad) {
      const res = await fetch(`${gateway}/api/v1/spans`, { method: 'POST', headers: { 'content-encoding': 'lz4', authorization: `Bearer ${SCENARIO_API_KEY}` }, body });
      expect(res.status).toBe(400);
    }
    const invalid = threeServiceTrace().spans.map((s, i) => (i === 4 ? ({ ...s, traceId: undefined } as unknown as Span) : s));
    expect((await postBatch(gateway, invalid)).status).toBe(400);
    expect(await topicMessageCount()).toBe(before.messages);
    expect(await rejected('corrupt_lz4')).toBe(before.corrupt + 2);
    expect(await rejected('invalid_span')).toBe(before.invalid + 1);
  });

  it('stores a batch sent twice only once', async () => {
    const trace = threeServiceTrace();
    expect((await postBatch(services['ingest-gateway']!.url, trace.spans)).status).toBe(202);
    await eventually(async () => expect(await storedSpanCount({ term: { traceId: trace.traceId } })).toBe(5), 30_000);
    const total = await storedSpanCount();
    expect((await postBatch(services['ingest-gateway']!.url, trace.spans)).status).toBe(202);
    // Wait until the assembler has committed the duplicate (lag 0), then the count must not have moved.
    await eventually(async () => expect(await assemblerLag()).toBe(0), 30_000);
    expect(await storedSpanCount({ term: { traceId: trace.traceId } })).toBe(5);
    expect(await storedSpanCount()).toBe(total);
  });

  it('loses no acknowledged span when span-assembler is killed (SIGKILL) mid-stream', async () => {
    const gateway = services['ingest-gateway']!.url;
    const before = await storedSpanCount();
    let acknowledged = 0;
    let killed = false;
    const batches = 120;
    for (let i = 0; i < batches; i++) {
      const spans = Array.from({ length: 10 }, () => threeServiceTrace().spans).flat();
      const res = await postBatch(gateway, spans);
      expect(res.status).toBe(202);
      acknowledged += spans.length;
      if (i === 40) {
        // Kill while the assembler is busy with the earlier batches; the gateway keeps accepting.
        expect(await services['span-assembler']!.kill('SIGKILL')).toBe('SIGKILL');
        killed = true;
      }
      if (i === 80) services['span-assembler'] = await startServiceProcess('span-assembler', env);
    }
    expect(killed).toBe(true);
    await eventually(async () => expect(await storedSpanCount()).toBe(before + acknowledged), 90_000, 1_000);
  });
});
