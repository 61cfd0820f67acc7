import { configProblems } from '@skein/service-kit';
import { loadSlaCheckerConfig } from './sla-checker.config';

const MINIMAL = { SKEIN_REDIS_URL: 'redis://127.0.0.1:6379', SKEIN_SLA_RULES_FILE: '/etc/skein/sla-rules.yaml', SKEIN_SLA_WEBHOOK_SECRET: '0123456789abcdef' };

describe('loadSlaCheckerConfig', () => {
  it('with an empty environment, fails naming every required variable', () => {
    expect(configProblems(() => loadSlaCheckerConfig({}))).toEqual(['SKEIN_REDIS_URL: Required', 'SKEIN_SLA_RULES_FILE: Required', 'SKEIN_SLA_WEBHOOK_SECRET: Required']);
  });

  it('treats required variables set to an empty string as missing', () => {
    expect(configProblems(() => loadSlaCheckerConfig(Object.fromEntries(Object.keys(MINIMAL).map((key) => [key, '']))))).toEqual(['SKEIN_REDIS_URL: Required', 'SKEIN_SLA_RULES_FILE: Required', 'SKEIN_SLA_WEBHOOK_SECRET: Required']);
  });

  it('with the minimal environment, gives the documented defaults (port 9484)', () => {
    expect(loadSlaCheckerConfig(MINIMAL)).toEqual({
      SKEIN_HTTP_HOST: '0.0.0.0',
      SKEIN_LOG_LEVEL: 'info',
      SKEIN_HTTP_PORT: 9484,
      SKEIN_REDIS_URL: 'redis://127.0.0.1:6379',
      SKEIN_REDIS_KEY_PREFIX: 'skein',
      SKEIN_METRICS_TTL_SECONDS: 604_800,
      SKEIN_SLA_RULES_FILE: '/etc/skein/sla-rules.yaml',
      SKEIN_SLA_WEBHOOK_SECRET: '0123456789abcdef',
      SKEIN_SLA_INTERVAL_MS: 10_000,
      SKEIN_SLA_GRACE_MS: 15_000,
      SKEIN_SLA_LOOKBACK_MS: 600_000,
      SKEIN_SLA_WEBHOOK_TIMEOUT_MS: 5_000,
      SKEIN_SLA_WEBHOOK_ATTEMPTS: 5,
    });
  });

  it('takes the port and host from the environment', () => {
    expect(loadSlaCheckerConfig({ ...MINIMAL, SKEIN_HTTP_PORT: '0', SKEIN_HTTP_HOST: '127.0.0.1', SKEIN_LOG_LEVEL: 'warn' })).toMatchObject({ SKEIN_HTTP_PORT: 0, SKEIN_HTTP_HOST: '127.0.0.1', SKEIN_LOG_LEVEL: 'warn' });
  });

  it('names a bad variable', () => {
    expect(configProblems(() => loadSlaCheckerConfig({ ...MINIMAL, SKEIN_HTTP_PORT: '65536', SKEIN_SLA_WEBHOOK_SECRET: 'too-short' }))).toEqual(['SKEIN_HTTP_PORT: Number must be less than or equal to 65535', 'SKEIN_SLA_WEBHOOK_SECRET: must have at least 16 characters']);
  });
});
