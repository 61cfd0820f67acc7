import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** APP_NAME_PATTERN: an application name: lowercase letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export const APP_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

/** API_KEY_MIN_LENGTH: the shortest accepted API key, characters (16). */
export const API_KEY_MIN_LENGTH = 16;

/**
 * API_KEY_PATTERN: the characters a key may use: RFC 6750 `b64token` (letters, digits, `-._~+/`, trailing `=`), so
 * any configured key can be sent as `Authorization: Bearer <key>` and as gRPC metadata unchanged.
 */
export const API_KEY_PATTERN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** ApiKeyEntry: one configured key of one application, in clear (only while parsing configuration). */
export interface ApiKeyEntry {
  app: string;
  key: string;
}

/** AuthFailureReason: why a request is not authenticated: no credentials, not `Bearer <key>`, or no such key. */
export type AuthFailureReason = 'missing' | 'malformed' | 'unknown';

/** AuthResult: the application a request authenticates as, or why it does not (every failure is a 401 / UNAUTHENTICATED). */
export type AuthResult = { ok: true; app: string } | { ok: false; reason: AuthFailureReason };

/** ApiKeyConfigError: the API key configuration is invalid; the message names the entry (by position and app, never the key). */
export class ApiKeyConfigError extends Error {
  override readonly name = 'ApiKeyConfigError';
}

/**
 * parseApiKeys: parses `app1:key1,app2:key2`. Whitespace around entries is ignored and so are empty entries (a
 * trailing comma). An application may have several keys (key rotation); one key may not belong to two
 * applications. Throws ApiKeyConfigError naming the entry; the key itself never appears in a message, since
 * configuration errors end up in logs.
 */
export function parseApiKeys(config: string): ApiKeyEntry[] {
  const entries: ApiKeyEntry[] = [];
  const owner = new Map<string, string>();
  config.split(',').forEach((raw, index) => {
    const text = raw.trim();
    if (text === '') return;
    const at = `API key entry ${index + 1}`;
    const colon = text.indexOf(':');
    if (colon < 0) throw new ApiKeyConfigError(`${at}: expected "app:key", found no ":"`);
    const app = text.slice(0, colon).trim();
    const key = text.slice(colon + 1).trim();
    if (!APP_NAME_PATTERN.test(app)) {
      throw new ApiKeyConfigError(`${at}: app name ${JSON.stringify(app)} must match ${APP_NAME_PATTERN.source}`);
    }
    const named = `${at} (app ${app})`;
    if (key.length < API_KEY_MIN_LENGTH) throw new ApiKeyConfigError(`${named}: key must be at least ${API_KEY_MIN_LENGTH} characters, got ${key.length}`);
    if (!API_KEY_PATTERN.test(key)) throw new ApiKeyConfigError(`${named}: key may contain only letters, digits and -._~+/ (then = padding)`);
    const previous = owner.get(key);
    if (previous !== undefined && previous !== app) throw new ApiKeyConfigError(`${named}: key is already the key of app ${previous}`);
    if (previous === undefined) {
      owner.set(key, app);
      entries.push({ app, key });
    }
  });
  return entries;
}

/** hashApiKey: SHA-256 of the key's UTF-8 bytes: the only form in which ApiKeyRegistry keeps a key. */
export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

// `Bearer` is case-insensitive (RFC 7235 auth-scheme); exactly one credential token follows.
const BEARER = /^bearer +(\S+) *$/i;

/**
 * ApiKeyRegistry: the configured applications and the SHA-256 hashes of their keys. authenticate() compares the
 * presented key's hash with every stored hash using timingSafeEqual and never stops at the first match, so the
 * time taken does not reveal which key, or how much of one, matched.
 */
export class ApiKeyRegistry {
  private readonly keys: ReadonlyArray<{ app: string; hash: Buffer }>;

  constructor(entries: readonly ApiKeyEntry[]) {
    this.keys = entries.map(({ app, key }) => ({ app, hash: hashApiKey(key) }));
  }

  /** fromConfig: a registry from `app1:key1,app2:key2` (see parseApiKeys); throws ApiKeyConfigError when no key is configured. */
  static fromConfig(config: string): ApiKeyRegistry {
    const entries = parseApiKeys(config);
    // An empty registry would turn every request away with 401; better to refuse to start.
    if (entries.length === 0) throw new ApiKeyConfigError('no API key configured: expected "app1:key1,app2:key2"');
    return new ApiKeyRegistry(entries);
  }

  /** apps: the configured application names, sorted, each once. */
  get apps(): string[] {
    return [...new Set(this.keys.map((k) => k.app))].sort();
  }

  /**
   * authenticate: checks an `Authorization` header value (HTTP, or the `authorization` gRPC metadata entry):
   * `missing` when absent or blank, `malformed` when not `Bearer <key>`, `unknown` when no application has the key.
   */
  authenticate(authorizationHeader: string | undefined): AuthResult {
    if (authorizationHeader === undefined || authorizationHeader.trim() === '') return { ok: false, reason: 'missing' };
    const match = BEARER.exec(authorizationHeader.trim());
    if (match === null) return { ok: false, reason: 'malformed' };
    return this.authenticateKey(match[1] as string);
  }

  /** authenticateKey: checks a bare key (e.g. from a dedicated header); `missing` when empty, `unknown` when no application has it. */
  authenticateKey(key: string | undefined): AuthResult {
    if (key === undefined || key === '') return { ok: false, reason: 'missing' };
    const presented = hashApiKey(key);
    let app: string | undefined;
    // Every stored hash is compared, even after a match: the work done is the same for every presented key.
    for (const entry of this.keys) {
      if (timingSafeEqual(presented, entry.hash) && app === undefined) app = entry.app;
    }
    return app === undefined ? { ok: false, reason: 'unknown' } : { ok: true, app };
  }
}

/**
 * generateApiKey: a new random key: `sk_` and 32 base64url characters (192 bits from the CSPRNG), e.g. for the
 * embedded mode, which prints it at start.
 */
export function generateApiKey(): string {
  return `sk_${randomBytes(24).toString('base64url')}`;
}
