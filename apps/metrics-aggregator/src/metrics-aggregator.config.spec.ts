import { configProblems } from '@skein/service-kit';
import { loadMetricsAggregatorConfig } from './metrics-aggregator.config';

const MINIMAL = { SKEIN_KAFKA_BROKERS: '127.0.0.1:9092', SKEIN_REDIS_URL: 'redis://127.0.0.1:6379' };

describe('loadMetricsAggregatorConfig', () => {
  it('with an empty environment, fails naming every required variable', () => {
    expect(configProblems(() => loadMetricsAggregatorConfig({}))).toEqual(['SKEIN_KAFKA_BROKERS: Required', 'SKEIN_REDIS_URL: Required']);
  });

  it('treats required variables set to an empty string as missing', () => {
    expect(configProblems(() => loadMetricsAggregatorConfig(Object.fromEntries(Object.keys(MINIMAL).map((key) => [key, '']))))).toEqual(['SKEIN_KAFKA_BROKERS: Required', 'SKEIN_REDIS_URL: Required']);
  });

  it('with the minimal environment, gives the documented defaults (port 9483)', () => {
    expect(loadMetricsAggregatorConfig(MINIMAL)).toEqual({
      SKEIN_HTTP_HOST: '0.0.0.0',
      SKEIN_LOG_LEVEL: 'info',
      SKEIN_HTTP_PORT: 9483,
      SKEIN_KAFKA_BROKERS: ['127.0.0.1:9092'],
      SKEIN_KAFKA_CLIENT_ID: 'skein',
      SKEIN_TOPIC_PREFIX: '',
      SKEIN_SPANS_PARTITIONS: 6,
      SKEIN_REDIS_URL: 'redis://127.0.0.1:6379',
      SKEIN_REDIS_KEY_PREFIX: 'skein',
      SKEIN_METRICS_TTL_SECONDS: 604_800,
    });
  });

  it('takes the port and host from the environment', () => {
    expect(loadMetricsAggregatorConfig({ ...MINIMAL, SKEIN_HTTP_PORT: '0', SKEIN_HTTP_HOST: '127.0.0.1', SKEIN_LOG_LEVEL: 'warn' })).toMatchObject({ SKEIN_HTTP_PORT: 0, SKEIN_HTTP_HOST: '127.0.0.1', SKEIN_LOG_LEVEL: 'warn' });
  });

  it('names a bad variable', () => {
    expect(configProblems(() => loadMetricsAggregatorConfig({ ...MINIMAL, SKEIN_HTTP_PORT: '65536', SKEIN_METRICS_TTL_SECONDS: '7d' }))).toEqual(['SKEIN_HTTP_PORT: Number must be less than or equal to 65535', 'SKEIN_METRICS_TTL_SECONDS: Expected number, received nan']);
  });
});
