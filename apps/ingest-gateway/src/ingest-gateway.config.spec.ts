import { configProblems } from '@skein/service-kit';
import { loadIngestGatewayConfig } from './ingest-gateway.config';

const MINIMAL = { SKEIN_KAFKA_BROKERS: '127.0.0.1:9092', SKEIN_REDIS_URL: 'redis://127.0.0.1:6379', SKEIN_API_KEYS: 'shop:shop-key-0123456789', SKEIN_ADMIN_TOKEN: 'admin-token-0123456789' };

describe('loadIngestGatewayConfig', () => {
  it('with an empty environment, fails naming every required variable', () => {
    expect(configProblems(() => loadIngestGatewayConfig({}))).toEqual(['SKEIN_KAFKA_BROKERS: Required', 'SKEIN_REDIS_URL: Required', 'SKEIN_API_KEYS: Required', 'SKEIN_ADMIN_TOKEN: Required']);
  });

  it('treats required variables set to an empty string as missing', () => {
    expect(configProblems(() => loadIngestGatewayConfig(Object.fromEntries(Object.keys(MINIMAL).map((key) => [key, '']))))).toEqual(['SKEIN_KAFKA_BROKERS: Required', 'SKEIN_REDIS_URL: Required', 'SKEIN_API_KEYS: Required', 'SKEIN_ADMIN_TOKEN: Required']);
  });

  it('with the minimal environment, gives the documented defaults (port 9480)', () => {
    expect(loadIngestGatewayConfig(MINIMAL)).toEqual({
      SKEIN_HTTP_HOST: '0.0.0.0',
      SKEIN_LOG_LEVEL: 'info',
      SKEIN_HTTP_PORT: 9480,
      SKEIN_KAFKA_BROKERS: ['127.0.0.1:9092'],
      SKEIN_KAFKA_CLIENT_ID: 'skein',
      SKEIN_TOPIC_PREFIX: '',
      SKEIN_SPANS_PARTITIONS: 6,
      SKEIN_MAX_BODY_BYTES: 8_388_608,
      SKEIN_MAX_DECOMPRESSED_BYTES: 67_108_864,
      SKEIN_MAX_SPANS_PER_BATCH: 10_000,
      SKEIN_MAX_NAME_LENGTH: 256,
      SKEIN_MAX_TAGS: 128,
      SKEIN_MAX_TAG_VALUE_LENGTH: 4096,
      SKEIN_MAX_EVENTS: 128,
      SKEIN_MAX_LINKS: 128,
      SKEIN_REDIS_URL: 'redis://127.0.0.1:6379',
      SKEIN_REDIS_KEY_PREFIX: 'skein',
      SKEIN_METRICS_TTL_SECONDS: 604_800,
      SKEIN_API_KEYS: 'shop:shop-key-0123456789',
      SKEIN_ADMIN_TOKEN: 'admin-token-0123456789',
      SKEIN_RATE_LIMIT_SPANS_PER_SECOND: 0,
      SKEIN_RATE_LIMIT_BURST: 0,
      SKEIN_POLICY_REFRESH_MS: 2_000,
      SKEIN_OTLP_HTTP_PORT: 4318,
      SKEIN_OTLP_GRPC_PORT: 4317,
      SKEIN_MAX_IN_FLIGHT_BYTES: 268_435_456,
      SKEIN_INGEST_DECODE_WORKERS: 2,
    });
  });

  it('takes the decode worker count from the environment, 0 to 16', () => {
    expect(loadIngestGatewayConfig({ ...MINIMAL, SKEIN_INGEST_DECODE_WORKERS: '0' }).SKEIN_INGEST_DECODE_WORKERS).toBe(0);
    expect(() => loadIngestGatewayConfig({ ...MINIMAL, SKEIN_INGEST_DECODE_WORKERS: '17' })).toThrow(/SKEIN_INGEST_DECODE_WORKERS/);
  });

  it('takes the port and host from the environment', () => {
    expect(loadIngestGatewayConfig({ ...MINIMAL, SKEIN_HTTP_PORT: '0', SKEIN_HTTP_HOST: '127.0.0.1', SKEIN_LOG_LEVEL: 'warn' })).toMatchObject({ SKEIN_HTTP_PORT: 0, SKEIN_HTTP_HOST: '127.0.0.1', SKEIN_LOG_LEVEL: 'warn' });
  });

  it('names a bad variable', () => {
    expect(configProblems(() => loadIngestGatewayConfig({ ...MINIMAL, SKEIN_HTTP_PORT: '65536', SKEIN_MAX_SPANS_PER_BATCH: '0' }))).toEqual(['SKEIN_HTTP_PORT: Number must be less than or equal to 65535', 'SKEIN_MAX_SPANS_PER_BATCH: Number must be greater than or equal to 1']);
  });
});
