import { KafkaMessageBus } from '@skein/adapter-kafka';
import { SPANS_TOPIC, spansTopicSpec, topicName } from '@skein/contracts';
import { DEFAULT_BATCH_LIMITS } from '@skein/domain';
import { IngestModule } from '@skein/feature-ingest';
import { createLogger, createMetricsRegistry, exitOnStartupError, startService } from '@skein/service-kit';
import { loadIngestGatewayConfig } from './ingest-gateway.config';

async function main(): Promise<void> {
  const config = loadIngestGatewayConfig();
  const logger = createLogger('ingest-gateway', config.SKEIN_LOG_LEVEL);
  const registry = createMetricsRegistry();
  const bus = new KafkaMessageBus({ brokers: config.SKEIN_KAFKA_BROKERS, clientId: `${config.SKEIN_KAFKA_CLIENT_ID}-ingest-gateway` });
  const spansTopic = topicName(SPANS_TOPIC, config.SKEIN_TOPIC_PREFIX);
  await bus.ensureTopics([spansTopicSpec(spansTopic, config.SKEIN_SPANS_PARTITIONS)]);
  await startService({
    name: 'ingest-gateway',
    logger,
    registry,
    host: config.SKEIN_HTTP_HOST,
    port: config.SKEIN_HTTP_PORT,
    readiness: [{ name: 'kafka', check: () => bus.ready() }],
    modules: [
      IngestModule.register({
        bus,
        spansTopic,
        registry,
        maxBodyBytes: config.SKEIN_MAX_BODY_BYTES,
        limits: { ...DEFAULT_BATCH_LIMITS, maxSpansPerBatch: config.SKEIN_MAX_SPANS_PER_BATCH, maxDecompressedBytes: config.SKEIN_MAX_DECOMPRESSED_BYTES },
      }),
    ],
    onClose: () => bus.close(),
  });
}

main().catch(exitOnStartupError('ingest-gateway'));
