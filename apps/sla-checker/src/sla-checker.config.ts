import { env, httpShape, loadConfig, redisShape, slaShape } from '@skein/service-kit';
import { z } from 'zod';

/** slaCheckerConfigSchema: every environment variable of sla-checker (docs/configuration.md). */
export const slaCheckerConfigSchema = z.object({ ...httpShape, SKEIN_HTTP_PORT: env.port(9484), ...redisShape, ...slaShape });

/** SlaCheckerConfig: the validated configuration. */
export type SlaCheckerConfig = z.infer<typeof slaCheckerConfigSchema>;

/** loadSlaCheckerConfig: reads and validates the environment; throws naming each bad variable. */
export const loadSlaCheckerConfig = (source: NodeJS.ProcessEnv = process.env): SlaCheckerConfig => loadConfig(slaCheckerConfigSchema, source);
