import { KafkaMessageBus } from '@skein/adapter-kafka';
import { RedisMetricStore } from '@skein/adapter-redis';
import { CONSUMER_GROUPS, SPANS_TOPIC, spansTopicSpec, topicName } from '@skein/contracts';
import { MetricsAggregatorModule } from '@skein/feature-metrics';
import { createLogger, createMetricsRegistry, exitOnStartupError, startService } from '@skein/service-kit';
import { loadMetricsAggregatorConfig } from './metrics-aggregator.config';

async function main(): Promise<void> {
  const config = loadMetricsAggregatorConfig();
  const logger = createLogger('metrics-aggregator', config.SKEIN_LOG_LEVEL);
  const registry = createMetricsRegistry();
  const bus = new KafkaMessageBus({ brokers: config.SKEIN_KAFKA_BROKERS, clientId: `${config.SKEIN_KAFKA_CLIENT_ID}-metrics-aggregator` });
  const store = new RedisMetricStore({ url: config.SKEIN_REDIS_URL, keyPrefix: config.SKEIN_REDIS_KEY_PREFIX, windowTtlSeconds: config.SKEIN_METRICS_TTL_SECONDS });
  const spansTopic = topicName(SPANS_TOPIC, config.SKEIN_TOPIC_PREFIX);
  await bus.ensureTopics([spansTopicSpec(spansTopic, config.SKEIN_SPANS_PARTITIONS)]);
  await startService({
    name: 'metrics-aggregator',
    logger,
    registry,
    host: config.SKEIN_HTTP_HOST,
    port: config.SKEIN_HTTP_PORT,
    readiness: [
      { name: 'kafka', check: () => bus.ready() },
      { name: 'redis', check: () => store.ready() },
    ],
    modules: [MetricsAggregatorModule.register({ bus, store, spansTopic, groupId: topicName(CONSUMER_GROUPS.metricsAggregator, config.SKEIN_TOPIC_PREFIX), registry, logger })],
    onClose: async () => {
      await bus.close();
      await store.close();
    },
  });
}

main().catch(exitOnStartupError('metrics-aggregator'));
