import { Attributes, Span } from '../../span/span.model';
import { ZIPKIN_TAG, ZipkinV2Endpoint, ZipkinV2Kind, ZipkinV2Span, isIpv4, isIpv6 } from './zipkin-v2.decoder';

const KINDS: Readonly<Record<Span['kind'], ZipkinV2Kind | undefined>> = {
  client: 'CLIENT',
  server: 'SERVER',
  producer: 'PRODUCER',
  consumer: 'CONSUMER',
  internal: undefined,
};

function port(value: string | undefined): number | undefined {
  const n = value === undefined ? NaN : Number(value);
  return Number.isInteger(n) && n > 0 && n <= 0xffff ? n : undefined;
}

function endpoint(serviceName: string | undefined, ipv4: string | undefined, ipv6: string | undefined, portTag: string | undefined): ZipkinV2Endpoint | undefined {
  const out: ZipkinV2Endpoint = {};
  if (serviceName !== undefined) out.serviceName = serviceName;
  if (ipv4 !== undefined && isIpv4(ipv4)) out.ipv4 = ipv4;
  if (ipv6 !== undefined && isIpv6(ipv6)) out.ipv6 = ipv6;
  const p = port(portTag);
  if (p !== undefined) out.port = p;
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * encodeZipkinV2: Skein spans → Zipkin v2 JSON spans (the body of `GET /api/v2/trace/{id}`), the inverse of
 * decodeZipkinV2: the {@link ZIPKIN_TAG} tags go back into endpoints, `debug` and `shared`.
 *
 * A shared server half (tag `zipkin.shared_span_id`) gets back the client's id with `shared: true`, and the
 * client's parentId when the client half is among `spans` (pass whole traces). A failed span without an `error`
 * tag gets one (its statusMessage, else 'true'). A `host` that is not an IP address is left out, and so are the
 * fields Zipkin has no place for (rpcId, app, resource, scope, links, event attributes).
 */
export function encodeZipkinV2(spans: Span[]): ZipkinV2Span[] {
  const parents = new Map<string, string | undefined>();
  for (const span of spans) {
    if (span.tags[ZIPKIN_TAG.sharedSpanId] === undefined) parents.set(`${span.traceId}/${span.spanId}`, span.parentSpanId);
  }
  return spans.map((span) => {
    const tags: Attributes = { ...span.tags };
    const take = (key: string): string | undefined => {
      const value = Object.prototype.hasOwnProperty.call(tags, key) ? tags[key] : undefined;
      delete tags[key];
      return value;
    };
    const sharedId = take(ZIPKIN_TAG.sharedSpanId);
    const debug = take(ZIPKIN_TAG.debug);
    const localPort = take(ZIPKIN_TAG.localPort);
    const localIpv6 = take(ZIPKIN_TAG.localIpv6);
    const remoteIpv4 = take(ZIPKIN_TAG.remoteIpv4);
    const remoteIpv6 = take(ZIPKIN_TAG.remoteIpv6);
    const remotePort = take(ZIPKIN_TAG.remotePort);
    const id = sharedId ?? span.spanId;
    const parentId = sharedId === undefined ? span.parentSpanId : parents.get(`${span.traceId}/${sharedId}`);
    // Built in Zipkin's field order, so the JSON reads like what zipkin-js and Brave send.
    const out: ZipkinV2Span = parentId === undefined ? { traceId: span.traceId, id } : { traceId: span.traceId, parentId, id };
    out.name = span.operation;
    const kind = KINDS[span.kind];
    if (kind !== undefined) out.kind = kind;
    out.timestamp = span.startTimeUs;
    if (span.durationUs > 0) out.duration = span.durationUs;
    const host = span.host;
    const local = endpoint(span.service, host !== undefined && isIpv4(host) ? host : undefined, host !== undefined && isIpv6(host) ? host : localIpv6, localPort);
    if (local !== undefined) out.localEndpoint = local;
    const remote = endpoint(span.remoteService, remoteIpv4, remoteIpv6, remotePort);
    if (remote !== undefined) out.remoteEndpoint = remote;
    if (span.events !== undefined && span.events.length > 0) out.annotations = span.events.map((e) => ({ timestamp: e.timeUs, value: e.name }));
    if (span.error && tags['error'] === undefined) tags['error'] = span.statusMessage ?? 'true';
    if (Object.keys(tags).length > 0) out.tags = tags;
    if (debug === 'true') out.debug = true;
    if (sharedId !== undefined) out.shared = true;
    return out;
  });
}
