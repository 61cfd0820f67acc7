import { env, gatewayShape, httpShape, ingestShape, kafkaShape, loadConfig, redisShape } from '@skein/service-kit';
import { z } from 'zod';

/** ingestGatewayConfigSchema: every environment variable of ingest-gateway (docs/configuration.md). */
export const ingestGatewayConfigSchema = z.object({
  ...httpShape,
  SKEIN_HTTP_PORT: env.port(9480),
  ...kafkaShape,
  ...ingestShape,
  ...redisShape,
  ...gatewayShape,
  /** SKEIN_INGEST_DECODE_WORKERS: worker threads decoding requests (0 = on the main thread); see docs/benchmarks.md. */
  SKEIN_INGEST_DECODE_WORKERS: env.nonNegativeInt(2).pipe(z.number().max(16)),
});

/** IngestGatewayConfig: the validated configuration. */
export type IngestGatewayConfig = z.infer<typeof ingestGatewayConfigSchema>;

/** loadIngestGatewayConfig: reads and validates the environment; throws naming each bad variable. */
export const loadIngestGatewayConfig = (source: NodeJS.ProcessEnv = process.env): IngestGatewayConfig => loadConfig(ingestGatewayConfigSchema, source);
