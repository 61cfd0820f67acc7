import { assemblyShape, env, gatewayShape, ingestShape, loadConfig, slaShape } from '@skein/service-kit';
import { z } from 'zod';

/**
 * embeddedConfigSchema: the all-in-one process. Everything is optional: with no variables set it listens on
 * 127.0.0.1:9480 (OTLP/HTTP also on 4318), keeps data in memory, has no SLA rules, and generates an API key,
 * an admin token and a webhook secret, which it prints.
 */
export const embeddedConfigSchema = z.object({
  SKEIN_HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  SKEIN_HTTP_PORT: env.port(9480),
  SKEIN_LOG_LEVEL: env.logLevel(),
  ...ingestShape,
  ...slaShape,
  SKEIN_SLA_RULES_FILE: slaShape.SKEIN_SLA_RULES_FILE.optional(),
  SKEIN_SLA_WEBHOOK_SECRET: slaShape.SKEIN_SLA_WEBHOOK_SECRET.optional(),
  ...gatewayShape,
  SKEIN_API_KEYS: gatewayShape.SKEIN_API_KEYS.optional(),
  SKEIN_ADMIN_TOKEN: gatewayShape.SKEIN_ADMIN_TOKEN.optional(),
  ...assemblyShape,
});

/** EmbeddedConfig: the validated configuration. */
export type EmbeddedConfig = z.infer<typeof embeddedConfigSchema>;

/** loadEmbeddedConfig: reads and validates the environment; throws naming each bad variable. */
export const loadEmbeddedConfig = (source: NodeJS.ProcessEnv = process.env): EmbeddedConfig => loadConfig(embeddedConfigSchema, source);
