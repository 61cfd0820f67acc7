import { createHash } from 'node:crypto';
import { BatchRecorder, ExplicitContext, Instrumentation, Tracer, TraceId, jsonEncoder, model, option } from 'zipkin';
import { Span } from '../../span/span.model';
import { DEFAULT_SPAN_LIMITS, validateSpan } from '../../span/span.validation';
import { T0_US, TRACE_A, spanIdOf } from '../../testing/span-fixtures';
import { BatchLimits, BatchRejection, BatchRejectionReason, DEFAULT_BATCH_LIMITS, MAX_REPORTED_VIOLATIONS } from '../span-batch.codec';
import { ZIPKIN_TAG, decodeZipkinV2, sharedServerSpanId } from './zipkin-v2.decoder';

const PARENT = spanIdOf(0x10);
const CLIENT_ID = spanIdOf(0x11);
const OTHER_ID = spanIdOf(0x12);

/** body: zipkin-js spans as its HTTP transport posts them (JSON_V2 encoder, one JSON array). */
function body(...spans: model.Span[]): Buffer {
  return Buffer.from(`[${spans.map((s) => jsonEncoder.JSON_V2.encode(s)).join(',')}]`);
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/** zipkinSpan: a zipkin-js model span of TRACE_A with the given ids and flags. */
function zipkinSpan(id: string, options: { parentId?: string; shared?: boolean; debug?: boolean; traceId?: string } = {}): model.Span {
  const traceId = new TraceId({
    traceId: options.traceId ?? TRACE_A,
    parentId: options.parentId === undefined ? option.None : new option.Some(options.parentId),
    spanId: id,
    sampled: new option.Some(true),
    debug: options.debug ?? false,
    shared: options.shared ?? false,
  });
  return new model.Span(traceId);
}

/** timed: a zipkin-js span with a name, kind, start and duration, as every finished span has. */
function timed(id: string, kind: string | undefined, options: Parameters<typeof zipkinSpan>[1] & { service?: string; name?: string } = {}): model.Span {
  const span = zipkinSpan(id, options);
  span.setName(options.name ?? 'get /orders');
  if (kind !== undefined) span.setKind(kind);
  span.setTimestamp(T0_US);
  span.setDuration(1_500);
  span.setLocalEndpoint(new model.Endpoint({ serviceName: options.service ?? 'frontend' }));
  return span;
}

function decodeOk(buffer: Buffer, limits: BatchLimits = DEFAULT_BATCH_LIMITS): Span[] {
  const result = decodeZipkinV2(buffer, limits);
  expect(result.rejected).toEqual([]);
  expect(result.rejectedSpans).toBe(0);
  return result.spans;
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

function reasonOf(fn: () => unknown): BatchRejectionReason {
  return rejection(fn).reason;
}

describe('decodeZipkinV2 with payloads from zipkin-js', () => {
  it('maps every field of a client span', () => {
    const span = zipkinSpan(CLIENT_ID, { parentId: PARENT, debug: true });
    span.setName('GET /orders/{id}');
    span.setKind('CLIENT');
    span.setTimestamp(T0_US);
    span.setDuration(1_500);
    span.setLocalEndpoint(new model.Endpoint({ serviceName: 'Frontend', ipv4: '10.0.0.1', port: 8080 }));
    span.setRemoteEndpoint(new model.Endpoint({ serviceName: 'Backend', ipv4: '10.0.0.2', port: 9000 }));
    span.addAnnotation(T0_US + 10, 'wire send');
    span.addAnnotation(T0_US + 1_400, 'wire recv');
    span.putTag('http.path', '/orders/7');
    span.putTag('error', 'connection reset');

    expect(decodeOk(body(span))).toEqual<Span[]>([
      {
        traceId: TRACE_A,
        spanId: CLIENT_ID,
        parentSpanId: PARENT,
        service: 'frontend',
        // zipkin-js lower-cases span names itself; Skein keeps the name as sent.
        operation: 'get /orders/{id}',
        kind: 'client',
        startTimeUs: T0_US,
        durationUs: 1_500,
        error: true,
        statusMessage: 'connection reset',
        remoteService: 'backend',
        host: '10.0.0.1',
        tags: {
          'http.path': '/orders/7',
          error: 'connection reset',
          [ZIPKIN_TAG.localPort]: '8080',
          [ZIPKIN_TAG.remoteIpv4]: '10.0.0.2',
          [ZIPKIN_TAG.remotePort]: '9000',
          [ZIPKIN_TAG.debug]: 'true',
        },
        events: [
          { timeUs: T0_US + 10, name: 'wire send', attributes: {} },
          { timeUs: T0_US + 1_400, name: 'wire recv', attributes: {} },
        ],
      },
    ]);
  });

  it('a minimal span: no endpoint, no tags, no annotations', () => {
    const span = zipkinSpan(CLIENT_ID);
    span.setTimestamp(T0_US);
    expect(decodeOk(body(span))).toEqual<Span[]>([
      { traceId: TRACE_A, spanId: CLIENT_ID, service: 'unknown', operation: 'unknown', kind: 'internal', startTimeUs: T0_US, durationUs: 0, error: false, tags: {} },
    ]);
  });

  it.each([
    ['CLIENT', 'client'],
    ['SERVER', 'server'],
    ['PRODUCER', 'producer'],
    ['CONSUMER', 'consumer'],
    [undefined, 'internal'],
  ])('kind %s → %s', (kind, expected) => {
    expect(decodeOk(body(timed(CLIENT_ID, kind)))[0]!.kind).toBe(expected);
  });

  it.each([
    ['connection reset', 'connection reset'],
    ['', undefined],
    ['true', undefined],
    ['500', '500'],
  ])('an error tag %j marks the span failed with statusMessage %j', (value, statusMessage) => {
    const span = timed(CLIENT_ID, 'SERVER');
    span.putTag('error', value);
    const [decoded] = decodeOk(body(span));
    expect(decoded!.error).toBe(true);
    expect(decoded!.statusMessage).toBe(statusMessage);
    expect(decoded!.tags['error']).toBe(value);
  });

  it('a span without an error tag is not failed, whatever its status code', () => {
    const span = timed(CLIENT_ID, 'SERVER');
    span.putTag('http.status_code', '503');
    const [decoded] = decodeOk(body(span));
    expect(decoded!.error).toBe(false);
    expect(decoded).not.toHaveProperty('statusMessage');
  });

  it('keeps a 64-bit trace id as sent', () => {
    const traceId = 'a1b2c3d4e5f60718';
    expect(decodeOk(body(timed(CLIENT_ID, 'CLIENT', { traceId })))[0]!.traceId).toBe(traceId);
  });

  describe('shared spans (B3 single-host model)', () => {
    const serverId = sharedServerSpanId(TRACE_A, CLIENT_ID);

    it('the server half gets a distinct, deterministic id whose parent is the client half', () => {
      const client = timed(CLIENT_ID, 'CLIENT', { parentId: PARENT, service: 'frontend' });
      client.setRemoteEndpoint(new model.Endpoint({ serviceName: 'backend' }));
      const server = timed(CLIENT_ID, 'SERVER', { parentId: PARENT, shared: true, service: 'backend' });
      server.setLocalEndpoint(new model.Endpoint({ serviceName: 'backend', ipv4: '10.0.0.2', port: 9000 }));
      const [decodedClient, decodedServer] = decodeOk(body(client, server));

      expect(serverId).toBe(createHash('sha256').update(`${TRACE_A}:${CLIENT_ID}:server`).digest('hex').slice(0, 16));
      expect(decodedClient).toMatchObject({ spanId: CLIENT_ID, parentSpanId: PARENT, kind: 'client', service: 'frontend', remoteService: 'backend' });
      expect(decodedClient!.tags).toEqual({});
      expect(decodedServer).toEqual<Span>({
        traceId: TRACE_A,
        spanId: serverId,
        parentSpanId: CLIENT_ID,
        service: 'backend',
        operation: 'get /orders',
        kind: 'server',
        startTimeUs: T0_US,
        durationUs: 1_500,
        error: false,
        host: '10.0.0.2',
        tags: { [ZIPKIN_TAG.localPort]: '9000', [ZIPKIN_TAG.sharedSpanId]: CLIENT_ID },
      });
    });

    it('the server half alone (reported by another process) gets the same id', () => {
      const [decoded] = decodeOk(body(timed(CLIENT_ID, 'SERVER', { parentId: PARENT, shared: true })));
      expect(decoded).toMatchObject({ spanId: serverId, parentSpanId: CLIENT_ID, tags: { [ZIPKIN_TAG.sharedSpanId]: CLIENT_ID } });
    });

    it('a SERVER span reusing the id of a CLIENT span in the same body is shared even without the flag (as Zipkin infers)', () => {
      const [, server] = decodeOk(body(timed(CLIENT_ID, 'CLIENT', { parentId: PARENT }), timed(CLIENT_ID, 'SERVER', { parentId: PARENT })));
      expect(server).toMatchObject({ spanId: serverId, parentSpanId: CLIENT_ID });
    });

    it('a SERVER span without the flag and without a client twin keeps its id', () => {
      const [server] = decodeOk(body(timed(CLIENT_ID, 'SERVER', { parentId: PARENT })));
      expect(server).toMatchObject({ spanId: CLIENT_ID, parentSpanId: PARENT });
      expect(server!.tags).toEqual({});
    });

    it('the flag on a CLIENT span is ignored, as Zipkin does', () => {
      const [client] = decodeOk(body(timed(CLIENT_ID, 'CLIENT', { parentId: PARENT, shared: true })));
      expect(client).toMatchObject({ spanId: CLIENT_ID, parentSpanId: PARENT });
    });
  });

  it('decodes what a zipkin-js Tracer reports for an HTTP call between two services (joined span ids)', () => {
    const reported: model.Span[] = [];
    const logger = { logSpan: (span: model.Span) => reported.push(span) };
    const frontendTracer = new Tracer({ ctxImpl: new ExplicitContext(), recorder: new BatchRecorder({ logger }), localServiceName: 'Frontend', traceId128Bit: true });
    const backendTracer = new Tracer({ ctxImpl: new ExplicitContext(), recorder: new BatchRecorder({ logger }), localServiceName: 'backend' });
    const client = new Instrumentation.HttpClient({ tracer: frontendTracer, remoteServiceName: 'backend' });
    const server = new Instrumentation.HttpServer({ tracer: backendTracer, port: 8080, host: '10.0.0.2' });

    frontendTracer.scoped(() => {
      const request = client.recordRequest<{ headers: Record<string, string> }>({ headers: {} }, 'http://backend/orders/7', 'GET');
      const clientId = frontendTracer.id;
      backendTracer.scoped(() => {
        const readHeader = <T>(name: string): option.IOption<T> => option.fromNullable(request.headers[name] as T);
        const serverId = server.recordRequest('GET', 'http://backend/orders/7', readHeader);
        backendTracer.recordMessage('loaded order');
        server.recordResponse(serverId, '500', new Error('no stock'));
      });
      client.recordResponse(clientId, '500');
    });

    expect(reported.map((s) => s.kind)).toEqual(['SERVER', 'CLIENT']);
    const result = decodeOk(body(...reported));
    const serverSpan = result.find((s) => s.kind === 'server')!;
    const clientSpan = result.find((s) => s.kind === 'client')!;
    expect(clientSpan).toMatchObject({ service: 'frontend', operation: 'get', remoteService: 'backend', error: true, statusMessage: '500' });
    expect(clientSpan.tags).toMatchObject({ 'http.path': '/orders/7', 'http.status_code': '500' });
    expect(clientSpan.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(serverSpan).toMatchObject({
      traceId: clientSpan.traceId,
      spanId: sharedServerSpanId(clientSpan.traceId, clientSpan.spanId),
      parentSpanId: clientSpan.spanId,
      service: 'backend',
      host: '10.0.0.2',
      error: true,
      statusMessage: 'Error: no stock',
      tags: { [ZIPKIN_TAG.sharedSpanId]: clientSpan.spanId, [ZIPKIN_TAG.localPort]: '8080' },
    });
    expect(serverSpan.events?.map((e) => e.name)).toEqual(['loaded order']);
    expect(serverSpan.startTimeUs).toBeGreaterThanOrEqual(clientSpan.startTimeUs);
  });
});

describe('decodeZipkinV2 normalisation (as Zipkin)', () => {
  const raw = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    traceId: TRACE_A,
    id: CLIENT_ID,
    name: 'get',
    timestamp: T0_US,
    duration: 10,
    localEndpoint: { serviceName: 'svc' },
    ...overrides,
  });

  it('lower-cases ids and service names, pads short ids and reduces a 128-bit trace id with a zero high half', () => {
    const [span] = decodeOk(
      json([raw({ traceId: '0000000000000000A1B2C3D4E5F60718', id: 'ABC', parentId: '1', localEndpoint: { serviceName: 'Order-Service' }, remoteEndpoint: { serviceName: 'MySQL' } })]),
    );
    expect(span).toMatchObject({ traceId: 'a1b2c3d4e5f60718', spanId: '0000000000000abc', parentSpanId: '0000000000000001', service: 'order-service', remoteService: 'mysql' });
  });

  it('pads a trace id of 17 to 31 characters to 32', () => {
    expect(decodeOk(json([raw({ traceId: '1' + '0'.repeat(20) })]))[0]!.traceId).toBe('0'.repeat(11) + '1' + '0'.repeat(20));
  });

  it('an all-zero parentId and a parentId equal to the id mean a root span', () => {
    for (const parentId of ['0000000000000000', CLIENT_ID, null]) {
      expect(decodeOk(json([raw({ parentId })]))[0]).not.toHaveProperty('parentSpanId');
    }
  });

  it('a missing or empty name is `unknown`; a missing or empty serviceName is `unknown`', () => {
    for (const overrides of [{ name: undefined }, { name: '' }, { name: null }]) {
      expect(decodeOk(json([raw(overrides)]))[0]!.operation).toBe('unknown');
    }
    for (const localEndpoint of [undefined, null, {}, { serviceName: '' }, { ipv4: '10.1.1.1' }]) {
      expect(decodeOk(json([raw({ localEndpoint })]))[0]!.service).toBe('unknown');
    }
  });

  it('a missing, zero or negative duration is 0, with no tag', () => {
    for (const duration of [undefined, null, 0, -5]) {
      const [span] = decodeOk(json([raw({ duration })]));
      expect(span).toMatchObject({ durationUs: 0, tags: {} });
    }
  });

  it('host is the ipv4, else the ipv6; the other addresses and ports go to zipkin.* tags', () => {
    const both = decodeOk(json([raw({ localEndpoint: { serviceName: 's', ipv4: '10.0.0.1', ipv6: '2001:DB8::1', port: 80 }, remoteEndpoint: { ipv6: '::1', port: 5432 } })]))[0]!;
    expect(both.host).toBe('10.0.0.1');
    expect(both.tags).toEqual({ [ZIPKIN_TAG.localIpv6]: '2001:db8::1', [ZIPKIN_TAG.localPort]: '80', [ZIPKIN_TAG.remoteIpv6]: '::1', [ZIPKIN_TAG.remotePort]: '5432' });
    expect(both).not.toHaveProperty('remoteService');
    expect(decodeOk(json([raw({ localEndpoint: { serviceName: 's', ipv6: 'fe80::1' } })]))[0]!.host).toBe('fe80::1');
  });

  it('ignores unparsable addresses and ports, as Zipkin does', () => {
    const [span] = decodeOk(json([raw({ localEndpoint: { serviceName: 's', ipv4: '300.1.1.1', ipv6: 'not-an-ip', port: 70_000 }, remoteEndpoint: { ipv4: 7, port: -1 } })]));
    expect(span).not.toHaveProperty('host');
    expect(span!.tags).toEqual({});
  });

  it('drops incoming zipkin.* codec tags (only the decoder sets them)', () => {
    const [span] = decodeOk(json([raw({ tags: { [ZIPKIN_TAG.sharedSpanId]: OTHER_ID, [ZIPKIN_TAG.debug]: 'true', 'zipkin.other': 'kept' } })]));
    expect(span!.tags).toEqual({ 'zipkin.other': 'kept' });
  });

  it('stringifies number and boolean tag values, like the native codec', () => {
    const [span] = decodeOk(json([raw({ tags: { 'http.status_code': 500, cached: false, error: 42 } })]));
    expect(span).toMatchObject({ error: true, statusMessage: '42', tags: { 'http.status_code': '500', cached: 'false', error: '42' } });
  });

  it('an empty array is a valid, empty batch (Zipkin answers 202)', () => {
    expect(decodeZipkinV2(json([]), DEFAULT_BATCH_LIMITS)).toEqual({ spans: [], rejected: [], rejectedSpans: 0 });
  });

  it('every decoded span passes validateSpan unchanged', () => {
    const spans = decodeOk(json([raw(), raw({ id: OTHER_ID, kind: 'SERVER', shared: true, tags: { a: 'b' }, annotations: [{ timestamp: T0_US, value: 'x' }] })]));
    spans.forEach((span, i) => expect(validateSpan(span, `spans[${i}]`, DEFAULT_SPAN_LIMITS)).toEqual({ ok: true, span }));
  });
});

describe('decodeZipkinV2 rejections', () => {
  const valid = (): Record<string, unknown> => ({ traceId: TRACE_A, id: CLIENT_ID, name: 'get', timestamp: T0_US, duration: 10, localEndpoint: { serviceName: 'svc' } });

  it.each<[string, Buffer, BatchRejectionReason]>([
    ['not JSON', Buffer.from('[{"traceId":'), 'invalid_json'],
    ['invalid UTF-8 garbage', Buffer.from([0xff, 0xfe, 0x00]), 'invalid_json'],
    ['the native format', json({ spans: [] }), 'invalid_batch'],
    ['a JSON string', json('spans'), 'invalid_batch'],
    ['null', json(null), 'invalid_batch'],
  ])('the whole body: %s', (_what, buffer, reason) => {
    expect(reasonOf(() => decodeZipkinV2(buffer, DEFAULT_BATCH_LIMITS))).toBe(reason);
  });

  it('more spans than maxSpansPerBatch, or more bytes than maxDecompressedBytes, is too_large', () => {
    const three = json([valid(), valid(), valid()]);
    expect(reasonOf(() => decodeZipkinV2(three, { ...DEFAULT_BATCH_LIMITS, maxSpansPerBatch: 2 }))).toBe('too_large');
    expect(reasonOf(() => decodeZipkinV2(three, { ...DEFAULT_BATCH_LIMITS, maxDecompressedBytes: three.length - 1 }))).toBe('too_large');
    expect(decodeZipkinV2(three, { ...DEFAULT_BATCH_LIMITS, maxSpansPerBatch: 3, maxDecompressedBytes: three.length }).spans).toHaveLength(3);
  });

  it('a span without timestamp (zipkin-js reports a late finish that way) is rejected; the others are decoded', () => {
    const late = zipkinSpan(OTHER_ID);
    late.addAnnotation(T0_US + 5_000, 'finish');
    const result = decodeZipkinV2(body(timed(CLIENT_ID, 'SERVER'), late), DEFAULT_BATCH_LIMITS);
    expect(result.spans.map((s) => s.spanId)).toEqual([CLIENT_ID]);
    expect(result.rejectedSpans).toBe(1);
    expect(result.rejected).toEqual([{ path: 'spans[1].timestamp', message: expect.stringMatching(/^required: .*cannot be placed in time/) }]);
  });

  it('names each problem by its Zipkin field', () => {
    const result = decodeZipkinV2(
      json([
        valid(),
        { ...valid(), traceId: 'xyz', id: '0000000000000000', kind: 'client', timestamp: 12 },
        'a string',
        { ...valid(), name: 'n'.repeat(300), localEndpoint: { serviceName: 's'.repeat(300) }, remoteEndpoint: { serviceName: 5 } },
        { ...valid(), annotations: [{ timestamp: T0_US, value: 'ok' }, { timestamp: T0_US }, { timestamp: 'soon', value: 'x' }], tags: { nested: { a: 1 } } },
        { ...valid(), duration: 1.5, parentId: 'not-hex', localEndpoint: 'svc' },
        { ...valid(), annotations: {}, tags: [] },
      ]),
      DEFAULT_BATCH_LIMITS,
    );
    expect(result.spans).toHaveLength(1);
    expect(result.rejectedSpans).toBe(6);
    expect(result.rejected.map((v) => v.path)).toEqual([
      'spans[1].traceId',
      'spans[1].id',
      'spans[1].kind',
      'spans[1].timestamp',
      'spans[2]',
      'spans[3].remoteEndpoint.serviceName',
      'spans[3].localEndpoint.serviceName',
      'spans[3].name',
      'spans[4].tags.nested',
      'spans[4].annotations[1].value',
      'spans[4].annotations[2].timestamp',
      'spans[5].parentId',
      'spans[5].localEndpoint',
      'spans[5].duration',
      'spans[6].tags',
      'spans[6].annotations',
    ]);
    const messages = Object.fromEntries(result.rejected.map((v) => [v.path, v.message]));
    expect(messages['spans[1].id']).toBe('must not be all zeros');
    expect(messages['spans[1].kind']).toMatch(/CLIENT, SERVER, PRODUCER, CONSUMER/);
    expect(messages['spans[1].timestamp']).toMatch(/years 2000-2200/);
    expect(messages['spans[3].name']).toMatch(/longer than 256/);
  });

  it('lists at most MAX_REPORTED_VIOLATIONS violations but counts every rejected span', () => {
    const bad = Array.from({ length: MAX_REPORTED_VIOLATIONS + 10 }, () => ({ id: 'zz' }));
    const result = decodeZipkinV2(json(bad), DEFAULT_BATCH_LIMITS);
    expect(result.rejected).toHaveLength(MAX_REPORTED_VIOLATIONS);
    expect(result.rejectedSpans).toBe(bad.length);
    expect(result.spans).toEqual([]);
  });
});
