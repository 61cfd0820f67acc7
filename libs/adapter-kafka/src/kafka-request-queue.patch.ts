// kafka-request-queue.patch.ts: fixes kafkajs 2.2.4's busy timer loop in its per-connection request queue.

/**
 * KafkaRequestQueue: the part of kafkajs' internal RequestQueue (`kafkajs/src/network/requestQueue`, one per
 * broker connection) that the patch touches.
 */
interface KafkaRequestQueue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** PENDING_CHECK_INTERVAL_MS: how often queued requests are looked at while the in-flight limit holds them, ms (kafkajs' own value, 10). */
const PENDING_CHECK_INTERVAL_MS = 10;

/** KAFKAJS_VERSION_PATCHED: the kafkajs version whose request queue the patch was written against (package.json pins it). */
export const KAFKAJS_VERSION_PATCHED = '2.2.4';

/**
 * scheduleOnlyWhenPending: the replacement of RequestQueue#scheduleCheckPendingRequests. kafkajs 2.2.4 arms a
 * timer even with nothing queued, and with no throttle its delay is negative (1 ms), so every connection re-checks
 * an empty queue about 1,000 times a second for as long as it is open (kafkajs issues #1556, #1704). Nothing
 * needs the check then: a request that cannot be sent at once is queued by `push`, which schedules a check, and
 * every answer or timeout checks the queue again.
 */
function scheduleOnlyWhenPending(this: KafkaRequestQueue): void {
  if (this.throttleCheckTimeoutId !== null || this.pending.length === 0) return;
  const untilUnthrottled = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    untilUnthrottled > 0 ? untilUnthrottled : PENDING_CHECK_INTERVAL_MS,
  );
}

/**
 * patchKafkaRequestQueue: installs {@link scheduleOnlyWhenPending} on kafkajs' RequestQueue, once per process
 * (idempotent; KafkaMessageBus calls it in its constructor). It refuses, naming the version found, when kafkajs is
 * not the pinned {@link KAFKAJS_VERSION_PATCHED}: an upgrade must be checked against the original method first.
 * Returns the patched class's prototype, so a test can exercise it.
 */
export function patchKafkaRequestQueue(): KafkaRequestQueue {
  // The queue is internal to kafkajs and has no types. A plain require (not createRequire) resolves to the file
  // kafkajs itself loads and goes through the same module registry (Node's, or jest's in tests).
  const version = (require('kafkajs/package.json') as { version: string }).version;
  if (version !== KAFKAJS_VERSION_PATCHED) {
    throw new Error(`kafkajs ${version} is installed, but its request-queue patch (kafka-request-queue.patch.ts) was written for ${KAFKAJS_VERSION_PATCHED}: check the patch against the new version`);
  }
  const prototype = (require('kafkajs/src/network/requestQueue') as { prototype: KafkaRequestQueue }).prototype;
  prototype.scheduleCheckPendingRequests = scheduleOnlyWhenPending;
  return prototype;
}
