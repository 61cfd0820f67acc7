import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MemoryMessageBus, MemoryMetricStore, MemoryPolicyStore, MemorySlaStateStore, MemoryTraceStore } from '@skein/adapter-memory';
import { CONSUMER_GROUPS, DEAD_LETTER_TOPIC, SPANS_TOPIC, deadLetterTopicSpec, spansTopicSpec } from '@skein/contracts';
import { ApiKeyRegistry, PolicyCache, TokenBucketRateLimiter, generateApiKey } from '@skein/domain';
import { SpanAssemblerModule } from '@skein/feature-assembler';
import { IngestModule } from '@skein/feature-ingest';
import { MetricsAggregatorModule } from '@skein/feature-metrics';
import { QueryModule } from '@skein/feature-query';
import { SlaCheckerModule, parseSlaRules } from '@skein/feature-sla';
import { batchLimitsFromConfig, createLogger, createMetricsRegistry, exitOnStartupError, startService } from '@skein/service-kit';
import { loadEmbeddedConfig } from './embedded.config';

/**
 * Skein embedded: the whole pipeline — ingest, span assembly, minute metrics, SLA checks and the query API —
 * in one process on in-memory adapters. For trying Skein and for development; data is lost on exit.
 */
async function main(): Promise<void> {
  const config = loadEmbeddedConfig();
  const logger = createLogger('skein-embedded', config.SKEIN_LOG_LEVEL);
  const registry = createMetricsRegistry();
  const bus = new MemoryMessageBus();
  const traces = new MemoryTraceStore();
  const metrics = new MemoryMetricStore();
  const states = new MemorySlaStateStore();
  await bus.ensureTopics([spansTopicSpec(SPANS_TOPIC, 3), deadLetterTopicSpec(DEAD_LETTER_TOPIC, 3)]);
  const rules = config.SKEIN_SLA_RULES_FILE ? parseSlaRules(readFileSync(config.SKEIN_SLA_RULES_FILE, 'utf8'), config.SKEIN_SLA_RULES_FILE) : [];
  const webhookSecret = config.SKEIN_SLA_WEBHOOK_SECRET ?? randomBytes(24).toString('hex');
  const generatedKey = config.SKEIN_API_KEYS === undefined ? generateApiKey() : undefined;
  const apiKeys = ApiKeyRegistry.fromConfig(config.SKEIN_API_KEYS ?? `embedded:${generatedKey}`);
  const adminToken = config.SKEIN_ADMIN_TOKEN ?? randomBytes(24).toString('hex');
  const policyStore = new MemoryPolicyStore();
  const policyCache = new PolicyCache(policyStore, { refreshMs: config.SKEIN_POLICY_REFRESH_MS });
  const rate = config.SKEIN_RATE_LIMIT_SPANS_PER_SECOND;
  const rateLimiter = rate > 0 ? new TokenBucketRateLimiter({ defaultLimit: { spansPerSecond: rate, burst: config.SKEIN_RATE_LIMIT_BURST || undefined } }) : undefined;
  const url = await startService({
    name: 'skein-embedded',
    logger,
    registry,
    host: config.SKEIN_HTTP_HOST,
    port: config.SKEIN_HTTP_PORT,
    extraPorts: [config.SKEIN_OTLP_HTTP_PORT],
    readiness: [],
    modules: [
      IngestModule.register({
        bus,
        spansTopic: SPANS_TOPIC,
        registry,
        apiKeys,
        rateLimiter,
        maxInFlightBytes: config.SKEIN_MAX_IN_FLIGHT_BYTES,
        otlpGrpc: { host: config.SKEIN_HTTP_HOST, port: config.SKEIN_OTLP_GRPC_PORT, listening: (grpcPort) => logger.info({ grpcPort }, 'OTLP/gRPC listening') },
        policyAdmin: { store: policyStore, cache: policyCache, adminToken },
        maxBodyBytes: config.SKEIN_MAX_BODY_BYTES,
        limits: batchLimitsFromConfig(config),
      }),
      SpanAssemblerModule.register({
        bus,
        store: traces,
        spansTopic: SPANS_TOPIC,
        deadLetterTopic: DEAD_LETTER_TOPIC,
        groupId: CONSUMER_GROUPS.spanAssembler,
        registry,
        logger,
        limits: { idleMs: config.SKEIN_TRACE_IDLE_MS, maxOpenTraces: config.SKEIN_MAX_OPEN_TRACES, maxSpansPerTrace: config.SKEIN_MAX_SPANS_PER_TRACE, maxOpenSpans: config.SKEIN_MAX_OPEN_SPANS },
        retentionDays: config.SKEIN_RETENTION_DAYS,
        partitionsConcurrently: config.SKEIN_ASSEMBLER_PARTITIONS_CONCURRENTLY,
      }),
      MetricsAggregatorModule.register({ bus, store: metrics, spansTopic: SPANS_TOPIC, groupId: CONSUMER_GROUPS.metricsAggregator, registry, logger }),
      SlaCheckerModule.register({
        rules,
        metrics,
        states,
        intervalMs: config.SKEIN_SLA_INTERVAL_MS,
        graceMs: config.SKEIN_SLA_GRACE_MS,
        lookbackMs: config.SKEIN_SLA_LOOKBACK_MS,
        webhook: { secret: webhookSecret, timeoutMs: config.SKEIN_SLA_WEBHOOK_TIMEOUT_MS, attempts: config.SKEIN_SLA_WEBHOOK_ATTEMPTS },
        registry,
        logger,
      }),
      QueryModule.register({ traces, metrics }),
    ],
    onClose: () => bus.close(),
  });
  const lines = [
    '',
    `Skein embedded is running (in memory: data is lost on exit) at ${url}`,
    `  send spans:    POST ${url}/api/v1/spans   (Content-Encoding: lz4, body {"spans":[...]}; see docs/ingest.md)`,
    `                 OTLP/HTTP: POST ${url}/v1/traces (also on port ${config.SKEIN_OTLP_HTTP_PORT}); Zipkin v2: POST ${url}/api/v2/spans; OTLP/gRPC on port ${config.SKEIN_OTLP_GRPC_PORT}`,
    `  API key:       ${generatedKey === undefined ? 'from SKEIN_API_KEYS' : `Authorization: Bearer ${generatedKey}   (generated, application "embedded")`}`,
    `  admin token:   ${config.SKEIN_ADMIN_TOKEN === undefined ? `${adminToken} (generated; PUT ${url}/api/v1/admin/policy)` : 'from SKEIN_ADMIN_TOKEN'}`,
    `  read a trace:  GET  ${url}/api/traces/<traceId>`,
    `  search:        GET  ${url}/api/traces?service=<name>   or   ?q=service:checkout AND duration>200ms (docs/query.md)`,
    `  Zipkin UI/API: GET  ${url}/api/v2/services  /api/v2/traces  /api/v2/trace/<traceId>`,
    `  minute stats:  GET  ${url}/api/metrics?service=<name>&operation=<name>`,
    `  health:        GET  ${url}/healthz  ${url}/readyz  ${url}/metrics`,
    `  SLA rules:     ${rules.length} loaded${config.SKEIN_SLA_WEBHOOK_SECRET ? '' : `; webhook signing secret (generated): ${webhookSecret}`}`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch(exitOnStartupError('skein-embedded'));
