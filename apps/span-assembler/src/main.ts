import { ElasticsearchTraceStore } from '@skein/adapter-elasticsearch';
import { KafkaMessageBus } from '@skein/adapter-kafka';
import { CONSUMER_GROUPS, DEAD_LETTER_TOPIC, SPANS_TOPIC, deadLetterTopicSpec, spansTopicSpec, topicName } from '@skein/contracts';
import { SpanAssemblerModule } from '@skein/feature-assembler';
import { createLogger, createMetricsRegistry, exitOnStartupError, startService } from '@skein/service-kit';
import { loadSpanAssemblerConfig } from './span-assembler.config';

async function main(): Promise<void> {
  const config = loadSpanAssemblerConfig();
  const logger = createLogger('span-assembler', config.SKEIN_LOG_LEVEL);
  const registry = createMetricsRegistry();
  const bus = new KafkaMessageBus({
    brokers: config.SKEIN_KAFKA_BROKERS,
    clientId: `${config.SKEIN_KAFKA_CLIENT_ID}-span-assembler`,
    maxBytesPerPartition: config.SKEIN_ASSEMBLER_FETCH_BYTES,
    prefetchBatches: config.SKEIN_ASSEMBLER_PREFETCH_BATCHES,
    minBytes: config.SKEIN_ASSEMBLER_FETCH_MIN_BYTES,
    maxWaitTimeMs: config.SKEIN_ASSEMBLER_FETCH_MAX_WAIT_MS,
  });
  const store = new ElasticsearchTraceStore({ node: config.SKEIN_ES_URL, indexPrefix: config.SKEIN_ES_INDEX_PREFIX });
  const spansTopic = topicName(SPANS_TOPIC, config.SKEIN_TOPIC_PREFIX);
  const deadLetterTopic = topicName(DEAD_LETTER_TOPIC, config.SKEIN_TOPIC_PREFIX);
  await bus.ensureTopics([spansTopicSpec(spansTopic, config.SKEIN_SPANS_PARTITIONS), deadLetterTopicSpec(deadLetterTopic, config.SKEIN_SPANS_PARTITIONS)]);
  await store.ensureSchema();
  await startService({
    name: 'span-assembler',
    logger,
    registry,
    host: config.SKEIN_HTTP_HOST,
    port: config.SKEIN_HTTP_PORT,
    readiness: [
      { name: 'kafka', check: () => bus.ready() },
      { name: 'elasticsearch', check: () => store.ready() },
    ],
    modules: [
      SpanAssemblerModule.register({
        bus,
        store,
        spansTopic,
        deadLetterTopic,
        groupId: topicName(CONSUMER_GROUPS.spanAssembler, config.SKEIN_TOPIC_PREFIX),
        registry,
        logger,
        limits: { idleMs: config.SKEIN_TRACE_IDLE_MS, maxOpenTraces: config.SKEIN_MAX_OPEN_TRACES, maxSpansPerTrace: config.SKEIN_MAX_SPANS_PER_TRACE, maxOpenSpans: config.SKEIN_MAX_OPEN_SPANS },
        retentionDays: config.SKEIN_RETENTION_DAYS,
        partitionsConcurrently: config.SKEIN_ASSEMBLER_PARTITIONS_CONCURRENTLY,
      }),
    ],
    onClose: async () => {
      await bus.close();
      await store.close();
    },
  });
}

main().catch(exitOnStartupError('span-assembler'));
