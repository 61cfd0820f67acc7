import { Client } from '@elastic/elasticsearch';
import { MemoryMetricStore } from '@skein/adapter-memory';
import { ElasticsearchTraceStore } from '@skein/adapter-elasticsearch';
import { KafkaMessageBus } from '@skein/adapter-kafka';
import { CONSUMER_GROUPS, DEAD_LETTER_TOPIC, DeadLetterMessage, SPANS_TOPIC, dayIndexName, deadLetterTopicSpec, decodeDeadLetter, encodeSpanMessages, indexDay, indexPattern, spansTopicSpec, topicName } from '@skein/contracts';
import { BusSubscription, Span } from '@skein/domain';
import { SpanAssemblerService } from '@skein/feature-assembler';
import { QueryService, TraceNodeView } from '@skein/feature-query';
import { eventually, infraFromEnv, threeServiceTrace, uniqueName } from '@skein/testing';
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import { Registry } from 'prom-client';

// Integration: span-assembler (in process) on the real Kafka and Elasticsearch, read back through the query service.
jest.setTimeout(120_000);

const DAY_US = 86_400_000_000;
const IDLE_MS = 1_000;

function flatten(nodes: TraceNodeView[]): TraceNodeView[] {
  return nodes.flatMap((node) => [node, ...flatten(node.children)]);
}

describe('span-assembler on Kafka and Elasticsearch', () => {
  const prefix = uniqueName('asm');
  const spansTopic = topicName(SPANS_TOPIC, prefix);
  const deadLetterTopic = topicName(DEAD_LETTER_TOPIC, prefix);
  let bus: KafkaMessageBus;
  let store: ElasticsearchTraceStore;
  let raw: Client;
  let assembler: SpanAssemblerService;
  let query: QueryService;
  let deadLetterReader: BusSubscription;
  const deadLetters: { key: string | undefined; message: DeadLetterMessage }[] = [];

  beforeAll(async () => {
    const infra = infraFromEnv();
    bus = new KafkaMessageBus({ brokers: infra.kafkaBrokers, clientId: prefix, sessionTimeoutMs: 6_000, rebalanceTimeoutMs: 6_000, heartbeatIntervalMs: 500, maxWaitTimeMs: 200 });
    store = new ElasticsearchTraceStore({ node: infra.elasticsearchUrl, indexPrefix: prefix });
    raw = new Client({ node: infra.elasticsearchUrl });
    await bus.ensureTopics([spansTopicSpec(spansTopic, 2), deadLetterTopicSpec(deadLetterTopic, 1)]);
    await store.ensureSchema();
    assembler = new SpanAssemblerService({
      bus,
      store,
      spansTopic,
      deadLetterTopic,
      groupId: topicName(CONSUMER_GROUPS.spanAssembler, prefix),
      registry: new Registry(),
      logger: pino({ level: 'silent' }),
      limits: { idleMs: IDLE_MS },
      flushIntervalMs: 100,
    });
    await assembler.start();
    query = new QueryService(store, new MemoryMetricStore());
    deadLetterReader = await bus.subscribe({ topic: deadLetterTopic, groupId: `${prefix}-dlq-reader` }, async (batch) => {
      for (const record of batch.records) deadLetters.push({ key: record.key, message: decodeDeadLetter(record.value) });
    });
  });

  afterAll(async () => {
    try {
      await assembler?.stop();
      await deadLetterReader?.stop();
      await store?.deleteAllIndices();
      await bus?.deleteTopics([spansTopic, deadLetterTopic]);
    } finally {
      await bus?.close();
      await store?.close();
      await raw?.close();
    }
  });

  async function summaryCopies(traceId: string): Promise<number> {
    await store.refresh();
    const response = await raw.count({ index: indexPattern(prefix, 'traces'), query: { ids: { values: [traceId] } } });
    return response.count;
  }

  it('a late span updates its trace summary in place: one document, new counts', async () => {
    const trace = threeServiceTrace();
    const late = trace.spans[4];
    await bus.publish(spansTopic, encodeSpanMessages(trace.spans.slice(0, 4)));
    await eventually(async () => {
      const [summary] = await query.searchTraces({ service: 'api-gateway', startUs: trace.spans[0].startTimeUs, endUs: trace.spans[0].startTimeUs, limit: 10 });
      expect(summary).toMatchObject({ traceId: trace.traceId, spanCount: 4, maxDepth: 3 });
    });
    await bus.publish(spansTopic, encodeSpanMessages([late]));
    await eventually(async () => {
      const found = await query.searchTraces({ service: 'payment-service', startUs: trace.spans[0].startTimeUs, endUs: trace.spans[0].startTimeUs, limit: 10 });
      expect(found.map((summary) => [summary.traceId, summary.spanCount, summary.maxDepth])).toEqual([[trace.traceId, 5, 4]]);
    });
    expect(await summaryCopies(trace.traceId)).toBe(1);
  });

  it('corrects a skewed trace and serves both the adjusted and the raw view', async () => {
    const trace = threeServiceTrace({ orderLatencyUs: 20_000 });
    // order-service's clock is 50 ms behind: its server span appears to start before the gateway called it.
    const skewed: Span[] = trace.spans.map((span) => (span.service === 'order-service' ? { ...span, startTimeUs: span.startTimeUs - 50_000 } : span));
    await bus.publish(spansTopic, encodeSpanMessages(skewed));
    const clientSpan = skewed.find((span) => span.spanId === trace.ids.gatewayClient) as Span;
    await eventually(async () => {
      const [summary] = await query.searchTraces({ service: 'order-service', startUs: skewed[0].startTimeUs - 60_000, endUs: skewed[0].startTimeUs, limit: 10, query: { kind: 'field', field: 'traceId', value: trace.traceId, pattern: false } });
      expect(summary).toMatchObject({ traceId: trace.traceId, skewAdjusted: true, flags: ['skew_adjusted'] });
    });

    const adjusted = await query.getTrace(trace.traceId, 'adjusted');
    const raw = await query.getTrace(trace.traceId, 'raw');
    if (adjusted === undefined || raw === undefined) throw new Error('trace not found');
    const adjustedServer = flatten(adjusted.roots).find((node) => node.spanId === trace.ids.orderServer) as TraceNodeView;
    const rawServer = flatten(raw.roots).find((node) => node.spanId === trace.ids.orderServer) as TraceNodeView;
    // Adjusted: inside the caller's window; raw: as recorded, 50 ms early.
    expect(adjustedServer.startTimeUs).toBeGreaterThanOrEqual(clientSpan.startTimeUs);
    expect(adjustedServer.startTimeUs + adjustedServer.durationUs).toBeLessThanOrEqual(clientSpan.startTimeUs + clientSpan.durationUs);
    expect(adjustedServer.rawStartTimeUs).toBe(trace.spans[2].startTimeUs - 50_000);
    expect(rawServer.startTimeUs).toBe(trace.spans[2].startTimeUs - 50_000);
    expect(adjustedServer.skewUs).toBe(adjustedServer.startTimeUs - adjustedServer.rawStartTimeUs);
    // The order-service subtree moved with its server span.
    const adjustedOrderClient = flatten(adjusted.roots).find((node) => node.spanId === trace.ids.orderClient) as TraceNodeView;
    expect(adjustedOrderClient.skewUs).toBe(adjustedServer.skewUs);
  });

  it('sends a span that conflicts with the mapping to the dead-letter topic with its reason, and stores the rest', async () => {
    const dayStart = Math.floor(Date.now() / 86_400_000) * DAY_US - 6 * DAY_US;
    await raw.indices.create({
      index: dayIndexName(prefix, 'spans', indexDay(dayStart)),
      mappings: { properties: { tags: { type: 'object', dynamic: true, subobjects: false, properties: { 'http.status_code': { type: 'long' } } } } },
    });
    const trace = threeServiceTrace({ startTimeUs: dayStart + 3_600_000_000 });
    const bad: Span = { ...trace.spans[3], tags: { 'http.status_code': 'not-a-number' } };
    const spans = trace.spans.map((span) => (span.spanId === bad.spanId ? bad : span));
    await bus.publish(spansTopic, encodeSpanMessages(spans));

    await eventually(async () => {
      const letter = deadLetters.find((entry) => entry.message.span.spanId === bad.spanId);
      expect(letter).toBeDefined();
      expect(letter?.key).toBe(trace.traceId);
      expect(letter?.message.reason).toMatch(/http\.status_code.*not-a-number|failed to parse/);
      expect(letter?.message.span).toEqual(bad);
      expect(letter?.message.source.topic).toBe(spansTopic);
    });
    await eventually(async () => {
      expect((await query.getTrace(trace.traceId))?.spanCount).toBe(4);
      const [summary] = await query.searchTraces({ startUs: dayStart, endUs: dayStart + DAY_US, limit: 10 });
      expect(summary).toMatchObject({ traceId: trace.traceId, spanCount: 4 });
    });
  });

  it('commits every record once its spans and summaries are durable (group lag drains to 0)', async () => {
    const admin = new Kafka({ brokers: infraFromEnv().kafkaBrokers, clientId: `${prefix}-lag`, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await eventually(async () => {
        expect(assembler.openTraces).toBe(0);
        const [high, [committed]] = await Promise.all([admin.fetchTopicOffsets(spansTopic), admin.fetchOffsets({ groupId: topicName(CONSUMER_GROUPS.spanAssembler, prefix), topics: [spansTopic] })]);
        const done = new Map(committed.partitions.map((p) => [p.partition, Number(p.offset)]));
        expect(high.map((p) => [p.partition, Number(p.high)])).toEqual(high.map((p) => [p.partition, Number(p.high) === 0 ? 0 : (done.get(p.partition) ?? -1)]));
      }, 30_000);
    } finally {
      await admin.disconnect();
    }
  });
});
