import { configProblems } from '@skein/service-kit';
import { loadQueryApiConfig } from './query-api.config';

const MINIMAL = { SKEIN_ES_URL: 'http://127.0.0.1:9200', SKEIN_REDIS_URL: 'redis://127.0.0.1:6379' };

describe('loadQueryApiConfig', () => {
  it('with an empty environment, fails naming every required variable', () => {
    expect(configProblems(() => loadQueryApiConfig({}))).toEqual(['SKEIN_ES_URL: Required', 'SKEIN_REDIS_URL: Required']);
  });

  it('treats required variables set to an empty string as missing', () => {
    expect(configProblems(() => loadQueryApiConfig(Object.fromEntries(Object.keys(MINIMAL).map((key) => [key, '']))))).toEqual(['SKEIN_ES_URL: Required', 'SKEIN_REDIS_URL: Required']);
  });

  it('with the minimal environment, gives the documented defaults (port 9481)', () => {
    expect(loadQueryApiConfig(MINIMAL)).toEqual({
      SKEIN_HTTP_HOST: '0.0.0.0',
      SKEIN_LOG_LEVEL: 'info',
      SKEIN_HTTP_PORT: 9481,
      SKEIN_ES_URL: 'http://127.0.0.1:9200',
      SKEIN_ES_INDEX_PREFIX: 'skein',
      SKEIN_REDIS_URL: 'redis://127.0.0.1:6379',
      SKEIN_REDIS_KEY_PREFIX: 'skein',
      SKEIN_METRICS_TTL_SECONDS: 604_800,
    });
  });

  it('takes the port and host from the environment', () => {
    expect(loadQueryApiConfig({ ...MINIMAL, SKEIN_HTTP_PORT: '0', SKEIN_HTTP_HOST: '127.0.0.1', SKEIN_LOG_LEVEL: 'warn' })).toMatchObject({ SKEIN_HTTP_PORT: 0, SKEIN_HTTP_HOST: '127.0.0.1', SKEIN_LOG_LEVEL: 'warn' });
  });

  it('names a bad variable', () => {
    expect(configProblems(() => loadQueryApiConfig({ ...MINIMAL, SKEIN_HTTP_PORT: '65536', SKEIN_ES_URL: 'localhost:9200' }))).toEqual(['SKEIN_HTTP_PORT: Number must be less than or equal to 65535', 'SKEIN_ES_URL: must be an http(s):// or redis(s):// URL']);
  });
});
