import { jsonEncoder, model, option, TraceId } from 'zipkin';
import { Span } from '../../span/span.model';
import { FIXED_IDS, T0_US, TRACE_A, fixedThreeServiceTrace, makeSpan, spanIdOf } from '../../testing/span-fixtures';
import { DEFAULT_BATCH_LIMITS } from '../span-batch.codec';
import { ZIPKIN_TAG, ZipkinV2Span, decodeZipkinV2, sharedServerSpanId } from './zipkin-v2.decoder';
import { encodeZipkinV2 } from './zipkin-v2.encoder';

const PARENT = spanIdOf(0x10);
const CLIENT_ID = spanIdOf(0x11);

function decode(value: unknown): Span[] {
  const result = decodeZipkinV2(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)), DEFAULT_BATCH_LIMITS);
  expect(result.rejected).toEqual([]);
  return result.spans;
}

function zipkinSpan(id: string, kind: string | undefined, service: string, options: { parentId?: string; shared?: boolean } = {}): model.Span {
  const span = new model.Span(
    new TraceId({
      traceId: TRACE_A,
      parentId: options.parentId === undefined ? option.None : new option.Some(options.parentId),
      spanId: id,
      sampled: new option.Some(true),
      shared: options.shared ?? false,
    }),
  );
  span.setName('get /orders');
  if (kind !== undefined) span.setKind(kind);
  span.setTimestamp(T0_US);
  span.setDuration(2_000);
  span.setLocalEndpoint(new model.Endpoint({ serviceName: service, ipv4: '10.0.0.1', port: 8080 }));
  return span;
}

/** zipkinJsBody: spans as zipkin-js posts them. */
function zipkinJsBody(spans: model.Span[]): string {
  return `[${spans.map((s) => jsonEncoder.JSON_V2.encode(s)).join(',')}]`;
}

describe('encodeZipkinV2', () => {
  it('maps a Skein trace to Zipkin v2 spans', () => {
    const trace = fixedThreeServiceTrace({ paymentError: true });
    const encoded = encodeZipkinV2(trace);
    expect(encoded[0]).toEqual<ZipkinV2Span>({
      traceId: TRACE_A,
      id: FIXED_IDS.gatewayServer,
      name: 'POST /checkout',
      kind: 'SERVER',
      timestamp: T0_US,
      duration: 30_000,
      localEndpoint: { serviceName: 'api-gateway' },
      tags: { 'http.method': 'POST', 'http.status_code': '200' },
    });
    expect(encoded[1]).toEqual<ZipkinV2Span>({
      traceId: TRACE_A,
      parentId: FIXED_IDS.gatewayServer,
      id: FIXED_IDS.gatewayClient,
      name: 'POST /orders',
      kind: 'CLIENT',
      timestamp: T0_US + 2_000,
      duration: 24_000,
      localEndpoint: { serviceName: 'api-gateway' },
      remoteEndpoint: { serviceName: 'order-service' },
    });
    const failed = trace.filter((s) => s.error);
    expect(failed.length).toBeGreaterThan(0);
    for (const span of failed) {
      expect(encoded[trace.indexOf(span)]!.tags?.['error']).toBe(span.statusMessage ?? 'true');
    }
  });

  it('an internal span has no kind; a zero duration, empty tags and no events are left out', () => {
    expect(encodeZipkinV2([makeSpan({ durationUs: 0 })])).toEqual([{ traceId: TRACE_A, id: spanIdOf(1), name: 'op', timestamp: T0_US, localEndpoint: { serviceName: 'svc' } }]);
  });

  it('statusMessage becomes the error tag; an existing error tag wins', () => {
    expect(encodeZipkinV2([makeSpan({ error: true, statusMessage: 'boom' })])[0]!.tags).toEqual({ error: 'boom' });
    expect(encodeZipkinV2([makeSpan({ error: true, statusMessage: 'boom', tags: { error: 'first' } })])[0]!.tags).toEqual({ error: 'first' });
  });

  it('an IP host goes to the endpoint, a hostname is left out; events become annotations', () => {
    const span = makeSpan({ host: 'web-1.internal', events: [{ timeUs: T0_US + 5, name: 'exception', attributes: { 'exception.type': 'E' } }] });
    expect(encodeZipkinV2([span])[0]).toMatchObject({ localEndpoint: { serviceName: 'svc' }, annotations: [{ timestamp: T0_US + 5, value: 'exception' }] });
    expect(encodeZipkinV2([{ ...span, host: '::1' }])[0]!.localEndpoint).toEqual({ serviceName: 'svc', ipv6: '::1' });
  });

  it('restores the shared server half: client id, shared: true and the client parent', () => {
    const serverId = sharedServerSpanId(TRACE_A, CLIENT_ID);
    const client = makeSpan({ spanId: CLIENT_ID, parentSpanId: PARENT, kind: 'client', service: 'frontend' });
    const server = makeSpan({ spanId: serverId, parentSpanId: CLIENT_ID, kind: 'server', service: 'backend', tags: { [ZIPKIN_TAG.sharedSpanId]: CLIENT_ID } });
    const [, encodedServer] = encodeZipkinV2([client, server]);
    expect(encodedServer).toEqual<ZipkinV2Span>({
      traceId: TRACE_A,
      parentId: PARENT,
      id: CLIENT_ID,
      name: 'op',
      kind: 'SERVER',
      timestamp: T0_US,
      duration: 1_000,
      localEndpoint: { serviceName: 'backend' },
      shared: true,
    });
    // Without the client half the parent is unknown, as it was for Zipkin when the server reported alone.
    expect(encodeZipkinV2([server])[0]).not.toHaveProperty('parentId');
  });
});

describe('Zipkin v2 round trips', () => {
  it('zipkin-js JSON → decode → encode gives back what zipkin-js sent', () => {
    const client = zipkinSpan(CLIENT_ID, 'CLIENT', 'frontend', { parentId: PARENT });
    client.setRemoteEndpoint(new model.Endpoint({ serviceName: 'backend', ipv4: '10.0.0.2', port: 9000 }));
    client.addAnnotation(T0_US + 1, 'wire send');
    client.putTag('http.path', '/orders');
    client.setDebug(true);
    const server = zipkinSpan(CLIENT_ID, 'SERVER', 'backend', { parentId: PARENT, shared: true });
    server.putTag('error', 'no stock');
    const producer = zipkinSpan(spanIdOf(0x12), 'PRODUCER', 'backend', { parentId: CLIENT_ID });
    producer.setRemoteEndpoint(new model.Endpoint({ serviceName: 'kafka' }));
    const local = zipkinSpan(spanIdOf(0x13), undefined, 'backend', { parentId: CLIENT_ID });
    const body = zipkinJsBody([client, server, producer, local]);

    const decoded = decode(body);
    expect(decoded.map((s) => s.spanId)).toEqual([CLIENT_ID, sharedServerSpanId(TRACE_A, CLIENT_ID), spanIdOf(0x12), spanIdOf(0x13)]);
    expect(encodeZipkinV2(decoded)).toEqual(JSON.parse(body));
  });

  it('Skein → encode → decode keeps every field Zipkin can carry', () => {
    const trace = fixedThreeServiceTrace({ paymentError: true }).map((span, i) => ({
      ...span,
      host: `10.0.0.${i + 1}`,
      events: [{ timeUs: span.startTimeUs + 1, name: 'checkpoint', attributes: {} }],
    }));
    const back = decode(encodeZipkinV2(trace));
    // What decoding adds back: an `error` tag on failed spans (Zipkin has no other way to say it).
    const expected = trace.map((span) => (span.error ? { ...span, tags: { ...span.tags, error: span.statusMessage ?? 'true' } } : span));
    expect(back).toEqual(expected);
  });
});
