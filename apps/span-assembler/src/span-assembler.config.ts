import { ConfigError, assemblyShape, elasticsearchShape, env, httpShape, kafkaShape, loadConfig } from '@skein/service-kit';
import { z } from 'zod';

/** spanAssemblerConfigSchema: every environment variable of span-assembler (docs/configuration.md). */
export const spanAssemblerConfigSchema = z.object({ ...httpShape, SKEIN_HTTP_PORT: env.port(9482), ...kafkaShape, ...elasticsearchShape, ...assemblyShape });

/** SpanAssemblerConfig: the validated configuration, SKEIN_ASSEMBLER_FETCH_MIN_BYTES resolved (unset = SKEIN_ASSEMBLER_FETCH_BYTES). */
export type SpanAssemblerConfig = Omit<z.infer<typeof spanAssemblerConfigSchema>, 'SKEIN_ASSEMBLER_FETCH_MIN_BYTES'> & { SKEIN_ASSEMBLER_FETCH_MIN_BYTES: number };

/** loadSpanAssemblerConfig: reads and validates the environment; throws naming each bad variable. */
export function loadSpanAssemblerConfig(source: NodeJS.ProcessEnv = process.env): SpanAssemblerConfig {
  const config = loadConfig(spanAssemblerConfigSchema, source);
  const minBytes = config.SKEIN_ASSEMBLER_FETCH_MIN_BYTES ?? config.SKEIN_ASSEMBLER_FETCH_BYTES;
  // The broker answers a fetch once it has the minimum, counting at most FETCH_BYTES per partition: with fewer
  // partitions assigned than MIN / FETCH_BYTES (more instances, paused partitions), every fetch would wait the
  // whole max wait even with a backlog.
  if (minBytes > config.SKEIN_ASSEMBLER_FETCH_BYTES) {
    throw new ConfigError([
      `SKEIN_ASSEMBLER_FETCH_MIN_BYTES: must not exceed SKEIN_ASSEMBLER_FETCH_BYTES (${config.SKEIN_ASSEMBLER_FETCH_BYTES}), got ${minBytes}: one partition's full batch must be enough to answer a fetch`,
    ]);
  }
  return { ...config, SKEIN_ASSEMBLER_FETCH_MIN_BYTES: minBytes };
}
