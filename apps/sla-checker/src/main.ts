import { readFileSync } from 'node:fs';
import { RedisMetricStore, RedisSlaStateStore } from '@skein/adapter-redis';
import { SlaCheckerModule, parseSlaRules } from '@skein/feature-sla';
import { createLogger, createMetricsRegistry, exitOnStartupError, startService } from '@skein/service-kit';
import { loadSlaCheckerConfig } from './sla-checker.config';

async function main(): Promise<void> {
  const config = loadSlaCheckerConfig();
  const logger = createLogger('sla-checker', config.SKEIN_LOG_LEVEL);
  const registry = createMetricsRegistry();
  const rules = parseSlaRules(readFileSync(config.SKEIN_SLA_RULES_FILE, 'utf8'), config.SKEIN_SLA_RULES_FILE);
  const metrics = new RedisMetricStore({ url: config.SKEIN_REDIS_URL, keyPrefix: config.SKEIN_REDIS_KEY_PREFIX, windowTtlSeconds: config.SKEIN_METRICS_TTL_SECONDS });
  const states = new RedisSlaStateStore({ url: config.SKEIN_REDIS_URL, keyPrefix: config.SKEIN_REDIS_KEY_PREFIX });
  logger.info({ rules: rules.map((rule) => rule.name) }, 'SLA rules loaded');
  await startService({
    name: 'sla-checker',
    logger,
    registry,
    host: config.SKEIN_HTTP_HOST,
    port: config.SKEIN_HTTP_PORT,
    readiness: [{ name: 'redis', check: () => metrics.ready() }],
    modules: [
      SlaCheckerModule.register({
        rules,
        metrics,
        states,
        intervalMs: config.SKEIN_SLA_INTERVAL_MS,
        graceMs: config.SKEIN_SLA_GRACE_MS,
        lookbackMs: config.SKEIN_SLA_LOOKBACK_MS,
        webhook: { secret: config.SKEIN_SLA_WEBHOOK_SECRET, timeoutMs: config.SKEIN_SLA_WEBHOOK_TIMEOUT_MS, attempts: config.SKEIN_SLA_WEBHOOK_ATTEMPTS },
        registry,
        logger,
      }),
    ],
    onClose: async () => {
      await metrics.close();
      await states.close();
    },
  });
}

main().catch(exitOnStartupError('sla-checker'));
