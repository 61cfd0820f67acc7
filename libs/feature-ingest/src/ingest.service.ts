import {
  BatchLimits,
  BatchRejection,
  DecodedSpans,
  MAX_REPORTED_VIOLATIONS,
  MessageBus,
  PolicyCache,
  Span,
  TokenBucketRateLimiter,
  decideSpan,
  decodeOtlpTraces,
  decodeZipkinV2,
  parseSpanBatch,
} from '@skein/domain';
import { encodeSpanMessages } from '@skein/contracts';
import { Counter, Histogram, Registry } from 'prom-client';
import { decodeContentEncoding } from './body-encoding';

/** IngestOptions: what the ingest path needs: bus and topic, limits, identity and policy, metrics. */
export interface IngestOptions {
  bus: MessageBus;
  /** spansTopic: topic the spans are written to (`skein.spans.v1`, possibly prefixed). */
  spansTopic: string;
  limits: BatchLimits;
  /** maxBodyBytes: largest request body as sent (compressed), bytes. */
  maxBodyBytes: number;
  registry: Registry;
  /** rateLimiter: spans-per-second limits per application; absent = no limit. */
  rateLimiter?: TokenBucketRateLimiter;
  /** policy: the live sampling/switch policy; absent = every span is kept as a trace. */
  policy?: PolicyCache;
  /** maxInFlightBytes: decompressed bytes being written to Kafka at once, beyond which requests get 503 (backpressure). Default 256 MiB. */
  maxInFlightBytes?: number;
  now?: () => number;
}

/** ANONYMOUS_APP: the application name of spans when the endpoint is not authenticated (tests, embedded without keys). */
export const ANONYMOUS_APP = 'anonymous';

/** BusUnavailable: the bus did not acknowledge the batch; nothing of it may be reported as accepted. */
export class BusUnavailable extends Error {
  constructor(cause: Error) {
    super(`the span log (Kafka) did not acknowledge the batch: ${cause.message}`);
    this.name = 'BusUnavailable';
  }
}

/** RateLimited: the application is over its spans-per-second limit; retry after `retryAfterSeconds`. */
export class RateLimited extends Error {
  constructor(
    readonly app: string,
    readonly retryAfterSeconds: number,
  ) {
    super(`application "${app}" is over its span rate limit; retry after ${retryAfterSeconds} s`);
    this.name = 'RateLimited';
  }
}

/** Overloaded: too many bytes are already waiting for Kafka on this instance; retry shortly (backpressure). */
export class Overloaded extends Error {
  constructor(readonly inFlightBytes: number) {
    super(`the gateway is writing ${inFlightBytes} bytes to Kafka already; retry shortly`);
    this.name = 'Overloaded';
  }
}

/** IngestResult: spans made durable (traces + metrics-only), and spans refused or dropped with reasons. */
export interface IngestResult {
  /** accepted: spans acknowledged by Kafka (both those kept as traces and those kept for metrics only). */
  accepted: number;
  /** metricsOnly: of the accepted, spans the sampling policy keeps for minute metrics only. */
  metricsOnly: number;
  /** dropped: spans the policy switched off or sampled out without metrics; counted, answered 2xx. */
  dropped: number;
  /** rejected: invalid spans (partial-success protocols only), with their violations. */
  rejectedSpans: number;
  violations: DecodedSpans['rejected'];
}

/** OtlpFormat: the two OTLP/HTTP encodings. */
export type OtlpBodyFormat = 'protobuf' | 'json';

/**
 * IngestService: decodes and validates a request of any protocol, applies the application's rate limit and the
 * sampling policy, writes the spans to the spans topic and waits for Kafka's acknowledgement.
 */
export class IngestService {
  private readonly received: Counter;
  private readonly accepted: Counter;
  private readonly rejected: Counter;
  private readonly rejectedSpans: Counter;
  private readonly dropped: Counter;
  private readonly produceSeconds: Histogram;
  private readonly maxInFlightBytes: number;
  private inFlightBytes = 0;

  constructor(private readonly options: IngestOptions) {
    const registers = [options.registry];
    this.received = new Counter({ name: 'skein_ingest_spans_received_total', help: 'Spans received in decoded requests, by protocol.', labelNames: ['protocol'], registers });
    this.accepted = new Counter({ name: 'skein_ingest_spans_accepted_total', help: 'Spans written to Kafka and acknowledged to the client, by route (trace or metrics).', labelNames: ['route'], registers });
    this.rejected = new Counter({ name: 'skein_ingest_batches_rejected_total', help: 'Requests refused, by reason.', labelNames: ['reason'], registers });
    this.rejectedSpans = new Counter({ name: 'skein_ingest_spans_rejected_total', help: 'Invalid spans refused inside partially accepted requests (OTLP partial success).', labelNames: ['protocol'], registers });
    this.dropped = new Counter({ name: 'skein_ingest_spans_dropped_total', help: 'Spans answered 2xx but not written, by reason: only the sampling policy drops (switched_off, unsampled).', labelNames: ['reason'], registers });
    for (const reason of ['switched_off', 'unsampled']) this.dropped.inc({ reason }, 0);
    this.produceSeconds = new Histogram({
      name: 'skein_ingest_produce_seconds',
      help: 'Time from decoded batch to Kafka acknowledgement, seconds.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.maxInFlightBytes = options.maxInFlightBytes ?? 256 * 1024 * 1024;
  }

  /** ingestNative: one `POST /api/v1/spans` body (lz4 or plain JSON); all-or-nothing. */
  ingestNative(body: Buffer, contentEncoding: string | undefined, app?: string): Promise<IngestResult> {
    return this.run('native', app, body.length, () => {
      const json = decodeContentEncoding(body, contentEncoding, this.options.limits.maxDecompressedBytes, ['lz4', 'identity']);
      return { spans: parseSpanBatch(json, this.options.limits), rejected: [], rejectedSpans: 0 };
    });
  }

  /** ingestOtlp: one OTLP export request (`/v1/traces` or gRPC Export); invalid spans are reported, the rest accepted. */
  ingestOtlp(body: Buffer, format: OtlpBodyFormat, contentEncoding: string | undefined, app?: string): Promise<IngestResult> {
    return this.run('otlp', app, body.length, () => {
      const raw = decodeContentEncoding(body, contentEncoding, this.options.limits.maxDecompressedBytes, ['gzip', 'identity']);
      return decodeOtlpTraces(raw, format, this.options.limits);
    });
  }

  /** ingestZipkin: one Zipkin v2 JSON body (`POST /api/v2/spans`); all-or-nothing, as Zipkin's server does. */
  ingestZipkin(body: Buffer, contentEncoding: string | undefined, app?: string): Promise<IngestResult> {
    return this.run('zipkin', app, body.length, () => {
      const raw = decodeContentEncoding(body, contentEncoding, this.options.limits.maxDecompressedBytes, ['gzip', 'identity']);
      const decoded = decodeZipkinV2(raw, this.options.limits);
      if (decoded.rejected.length > 0) {
        const first = decoded.rejected[0] as DecodedSpans['rejected'][number];
        throw new BatchRejection('invalid_span', `${decoded.rejectedSpans} invalid span(s); first: ${first.path}: ${first.message}`, decoded.rejected.slice(0, MAX_REPORTED_VIOLATIONS));
      }
      return decoded;
    });
  }

  /** countRejection: counts a request refused before decoding (auth, body size). */
  countRejection(reason: string): void {
    this.rejected.inc({ reason });
  }

  private async run(protocol: string, authenticatedApp: string | undefined, bodyBytes: number, decode: () => DecodedSpans): Promise<IngestResult> {
    let decoded: DecodedSpans;
    try {
      decoded = decode();
    } catch (err) {
      if (err instanceof BatchRejection) this.rejected.inc({ reason: err.reason });
      throw err;
    }
    this.received.inc({ protocol }, decoded.spans.length + decoded.rejectedSpans);
    if (decoded.rejectedSpans > 0) this.rejectedSpans.inc({ protocol }, decoded.rejectedSpans);
    const spans = decoded.spans;
    const app = authenticatedApp ?? ANONYMOUS_APP;
    if (this.options.rateLimiter !== undefined && spans.length > 0) {
      const decision = this.options.rateLimiter.take(app, spans.length, (this.options.now ?? Date.now)());
      if (!decision.ok) {
        this.rejected.inc({ reason: 'rate_limited' });
        throw new RateLimited(app, decision.retryAfterSeconds);
      }
    }
    const traced: Span[] = [];
    const metricsOnly: Span[] = [];
    let switchedOff = 0;
    let unsampled = 0;
    const policy = this.options.policy;
    for (const span of spans) {
      // The application comes from the API key, never from the SDK's payload.
      if (authenticatedApp !== undefined) span.app = authenticatedApp;
      else if (span.app !== undefined) delete span.app;
      const decision = policy === undefined ? undefined : decideSpan(policy.resolve(app, span.service, span.operation), span.traceId);
      if (decision === undefined || decision.route === 'trace') traced.push(span);
      else if (decision.route === 'metrics') metricsOnly.push(span);
      else if (decision.reason === 'switched_off') switchedOff++;
      else unsampled++;
    }
    const messages = encodeSpanMessages(traced, true);
    if (metricsOnly.length > 0) for (const message of encodeSpanMessages(metricsOnly, false)) messages.push(message);
    if (messages.length > 0) {
      // Bound what waits on Kafka: when Kafka is slow, new requests get 503 instead of piling up in memory.
      let bytes = bodyBytes;
      for (const message of messages) bytes += message.value.length;
      if (this.inFlightBytes > 0 && this.inFlightBytes + bytes > this.maxInFlightBytes) {
        this.rejected.inc({ reason: 'overloaded' });
        throw new Overloaded(this.inFlightBytes);
      }
      this.inFlightBytes += bytes;
      const stop = this.produceSeconds.startTimer();
      try {
        await this.options.bus.publish(this.options.spansTopic, messages);
      } catch (err) {
        this.rejected.inc({ reason: 'kafka_unavailable' });
        throw new BusUnavailable(err as Error);
      } finally {
        this.inFlightBytes -= bytes;
        stop();
      }
    }
    if (traced.length > 0) this.accepted.inc({ route: 'trace' }, traced.length);
    if (metricsOnly.length > 0) this.accepted.inc({ route: 'metrics' }, metricsOnly.length);
    if (switchedOff > 0) this.dropped.inc({ reason: 'switched_off' }, switchedOff);
    if (unsampled > 0) this.dropped.inc({ reason: 'unsampled' }, unsampled);
    return {
      accepted: traced.length + metricsOnly.length,
      metricsOnly: metricsOnly.length,
      dropped: switchedOff + unsampled,
      rejectedSpans: decoded.rejectedSpans,
      violations: decoded.rejected,
    };
  }
}
