import { ElasticsearchTraceStore } from '@skein/adapter-elasticsearch';
import { RedisMetricStore } from '@skein/adapter-redis';
import { QueryModule } from '@skein/feature-query';
import { createLogger, createMetricsRegistry, exitOnStartupError, startService } from '@skein/service-kit';
import { loadQueryApiConfig } from './query-api.config';

async function main(): Promise<void> {
  const config = loadQueryApiConfig();
  const logger = createLogger('query-api', config.SKEIN_LOG_LEVEL);
  const registry = createMetricsRegistry();
  const traces = new ElasticsearchTraceStore({ node: config.SKEIN_ES_URL, indexPrefix: config.SKEIN_ES_INDEX_PREFIX });
  const metrics = new RedisMetricStore({ url: config.SKEIN_REDIS_URL, keyPrefix: config.SKEIN_REDIS_KEY_PREFIX, windowTtlSeconds: config.SKEIN_METRICS_TTL_SECONDS });
  await startService({
    name: 'query-api',
    logger,
    registry,
    host: config.SKEIN_HTTP_HOST,
    port: config.SKEIN_HTTP_PORT,
    readiness: [
      { name: 'elasticsearch', check: () => traces.ready() },
      { name: 'redis', check: () => metrics.ready() },
    ],
    modules: [QueryModule.register({ traces, metrics })],
    onClose: async () => {
      await traces.close();
      await metrics.close();
    },
  });
}

main().catch(exitOnStartupError('query-api'));
