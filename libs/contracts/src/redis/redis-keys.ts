import { MetricKey } from '@skein/domain';

/** DEFAULT_REDIS_KEY_PREFIX: the prefix of every Skein key in Redis. */
export const DEFAULT_REDIS_KEY_PREFIX = 'skein';

const part = (value: string) => encodeURIComponent(value);

/**
 * RedisKeys: the Redis key layout (documented in docs/architecture.md). Names are URI-encoded so a `:` in a
 * service or operation name cannot collide with the separator.
 */
export const RedisKeys = {
  /** minuteWindow: hash of one minute window: calls, errors, sumUs, maxUs, and `b<bucket>` histogram counts. */
  minuteWindow: (prefix: string, key: MetricKey, minute: number) => `${prefix}:mw:${part(key.service)}:${part(key.operation)}:${minute}`,
  /** services: set of service names that have windows. */
  services: (prefix: string) => `${prefix}:services`,
  /** operations: set of operation names of one service. */
  operations: (prefix: string, service: string) => `${prefix}:ops:${part(service)}`,
  /** checkpoints: hash stream → last applied bus offset (exactly-once minute counts). */
  checkpoints: (prefix: string) => `${prefix}:checkpoints`,
  /** slaState: JSON of one SLA rule's breach state. */
  slaState: (prefix: string, rule: string) => `${prefix}:sla:${part(rule)}`,
  /** policy: JSON `{"version":n,"rules":[…]}` of the sampling and switch policy, shared by every gateway. */
  policy: (prefix: string) => `${prefix}:policy`,
};
