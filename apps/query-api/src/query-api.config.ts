import { elasticsearchShape, env, httpShape, loadConfig, redisShape } from '@skein/service-kit';
import { z } from 'zod';

/** queryApiConfigSchema: every environment variable of query-api (docs/configuration.md). */
export const queryApiConfigSchema = z.object({ ...httpShape, SKEIN_HTTP_PORT: env.port(9481), ...elasticsearchShape, ...redisShape });

/** QueryApiConfig: the validated configuration. */
export type QueryApiConfig = z.infer<typeof queryApiConfigSchema>;

/** loadQueryApiConfig: reads and validates the environment; throws naming each bad variable. */
export const loadQueryApiConfig = (source: NodeJS.ProcessEnv = process.env): QueryApiConfig => loadConfig(queryApiConfigSchema, source);
