import { z } from 'zod';

/**
 * ConfigError: the environment does not describe a valid configuration. The message names every offending
 * variable, so a service that fails at start says exactly what to fix.
 */
export class ConfigError extends Error {
  /** problems: one `VARIABLE: message` entry per bad variable, in schema order. */
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * configProblems: the problems of the {@link ConfigError} that `load` throws (tests of each app's config);
 * throws when `load` succeeds or fails with anything else.
 */
export function configProblems(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('the configuration was accepted');
}

/**
 * loadConfig: validates environment variables against a zod object schema whose keys ARE the variable names
 * (e.g. `SKEIN_KAFKA_BROKERS`). Defaults live in the schema, nowhere else. Throws {@link ConfigError}.
 */
export function loadConfig<S extends z.ZodRawShape>(schema: z.ZodObject<S>, env: NodeJS.ProcessEnv = process.env): z.infer<z.ZodObject<S>> {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    // An empty (or blank) variable means "not set", so `FOO= node main.js` falls back to the default
    // (and `FOO=' '` is not coerced to the number 0).
    input[key] = value === undefined || value.trim() === '' ? undefined : value;
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.') || '(config)'}: ${issue.message}`));
  }
  return result.data;
}

const SERVICE_URL_PROTOCOLS = ['http:', 'https:', 'redis:', 'rediss:'];

function isServiceUrl(value: string): boolean {
  try {
    return SERVICE_URL_PROTOCOLS.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** env: zod helpers for typical environment variables. */
export const env = {
  /** port: a TCP port number (0 = any free port). */
  port: (defaultValue: number) => z.coerce.number().int().min(0).max(65535).default(defaultValue),
  /** positiveInt: an integer >= 1. */
  positiveInt: (defaultValue: number) => z.coerce.number().int().min(1).default(defaultValue),
  /** nonNegativeInt: an integer >= 0. */
  nonNegativeInt: (defaultValue: number) => z.coerce.number().int().min(0).default(defaultValue),
  /** list: a comma-separated list of non-empty strings. */
  list: () =>
    z
      .string()
      .transform((value) => value.split(',').map((item) => item.trim()).filter((item) => item.length > 0))
      .refine((items) => items.length > 0, 'must list at least one value'),
  /** url: an http(s) or redis(s) URL (`z.string().url()` alone also takes `localhost:9200`, scheme "localhost:"). */
  url: () => z.string().refine(isServiceUrl, 'must be an http(s):// or redis(s):// URL'),
  /** prefix: a name prefix for topics, indices or keys: lowercase letters, digits, `-` and `.`. */
  prefix: (defaultValue: string) => z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'lowercase letters, digits, "-" and "." only').default(defaultValue),
  /** logLevel: a pino level. */
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};
