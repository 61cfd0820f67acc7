import { KafkaMessageBus } from '@skein/adapter-kafka';
import { RedisPolicyStore } from '@skein/adapter-redis';
import { SPANS_TOPIC, spansTopicSpec, topicName } from '@skein/contracts';
import { ApiKeyRegistry, PolicyCache, TokenBucketRateLimiter } from '@skein/domain';
import { IngestModule } from '@skein/feature-ingest';
import { batchLimitsFromConfig, createLogger, createMetricsRegistry, exitOnStartupError, startService } from '@skein/service-kit';
import { loadIngestGatewayConfig } from './ingest-gateway.config';

async function main(): Promise<void> {
  const config = loadIngestGatewayConfig();
  const logger = createLogger('ingest-gateway', config.SKEIN_LOG_LEVEL);
  const registry = createMetricsRegistry();
  const apiKeys = ApiKeyRegistry.fromConfig(config.SKEIN_API_KEYS);
  const bus = new KafkaMessageBus({ brokers: config.SKEIN_KAFKA_BROKERS, clientId: `${config.SKEIN_KAFKA_CLIENT_ID}-ingest-gateway` });
  const policyStore = new RedisPolicyStore({ url: config.SKEIN_REDIS_URL, keyPrefix: config.SKEIN_REDIS_KEY_PREFIX });
  const policyCache = new PolicyCache(policyStore, {
    refreshMs: config.SKEIN_POLICY_REFRESH_MS,
    onChange: (next, previous) => logger.info({ version: next.version, previousVersion: previous.version, rules: next.rules.length }, 'sampling policy changed'),
    onError: (err) => logger.warn({ err }, 'sampling policy not refreshed; serving the last one read'),
  });
  const rate = config.SKEIN_RATE_LIMIT_SPANS_PER_SECOND;
  const rateLimiter = rate > 0 ? new TokenBucketRateLimiter({ defaultLimit: { spansPerSecond: rate, burst: config.SKEIN_RATE_LIMIT_BURST || undefined } }) : undefined;
  const spansTopic = topicName(SPANS_TOPIC, config.SKEIN_TOPIC_PREFIX);
  await bus.ensureTopics([spansTopicSpec(spansTopic, config.SKEIN_SPANS_PARTITIONS)]);
  logger.info({ apps: apiKeys.apps, rateLimitSpansPerSecond: rate || 'none' }, 'API keys loaded');
  await startService({
    name: 'ingest-gateway',
    logger,
    registry,
    host: config.SKEIN_HTTP_HOST,
    port: config.SKEIN_HTTP_PORT,
    extraPorts: [config.SKEIN_OTLP_HTTP_PORT],
    readiness: [
      { name: 'kafka', check: () => bus.ready() },
      { name: 'redis', check: () => policyStore.ready() },
    ],
    modules: [
      IngestModule.register({
        bus,
        spansTopic,
        registry,
        apiKeys,
        rateLimiter,
        maxInFlightBytes: config.SKEIN_MAX_IN_FLIGHT_BYTES,
        decodeWorkers: config.SKEIN_INGEST_DECODE_WORKERS,
        otlpGrpc: { host: config.SKEIN_HTTP_HOST, port: config.SKEIN_OTLP_GRPC_PORT, listening: (grpcPort) => logger.info({ grpcPort }, 'OTLP/gRPC listening') },
        policyAdmin: { store: policyStore, cache: policyCache, adminToken: config.SKEIN_ADMIN_TOKEN },
        maxBodyBytes: config.SKEIN_MAX_BODY_BYTES,
        limits: batchLimitsFromConfig(config),
      }),
    ],
    onClose: async () => {
      await bus.close();
      await policyStore.close();
    },
  });
}

main().catch(exitOnStartupError('ingest-gateway'));
