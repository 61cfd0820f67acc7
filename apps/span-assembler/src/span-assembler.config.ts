import { assemblyShape, elasticsearchShape, env, httpShape, kafkaShape, loadConfig } from '@skein/service-kit';
import { z } from 'zod';

/** spanAssemblerConfigSchema: every environment variable of span-assembler (docs/configuration.md). */
export const spanAssemblerConfigSchema = z.object({ ...httpShape, SKEIN_HTTP_PORT: env.port(9482), ...kafkaShape, ...elasticsearchShape, ...assemblyShape });

/** SpanAssemblerConfig: the validated configuration. */
export type SpanAssemblerConfig = z.infer<typeof spanAssemblerConfigSchema>;

/** loadSpanAssemblerConfig: reads and validates the environment; throws naming each bad variable. */
export const loadSpanAssemblerConfig = (source: NodeJS.ProcessEnv = process.env): SpanAssemblerConfig => loadConfig(spanAssemblerConfigSchema, source);
