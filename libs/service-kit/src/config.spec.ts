import { z } from 'zod';
import { ConfigError, configProblems, env, loadConfig } from './config';
import { elasticsearchShape, httpShape, ingestShape, kafkaShape, redisShape, slaShape } from './config-shapes';

/** problems: the lines of the ConfigError `load` throws (without the "invalid configuration:" head). */
function problems(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).name).toBe('ConfigError');
    const [head, ...lines] = (err as Error).message.split('\n');
    expect(head).toBe('invalid configuration:');
    return lines.map((line) => line.replace(/^ {2}/, ''));
  }
  throw new Error('the configuration was accepted');
}

const schema = z.object({
  APP_NAME: z.string().min(1),
  APP_WORKERS: env.positiveInt(4),
  APP_PORT: env.port(8080),
  APP_GRACE_MS: env.nonNegativeInt(1_500),
  APP_UPSTREAM_URL: env.url(),
  APP_PREFIX: env.prefix('skein'),
  APP_BROKERS: env.list(),
  APP_LOG_LEVEL: env.logLevel(),
});
const MINIMAL = { APP_NAME: 'svc', APP_UPSTREAM_URL: 'http://127.0.0.1:9200', APP_BROKERS: 'k1:9092' };

describe('loadConfig', () => {
  it('applies every default when only the required variables are set', () => {
    expect(loadConfig(schema, MINIMAL)).toEqual({
      APP_NAME: 'svc',
      APP_WORKERS: 4,
      APP_PORT: 8080,
      APP_GRACE_MS: 1_500,
      APP_UPSTREAM_URL: 'http://127.0.0.1:9200',
      APP_PREFIX: 'skein',
      APP_BROKERS: ['k1:9092'],
      APP_LOG_LEVEL: 'info',
    });
  });

  it('converts set values and ignores variables outside the schema', () => {
    const config = loadConfig(schema, {
      ...MINIMAL,
      APP_WORKERS: '16',
      APP_PORT: '0',
      APP_GRACE_MS: '0',
      APP_PREFIX: 'team-a.prod',
      APP_BROKERS: ' k1:9092 , k2:9092,,k3:9092 ',
      APP_LOG_LEVEL: 'silent',
      PATH: '/usr/bin',
    });
    expect(config).toEqual({
      APP_NAME: 'svc',
      APP_WORKERS: 16,
      APP_PORT: 0,
      APP_GRACE_MS: 0,
      APP_UPSTREAM_URL: 'http://127.0.0.1:9200',
      APP_PREFIX: 'team-a.prod',
      APP_BROKERS: ['k1:9092', 'k2:9092', 'k3:9092'],
      APP_LOG_LEVEL: 'silent',
    });
    expect(config).not.toHaveProperty('PATH');
  });

  it('names every missing required variable', () => {
    expect(problems(() => loadConfig(schema, {}))).toEqual(['APP_NAME: Required', 'APP_UPSTREAM_URL: Required', 'APP_BROKERS: Required']);
  });

  it('treats an empty variable as unset: defaults apply, required ones are reported missing', () => {
    expect(loadConfig(schema, { ...MINIMAL, APP_WORKERS: '', APP_PORT: '', APP_PREFIX: '', APP_LOG_LEVEL: '' })).toMatchObject({ APP_WORKERS: 4, APP_PORT: 8080, APP_PREFIX: 'skein', APP_LOG_LEVEL: 'info' });
    expect(problems(() => loadConfig(schema, { ...MINIMAL, APP_NAME: '' }))).toEqual(['APP_NAME: Required']);
  });

  it('treats a blank (whitespace-only) variable as unset, instead of reading it as the number 0', () => {
    // Number(' ') is 0: without this, `APP_PORT=' '` would silently mean "any free port".
    expect(loadConfig(schema, { ...MINIMAL, APP_PORT: ' ', APP_GRACE_MS: '\t' })).toMatchObject({ APP_PORT: 8080, APP_GRACE_MS: 1_500 });
    expect(problems(() => loadConfig(schema, { ...MINIMAL, APP_NAME: '  ' }))).toEqual(['APP_NAME: Required']);
  });

  it('names each bad variable with what is wrong with it', () => {
    const env = {
      APP_NAME: 'svc',
      APP_WORKERS: 'four',
      APP_PORT: '70000',
      APP_GRACE_MS: '-1',
      APP_UPSTREAM_URL: 'not a url',
      APP_PREFIX: 'Team_A',
      APP_BROKERS: ' , ',
      APP_LOG_LEVEL: 'verbose',
    };
    expect(problems(() => loadConfig(schema, env))).toEqual([
      'APP_WORKERS: Expected number, received nan',
      'APP_PORT: Number must be less than or equal to 65535',
      'APP_GRACE_MS: Number must be greater than or equal to 0',
      'APP_UPSTREAM_URL: must be an http(s):// or redis(s):// URL',
      'APP_PREFIX: lowercase letters, digits, "-" and "." only',
      'APP_BROKERS: must list at least one value',
      "APP_LOG_LEVEL: Invalid enum value. Expected 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent', received 'verbose'",
    ]);
  });

  it('refuses fractional and non-positive counts', () => {
    expect(problems(() => loadConfig(schema, { ...MINIMAL, APP_WORKERS: '1.5' }))).toEqual(['APP_WORKERS: Expected integer, received float']);
    expect(problems(() => loadConfig(schema, { ...MINIMAL, APP_WORKERS: '0' }))).toEqual(['APP_WORKERS: Number must be greater than or equal to 1']);
    expect(problems(() => loadConfig(schema, { ...MINIMAL, APP_PORT: '-1' }))).toEqual(['APP_PORT: Number must be greater than or equal to 0']);
  });

  it('accepts http(s) and redis(s) URLs only', () => {
    for (const url of ['http://es:9200', 'https://user:pass@es.example.com', 'redis://127.0.0.1:6379', 'rediss://cache.example.com:6380/2']) {
      expect(loadConfig(schema, { ...MINIMAL, APP_UPSTREAM_URL: url }).APP_UPSTREAM_URL).toBe(url);
    }
    // `new URL('localhost:9200')` parses with the scheme "localhost:": a classic misconfiguration.
    for (const url of ['localhost:9200', 'ftp://files.example.com', '127.0.0.1:6379', '//es:9200']) {
      expect(problems(() => loadConfig(schema, { ...MINIMAL, APP_UPSTREAM_URL: url }))).toEqual(['APP_UPSTREAM_URL: must be an http(s):// or redis(s):// URL']);
    }
  });

  it('refuses prefixes that do not start with a lowercase letter or digit', () => {
    for (const prefix of ['-skein', '.skein', 'Skein', 'sk ein', 'sk_ein']) {
      expect(problems(() => loadConfig(schema, { ...MINIMAL, APP_PREFIX: prefix }))).toEqual(['APP_PREFIX: lowercase letters, digits, "-" and "." only']);
    }
  });

  it('reads process.env by default', () => {
    const saved = process.env['APP_NAME'];
    process.env['APP_NAME'] = 'from-process-env';
    try {
      expect(loadConfig(z.object({ APP_NAME: z.string() })).APP_NAME).toBe('from-process-env');
    } finally {
      if (saved === undefined) delete process.env['APP_NAME'];
      else process.env['APP_NAME'] = saved;
    }
  });
});

describe('config shapes', () => {
  const all = z.object({ ...httpShape, ...kafkaShape, ...elasticsearchShape, ...redisShape, ...ingestShape, ...slaShape });
  const REQUIRED = {
    SKEIN_KAFKA_BROKERS: 'kafka-1:9092,kafka-2:9092',
    SKEIN_ES_URL: 'http://127.0.0.1:9200',
    SKEIN_REDIS_URL: 'redis://127.0.0.1:6379',
    SKEIN_SLA_RULES_FILE: '/etc/skein/sla-rules.yaml',
    SKEIN_SLA_WEBHOOK_SECRET: '0123456789abcdef',
  };

  it('name every required variable', () => {
    expect(problems(() => loadConfig(all, {}))).toEqual([
      'SKEIN_KAFKA_BROKERS: Required',
      'SKEIN_ES_URL: Required',
      'SKEIN_REDIS_URL: Required',
      'SKEIN_SLA_RULES_FILE: Required',
      'SKEIN_SLA_WEBHOOK_SECRET: Required',
    ]);
  });

  it('give the documented defaults (docs/configuration.md)', () => {
    expect(loadConfig(all, REQUIRED)).toEqual({
      SKEIN_HTTP_HOST: '0.0.0.0',
      SKEIN_LOG_LEVEL: 'info',
      SKEIN_KAFKA_BROKERS: ['kafka-1:9092', 'kafka-2:9092'],
      SKEIN_KAFKA_CLIENT_ID: 'skein',
      SKEIN_TOPIC_PREFIX: '',
      SKEIN_SPANS_PARTITIONS: 6,
      SKEIN_ES_URL: 'http://127.0.0.1:9200',
      SKEIN_ES_INDEX_PREFIX: 'skein',
      SKEIN_REDIS_URL: 'redis://127.0.0.1:6379',
      SKEIN_REDIS_KEY_PREFIX: 'skein',
      SKEIN_METRICS_TTL_SECONDS: 604_800,
      SKEIN_MAX_BODY_BYTES: 8_388_608,
      SKEIN_MAX_DECOMPRESSED_BYTES: 67_108_864,
      SKEIN_MAX_SPANS_PER_BATCH: 10_000,
      SKEIN_MAX_NAME_LENGTH: 256,
      SKEIN_MAX_TAGS: 128,
      SKEIN_MAX_TAG_VALUE_LENGTH: 4096,
      SKEIN_MAX_EVENTS: 128,
      SKEIN_MAX_LINKS: 128,
      SKEIN_SLA_RULES_FILE: '/etc/skein/sla-rules.yaml',
      SKEIN_SLA_WEBHOOK_SECRET: '0123456789abcdef',
      SKEIN_SLA_INTERVAL_MS: 10_000,
      SKEIN_SLA_GRACE_MS: 15_000,
      SKEIN_SLA_LOOKBACK_MS: 600_000,
      SKEIN_SLA_WEBHOOK_TIMEOUT_MS: 5_000,
      SKEIN_SLA_WEBHOOK_ATTEMPTS: 5,
    });
  });

  it('refuse a short webhook secret, a lookback over one day and bad prefixes, naming each variable', () => {
    const bad = {
      ...REQUIRED,
      SKEIN_SLA_WEBHOOK_SECRET: 'short',
      SKEIN_SLA_LOOKBACK_MS: '86400001',
      SKEIN_TOPIC_PREFIX: 'team a',
      SKEIN_REDIS_KEY_PREFIX: 'skein:prod',
      SKEIN_ES_INDEX_PREFIX: 'Skein',
      SKEIN_SLA_GRACE_MS: '-5',
    };
    expect(problems(() => loadConfig(all, bad))).toEqual([
      'SKEIN_TOPIC_PREFIX: letters, digits, ".", "_" and "-" only',
      'SKEIN_ES_INDEX_PREFIX: lowercase letters, digits, "-" and "." only',
      'SKEIN_REDIS_KEY_PREFIX: letters, digits, ".", "_" and "-" only',
      'SKEIN_SLA_WEBHOOK_SECRET: must have at least 16 characters',
      'SKEIN_SLA_GRACE_MS: Number must be greater than or equal to 0',
      'SKEIN_SLA_LOOKBACK_MS: at most one day (86400000)',
    ]);
    expect(loadConfig(all, { ...REQUIRED, SKEIN_SLA_LOOKBACK_MS: '86400000', SKEIN_TOPIC_PREFIX: 'Team_A.ci-1' })).toMatchObject({ SKEIN_SLA_LOOKBACK_MS: 86_400_000, SKEIN_TOPIC_PREFIX: 'Team_A.ci-1' });
  });
});

describe('configProblems', () => {
  const schema = z.object({ SKEIN_A: env.port(1), SKEIN_B: z.string().min(1) });

  it('gives the ConfigError problems, the same lines its message lists', () => {
    const found = configProblems(() => loadConfig(schema, { SKEIN_A: 'x' }));
    expect(found).toEqual(['SKEIN_A: Expected number, received nan', 'SKEIN_B: Required']);
    try {
      loadConfig(schema, { SKEIN_A: 'x' });
    } catch (err) {
      expect((err as ConfigError).message).toBe(`invalid configuration:\n  ${found.join('\n  ')}`);
    }
  });

  it('fails when the configuration is accepted, and passes other errors through', () => {
    expect(() => configProblems(() => loadConfig(schema, { SKEIN_B: 'b' }))).toThrow('the configuration was accepted');
    expect(() =>
      configProblems(() => {
        throw new TypeError('boom');
      }),
    ).toThrow(TypeError);
  });
});
