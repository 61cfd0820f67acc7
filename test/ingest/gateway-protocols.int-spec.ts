import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import { gzipSync } from 'node:zlib';
import { DiagLogLevel, HrTime, ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, diag, trace } from '@opentelemetry/api';
import { ExportResult, ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, IdGenerator, InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { RedisKeys, SPANS_TOPIC, SpanMessage, decodeSpanMessage, topicName } from '@skein/contracts';
import { Span, compressLz4Frame, decompressLz4Frame, encodeNativeBatch, sharedServerSpanId } from '@skein/domain';
import { eventually, infraFromEnv, randomSpanId, randomTraceId, uniqueName } from '@skein/testing';
import Redis from 'ioredis';
import { CompressionCodecs, CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { Annotation, BatchRecorder, ExplicitContext, TraceId, Tracer, jsonEncoder } from 'zipkin';
import { HttpLogger } from 'zipkin-transport-http';
import { ServiceProcess, startServiceProcess } from '../support/service-process';

/**
 * ingest-gateway as real processes against the real Kafka and Redis, fed by the real client libraries (the
 * OpenTelemetry OTLP/HTTP exporters, zipkin-js with its HTTP transport) and by hand-built requests; what reached
 * Kafka is read back with a consumer of its own and asserted on message by message.
 */

const APP = 'shop';
const API_KEY = 'shop-key-0123456789abcdef';
/** OTHER_APP / OTHER_KEY: a second application, to show that `app` follows the key a request presents. */
const OTHER_APP = 'billing';
const OTHER_KEY = 'billing-key-0123456789abcdef';
const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
/** MAX_DECOMPRESSED: SKEIN_MAX_DECOMPRESSED_BYTES of the gateways: 1 MiB, so a 64 MiB bomb is 64 times over. */
const MAX_DECOMPRESSED = 1024 * 1024;
const MIB = 1024 * 1024;

/** Gateway: one ingest-gateway process with its main and OTLP/HTTP base URLs. */
interface Gateway {
  service: ServiceProcess;
  url: string;
  otlpUrl: string;
}

/** NativeAnswer: the body of a 202 from `POST /api/v1/spans`. */
interface NativeAnswer {
  accepted: number;
  metricsOnly: number;
  dropped: number;
}

/** ErrorAnswer: the body of a 4xx/5xx. */
interface ErrorAnswer {
  error: string;
  message: string;
  violations?: { path: string; message: string }[];
}

/** PolicySetAnswer: the body of `GET|PUT /api/v1/admin/policy`. */
interface PolicySetAnswer {
  version: number;
  rules: Record<string, unknown>[];
}

/** EffectivePolicyAnswer: the body of `GET /api/v1/sampling`. */
interface EffectivePolicyAnswer {
  version: number;
  app: string;
  service: string;
  default: { sampleRate: number; enabled: boolean; metricsForUnsampled: boolean; scope: string };
  operations: Record<string, unknown>;
}

async function startGateway(env: Record<string, string>): Promise<Gateway> {
  const service = await startServiceProcess('ingest-gateway', env);
  const match = /"extraUrls":\["(http:\/\/127\.0\.0\.1:\d+)"[^\n]*listening/.exec(service.output());
  if (match === null) {
    await service.kill('SIGKILL');
    throw new Error(`ingest-gateway logged no OTLP/HTTP URL (extraUrls):\n${service.output().slice(-2000)}`);
  }
  return { service, url: service.url, otlpUrl: match[1] as string };
}

/** spansOf: `count` spans of one trace of `service`, starting now. */
function spansOf(service: string, count: number, traceId = randomTraceId()): Span[] {
  const start = Date.now() * 1000;
  return Array.from({ length: count }, (_, i) => ({
    traceId,
    spanId: randomSpanId(),
    service,
    operation: 'GET /items',
    kind: 'server' as const,
    startTimeUs: start + i,
    durationUs: 1_000,
    error: false,
    tags: { seq: String(i) },
  }));
}

/** postNative: spans as an lz4 batch to the native endpoint; `apiKey` null = no Authorization header. */
function postNative(url: string, spans: Span[], apiKey: string | null = API_KEY): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'content-encoding': 'lz4' };
  if (apiKey !== null) headers['authorization'] = `Bearer ${apiKey}`;
  return fetch(`${url}/api/v1/spans`, { method: 'POST', headers, body: encodeNativeBatch(spans) });
}

/** readMetric: one series of a Prometheus text exposition (`name{labels} value`); 0 when absent. */
function readMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  const labelText = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .join(',');
  const series = labelText === '' ? name : `${name}{${labelText}}`;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

async function metricsText(gateway: Gateway): Promise<string> {
  const res = await fetch(`${gateway.url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** rssBytes: resident set size of a process, from `ps`. */
function rssBytes(pid: number): number {
  return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) * 1024;
}

/**
 * useLz4InKafkajs: the gateway produces LZ4 batches (the topic is LZ4 too) and kafkajs ships no LZ4 codec, so this
 * test's consumer gets one: LZ4 frames through the domain's checked frame decoder, as the services' own bus does.
 */
function useLz4InKafkajs(): void {
  CompressionCodecs[CompressionTypes.LZ4] = () => ({
    compress: async (encoder: { buffer: Buffer }) => compressLz4Frame(encoder.buffer),
    decompress: async (buffer: Buffer) => decompressLz4Frame(buffer, 256 * MIB),
  });
}

/**
 * withNodeHttp: the exporters' HTTP transport loads node:http with a dynamic import() on its first send, which Node
 * refuses inside Jest's vm sandbox unless Jest runs with --experimental-vm-modules (opentelemetry-js issue #6035).
 * This hands the transport what that import would give it (node:http's request function and an agent), so the
 * unmodified exporter does everything else: serialization, compression, headers, retries, response handling.
 */
function withNodeHttp<T extends SpanExporter>(exporter: T): T {
  type Transport = { _utils: { agent: http.Agent; request: typeof http.request } | null };
  const transport = (exporter as unknown as { _delegate?: { _transport?: { _transport?: Partial<Transport> } } })._delegate?._transport?._transport;
  if (transport === undefined || transport._utils !== null) {
    throw new Error('the OTLP exporter internals changed: cannot hand it node:http (see opentelemetry-js issue #6035)');
  }
  transport._utils = { agent: new http.Agent({ keepAlive: false }), request: http.request };
  return exporter;
}

/** exportWith: one export call of a real OpenTelemetry exporter, as a promise of its result. */
function exportWith(exporter: SpanExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

/**
 * exportWatched: exportWith, also collecting what OpenTelemetry's diagnostic logger warns about meanwhile, such as
 * "Export succeeded but could not deserialize response": what an application's log shows about the gateway.
 */
async function exportWatched(exporter: SpanExporter, spans: ReadableSpan[]): Promise<{ result: ExportResult; warnings: string[] }> {
  const warnings: string[] = [];
  const record = (message: string) => warnings.push(message);
  const ignore = () => undefined;
  diag.setLogger({ error: record, warn: record, info: ignore, debug: ignore, verbose: ignore }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  try {
    return { result: await exportWith(exporter, spans), warnings };
  } finally {
    diag.disable();
  }
}

/** micros: an OpenTelemetry HrTime as epoch microseconds, rounded down. */
function micros([seconds, nanos]: HrTime): number {
  return seconds * 1_000_000 + Math.floor(nanos / 1_000);
}

/** OtelTrace: spans an OpenTelemetry SDK recorded, with the ids to look for. */
interface OtelTrace {
  spans: ReadableSpan[];
  traceId: string;
  serverSpanId: string;
  clientSpanId: string;
  linked: { traceId: string; spanId: string };
}

/**
 * recordOtelTrace: a server span (with a link) and its client child (with an exception event and error status),
 * recorded by the SDK's BasicTracerProvider under resource `service.name` = `serviceName`. `idGenerator` lets a
 * test give the trace an id of its choosing (an invalid one, for partial success).
 */
function recordOtelTrace(serviceName: string, idGenerator?: IdGenerator): OtelTrace {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, 'host.name': 'node-7', 'deployment.environment': 'integration' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
    ...(idGenerator === undefined ? {} : { idGenerator }),
  });
  const tracer = provider.getTracer('skein-int-test', '1.2.3');
  const linked = { traceId: randomTraceId(), spanId: randomSpanId() };
  const server = tracer.startSpan('GET /cart', {
    kind: SpanKind.SERVER,
    attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200, 'cart.items': 3, 'cart.gift': true },
    links: [{ context: { ...linked, traceFlags: TraceFlags.SAMPLED }, attributes: { 'link.reason': 'batch' } }],
  });
  const client = tracer.startSpan('POST /payments', { kind: SpanKind.CLIENT, attributes: { 'peer.service': 'payment-service' } }, trace.setSpan(ROOT_CONTEXT, server));
  client.recordException(new TypeError('card declined'));
  client.setStatus({ code: SpanStatusCode.ERROR, message: 'payment failed' });
  client.end();
  server.end();
  return {
    spans: memory.getFinishedSpans(),
    traceId: server.spanContext().traceId,
    serverSpanId: server.spanContext().spanId,
    clientSpanId: client.spanContext().spanId,
    linked,
  };
}

/** otlpJsonRequest: a hand-written OTLP/JSON export request of `service`, spans given as (traceId, spanId, name). */
function otlpJsonRequest(service: string, spans: { traceId: string; spanId: string; name: string; kind: number }[]): string {
  const startNs = BigInt(Date.now()) * 1_000_000n;
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [
          {
            scope: { name: 'hand-built', version: '1' },
            spans: spans.map((s, i) => ({
              ...s,
              startTimeUnixNano: String(startNs + BigInt(i) * 1_000n),
              endTimeUnixNano: String(startNs + BigInt(i) * 1_000n + 5_000_000n),
              attributes: [{ key: 'i', value: { intValue: String(i) } }],
              status: {},
            })),
          },
        ],
      },
    ],
  });
}

describe('ingest-gateway protocols on real Kafka and Redis', () => {
  const infra = infraFromEnv();
  const prefix = uniqueName('ingest');
  const spansTopic = topicName(SPANS_TOPIC, prefix);
  const groupId = `${prefix}-reader`;
  const kafka = new Kafka({ brokers: infra.kafkaBrokers, clientId: 'gateway-protocols-test', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
  const redis = new Redis(infra.redisUrl, { lazyConnect: true });
  const started: ServiceProcess[] = [];
  /** received: every span message read back from the topic; undecodable: the ones decodeSpanMessage refused. */
  const received: SpanMessage[] = [];
  const undecodable: string[] = [];
  const env: Record<string, string> = {
    SKEIN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    SKEIN_TOPIC_PREFIX: prefix,
    SKEIN_SPANS_PARTITIONS: '3',
    SKEIN_REDIS_URL: infra.redisUrl,
    SKEIN_REDIS_KEY_PREFIX: prefix,
    SKEIN_API_KEYS: `${APP}:${API_KEY},${OTHER_APP}:${OTHER_KEY}`,
    SKEIN_ADMIN_TOKEN: ADMIN_TOKEN,
    SKEIN_POLICY_REFRESH_MS: '1000',
    SKEIN_MAX_DECOMPRESSED_BYTES: String(MAX_DECOMPRESSED),
  };
  /** gateway: the instance most tests talk to; peer: a second instance on the same Redis prefix; limited: 50 spans/s. */
  let gateway: Gateway;
  let peer: Gateway;
  let limited: Gateway;

  const topicMessageCount = async () => (await admin.fetchTopicOffsets(spansTopic)).reduce((sum, p) => sum + Number(p.high), 0);
  /** messagesOf: the span messages of one trace read so far. */
  const messagesOf = (traceId: string) => received.filter((m) => m.traceId === traceId);
  /** arrived: waits until `count` spans of the trace have been read back from Kafka; returns them by spanId. */
  const arrived = (traceId: string, count: number, timeoutMs = 20_000) =>
    eventually(() => {
      const spans = messagesOf(traceId).flatMap((m) => m.spans);
      expect(spans).toHaveLength(count);
      return new Map(spans.map((s) => [s.spanId, s]));
    }, timeoutMs);

  beforeAll(async () => {
    useLz4InKafkajs();
    await Promise.all([admin.connect(), redis.connect()]);
    // The first instance creates the topic; then the other two side by side.
    gateway = await startGateway(env);
    started.push(gateway.service);
    const others = await Promise.allSettled([startGateway(env), startGateway({ ...env, SKEIN_RATE_LIMIT_SPANS_PER_SECOND: '50', SKEIN_RATE_LIMIT_BURST: '50' })]);
    for (const result of others) if (result.status === 'fulfilled') started.push(result.value.service);
    for (const result of others) if (result.status === 'rejected') throw result.reason;
    [peer, limited] = others.map((r) => (r as PromiseFulfilledResult<Gateway>).value) as [Gateway, Gateway];
    await consumer.connect();
    await consumer.subscribe({ topic: spansTopic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const decoded = message.value === null ? undefined : decodeSpanMessage(message.value);
        if (decoded?.ok) received.push(decoded.message);
        else undecodable.push(decoded === undefined ? 'null value' : decoded.reason);
      },
    });
  });

  afterAll(async () => {
    await consumer.disconnect().catch(() => undefined);
    await Promise.all(started.map((service) => service.kill('SIGTERM')));
    await admin.deleteTopics({ topics: [spansTopic] }).catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    const keys = await redis.keys(`${prefix}:*`).catch((): string[] => []);
    if (keys.length > 0) await redis.del(...keys);
    await Promise.all([admin.disconnect(), redis.quit()]);
  });

  it('OTLP/HTTP protobuf: the OpenTelemetry exporter succeeds and its spans reach Kafka mapped, with app from the API key', async () => {
    const otel = recordOtelTrace('cart-service');
    const exporter = withNodeHttp(new OtlpProtoTraceExporter({ url: `${gateway.otlpUrl}/v1/traces`, headers: { Authorization: `Bearer ${API_KEY}` } }));
    try {
      const { result, warnings } = await exportWatched(exporter, otel.spans);
      expect(result.error).toBeUndefined();
      expect(result.code).toBe(ExportResultCode.SUCCESS);
      // The answer is a valid ExportTraceServiceResponse the exporter can read (full success: empty).
      expect(warnings).toEqual([]);
    } finally {
      await exporter.shutdown();
    }

    const spans = await arrived(otel.traceId, 2);
    expect(messagesOf(otel.traceId)).toHaveLength(1);
    expect(messagesOf(otel.traceId)[0]!.sampled).toBe(true);
    const server = spans.get(otel.serverSpanId)!;
    const client = spans.get(otel.clientSpanId)!;
    expect(server).toMatchObject({
      traceId: otel.traceId,
      service: 'cart-service',
      operation: 'GET /cart',
      kind: 'server',
      app: APP,
      host: 'node-7',
      error: false,
      tags: { 'http.request.method': 'GET', 'http.response.status_code': '200', 'cart.items': '3', 'cart.gift': 'true' },
      resource: { 'service.name': 'cart-service', 'host.name': 'node-7', 'deployment.environment': 'integration' },
      scope: { name: 'skein-int-test', version: '1.2.3' },
      links: [{ traceId: otel.linked.traceId, spanId: otel.linked.spanId, attributes: { 'link.reason': 'batch' } }],
    });
    expect(server.parentSpanId).toBeUndefined();
    expect(client).toMatchObject({
      parentSpanId: otel.serverSpanId,
      service: 'cart-service',
      operation: 'POST /payments',
      kind: 'client',
      app: APP,
      error: true,
      statusMessage: 'payment failed',
      remoteService: 'payment-service',
      tags: { 'peer.service': 'payment-service' },
    });
    expect(client.events).toHaveLength(1);
    expect(client.events![0]).toMatchObject({ name: 'exception', attributes: { 'exception.type': 'TypeError', 'exception.message': 'card declined' } });
    // Times as the SDK recorded them, in microseconds (rounded down).
    for (const recorded of otel.spans) {
      const mapped = spans.get(recorded.spanContext().spanId)!;
      expect(mapped.startTimeUs).toBe(micros(recorded.startTime));
      expect(mapped.durationUs).toBe(micros(recorded.endTime) - micros(recorded.startTime));
    }
  });

  it('OTLP/HTTP JSON: the JSON exporter succeeds, plain and gzip-compressed, and its spans reach Kafka', async () => {
    for (const compression of [CompressionAlgorithm.NONE, CompressionAlgorithm.GZIP]) {
      const otel = recordOtelTrace(`json-${compression}-service`);
      const exporter = withNodeHttp(new OtlpJsonTraceExporter({ url: `${gateway.otlpUrl}/v1/traces`, headers: { Authorization: `Bearer ${API_KEY}` }, compression }));
      try {
        const { result, warnings } = await exportWatched(exporter, otel.spans);
        expect(result.error).toBeUndefined();
        expect(result.code).toBe(ExportResultCode.SUCCESS);
        expect(warnings).toEqual([]);
      } finally {
        await exporter.shutdown();
      }
      const spans = await arrived(otel.traceId, 2);
      expect(spans.get(otel.serverSpanId)).toMatchObject({ service: `json-${compression}-service`, kind: 'server', app: APP, tags: { 'http.request.method': 'GET' } });
      expect(spans.get(otel.clientSpanId)).toMatchObject({ kind: 'client', error: true, parentSpanId: otel.serverSpanId });
      expect(spans.get(otel.clientSpanId)!.events?.map((e) => e.name)).toEqual(['exception']);
      expect(spans.get(otel.serverSpanId)!.links?.map((l) => l.spanId)).toEqual([otel.linked.spanId]);
    }
  });

  it('OTLP partial success: a span with an all-zero traceId is rejected and reported (JSON and protobuf); only the valid spans reach Kafka', async () => {
    const zeroTraceId = '0'.repeat(32);
    const before = await topicMessageCount();
    const rejectedSpansBefore = readMetric(await metricsText(gateway), 'skein_ingest_spans_rejected_total', { protocol: 'otlp' });

    // JSON, written by hand: spans[1] is invalid.
    const traceId = randomTraceId();
    const ids = [randomSpanId(), randomSpanId(), randomSpanId()];
    const body = otlpJsonRequest('partial-json-service', [
      { traceId, spanId: ids[0]!, name: 'good root', kind: 2 },
      { traceId: zeroTraceId, spanId: ids[1]!, name: 'zero trace', kind: 2 },
      { traceId, spanId: ids[2]!, name: 'good sibling', kind: 3 },
    ]);
    const res = await fetch(`${gateway.otlpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` }, body });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { partialSuccess?: { rejectedSpans: string | number; errorMessage: string } };
    expect(Number(answer.partialSuccess?.rejectedSpans)).toBe(1);
    expect(answer.partialSuccess?.errorMessage).toContain('resourceSpans[0].scopeSpans[0].spans[1].traceId');
    expect(answer.partialSuccess?.errorMessage).toContain('all zero');
    const jsonSpans = await arrived(traceId, 2);
    expect([...jsonSpans.keys()].sort()).toEqual([ids[0], ids[2]].sort());

    // Protobuf, serialized by the OpenTelemetry serializer from SDK spans whose trace id is all zero, sent together
    // with a valid trace.
    const valid = recordOtelTrace('partial-proto-service');
    const zero = recordOtelTrace('partial-proto-service', { generateTraceId: () => zeroTraceId, generateSpanId: randomSpanId });
    expect(zero.traceId).toBe(zeroTraceId);
    const protoRes = await fetch(`${gateway.otlpUrl}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${API_KEY}` },
      body: ProtobufTraceSerializer.serializeRequest([...valid.spans, ...zero.spans]),
    });
    expect(protoRes.status).toBe(200);
    expect(protoRes.headers.get('content-type')).toContain('application/x-protobuf');
    const protoAnswer = ProtobufTraceSerializer.deserializeResponse(new Uint8Array(await protoRes.arrayBuffer()));
    expect(Number(protoAnswer.partialSuccess?.rejectedSpans)).toBe(2);
    expect(protoAnswer.partialSuccess?.errorMessage).toContain('must not be all zero');
    await arrived(valid.traceId, 2);

    // One message per valid trace, none for the zero id.
    expect(await topicMessageCount()).toBe(before + 2);
    expect(messagesOf(zeroTraceId)).toHaveLength(0);
    expect(readMetric(await metricsText(gateway), 'skein_ingest_spans_rejected_total', { protocol: 'otlp' })).toBe(rejectedSpansBefore + 3);
  });

  it('Zipkin v2: zipkin-js (HttpLogger, JSON_V2) client and shared server spans reach Kafka mapped, with app from the API key', async () => {
    const failures: string[] = [];
    const statuses: number[] = [];
    const logger = new HttpLogger({
      endpoint: `${gateway.url}/api/v2/spans`,
      jsonEncoder: jsonEncoder.JSON_V2,
      httpInterval: 100,
      headers: { Authorization: `Bearer ${OTHER_KEY}` },
      log: { error: (...args: unknown[]) => failures.push(args.map(String).join(' ')) },
    });
    // HttpLogger is an EventEmitter at run time (its typings leave that out): 'success' carries the response.
    (logger as unknown as EventEmitter).on('success', (response: Response) => statuses.push(response.status));
    const recorder = new BatchRecorder({ logger });
    const ctxImpl = new ExplicitContext();
    const frontend = new Tracer({ ctxImpl, recorder, localServiceName: 'Zipkin-Frontend', traceId128Bit: true });
    const backend = new Tracer({ ctxImpl, recorder, localServiceName: 'Inventory-Backend', traceId128Bit: true, supportsJoin: true });

    const clientId = frontend.createRootId();
    frontend.letId(clientId, () => {
      frontend.recordServiceName('Zipkin-Frontend');
      frontend.recordRpc('GET /inventory');
      frontend.recordBinary('http.path', '/inventory');
      frontend.recordAnnotation(new Annotation.ServerAddr({ serviceName: 'Inventory-Backend' }));
      frontend.recordAnnotation(new Annotation.ClientSend());
    });
    // B3 propagation with join: the server reports its half under the client's span id, flagged shared.
    const serverId = new TraceId({ traceId: clientId.traceId, parentId: clientId.parentSpanId, spanId: clientId.spanId, sampled: clientId.sampled, shared: true });
    backend.letId(serverId, () => {
      backend.recordServiceName('Inventory-Backend');
      backend.recordRpc('GET /inventory');
      backend.recordAnnotation(new Annotation.ServerRecv());
      backend.recordBinary('http.status_code', '200');
      backend.recordMessage('cache miss');
      backend.recordAnnotation(new Annotation.ServerSend());
    });
    frontend.letId(clientId, () => frontend.recordAnnotation(new Annotation.ClientRecv()));

    const traceId = clientId.traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const spans = await arrived(traceId, 2);
    expect(failures).toEqual([]);
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 202)).toBe(true);
    const client = spans.get(clientId.spanId)!;
    const server = spans.get(sharedServerSpanId(traceId, clientId.spanId))!;
    expect(client).toMatchObject({ service: 'zipkin-frontend', operation: 'get /inventory', kind: 'client', remoteService: 'inventory-backend', app: OTHER_APP, tags: { 'http.path': '/inventory' } });
    expect(client.parentSpanId).toBeUndefined();
    expect(server).toMatchObject({
      service: 'inventory-backend',
      kind: 'server',
      parentSpanId: clientId.spanId,
      app: OTHER_APP,
      tags: { 'http.status_code': '200', 'zipkin.shared_span_id': clientId.spanId },
    });
    expect(server.events?.map((e) => e.name)).toEqual(['cache miss']);
    expect(client.durationUs).toBeGreaterThanOrEqual(1);
  });

  it('authentication: no key, a malformed header or an unknown key → 401 on native, OTLP and Zipkin, and nothing reaches Kafka', async () => {
    const before = await topicMessageCount();
    const rejectedBefore = readMetric(await metricsText(gateway), 'skein_ingest_batches_rejected_total', { reason: 'unauthenticated' });
    const spans = spansOf('auth-service', 2);
    const otlpBody = ProtobufTraceSerializer.serializeRequest(recordOtelTrace('auth-service').spans);
    const zipkinBody = JSON.stringify([{ traceId: spans[0]!.traceId, id: spans[0]!.spanId, name: 'get', timestamp: Date.now() * 1000, duration: 10, localEndpoint: { serviceName: 'auth-service' } }]);
    const credentials: { label: string; header: string | undefined; error: RegExp }[] = [
      { label: 'no key', header: undefined, error: /missing API key/ },
      { label: 'malformed', header: `Token ${API_KEY}`, error: /malformed Authorization header/ },
      { label: 'unknown key', header: 'Bearer not-a-configured-key-0123456789', error: /unknown API key/ },
    ];
    let refused = 0;
    for (const { label, header, error } of credentials) {
      const auth: Record<string, string> = header === undefined ? {} : { authorization: header };
      const requests: [string, Promise<Response>][] = [
        ['native', fetch(`${gateway.url}/api/v1/spans`, { method: 'POST', headers: { 'content-encoding': 'lz4', ...auth }, body: encodeNativeBatch(spans) })],
        ['otlp', fetch(`${gateway.otlpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', ...auth }, body: otlpBody })],
        ['zipkin', fetch(`${gateway.url}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: zipkinBody })],
      ];
      for (const [protocol, request] of requests) {
        const res = await request;
        const body = (await res.json()) as ErrorAnswer;
        expect({ label, protocol, status: res.status, error: body.error }).toEqual({ label, protocol, status: 401, error: 'unauthenticated' });
        expect(body.message).toMatch(error);
        refused++;
      }
    }
    // The real OTLP exporter without a key gets a failure it does not retry.
    const exporter = withNodeHttp(new OtlpProtoTraceExporter({ url: `${gateway.otlpUrl}/v1/traces` }));
    try {
      const result = await exportWith(exporter, recordOtelTrace('auth-service').spans);
      expect(result.code).toBe(ExportResultCode.FAILED);
      expect(String(result.error?.message)).toMatch(/401|Unauthorized/i);
      refused++;
    } finally {
      await exporter.shutdown();
    }

    expect(await topicMessageCount()).toBe(before);
    expect(messagesOf(spans[0]!.traceId)).toHaveLength(0);
    expect(readMetric(await metricsText(gateway), 'skein_ingest_batches_rejected_total', { reason: 'unauthenticated' })).toBe(rejectedBefore + refused);
  });

  it('rate limit (50 spans/s, burst 50): a batch of 50 → 202, the next 50 at once → 429 with Retry-After, counted as rate_limited', async () => {
    const first = spansOf('rate-service', 50);
    const second = spansOf('rate-service', 50);
    const res1 = await postNative(limited.url, first);
    expect(res1.status).toBe(202);
    expect((await res1.json()) as NativeAnswer).toEqual({ accepted: 50, metricsOnly: 0, dropped: 0 });
    const afterFirst = await topicMessageCount();

    const res2 = await postNative(limited.url, second);
    expect(res2.status).toBe(429);
    expect(((await res2.json()) as ErrorAnswer).error).toBe('rate_limited');
    const retryAfter = Number(res2.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger(retryAfter)).toBe(true);

    expect(await topicMessageCount()).toBe(afterFirst);
    await arrived(first[0]!.traceId, 50);
    expect(messagesOf(second[0]!.traceId)).toHaveLength(0);
    expect(readMetric(await metricsText(limited), 'skein_ingest_batches_rejected_total', { reason: 'rate_limited' })).toBe(1);
  });

  it('decompression bombs: 64 MiB of zeros as lz4 (native) and as gzip (OTLP) → 413, and the gateway barely grows', async () => {
    const pid = gateway.service.child.pid!;
    const zeros = Buffer.alloc(64 * MIB);
    const lz4Bomb = compressLz4Frame(zeros);
    const gzipBomb = gzipSync(zeros);
    // The bombs are small on the wire: under the 8 MiB body limit, so only the decompressed size can refuse them.
    expect(lz4Bomb.length).toBeLessThan(MIB);
    expect(gzipBomb.length).toBeLessThan(MIB);
    const tooLargeBefore = readMetric(await metricsText(gateway), 'skein_ingest_batches_rejected_total', { reason: 'too_large' });
    const rssBefore = rssBytes(pid);

    const lz4Res = await fetch(`${gateway.url}/api/v1/spans`, { method: 'POST', headers: { 'content-encoding': 'lz4', authorization: `Bearer ${API_KEY}` }, body: lz4Bomb });
    expect(lz4Res.status).toBe(413);
    expect(((await lz4Res.json()) as ErrorAnswer).error).toBe('too_large');
    const gzipRes = await fetch(`${gateway.otlpUrl}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip', authorization: `Bearer ${API_KEY}` },
      body: gzipBomb,
    });
    expect(gzipRes.status).toBe(413);
    expect(((await gzipRes.json()) as ErrorAnswer).error).toBe('too_large');

    const growth = rssBytes(pid) - rssBefore;
    expect(growth).toBeLessThan(50 * MIB);
    expect(readMetric(await metricsText(gateway), 'skein_ingest_batches_rejected_total', { reason: 'too_large' })).toBe(tooLargeBefore + 2);
  });

  it('policy admin API: 401 without the admin token, 400 naming the invalid field, and nothing stored', async () => {
    const policyUrl = `${gateway.url}/api/v1/admin/policy`;
    const rule = { app: APP, service: 'checkout', sampleRate: 0, enabled: true, metricsForUnsampled: true };
    const put = (headers: Record<string, string>, body: string) => fetch(policyUrl, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body });

    const notAdmin: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-admin-token-0123456789' }, { authorization: `Bearer ${API_KEY}` }];
    for (const headers of notAdmin) {
      const res = await put(headers, JSON.stringify({ rules: [rule] }));
      expect(res.status).toBe(401);
      expect(((await res.json()) as ErrorAnswer).error).toBe('unauthenticated');
    }
    expect((await fetch(policyUrl)).status).toBe(401);

    const invalid = await put({ authorization: `Bearer ${ADMIN_TOKEN}` }, JSON.stringify({ rules: [{ ...rule, sampleRate: 1.5 }] }));
    expect(invalid.status).toBe(400);
    const invalidBody = (await invalid.json()) as ErrorAnswer;
    expect(invalidBody.error).toBe('invalid_policy');
    expect(invalidBody.message).toContain('rules[0].sampleRate');
    expect(invalidBody.violations?.map((v) => v.path)).toEqual(['rules[0].sampleRate']);
    const missing = await put({ authorization: `Bearer ${ADMIN_TOKEN}` }, JSON.stringify({ rules: [{ app: APP, sampleRate: 1 }] }));
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as ErrorAnswer).violations?.map((v) => v.path)).toEqual(['rules[0].enabled']);
    const notJson = await put({ authorization: `Bearer ${ADMIN_TOKEN}` }, '{"rules": [');
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as ErrorAnswer).error).toBe('invalid_json');

    const stored = await fetch(policyUrl, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(stored.status).toBe(200);
    expect((await stored.json()) as PolicySetAnswer).toEqual({ version: 0, rules: [] });
    expect(await redis.exists(RedisKeys.policy(prefix))).toBe(0);
  });

  it('live policy: sampleRate 0 for service checkout applies at once on the instance written to and within 5 s on a second one; metrics-only spans reach Kafka with sampled:false', async () => {
    const rule = { app: APP, service: 'checkout', sampleRate: 0, enabled: true, metricsForUnsampled: true };
    const res = await fetch(`${gateway.url}/api/v1/admin/policy`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}`, 'if-match': '0' },
      body: JSON.stringify({ rules: [rule] }),
    });
    expect(res.status).toBe(200);
    const written = Date.now();
    expect((await res.json()) as PolicySetAnswer).toEqual({ version: 1, rules: [rule] });

    // The instance that took the write serves the new policy at once.
    const sampling = async (target: Gateway, apiKey?: string) =>
      fetch(`${target.url}/api/v1/sampling?service=checkout`, { headers: apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` } });
    const own = await sampling(gateway, API_KEY);
    expect(own.status).toBe(200);
    expect((await own.json()) as EffectivePolicyAnswer).toEqual({
      version: 1,
      app: APP,
      service: 'checkout',
      default: { sampleRate: 0, enabled: true, metricsForUnsampled: true, scope: 'service' },
      operations: {},
    });
    expect((await sampling(gateway)).status).toBe(401);
    // Another application's view of its own service "checkout" is unchanged: rules are per application.
    expect(((await (await sampling(gateway, OTHER_KEY)).json()) as EffectivePolicyAnswer).default.sampleRate).toBe(1);

    const viaOwn = spansOf('checkout', 3);
    const ownRes = await postNative(gateway.url, viaOwn);
    expect(ownRes.status).toBe(202);
    expect((await ownRes.json()) as NativeAnswer).toEqual({ accepted: 3, metricsOnly: 3, dropped: 0 });

    // The second instance picks the change up from Redis by itself, without restart, within 5 s.
    const peerView = await eventually(async () => {
      const view = (await (await sampling(peer, API_KEY)).json()) as EffectivePolicyAnswer;
      expect(view.version).toBe(1);
      return view;
    }, 5_000, 100);
    const applied = Date.now() - written;
    expect(applied).toBeLessThan(5_000);
    expect(peerView.default).toEqual({ sampleRate: 0, enabled: true, metricsForUnsampled: true, scope: 'service' });
    const viaPeer = spansOf('checkout', 2);
    const peerRes = await postNative(peer.url, viaPeer);
    expect(peerRes.status).toBe(202);
    expect((await peerRes.json()) as NativeAnswer).toEqual({ accepted: 2, metricsOnly: 2, dropped: 0 });

    // Both batches reach Kafka flagged metrics-only; other services are still kept as traces.
    const untouched = spansOf('checkout-web', 1);
    expect((await postNative(gateway.url, untouched)).status).toBe(202);
    await arrived(viaOwn[0]!.traceId, 3);
    await arrived(viaPeer[0]!.traceId, 2);
    await arrived(untouched[0]!.traceId, 1);
    expect(messagesOf(viaOwn[0]!.traceId).map((m) => m.sampled)).toEqual([false]);
    expect(messagesOf(viaPeer[0]!.traceId).map((m) => m.sampled)).toEqual([false]);
    expect(messagesOf(untouched[0]!.traceId).map((m) => m.sampled)).toEqual([true]);
    expect(readMetric(await metricsText(gateway), 'skein_ingest_spans_accepted_total', { route: 'metrics' })).toBe(3);
  });

  it('switch: a rule with enabled:false is answered 202 but nothing reaches Kafka (dropped{switched_off}); a stale If-Match → 409', async () => {
    const policyUrl = `${gateway.url}/api/v1/admin/policy`;
    const current = (await (await fetch(policyUrl, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as PolicySetAnswer;
    const off = { app: APP, service: 'legacy-batch', sampleRate: 1, enabled: false, metricsForUnsampled: true };
    const put = (ifMatch: number, rules: Record<string, unknown>[]) =>
      fetch(policyUrl, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}`, 'if-match': `"${ifMatch}"` },
        body: JSON.stringify({ rules }),
      });
    const res = await put(current.version, [...current.rules, off]);
    expect(res.status).toBe(200);
    const next = (await res.json()) as PolicySetAnswer;
    expect(next.version).toBe(current.version + 1);

    // Someone who read the set before this change must not overwrite it.
    const stale = await put(current.version, [off]);
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as ErrorAnswer).error).toBe('conflict');
    const after = (await (await fetch(policyUrl, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as PolicySetAnswer;
    expect(after).toEqual(next);

    const before = await topicMessageCount();
    const droppedBefore = readMetric(await metricsText(gateway), 'skein_ingest_spans_dropped_total', { reason: 'switched_off' });
    const switchedOff = spansOf('legacy-batch', 4);
    const offRes = await postNative(gateway.url, switchedOff);
    expect(offRes.status).toBe(202);
    expect((await offRes.json()) as NativeAnswer).toEqual({ accepted: 0, metricsOnly: 0, dropped: 4 });
    expect(readMetric(await metricsText(gateway), 'skein_ingest_spans_dropped_total', { reason: 'switched_off' })).toBe(droppedBefore + 4);

    // The second instance switches the service off too, without restart.
    await eventually(async () => {
      const view = (await (await fetch(`${peer.url}/api/v1/sampling?service=legacy-batch`, { headers: { authorization: `Bearer ${API_KEY}` } })).json()) as EffectivePolicyAnswer;
      expect(view.default.enabled).toBe(false);
    }, 5_000, 100);
    const peerRes = await postNative(peer.url, spansOf('legacy-batch', 2));
    expect(peerRes.status).toBe(202);
    expect((await peerRes.json()) as NativeAnswer).toEqual({ accepted: 0, metricsOnly: 0, dropped: 2 });

    expect(await topicMessageCount()).toBe(before);
    // Still nothing once the consumer has caught up with a later batch.
    const marker = spansOf('after-switch', 1);
    expect((await postNative(gateway.url, marker)).status).toBe(202);
    await arrived(marker[0]!.traceId, 1);
    expect(messagesOf(switchedOff[0]!.traceId)).toHaveLength(0);
  });

  it('/metrics: spans received by protocol, accepted by route, requests rejected by reason, and the Kafka produce time', async () => {
    const before = await metricsText(gateway);
    const produced = readMetric(before, 'skein_ingest_produce_seconds_count');

    expect((await postNative(gateway.url, spansOf('metrics-service', 5))).status).toBe(202);
    const otel = recordOtelTrace('metrics-service');
    const exporter = withNodeHttp(new OtlpProtoTraceExporter({ url: `${gateway.otlpUrl}/v1/traces`, headers: { Authorization: `Bearer ${API_KEY}` } }));
    try {
      expect((await exportWith(exporter, otel.spans)).code).toBe(ExportResultCode.SUCCESS);
    } finally {
      await exporter.shutdown();
    }
    const zipkinSpan = { traceId: randomTraceId(), id: randomSpanId(), name: 'get', kind: 'SERVER', timestamp: Date.now() * 1000, duration: 10, localEndpoint: { serviceName: 'metrics-service' } };
    const zipkinRes = await fetch(`${gateway.url}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` }, body: JSON.stringify([zipkinSpan]) });
    expect(zipkinRes.status).toBe(202);
    const invalid = spansOf('metrics-service', 1).map((s) => ({ ...s, durationUs: -1 }));
    expect((await postNative(gateway.url, invalid)).status).toBe(400);
    expect((await postNative(gateway.url, spansOf('metrics-service', 1), null)).status).toBe(401);

    const after = await metricsText(gateway);
    const delta = (name: string, labels: Record<string, string> = {}) => readMetric(after, name, labels) - readMetric(before, name, labels);
    expect(delta('skein_ingest_spans_received_total', { protocol: 'native' })).toBe(5);
    expect(delta('skein_ingest_spans_received_total', { protocol: 'otlp' })).toBe(2);
    expect(delta('skein_ingest_spans_received_total', { protocol: 'zipkin' })).toBe(1);
    expect(delta('skein_ingest_spans_accepted_total', { route: 'trace' })).toBe(8);
    expect(delta('skein_ingest_batches_rejected_total', { reason: 'invalid_span' })).toBe(1);
    expect(delta('skein_ingest_batches_rejected_total', { reason: 'unauthenticated' })).toBe(1);
    expect(delta('skein_ingest_spans_accepted_total', { route: 'metrics' })).toBe(0);
    // Series that earlier tests moved (with their own exact deltas) are exposed with their labels.
    for (const series of ['skein_ingest_batches_rejected_total{reason="too_large"}', 'skein_ingest_spans_rejected_total{protocol="otlp"}', 'skein_ingest_spans_dropped_total{reason="switched_off"}']) {
      expect(after.split('\n').some((line) => line.startsWith(`${series} `))).toBe(true);
    }
    // One Kafka produce per accepted request, each timed.
    expect(readMetric(after, 'skein_ingest_produce_seconds_count') - produced).toBe(3);
    expect(readMetric(after, 'skein_ingest_produce_seconds_bucket', { le: '+Inf' })).toBe(readMetric(after, 'skein_ingest_produce_seconds_count'));
    expect(readMetric(after, 'skein_ingest_produce_seconds_sum')).toBeGreaterThan(0);
  });

  it('every message the gateways wrote decodes as a valid span message', async () => {
    await eventually(async () => expect(received.length + undecodable.length).toBe(await topicMessageCount()), 20_000);
    expect(undecodable).toEqual([]);
  });
});
