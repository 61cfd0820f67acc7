import { Metadata, ServiceClientConstructor, credentials, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ExportResult, ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { registerLz4Codec } from '@skein/adapter-kafka';
import { SPANS_TOPIC, SPAN_INGEST_PROTO, SpanMessage, decodeSpanMessage, topicName } from '@skein/contracts';
import { encodeNativeBatch } from '@skein/domain';
import { eventually, infraFromEnv, threeServiceTrace, uniqueName } from '@skein/testing';
import { Consumer, Kafka, logLevel } from 'kafkajs';
import { ServiceProcess, startServiceProcess } from '../support/service-process';

/** The gateway's gRPC port on the real Kafka: OTLP/gRPC with OpenTelemetry's own exporter, and the native SpanIngest service from its .proto. */
describe('ingest-gateway: OTLP/gRPC (TraceService/Export) with the OpenTelemetry gRPC exporter', () => {
  const infra = infraFromEnv();
  const prefix = uniqueName('grpc');
  const apiKey = 'grpc-app-key-0123456789';
  // The gateway writes lz4-compressed record batches; kafkajs needs the codec to read them.
  registerLz4Codec();
  const kafka = new Kafka({ brokers: infra.kafkaBrokers, clientId: 'otlp-grpc-test', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  let consumer: Consumer;
  let gateway: ServiceProcess;
  let grpcUrl: string;
  const received: SpanMessage[] = [];

  beforeAll(async () => {
    gateway = await startServiceProcess('ingest-gateway', {
      SKEIN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      SKEIN_TOPIC_PREFIX: prefix,
      SKEIN_SPANS_PARTITIONS: '2',
      SKEIN_REDIS_URL: infra.redisUrl,
      SKEIN_REDIS_KEY_PREFIX: prefix,
      SKEIN_API_KEYS: `mobile:${apiKey}`,
      SKEIN_ADMIN_TOKEN: 'admin-token-0123456789abcdef',
    });
    const port = /"grpcPort":(\d+)/.exec(gateway.output())?.[1];
    expect(port).toBeDefined();
    grpcUrl = `http://127.0.0.1:${port}`;
    await admin.connect();
    consumer = kafka.consumer({ groupId: `${prefix}-reader` });
    await consumer.connect();
    await consumer.subscribe({ topic: topicName(SPANS_TOPIC, prefix), fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const decoded = decodeSpanMessage(message.value ?? Buffer.alloc(0));
        if (decoded.ok) received.push(decoded.message);
      },
    });
  });

  afterAll(async () => {
    await consumer?.disconnect();
    await gateway?.kill();
    await admin.deleteTopics({ topics: [topicName(SPANS_TOPIC, prefix)] }).catch(() => undefined);
    await admin.disconnect();
  });

  function recordSpans(): ReadableSpan[] {
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'checkout', 'host.name': 'pod-7' }), spanProcessors: [new SimpleSpanProcessor(memory)] });
    const tracer = provider.getTracer('checkout-lib', '1.2.3');
    const server = tracer.startSpan('POST /pay', { kind: SpanKind.SERVER, attributes: { 'http.status_code': 502 } });
    // No context manager is registered here: the parent is passed explicitly.
    const client = tracer.startSpan('charge', { kind: SpanKind.CLIENT, attributes: { 'peer.service': 'payments' } }, trace.setSpan(ROOT_CONTEXT, server));
    client.recordException(new TypeError('card declined'));
    client.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
    client.end();
    server.end();
    return memory.getFinishedSpans();
  }

  function exportWith(metadata: Metadata, spans: ReadableSpan[]): Promise<ExportResult> {
    const exporter = new OTLPTraceExporter({ url: grpcUrl, metadata });
    return new Promise<ExportResult>((resolve) => exporter.export(spans, resolve)).finally(() => exporter.shutdown());
  }

  it('accepts an export with the API key in the metadata and writes faithful spans to Kafka', async () => {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${apiKey}`);
    const spans = recordSpans();
    const result = await exportWith(metadata, spans);
    expect({ code: result.code, error: result.error?.message }).toEqual({ code: ExportResultCode.SUCCESS, error: undefined });
    const traceId = spans[0]!.spanContext().traceId;
    const message = await eventually(() => {
      const found = received.find((m) => m.traceId === traceId);
      expect({ messages: received.length, spans: found?.spans.length }).toEqual({ messages: received.length, spans: 2 });
      return found!;
    }, 30_000);
    const client = message.spans.find((s) => s.operation === 'charge')!;
    const server = message.spans.find((s) => s.operation === 'POST /pay')!;
    expect(server).toMatchObject({ service: 'checkout', kind: 'server', app: 'mobile', host: 'pod-7', error: false, tags: { 'http.status_code': '502' }, scope: { name: 'checkout-lib', version: '1.2.3' } });
    expect(client).toMatchObject({ kind: 'client', parentSpanId: server.spanId, remoteService: 'payments', error: true, statusMessage: 'card declined' });
    expect(client.events?.[0]).toMatchObject({ name: 'exception', attributes: { 'exception.type': 'TypeError', 'exception.message': 'card declined' } });
  });

  it('refuses an export without a valid key (UNAUTHENTICATED) and writes nothing', async () => {
    const spans = recordSpans();
    const result = await exportWith(new Metadata(), spans);
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(String(result.error?.message)).toMatch(/unauthenticated/i);
    const wrong = new Metadata();
    wrong.set('authorization', 'Bearer not-the-key-00000000');
    expect((await exportWith(wrong, spans)).code).toBe(ExportResultCode.FAILED);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(received.some((m) => m.traceId === spans[0]!.spanContext().traceId)).toBe(false);
  });

  describe('native SpanIngest/Send, with a client generated from the documented span_ingest.proto', () => {
    type SendCallback = (err: (Error & { code?: number }) | null, response?: { accepted: number; metricsOnly: number; dropped: number }) => void;
    interface SpanIngestClient {
      Send(request: { batch: Buffer; encoding: string }, metadata: Metadata, callback: SendCallback): void;
      close(): void;
    }
    const send = (metadata: Metadata, request: { batch: Buffer; encoding: string }) => {
      const definition = loadPackageDefinition(loadSync(SPAN_INGEST_PROTO, { keepCase: false, longs: Number })) as unknown as { skein: { ingest: { v1: { SpanIngest: ServiceClientConstructor } } } };
      const client = new definition.skein.ingest.v1.SpanIngest(grpcUrl.replace('http://', ''), credentials.createInsecure()) as unknown as SpanIngestClient;
      return new Promise<{ err: (Error & { code?: number }) | null; response?: { accepted: number } }>((resolve) => client.Send(request, metadata, (err, response) => resolve({ err, response }))).finally(() => client.close());
    };

    it('writes an lz4 batch to Kafka and answers the accepted count', async () => {
      const metadata = new Metadata();
      metadata.set('authorization', `Bearer ${apiKey}`);
      const trace = threeServiceTrace();
      const { err, response } = await send(metadata, { batch: encodeNativeBatch(trace.spans), encoding: 'lz4' });
      expect(err).toBeNull();
      expect(response).toMatchObject({ accepted: 5 });
      const message = await eventually(() => {
        const found = received.find((m) => m.traceId === trace.traceId);
        expect(found?.spans.length).toBe(5);
        return found!;
      }, 30_000);
      expect(message.spans.every((s) => s.app === 'mobile')).toBe(true);
    });

    it('answers UNAUTHENTICATED without a key and INVALID_ARGUMENT naming the span and field for a bad batch', async () => {
      const unauthenticated = await send(new Metadata(), { batch: encodeNativeBatch(threeServiceTrace().spans), encoding: 'lz4' });
      expect(unauthenticated.err?.code).toBe(16);
      const metadata = new Metadata();
      metadata.set('authorization', `Bearer ${apiKey}`);
      const bad = threeServiceTrace().spans.map((s, i) => (i === 1 ? { ...s, spanId: 'nope' } : s));
      const invalid = await send(metadata, { batch: encodeNativeBatch(bad), encoding: 'lz4' });
      expect(invalid.err?.code).toBe(3);
      expect(invalid.err?.message).toMatch(/spans\[1\]\.spanId/);
    });
  });
});
