import { env, httpShape, kafkaShape, loadConfig, redisShape } from '@skein/service-kit';
import { z } from 'zod';

/** metricsAggregatorConfigSchema: every environment variable of metrics-aggregator (docs/configuration.md). */
export const metricsAggregatorConfigSchema = z.object({ ...httpShape, SKEIN_HTTP_PORT: env.port(9483), ...kafkaShape, ...redisShape });

/** MetricsAggregatorConfig: the validated configuration. */
export type MetricsAggregatorConfig = z.infer<typeof metricsAggregatorConfigSchema>;

/** loadMetricsAggregatorConfig: reads and validates the environment; throws naming each bad variable. */
export const loadMetricsAggregatorConfig = (source: NodeJS.ProcessEnv = process.env): MetricsAggregatorConfig => loadConfig(metricsAggregatorConfigSchema, source);
