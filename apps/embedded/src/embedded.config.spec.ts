import { configProblems } from '@skein/service-kit';
import { loadEmbeddedConfig } from './embedded.config';

describe('loadEmbeddedConfig', () => {
  it('needs no variable: 127.0.0.1:9480, no rules file and no secret (generated at start), documented defaults', () => {
    expect(loadEmbeddedConfig({})).toEqual({
      SKEIN_HTTP_HOST: '127.0.0.1',
      SKEIN_HTTP_PORT: 9480,
      SKEIN_LOG_LEVEL: 'info',
      SKEIN_MAX_BODY_BYTES: 8_388_608,
      SKEIN_MAX_DECOMPRESSED_BYTES: 67_108_864,
      SKEIN_MAX_SPANS_PER_BATCH: 10_000,
      SKEIN_MAX_NAME_LENGTH: 256,
      SKEIN_MAX_TAGS: 128,
      SKEIN_MAX_TAG_VALUE_LENGTH: 4096,
      SKEIN_MAX_EVENTS: 128,
      SKEIN_MAX_LINKS: 128,
      SKEIN_SLA_INTERVAL_MS: 10_000,
      SKEIN_SLA_GRACE_MS: 15_000,
      SKEIN_SLA_LOOKBACK_MS: 600_000,
      SKEIN_SLA_WEBHOOK_TIMEOUT_MS: 5_000,
      SKEIN_SLA_WEBHOOK_ATTEMPTS: 5,
      SKEIN_RATE_LIMIT_SPANS_PER_SECOND: 0,
      SKEIN_RATE_LIMIT_BURST: 0,
      SKEIN_POLICY_REFRESH_MS: 2_000,
      SKEIN_OTLP_HTTP_PORT: 4318,
      SKEIN_OTLP_GRPC_PORT: 4317,
      SKEIN_MAX_IN_FLIGHT_BYTES: 268_435_456,
      SKEIN_TRACE_IDLE_MS: 5000,
      SKEIN_MAX_OPEN_TRACES: 50000,
      SKEIN_MAX_SPANS_PER_TRACE: 10000,
      SKEIN_MAX_OPEN_SPANS: 500000,
      SKEIN_ASSEMBLER_PARTITIONS_CONCURRENTLY: 3,
      SKEIN_ASSEMBLER_FETCH_BYTES: 1048576,
      SKEIN_ASSEMBLER_PREFETCH_BATCHES: 1,
      SKEIN_ASSEMBLER_FETCH_MAX_WAIT_MS: 1000,
      SKEIN_RETENTION_DAYS: 7,
    });
  });

  it('treats empty variables as unset', () => {
    expect(loadEmbeddedConfig({ SKEIN_SLA_RULES_FILE: '', SKEIN_SLA_WEBHOOK_SECRET: '', SKEIN_HTTP_PORT: '' })).toEqual(loadEmbeddedConfig({}));
  });

  it('takes a rules file and a webhook secret when given', () => {
    expect(loadEmbeddedConfig({ SKEIN_SLA_RULES_FILE: 'deploy/local/sla-rules.example.yaml', SKEIN_SLA_WEBHOOK_SECRET: '0123456789abcdef', SKEIN_HTTP_PORT: '0' })).toMatchObject({
      SKEIN_SLA_RULES_FILE: 'deploy/local/sla-rules.example.yaml',
      SKEIN_SLA_WEBHOOK_SECRET: '0123456789abcdef',
      SKEIN_HTTP_PORT: 0,
    });
  });

  it('still validates what is set, naming each bad variable', () => {
    expect(configProblems(() => loadEmbeddedConfig({ SKEIN_SLA_WEBHOOK_SECRET: 'short', SKEIN_SLA_LOOKBACK_MS: '90000000', SKEIN_HTTP_PORT: 'http', SKEIN_LOG_LEVEL: 'loud' }))).toEqual([
      'SKEIN_HTTP_PORT: Expected number, received nan',
      "SKEIN_LOG_LEVEL: Invalid enum value. Expected 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent', received 'loud'",
      'SKEIN_SLA_WEBHOOK_SECRET: must have at least 16 characters',
      'SKEIN_SLA_LOOKBACK_MS: at most one day (86400000)',
    ]);
  });

  it('does not ask for Kafka, Elasticsearch or Redis', () => {
    expect(loadEmbeddedConfig({})).not.toHaveProperty('SKEIN_KAFKA_BROKERS');
    expect(loadEmbeddedConfig({})).not.toHaveProperty('SKEIN_ES_URL');
    expect(loadEmbeddedConfig({})).not.toHaveProperty('SKEIN_REDIS_URL');
  });
});
