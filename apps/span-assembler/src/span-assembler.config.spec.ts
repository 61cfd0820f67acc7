import { configProblems } from '@skein/service-kit';
import { loadSpanAssemblerConfig } from './span-assembler.config';

const MINIMAL = { SKEIN_KAFKA_BROKERS: '127.0.0.1:9092', SKEIN_ES_URL: 'http://127.0.0.1:9200' };

describe('loadSpanAssemblerConfig', () => {
  it('with an empty environment, fails naming every required variable', () => {
    expect(configProblems(() => loadSpanAssemblerConfig({}))).toEqual(['SKEIN_KAFKA_BROKERS: Required', 'SKEIN_ES_URL: Required']);
  });

  it('treats required variables set to an empty string as missing', () => {
    expect(configProblems(() => loadSpanAssemblerConfig(Object.fromEntries(Object.keys(MINIMAL).map((key) => [key, '']))))).toEqual(['SKEIN_KAFKA_BROKERS: Required', 'SKEIN_ES_URL: Required']);
  });

  it('with the minimal environment, gives the documented defaults (port 9482)', () => {
    expect(loadSpanAssemblerConfig(MINIMAL)).toEqual({
      SKEIN_HTTP_HOST: '0.0.0.0',
      SKEIN_LOG_LEVEL: 'info',
      SKEIN_HTTP_PORT: 9482,
      SKEIN_KAFKA_BROKERS: ['127.0.0.1:9092'],
      SKEIN_KAFKA_CLIENT_ID: 'skein',
      SKEIN_TOPIC_PREFIX: '',
      SKEIN_SPANS_PARTITIONS: 6,
      SKEIN_ES_URL: 'http://127.0.0.1:9200',
      SKEIN_ES_INDEX_PREFIX: 'skein',
      SKEIN_TRACE_IDLE_MS: 5000,
      SKEIN_MAX_OPEN_TRACES: 50000,
      SKEIN_MAX_SPANS_PER_TRACE: 10000,
      SKEIN_MAX_OPEN_SPANS: 500000,
      SKEIN_ASSEMBLER_PARTITIONS_CONCURRENTLY: 3,
      SKEIN_ASSEMBLER_FETCH_BYTES: 1048576,
      SKEIN_ASSEMBLER_PREFETCH_BATCHES: 1,
      SKEIN_ASSEMBLER_FETCH_MIN_BYTES: 1048576,
      SKEIN_ASSEMBLER_FETCH_MAX_WAIT_MS: 1000,
      SKEIN_RETENTION_DAYS: 7,
    });
  });

  it('takes the port and host from the environment', () => {
    expect(loadSpanAssemblerConfig({ ...MINIMAL, SKEIN_HTTP_PORT: '0', SKEIN_HTTP_HOST: '127.0.0.1', SKEIN_LOG_LEVEL: 'warn' })).toMatchObject({ SKEIN_HTTP_PORT: 0, SKEIN_HTTP_HOST: '127.0.0.1', SKEIN_LOG_LEVEL: 'warn' });
  });

  it('names a bad variable', () => {
    expect(configProblems(() => loadSpanAssemblerConfig({ ...MINIMAL, SKEIN_HTTP_PORT: '65536', SKEIN_ES_INDEX_PREFIX: 'Skein_Prod' }))).toEqual(['SKEIN_HTTP_PORT: Number must be less than or equal to 65535', 'SKEIN_ES_INDEX_PREFIX: lowercase letters, digits, "-" and "." only']);
  });

  it('refuses a fetch minimum above the per-partition fetch size, naming both variables', () => {
    expect(configProblems(() => loadSpanAssemblerConfig({ ...MINIMAL, SKEIN_ASSEMBLER_FETCH_BYTES: '1048576', SKEIN_ASSEMBLER_FETCH_MIN_BYTES: '1048577' }))).toEqual([
      "SKEIN_ASSEMBLER_FETCH_MIN_BYTES: must not exceed SKEIN_ASSEMBLER_FETCH_BYTES (1048576), got 1048577: one partition's full batch must be enough to answer a fetch",
    ]);
    expect(loadSpanAssemblerConfig({ ...MINIMAL, SKEIN_ASSEMBLER_FETCH_BYTES: '1048576', SKEIN_ASSEMBLER_FETCH_MIN_BYTES: '1048576' })).toMatchObject({ SKEIN_ASSEMBLER_FETCH_MIN_BYTES: 1048576 });
    // Unset, the minimum follows a smaller fetch size instead of refusing it.
    expect(loadSpanAssemblerConfig({ ...MINIMAL, SKEIN_ASSEMBLER_FETCH_BYTES: '262144' })).toMatchObject({ SKEIN_ASSEMBLER_FETCH_BYTES: 262144, SKEIN_ASSEMBLER_FETCH_MIN_BYTES: 262144 });
    expect(loadSpanAssemblerConfig({ ...MINIMAL, SKEIN_ASSEMBLER_FETCH_MIN_BYTES: '1' })).toMatchObject({ SKEIN_ASSEMBLER_FETCH_MIN_BYTES: 1 });
  });
});
