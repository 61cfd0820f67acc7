import {
  BatchLimits,
  BatchRejection,
  BusMessage,
  DecodedSpans,
  MAX_REPORTED_VIOLATIONS,
  ResolvedPolicy,
  Span,
  decideSpan,
  decodeOtlpTraces,
  decodeZipkinV2,
  parseSpanBatch,
} from '@skein/domain';
import { encodeSpanMessages } from '@skein/contracts';
import { decodeContentEncoding } from './body-encoding';

/** IngestProtocol: the request formats the gateway decodes. */
export type IngestProtocol = 'native' | 'otlp' | 'zipkin';

/** PrepareRequest: one request body to decode, as it arrived (the body still compressed). */
export interface PrepareRequest {
  protocol: IngestProtocol;
  body: Uint8Array;
  /** format: OTLP only: protobuf or JSON. */
  format?: 'protobuf' | 'json';
  contentEncoding: string | undefined;
  /** app: the authenticated application, undefined on an open endpoint (the spans then carry no app). */
  app: string | undefined;
}

/** PolicyResolver: what routing needs of the sampling policy (a PolicyCache or a PolicyIndex). */
export interface PolicyResolver {
  resolve(app: string, service?: string, operation?: string): ResolvedPolicy;
}

/** PreparedBatch: a decoded, validated, routed and encoded request: the bus messages and what to count. */
export interface PreparedBatch {
  /** valid: spans that passed validation (rate-limited as a whole). */
  valid: number;
  /** rejectedSpans: invalid spans refused one by one (OTLP partial success), with their violations. */
  rejectedSpans: number;
  violations: DecodedSpans['rejected'];
  traced: number;
  metricsOnly: number;
  switchedOff: number;
  unsampled: number;
  /** messages: one per trace and route, ready for the spans topic. */
  messages: BusMessage[];
}

/** ANONYMOUS_APP: the application name of spans when the endpoint is not authenticated (tests, embedded without keys). */
export const ANONYMOUS_APP = 'anonymous';

function decode(request: PrepareRequest, limits: BatchLimits): DecodedSpans {
  const body = Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength);
  if (request.protocol === 'native') {
    const json = decodeContentEncoding(body, request.contentEncoding, limits.maxDecompressedBytes, ['lz4', 'identity']);
    return { spans: parseSpanBatch(json, limits), rejected: [], rejectedSpans: 0 };
  }
  const raw = decodeContentEncoding(body, request.contentEncoding, limits.maxDecompressedBytes, ['gzip', 'identity']);
  if (request.protocol === 'otlp') return decodeOtlpTraces(raw, request.format ?? 'protobuf', limits);
  const decoded = decodeZipkinV2(raw, limits);
  if (decoded.rejected.length > 0) {
    // All or nothing, as Zipkin's server does.
    const first = decoded.rejected[0] as DecodedSpans['rejected'][number];
    throw new BatchRejection('invalid_span', `${decoded.rejectedSpans} invalid span(s); first: ${first.path}: ${first.message}`, decoded.rejected.slice(0, MAX_REPORTED_VIOLATIONS));
  }
  return decoded;
}

/**
 * prepareBatch: decodes and validates one request, tags its spans with the application, applies the sampling
 * policy per span and encodes the span messages. Pure CPU work and no I/O, so it runs on the request's thread or
 * in a decode worker (decode-pool.ts) with the same result. Throws a BatchRejection for a refused request.
 */
export function prepareBatch(request: PrepareRequest, limits: BatchLimits, policy: PolicyResolver | undefined): PreparedBatch {
  const decoded = decode(request, limits);
  const app = request.app ?? ANONYMOUS_APP;
  const traced: Span[] = [];
  const metricsOnly: Span[] = [];
  let switchedOff = 0;
  let unsampled = 0;
  for (const span of decoded.spans) {
    // The application comes from the API key, never from the SDK's payload.
    if (request.app !== undefined) span.app = request.app;
    else if (span.app !== undefined) delete span.app;
    const decision = policy === undefined ? undefined : decideSpan(policy.resolve(app, span.service, span.operation), span.traceId);
    if (decision === undefined || decision.route === 'trace') traced.push(span);
    else if (decision.route === 'metrics') metricsOnly.push(span);
    else if (decision.reason === 'switched_off') switchedOff++;
    else unsampled++;
  }
  const messages = encodeSpanMessages(traced, true);
  if (metricsOnly.length > 0) for (const message of encodeSpanMessages(metricsOnly, false)) messages.push(message);
  return {
    valid: decoded.spans.length,
    rejectedSpans: decoded.rejectedSpans,
    violations: decoded.rejected,
    traced: traced.length,
    metricsOnly: metricsOnly.length,
    switchedOff,
    unsampled,
    messages,
  };
}
