import { BatchLimits } from '@skein/domain';
import { z } from 'zod';
import { env } from './config';

/**
 * Config shapes shared by the apps: each key is an environment variable, each default is stated once here.
 * docs/configuration.md lists them all with units and defaults.
 */

/** httpShape: SKEIN_HTTP_HOST (default 0.0.0.0), SKEIN_LOG_LEVEL (default info). The port is per app. */
export const httpShape = {
  SKEIN_HTTP_HOST: z.string().min(1).default('0.0.0.0'),
  SKEIN_LOG_LEVEL: env.logLevel(),
};

/** kafkaShape: brokers (required, comma-separated host:port), client id, and the topic/group name prefix. */
export const kafkaShape = {
  SKEIN_KAFKA_BROKERS: env.list(),
  SKEIN_KAFKA_CLIENT_ID: z.string().min(1).default('skein'),
  /** SKEIN_TOPIC_PREFIX: prepended to topic and consumer-group names (`<prefix>.skein.spans.v1`); default none. */
  SKEIN_TOPIC_PREFIX: z.string().regex(/^[a-zA-Z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only').default(''),
  /** SKEIN_SPANS_PARTITIONS: partitions of the spans topic when Skein creates it; default 6. */
  SKEIN_SPANS_PARTITIONS: env.positiveInt(6),
};

/** elasticsearchShape: URL (required) and the index/template name prefix (default `skein`). */
export const elasticsearchShape = {
  SKEIN_ES_URL: env.url(),
  SKEIN_ES_INDEX_PREFIX: env.prefix('skein'),
};

/** assemblyShape: trace assembly (span-assembler, embedded): idle period, memory bounds, retention. */
export const assemblyShape = {
  /** SKEIN_TRACE_IDLE_MS: a trace is summarised once no span of it arrived for this long, milliseconds; default 5000. */
  SKEIN_TRACE_IDLE_MS: env.positiveInt(5_000),
  /** SKEIN_MAX_OPEN_TRACES: most traces held in memory awaiting their summary; consuming pauses beyond it; default 50000. */
  SKEIN_MAX_OPEN_TRACES: env.positiveInt(50_000),
  /** SKEIN_MAX_SPANS_PER_TRACE: most spans of one trace held for its summary; more are stored, the summary is marked truncated; default 10000. */
  SKEIN_MAX_SPANS_PER_TRACE: env.positiveInt(10_000),
  /** SKEIN_MAX_OPEN_SPANS: most spans held in memory over all open traces (the assembler's memory bound); consuming pauses beyond it; default 500000. */
  SKEIN_MAX_OPEN_SPANS: env.positiveInt(500_000),
  /** SKEIN_ASSEMBLER_PARTITIONS_CONCURRENTLY: partitions whose batches span-assembler stores at once (overlapping Elasticsearch bulks); default 3. */
  SKEIN_ASSEMBLER_PARTITIONS_CONCURRENTLY: env.positiveInt(3),
  /** SKEIN_ASSEMBLER_FETCH_BYTES: most compressed bytes fetched per partition at once (the largest batch and span bulk), default 1048576 (1 MiB). */
  SKEIN_ASSEMBLER_FETCH_BYTES: env.positiveInt(1024 * 1024),
  /** SKEIN_ASSEMBLER_PREFETCH_BATCHES: batches per partition fetched and queued while one is stored (the next fetch overlaps the store's round trips); 0 fetches only after a whole fetch is stored; default 1. */
  SKEIN_ASSEMBLER_PREFETCH_BATCHES: env.nonNegativeInt(1),
  /** SKEIN_ASSEMBLER_FETCH_MIN_BYTES: least compressed bytes a fetch waits for (over all partitions), up to SKEIN_ASSEMBLER_FETCH_MAX_WAIT_MS, so a steady stream is stored in fewer, larger bulks; at most SKEIN_ASSEMBLER_FETCH_BYTES; unset = SKEIN_ASSEMBLER_FETCH_BYTES. */
  SKEIN_ASSEMBLER_FETCH_MIN_BYTES: z.coerce.number().int().min(1).optional(),
  /** SKEIN_ASSEMBLER_FETCH_MAX_WAIT_MS: longest a fetch waits for SKEIN_ASSEMBLER_FETCH_MIN_BYTES (adds at most this to the time to searchable), default 1000 ms. */
  SKEIN_ASSEMBLER_FETCH_MAX_WAIT_MS: env.positiveInt(1000),
  /** SKEIN_RETENTION_DAYS: whole UTC days of traces kept before today; older daily indices are deleted hourly; 0 keeps everything; default 7. */
  SKEIN_RETENTION_DAYS: env.nonNegativeInt(7),
};

/** redisShape: URL (required), key prefix (default `skein`) and minute-window TTL in seconds (default 7 days). */
export const redisShape = {
  SKEIN_REDIS_URL: env.url(),
  SKEIN_REDIS_KEY_PREFIX: z.string().regex(/^[a-zA-Z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only').default('skein'),
  SKEIN_METRICS_TTL_SECONDS: env.positiveInt(7 * 24 * 3600),
};

/** ingestShape: request limits of the ingest endpoint. */
export const ingestShape = {
  /** SKEIN_MAX_BODY_BYTES: largest compressed request body, bytes; default 8 MiB. */
  SKEIN_MAX_BODY_BYTES: env.positiveInt(8 * 1024 * 1024),
  /** SKEIN_MAX_DECOMPRESSED_BYTES: largest body after decompression, bytes; default 64 MiB. */
  SKEIN_MAX_DECOMPRESSED_BYTES: env.positiveInt(64 * 1024 * 1024),
  /** SKEIN_MAX_SPANS_PER_BATCH: most spans in one request; default 10000. */
  SKEIN_MAX_SPANS_PER_BATCH: env.positiveInt(10_000),
  /** SKEIN_MAX_NAME_LENGTH: longest service, operation or tag key, characters; default 256. */
  SKEIN_MAX_NAME_LENGTH: env.positiveInt(256),
  /** SKEIN_MAX_TAGS: most tags (attributes) on one span; default 128. */
  SKEIN_MAX_TAGS: env.positiveInt(128),
  /** SKEIN_MAX_TAG_VALUE_LENGTH: longest tag value, characters (event attributes: 8 times this); default 4096. */
  SKEIN_MAX_TAG_VALUE_LENGTH: env.positiveInt(4096),
  /** SKEIN_MAX_EVENTS / SKEIN_MAX_LINKS: most events / links on one span; default 128 each. */
  SKEIN_MAX_EVENTS: env.positiveInt(128),
  SKEIN_MAX_LINKS: env.positiveInt(128),
};

/** batchLimitsFromConfig: the BatchLimits an ingest endpoint enforces, from the ingestShape variables. */
export function batchLimitsFromConfig(config: {
  SKEIN_MAX_SPANS_PER_BATCH: number;
  SKEIN_MAX_DECOMPRESSED_BYTES: number;
  SKEIN_MAX_NAME_LENGTH: number;
  SKEIN_MAX_TAGS: number;
  SKEIN_MAX_TAG_VALUE_LENGTH: number;
  SKEIN_MAX_EVENTS: number;
  SKEIN_MAX_LINKS: number;
}): BatchLimits {
  return {
    maxSpansPerBatch: config.SKEIN_MAX_SPANS_PER_BATCH,
    maxDecompressedBytes: config.SKEIN_MAX_DECOMPRESSED_BYTES,
    maxNameLength: config.SKEIN_MAX_NAME_LENGTH,
    maxTags: config.SKEIN_MAX_TAGS,
    maxTagValueLength: config.SKEIN_MAX_TAG_VALUE_LENGTH,
    maxEvents: config.SKEIN_MAX_EVENTS,
    maxLinks: config.SKEIN_MAX_LINKS,
  };
}

/** slaShape: rules file, webhook signing and timing of the SLA checker (times in ms). */
export const slaShape = {
  /** SKEIN_SLA_RULES_FILE: path of the YAML rules file (required). */
  SKEIN_SLA_RULES_FILE: z.string().min(1),
  /** SKEIN_SLA_WEBHOOK_SECRET: HMAC-SHA256 key signing every alert (required, >= 16 characters). */
  SKEIN_SLA_WEBHOOK_SECRET: z.string().min(16, 'must have at least 16 characters'),
  SKEIN_SLA_INTERVAL_MS: env.positiveInt(10_000),
  SKEIN_SLA_GRACE_MS: env.nonNegativeInt(15_000),
  /** SKEIN_SLA_LOOKBACK_MS: how far back evaluation starts for a new or stale rule, ms; default 10 min, at most 1 day. */
  SKEIN_SLA_LOOKBACK_MS: env.positiveInt(10 * 60_000).pipe(z.number().max(24 * 3_600_000, 'at most one day (86400000)')),
  SKEIN_SLA_WEBHOOK_TIMEOUT_MS: env.positiveInt(5_000),
  SKEIN_SLA_WEBHOOK_ATTEMPTS: env.positiveInt(5),
};

/** gatewayShape: identity, rate limits, policy and OTLP port of the ingest gateway. */
export const gatewayShape = {
  /** SKEIN_API_KEYS: `app1:key1,app2:key2` — per-application API keys (each >= 16 characters); required. */
  SKEIN_API_KEYS: z.string().min(1),
  /** SKEIN_ADMIN_TOKEN: bearer token of the policy admin API (>= 16 characters); required. */
  SKEIN_ADMIN_TOKEN: z.string().min(16, 'must have at least 16 characters'),
  /** SKEIN_RATE_LIMIT_SPANS_PER_SECOND: per-application limit on this instance, spans/s; 0 = no limit (default). */
  SKEIN_RATE_LIMIT_SPANS_PER_SECOND: env.nonNegativeInt(0),
  /** SKEIN_RATE_LIMIT_BURST: bucket size, spans; default = one second of the rate. */
  SKEIN_RATE_LIMIT_BURST: env.nonNegativeInt(0),
  /** SKEIN_POLICY_REFRESH_MS: how often the sampling policy is re-read from Redis, ms; default 2000. */
  SKEIN_POLICY_REFRESH_MS: env.positiveInt(2_000),
  /** SKEIN_OTLP_HTTP_PORT: second port serving OTLP/HTTP (and every other route); default 4318. */
  SKEIN_OTLP_HTTP_PORT: env.port(4318),
  /** SKEIN_OTLP_GRPC_PORT: OTLP/gRPC TraceService port; default 4317. */
  SKEIN_OTLP_GRPC_PORT: env.port(4317),
  /** SKEIN_MAX_IN_FLIGHT_BYTES: bytes waiting for Kafka at once before requests get 503; default 256 MiB. */
  SKEIN_MAX_IN_FLIGHT_BYTES: env.positiveInt(256 * 1024 * 1024),
};
