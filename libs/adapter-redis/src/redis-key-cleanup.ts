// Client helpers shared by the Redis stores: key cleanup, ping, quit. Internal: not exported from the library index.
import type Redis from 'ioredis';

/** SCAN_PAGE_SIZE: the COUNT hint of each SCAN page, and so the size of each UNLINK batch. */
const SCAN_PAGE_SIZE = 500;

/**
 * escapeGlob: escapes the glob metacharacters of a literal, so a prefix such as `t[1]` matches only itself in a
 * SCAN MATCH pattern.
 */
function escapeGlob(literal: string): string {
  return literal.replace(/[\\*?[\]]/g, (ch) => `\\${ch}`);
}

/**
 * deleteKeysWithPrefix: deletes every key named `${prefix}:…` (SCAN + UNLINK, so it never blocks Redis like KEYS
 * would) and returns how many were deleted. For test cleanup; not atomic with concurrent writers.
 */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<number> {
  const pattern = `${escapeGlob(prefix)}:*`;
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_PAGE_SIZE);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** pingWithin: true when Redis answers PONG within `timeoutMs`; never throws. */
export async function pingWithin(redis: Redis, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([redis.ping().then((reply) => reply === 'PONG', () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** quit: closes a client gracefully, or drops it when the connection is already gone (QUIT would wait on it). */
export async function quit(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
