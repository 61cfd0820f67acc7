import { DEFAULT_REDIS_KEY_PREFIX, RedisKeys } from './redis-keys';

const MINUTE = Date.UTC(2026, 10, 21, 12, 30);

describe('RedisKeys', () => {
  it('uses the skein prefix by default', () => {
    expect(DEFAULT_REDIS_KEY_PREFIX).toBe('skein');
  });

  it('lays out every key as documented', () => {
    expect(RedisKeys.minuteWindow('skein', { service: 'order-service', operation: 'charge' }, MINUTE)).toBe(`skein:mw:order-service:charge:${MINUTE}`);
    expect(RedisKeys.services('skein')).toBe('skein:services');
    expect(RedisKeys.operations('skein', 'order-service')).toBe('skein:ops:order-service');
    expect(RedisKeys.checkpoints('skein')).toBe('skein:checkpoints');
    expect(RedisKeys.slaState('skein', 'orders-latency')).toBe('skein:sla:orders-latency');
  });

  it('encodes ":" in names so it cannot be taken for the separator', () => {
    expect(RedisKeys.minuteWindow('skein', { service: 'grpc:orders', operation: 'svc:Create' }, MINUTE)).toBe(`skein:mw:grpc%3Aorders:svc%3ACreate:${MINUTE}`);
    expect(RedisKeys.operations('skein', 'a:b')).toBe('skein:ops:a%3Ab');
    expect(RedisKeys.slaState('skein', 'rule:1')).toBe('skein:sla:rule%3A1');
  });

  it('keeps different (service, operation) pairs apart even when they join to the same text', () => {
    const minute = MINUTE;
    const a = RedisKeys.minuteWindow('skein', { service: 'a:b', operation: 'c' }, minute);
    const b = RedisKeys.minuteWindow('skein', { service: 'a', operation: 'b:c' }, minute);
    expect(a).not.toBe(b);
    expect(a.split(':')).toHaveLength(5);
    expect(b.split(':')).toHaveLength(5);
  });

  it('URI-encodes spaces, slashes, percent signs and non-ASCII names', () => {
    expect(RedisKeys.minuteWindow('skein', { service: 'café', operation: 'GET /orders/{id} 100%' }, MINUTE)).toBe(
      `skein:mw:caf%C3%A9:GET%20%2Forders%2F%7Bid%7D%20100%25:${MINUTE}`,
    );
    expect(decodeURIComponent('caf%C3%A9')).toBe('café');
  });

  it('uses the prefix as given (a per-test or per-deployment namespace)', () => {
    expect(RedisKeys.services('it-7f3a')).toBe('it-7f3a:services');
    expect(RedisKeys.minuteWindow('tenant:eu', { service: 's', operation: 'o' }, 0)).toBe('tenant:eu:mw:s:o:0');
  });
});
