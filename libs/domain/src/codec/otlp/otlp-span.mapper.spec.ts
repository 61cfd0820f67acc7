import { HrTime, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Span } from '../../span/span.model';
import { BatchLimits, BatchRejection, BatchRejectionReason, DEFAULT_BATCH_LIMITS } from '../span-batch.codec';
import { OtlpFormat, decodeOtlpTraces, encodeOtlpExportResponse, otlpPartialSuccess } from './otlp-span.mapper';

// Wire compatibility is proven against the real OpenTelemetry JS exporter serializers: spans are recorded by an SDK
// tracer, serialized exactly as an exporting application would, then decoded and mapped here.

/** T0: 2026-01-15T10:20:00Z as an HrTime, plus `ns` nanoseconds. */
const T0_S = Date.UTC(2026, 0, 15, 10, 20, 0) / 1000;
const at = (ns: number): HrTime => [T0_S + Math.floor(ns / 1e9), ns % 1e9];
/** us: the microsecond Skein stores for T0 + `ns`, rounded down. */
const us = (ns: number): number => T0_S * 1_000_000 + Math.floor(ns / 1000);

function recorder(attributes: Record<string, string>) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes(attributes), spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, provider };
}

/**
 * recordScenario: two resources (checkout-service with host.name; one with no service.name), two scopes, every
 * span kind, statuses, an exception event, links, and attributes of every type the SDK accepts.
 */
function recordScenario(): { spans: ReadableSpan[]; ids: Record<string, { traceId: string; spanId: string }> } {
  const main = recorder({ 'service.name': 'checkout-service', 'host.name': 'node-7', 'deployment.environment': 'prod' });
  const anonymous = recorder({ 'telemetry.sdk.language': 'nodejs' });
  const http = main.provider.getTracer('@opentelemetry/instrumentation-http', '0.57.1');
  const custom = main.provider.getTracer('checkout');

  const root = http.startSpan('GET /checkout', {
    kind: SpanKind.SERVER,
    startTime: at(123_456_789),
    attributes: {
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'http.route': '/checkout',
      sampled: true,
      ratio: 0.25,
      'big.int': 2 ** 60,
      negative: -42,
      'tags.list': ['a', 'b'],
      'flags.list': [true, false],
      'ints.list': [1, 2, 3],
      'doubles.list': [1.5, -2.25],
    },
  });
  const rootCtx = trace.setSpan(ROOT_CONTEXT, root);
  const client = http.startSpan('POST /payments', { kind: SpanKind.CLIENT, startTime: at(200_000_000), attributes: { 'peer.service': 'payment-service', 'server.address': 'payments.internal' } }, rootCtx);
  client.addEvent('retry', { attempt: 2 }, at(250_000_500));
  const failure = new TypeError('card declined');
  failure.stack = 'TypeError: card declined\n    at charge (payments.js:10:5)';
  client.recordException(failure, at(300_000_999));
  client.setStatus({ code: SpanStatusCode.ERROR, message: 'payment failed' });
  client.end(at(400_000_001));

  const producer = custom.startSpan('orders publish', { kind: SpanKind.PRODUCER, startTime: at(410_000_000), attributes: { 'server.address': 'kafka-1', 'messaging.system': 'kafka' } }, rootCtx);
  producer.setStatus({ code: SpanStatusCode.OK });
  producer.end(at(420_000_000));
  const internal = custom.startSpan('price cart', { startTime: at(430_000_000) }, rootCtx);
  internal.end(at(430_000_000));
  root.end(at(987_654_321));

  const producerCtx = producer.spanContext();
  const consumer = anonymous.provider
    .getTracer('worker')
    .startSpan('orders process', { kind: SpanKind.CONSUMER, startTime: at(500_000_000), links: [{ context: producerCtx, attributes: { 'messaging.batch': 1 } }] });
  consumer.end(at(600_000_000));

  const ids = Object.fromEntries(
    Object.entries({ root, client, producer, internal, consumer }).map(([name, span]) => [name, { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId }]),
  );
  return { spans: [...main.exporter.getFinishedSpans(), ...anonymous.exporter.getFinishedSpans()], ids };
}

function serialize(format: OtlpFormat, spans: ReadableSpan[]): Buffer {
  const bytes = format === 'protobuf' ? ProtobufTraceSerializer.serializeRequest(spans) : JsonTraceSerializer.serializeRequest(spans);
  if (bytes === undefined) throw new Error('serializer returned nothing');
  return Buffer.from(bytes);
}

/** withAttributes: the same finished span with attributes the SDK API refuses but OTLP carries (bytes, maps). */
function withAttributes(span: ReadableSpan, attributes: Record<string, unknown>): ReadableSpan {
  return { ...span, spanContext: () => span.spanContext(), attributes: { ...span.attributes, ...attributes } } as ReadableSpan;
}

/** withIds: the same finished span under other ids (what a broken exporter might send). */
function withIds(span: ReadableSpan, traceId: string, spanId: string): ReadableSpan {
  return { ...span, spanContext: () => ({ ...span.spanContext(), traceId, spanId }) };
}

function rejection(fn: () => unknown): BatchRejection {
  try {
    fn();
  } catch (err) {
    if (err instanceof BatchRejection) return err;
    throw new Error(`expected a BatchRejection, got ${String(err)}`);
  }
  throw new Error('expected a BatchRejection, but nothing was thrown');
}

const reasonOf = (fn: () => unknown): BatchRejectionReason => rejection(fn).reason;
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const LIMITS: BatchLimits = DEFAULT_BATCH_LIMITS;

describe.each<OtlpFormat>(['protobuf', 'json'])('decodeOtlpTraces (%s, encoded by the OpenTelemetry JS serializer)', (format) => {
  const { spans, ids } = recordScenario();
  const decoded = decodeOtlpTraces(serialize(format, spans), format, LIMITS);
  const byName = (operation: string): Span => {
    const span = decoded.spans.find((s) => s.operation === operation);
    if (!span) throw new Error(`no span ${operation}`);
    return span;
  };
  const mainResource = { 'service.name': 'checkout-service', 'host.name': 'node-7', 'deployment.environment': 'prod' };

  it('accepts every span', () => {
    expect(decoded.rejected).toEqual([]);
    expect(decoded.rejectedSpans).toBe(0);
    expect(decoded.spans.map((s) => s.operation).sort()).toEqual(['GET /checkout', 'POST /payments', 'orders process', 'orders publish', 'price cart']);
  });

  it('maps a server span: ids, resource, scope, times to the microsecond, attributes of every primitive type', () => {
    expect(byName('GET /checkout')).toEqual({
      traceId: ids['root']!.traceId,
      spanId: ids['root']!.spanId,
      service: 'checkout-service',
      operation: 'GET /checkout',
      kind: 'server',
      startTimeUs: us(123_456_789),
      durationUs: us(987_654_321) - us(123_456_789),
      error: false,
      host: 'node-7',
      resource: mainResource,
      scope: { name: '@opentelemetry/instrumentation-http', version: '0.57.1' },
      tags: {
        'http.request.method': 'GET',
        'http.response.status_code': '200',
        'http.route': '/checkout',
        sampled: 'true',
        ratio: '0.25',
        'big.int': '1152921504606846976',
        negative: '-42',
        'tags.list': '["a","b"]',
        'flags.list': '[true,false]',
        'ints.list': '[1,2,3]',
        'doubles.list': '[1.5,-2.25]',
      },
    });
  });

  it('maps a failed client span: parent, peer.service, status message, events with the recorded exception', () => {
    expect(byName('POST /payments')).toEqual({
      traceId: ids['root']!.traceId,
      spanId: ids['client']!.spanId,
      parentSpanId: ids['root']!.spanId,
      service: 'checkout-service',
      operation: 'POST /payments',
      kind: 'client',
      startTimeUs: us(200_000_000),
      durationUs: us(400_000_001) - us(200_000_000),
      error: true,
      statusMessage: 'payment failed',
      remoteService: 'payment-service',
      host: 'node-7',
      resource: mainResource,
      scope: { name: '@opentelemetry/instrumentation-http', version: '0.57.1' },
      tags: { 'peer.service': 'payment-service', 'server.address': 'payments.internal' },
      events: [
        { timeUs: us(250_000_500), name: 'retry', attributes: { attempt: '2' } },
        {
          timeUs: us(300_000_999),
          name: 'exception',
          attributes: { 'exception.type': 'TypeError', 'exception.message': 'card declined', 'exception.stacktrace': 'TypeError: card declined\n    at charge (payments.js:10:5)' },
        },
      ],
    });
  });

  it('maps producer (server.address as the remote service, status OK is no error), internal and consumer spans with links', () => {
    expect(byName('orders publish')).toMatchObject({
      kind: 'producer',
      remoteService: 'kafka-1',
      error: false,
      parentSpanId: ids['root']!.spanId,
      scope: { name: 'checkout' },
      durationUs: 10_000,
      tags: { 'server.address': 'kafka-1', 'messaging.system': 'kafka' },
    });
    expect(byName('orders publish').statusMessage).toBeUndefined();
    expect(byName('orders publish').scope).toEqual({ name: 'checkout' });
    expect(byName('price cart')).toMatchObject({ kind: 'internal', durationUs: 0, tags: {} });
    expect(byName('price cart').remoteService).toBeUndefined();
    expect(byName('orders process')).toEqual({
      traceId: ids['consumer']!.traceId,
      spanId: ids['consumer']!.spanId,
      service: 'unknown_service',
      operation: 'orders process',
      kind: 'consumer',
      startTimeUs: us(500_000_000),
      durationUs: 100_000,
      error: false,
      resource: { 'telemetry.sdk.language': 'nodejs' },
      scope: { name: 'worker' },
      tags: {},
      links: [{ traceId: ids['producer']!.traceId, spanId: ids['producer']!.spanId, attributes: { 'messaging.batch': '1' } }],
    });
  });

  it('stringifies bytes as base64 and maps/nested arrays as JSON text', () => {
    const span = withAttributes(spans[0]!, {
      blob: new Uint8Array([0, 1, 254, 255]),
      map: { a: 'x', n: 7, nested: { ok: true, list: [1, 2] } },
      'empty.map': {},
      'empty.list': [],
    });
    const mapped = decodeOtlpTraces(serialize(format, [span]), format, LIMITS).spans[0]!;
    expect(mapped.tags['blob']).toBe('AAH+/w==');
    expect(JSON.parse(mapped.tags['map']!)).toEqual({ a: 'x', n: 7, nested: { ok: true, list: [1, 2] } });
    expect(mapped.tags['map']).toBe('{"a":"x","n":7,"nested":{"ok":true,"list":[1,2]}}');
    expect(mapped.tags['empty.map']).toBe('{}');
    expect(mapped.tags['empty.list']).toBe('[]');
  });

  const pick = (name: string): ReadableSpan => spans.find((s) => s.name === name)!;

  it('partial success: of 3 spans, the one with an all-zero traceId is rejected with its path, the others accepted', () => {
    // The serializer groups by scope: [client, server] of the http scope, then the producer of the `checkout` scope.
    const [client, producer, server] = [pick('POST /payments'), pick('orders publish'), pick('GET /checkout')];
    const request = serialize(format, [client, withIds(producer, '0'.repeat(32), producer.spanContext().spanId), server]);
    const result = decodeOtlpTraces(request, format, LIMITS);
    expect(result.spans.map((s) => s.spanId)).toEqual([client.spanContext().spanId, server.spanContext().spanId]);
    expect(result.rejectedSpans).toBe(1);
    expect(result.rejected).toEqual([{ path: 'resourceSpans[0].scopeSpans[1].spans[0].traceId', message: 'must not be all zero' }]);
    expect(otlpPartialSuccess(result)).toEqual({
      rejectedSpans: 1,
      errorMessage: '1 span(s) rejected: resourceSpans[0].scopeSpans[1].spans[0].traceId: must not be all zero',
    });
  });

  it('rejects spans whose ids have the wrong length', () => {
    const [client, server] = [pick('POST /payments'), pick('GET /checkout')];
    const request = serialize(format, [withIds(client, 'ab'.repeat(8), client.spanContext().spanId), withIds(server, server.spanContext().traceId, 'abcd')]);
    const result = decodeOtlpTraces(request, format, LIMITS);
    expect(result.spans).toEqual([]);
    expect(result.rejectedSpans).toBe(2);
    expect(result.rejected).toEqual([
      { path: 'resourceSpans[0].scopeSpans[0].spans[0].traceId', message: 'must be 16 bytes (32 hex characters)' },
      { path: 'resourceSpans[0].scopeSpans[0].spans[1].spanId', message: 'must be 8 bytes (16 hex characters)' },
    ]);
  });
});

describe('decodeOtlpTraces: whole-request problems', () => {
  it('an empty request is valid and has no spans', () => {
    expect(decodeOtlpTraces(Buffer.alloc(0), 'protobuf', LIMITS)).toEqual({ spans: [], rejected: [], rejectedSpans: 0 });
    expect(decodeOtlpTraces(json({}), 'json', LIMITS)).toEqual({ spans: [], rejected: [], rejectedSpans: 0 });
    expect(decodeOtlpTraces(json({ resourceSpans: [] }), 'json', LIMITS)).toEqual({ spans: [], rejected: [], rejectedSpans: 0 });
  });

  it('unparsable bodies are invalid_protobuf / invalid_json', () => {
    const { spans } = recordScenario();
    const valid = serialize('protobuf', spans);
    expect(reasonOf(() => decodeOtlpTraces(valid.subarray(0, valid.length - 3), 'protobuf', LIMITS))).toBe('invalid_protobuf');
    expect(reasonOf(() => decodeOtlpTraces(Buffer.from([0x0f]), 'protobuf', LIMITS))).toBe('invalid_protobuf');
    expect(reasonOf(() => decodeOtlpTraces(Buffer.from('{"resourceSpans":['), 'json', LIMITS))).toBe('invalid_json');
    expect(reasonOf(() => decodeOtlpTraces(json([]), 'json', LIMITS))).toBe('invalid_json');
    expect(rejection(() => decodeOtlpTraces(json({ resourceSpans: [{ scopeSpans: [{ spans: [{ name: 5 }] }] }] }), 'json', LIMITS)).message).toContain(
      'resourceSpans[0].scopeSpans[0].spans[0].name: must be a string',
    );
  });

  it('more spans than maxSpansPerBatch is too_large, in both formats', () => {
    const { spans } = recordScenario();
    const limits = { ...LIMITS, maxSpansPerBatch: spans.length - 1 };
    expect(reasonOf(() => decodeOtlpTraces(serialize('protobuf', spans), 'protobuf', limits))).toBe('too_large');
    expect(reasonOf(() => decodeOtlpTraces(serialize('json', spans), 'json', limits))).toBe('too_large');
    expect(decodeOtlpTraces(serialize('protobuf', spans), 'protobuf', { ...limits, maxSpansPerBatch: spans.length }).spans).toHaveLength(spans.length);
  });
});

describe('decodeOtlpTraces: OTLP/JSON specifics', () => {
  const TRACE = '5B8EFFF798038103D269B633813FC60C';
  const span = (overrides: Record<string, unknown> = {}) => ({
    traceId: TRACE,
    spanId: 'EEE19B7EC3C1B174',
    name: 'GET /',
    kind: 2,
    startTimeUnixNano: '1768472400123456789',
    endTimeUnixNano: '1768472400223456789',
    ...overrides,
  });
  const request = (spans: unknown[], resourceAttributes: unknown[] = [{ key: 'service.name', value: { stringValue: 'api' } }]) =>
    json({ resourceSpans: [{ resource: { attributes: resourceAttributes }, scopeSpans: [{ scope: { name: 's' }, spans }] }] });

  it('reads hex ids case-insensitively, int64 as strings or numbers, and enum names as well as numbers', () => {
    const result = decodeOtlpTraces(
      request([
        span({ attributes: [{ key: 'n', value: { intValue: '-9223372036854775808' } }, { key: 'm', value: { intValue: 12 } }, { key: 'd', value: { doubleValue: 'NaN' } }] }),
        span({ spanId: 'eee19b7ec3c1b175', kind: 'SPAN_KIND_CLIENT', startTimeUnixNano: 1768472400000000000, endTimeUnixNano: 1768472401000000000, status: { code: 'STATUS_CODE_ERROR' } }),
      ]),
      'json',
      LIMITS,
    );
    expect(result.rejected).toEqual([]);
    expect(result.spans[0]).toMatchObject({ traceId: TRACE.toLowerCase(), spanId: 'eee19b7ec3c1b174', kind: 'server', startTimeUs: 1768472400123456, durationUs: 100_000 });
    expect(result.spans[0]!.tags).toEqual({ n: '-9223372036854775808', m: '12', d: 'NaN' });
    expect(result.spans[1]).toMatchObject({ kind: 'client', startTimeUs: 1768472400000000, durationUs: 1_000_000, error: true });
  });

  it('keeps an integral intValue number beyond int64 as written (the OpenTelemetry JS JSON serializer sends those)', () => {
    const result = decodeOtlpTraces(request([span({ attributes: [{ key: 'huge', value: { intValue: -1e19 } }] })]), 'json', LIMITS);
    expect(result.spans[0]!.tags).toEqual({ huge: '-10000000000000000000' });
    expect(reasonOf(() => decodeOtlpTraces(request([span({ attributes: [{ key: 'huge', value: { intValue: '-10000000000000000000' } }] })]), 'json', LIMITS))).toBe('invalid_json');
    expect(reasonOf(() => decodeOtlpTraces(request([span({ attributes: [{ key: 'x', value: { intValue: 1.5 } }] })]), 'json', LIMITS))).toBe('invalid_json');
  });

  it('ignores unknown and snake_case fields (OTLP/JSON names are lowerCamelCase only)', () => {
    const result = decodeOtlpTraces(request([span({ start_time_unix_nano: '1', futureField: { x: 1 }, parent_span_id: 'zz' })]), 'json', LIMITS);
    expect(result.spans).toHaveLength(1);
    expect(result.spans[0]!.parentSpanId).toBeUndefined();
  });

  it('a missing service.name is unknown_service; resource, kind and status defaults apply', () => {
    const result = decodeOtlpTraces(request([span({ kind: undefined })], []), 'json', LIMITS);
    expect(result.spans[0]).toMatchObject({ service: 'unknown_service', kind: 'internal', error: false, resource: {} });
  });

  it('per-span problems are rejected with OTLP paths; the rest of the request is accepted', () => {
    const result = decodeOtlpTraces(
      request([
        span({ spanId: 'not-hex-at-all!!' }),
        span({ spanId: 'eee19b7ec3c1b175', endTimeUnixNano: '1768472400000000000' }),
        span({ spanId: 'eee19b7ec3c1b176', name: '' }),
        span({ spanId: 'eee19b7ec3c1b177', parentSpanId: '' }),
        span({ spanId: 'eee19b7ec3c1b178', attributes: [{ key: 'big', value: { stringValue: 'x'.repeat(5000) } }] }),
      ]),
      'json',
      LIMITS,
    );
    const base = 'resourceSpans[0].scopeSpans[0].spans';
    expect(result.spans.map((s) => s.spanId)).toEqual(['eee19b7ec3c1b177']);
    expect(result.rejectedSpans).toBe(4);
    expect(result.rejected).toEqual([
      { path: `${base}[0].spanId`, message: 'must be 8 bytes (16 hex characters)' },
      { path: `${base}[1].endTimeUnixNano`, message: 'must not be before startTimeUnixNano' },
      { path: `${base}[2].name`, message: 'must be a non-empty string' },
      { path: `${base}[4].attributes.big`, message: 'longer than 4096 characters' },
    ]);
    expect(otlpPartialSuccess(result).errorMessage).toBe(
      `4 span(s) rejected: ${base}[0].spanId: must be 8 bytes (16 hex characters); ${base}[1].endTimeUnixNano: must not be before startTimeUnixNano; ${base}[2].name: must be a non-empty string; and 1 more`,
    );
  });

  it('an AnyValue nested deeper than 32 levels is invalid_json', () => {
    let value: unknown = { stringValue: 'leaf' };
    for (let i = 0; i < 40; i++) value = { arrayValue: { values: [value] } };
    expect(reasonOf(() => decodeOtlpTraces(request([span({ attributes: [{ key: 'deep', value }] })]), 'json', LIMITS))).toBe('invalid_json');
  });
});

describe('otlpPartialSuccess / encodeOtlpExportResponse', () => {
  it('full success is an empty message, encoded as an empty body', () => {
    const partial = otlpPartialSuccess({ spans: [], rejected: [], rejectedSpans: 0 });
    expect(partial).toEqual({ rejectedSpans: 0, errorMessage: '' });
    expect(encodeOtlpExportResponse(partial)).toEqual(Buffer.alloc(0));
    expect(ProtobufTraceSerializer.deserializeResponse(new Uint8Array(0))).toEqual({});
  });

  it('encodes partial_success as the OpenTelemetry JS exporter reads it', () => {
    const message = 'résumé: 300 span(s) rejected';
    const bytes = encodeOtlpExportResponse({ rejectedSpans: 300, errorMessage: message });
    expect(ProtobufTraceSerializer.deserializeResponse(new Uint8Array(bytes))).toEqual({ partialSuccess: { rejectedSpans: 300, errorMessage: message } });
    expect(ProtobufTraceSerializer.deserializeResponse(new Uint8Array(encodeOtlpExportResponse({ rejectedSpans: 0, errorMessage: 'warning' })))).toEqual({
      partialSuccess: { errorMessage: 'warning' },
    });
  });
});
