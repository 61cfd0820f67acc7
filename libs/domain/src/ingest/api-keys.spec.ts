import { inspect } from 'node:util';
import * as crypto from 'node:crypto';
import { API_KEY_MIN_LENGTH, ApiKeyConfigError, ApiKeyRegistry, generateApiKey, hashApiKey, parseApiKeys } from './api-keys';

// Wrap timingSafeEqual so the tests can count comparisons; behaviour is the real one.
jest.mock('node:crypto', () => {
  const actual = jest.requireActual<typeof import('node:crypto')>('node:crypto');
  return { ...actual, timingSafeEqual: jest.fn(actual.timingSafeEqual) };
});
const timingSafeEqual = crypto.timingSafeEqual as jest.MockedFunction<typeof crypto.timingSafeEqual>;

const SHOP_KEY = 'shop-key-0123456789abcdef';
const BILLING_KEY = 'billing+key/0123456789==';
const BILLING_KEY_2 = 'billing-rotated-key-000000';
const CONFIG = `shop:${SHOP_KEY}, billing:${BILLING_KEY},billing:${BILLING_KEY_2},`;

function configError(config: string): ApiKeyConfigError {
  try {
    parseApiKeys(config);
  } catch (error) {
    if (error instanceof ApiKeyConfigError) return error;
    throw error;
  }
  throw new Error('expected an ApiKeyConfigError');
}

describe('parseApiKeys', () => {
  it('parses app:key entries, ignoring surrounding whitespace and empty entries', () => {
    expect(parseApiKeys(CONFIG)).toEqual([
      { app: 'shop', key: SHOP_KEY },
      { app: 'billing', key: BILLING_KEY },
      { app: 'billing', key: BILLING_KEY_2 },
    ]);
    expect(parseApiKeys('')).toEqual([]);
    expect(parseApiKeys(' , ')).toEqual([]);
  });

  it('accepts app names of lowercase letters, digits and . _ - (not leading)', () => {
    expect(parseApiKeys(`a.b_c-9:${SHOP_KEY}`)).toEqual([{ app: 'a.b_c-9', key: SHOP_KEY }]);
    expect(parseApiKeys(`0app:${SHOP_KEY}`)[0]?.app).toBe('0app');
  });

  it('keeps one entry for a key repeated for the same app', () => {
    expect(parseApiKeys(`shop:${SHOP_KEY},shop:${SHOP_KEY}`)).toEqual([{ app: 'shop', key: SHOP_KEY }]);
  });

  it.each([
    [`shop:${SHOP_KEY},billing`, /^API key entry 2: expected "app:key"/],
    [`Shop:${SHOP_KEY}`, /^API key entry 1: app name "Shop" must match/],
    [`-shop:${SHOP_KEY}`, /^API key entry 1: app name "-shop"/],
    [`:${SHOP_KEY}`, /^API key entry 1: app name ""/],
    [`shop:${SHOP_KEY},,billing:short`, /^API key entry 3 \(app billing\): key must be at least 16 characters, got 5/],
    ['shop:has spaces in the key!!', /^API key entry 1 \(app shop\): key may contain only/],
    ['shop:ünïcödé-key-0123456789', /^API key entry 1 \(app shop\): key may contain only/],
    [`shop:${SHOP_KEY},billing:${SHOP_KEY}`, /^API key entry 2 \(app billing\): key is already the key of app shop/],
  ])('rejects %j naming the entry', (config, message) => {
    expect(configError(config).message).toMatch(message);
  });

  it('never puts the key in an error message', () => {
    const secret = 'not a valid key but secret';
    expect(configError(`shop:${secret}`).message).not.toContain(secret);
    expect(configError(`shop:${SHOP_KEY},billing:${SHOP_KEY}`).message).not.toContain(SHOP_KEY);
    expect(configError('shop:secret12').message).not.toContain('secret12');
  });

  it(`requires keys of at least ${API_KEY_MIN_LENGTH} characters`, () => {
    expect(() => parseApiKeys(`shop:${'k'.repeat(API_KEY_MIN_LENGTH - 1)}`)).toThrow(ApiKeyConfigError);
    expect(parseApiKeys(`shop:${'k'.repeat(API_KEY_MIN_LENGTH)}`)).toHaveLength(1);
  });
});

describe('ApiKeyRegistry', () => {
  const registry = ApiKeyRegistry.fromConfig(CONFIG);

  beforeEach(() => timingSafeEqual.mockClear());

  it('lists its applications once each', () => {
    expect(registry.apps).toEqual(['billing', 'shop']);
  });

  it('refuses an empty configuration', () => {
    expect(() => ApiKeyRegistry.fromConfig(' ')).toThrow(/no API key configured/);
  });

  it('keeps only SHA-256 hashes, never the keys', () => {
    const dump = inspect(registry, { depth: 10, showHidden: true });
    for (const key of [SHOP_KEY, BILLING_KEY, BILLING_KEY_2]) expect(dump).not.toContain(key);
    expect(hashApiKey(SHOP_KEY).toString('hex')).toBe(crypto.createHash('sha256').update(SHOP_KEY).digest('hex'));
  });

  it('authenticates "Bearer <key>" as the key\'s application, every key of an application included', () => {
    expect(registry.authenticate(`Bearer ${SHOP_KEY}`)).toEqual({ ok: true, app: 'shop' });
    expect(registry.authenticate(`Bearer ${BILLING_KEY}`)).toEqual({ ok: true, app: 'billing' });
    expect(registry.authenticate(`Bearer ${BILLING_KEY_2}`)).toEqual({ ok: true, app: 'billing' });
  });

  it('accepts the scheme in any case and extra spaces', () => {
    expect(registry.authenticate(`bearer ${SHOP_KEY}`)).toEqual({ ok: true, app: 'shop' });
    expect(registry.authenticate(`BEARER   ${SHOP_KEY}  `)).toEqual({ ok: true, app: 'shop' });
  });

  it.each([undefined, '', '   '])('reports %j as missing', (header) => {
    expect(registry.authenticate(header)).toEqual({ ok: false, reason: 'missing' });
  });

  it.each([SHOP_KEY, `Basic ${SHOP_KEY}`, 'Bearer', 'Bearer ', `Bearer ${SHOP_KEY} extra`, `Bearer\t${SHOP_KEY}`, `Bearer:${SHOP_KEY}`])(
    'reports %j as malformed',
    (header) => {
      expect(registry.authenticate(header)).toEqual({ ok: false, reason: 'malformed' });
    },
  );

  it('reports a well-formed key that no application has as unknown (a prefix or case change of a key too)', () => {
    for (const key of ['unknown-key-0123456789', SHOP_KEY.slice(0, -1), SHOP_KEY.toUpperCase(), `${SHOP_KEY}x`]) {
      expect(registry.authenticate(`Bearer ${key}`)).toEqual({ ok: false, reason: 'unknown' });
    }
  });

  it('authenticateKey checks a bare key', () => {
    expect(registry.authenticateKey(SHOP_KEY)).toEqual({ ok: true, app: 'shop' });
    expect(registry.authenticateKey('')).toEqual({ ok: false, reason: 'missing' });
    expect(registry.authenticateKey(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(registry.authenticateKey('nope-nope-nope-nope')).toEqual({ ok: false, reason: 'unknown' });
  });

  it('compares the hash with every stored hash, in constant time, whichever key matches or none', () => {
    for (const header of [`Bearer ${SHOP_KEY}`, `Bearer ${BILLING_KEY_2}`, 'Bearer unknown-key-0123456789']) {
      timingSafeEqual.mockClear();
      registry.authenticate(header);
      expect(timingSafeEqual).toHaveBeenCalledTimes(3);
      // Equal-length digests: timingSafeEqual never throws on length, and never sees a clear key.
      for (const [a, b] of timingSafeEqual.mock.calls) {
        expect((a as Buffer).length).toBe(32);
        expect((b as Buffer).length).toBe(32);
      }
    }
  });

  it('does not compare at all for missing or malformed headers', () => {
    registry.authenticate(undefined);
    registry.authenticate('Basic abc');
    expect(timingSafeEqual).not.toHaveBeenCalled();
  });
});

describe('generateApiKey', () => {
  it('makes distinct keys that the configuration parser accepts', () => {
    const keys = new Set(Array.from({ length: 100 }, () => generateApiKey()));
    expect(keys.size).toBe(100);
    for (const key of keys) {
      expect(key).toMatch(/^sk_[A-Za-z0-9_-]{32}$/);
      expect(parseApiKeys(`embedded:${key}`)).toEqual([{ app: 'embedded', key }]);
    }
    const [key] = keys;
    expect(ApiKeyRegistry.fromConfig(`embedded:${key}`).authenticate(`Bearer ${key}`)).toEqual({ ok: true, app: 'embedded' });
  });
});
