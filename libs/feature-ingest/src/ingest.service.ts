import { BatchLimits, BatchRejection, DecodedSpans, MessageBus, PolicyCache, TokenBucketRateLimiter } from '@skein/domain';
import { Counter, Histogram, Registry } from 'prom-client';
import { DecodePool, DecodePoolFull } from './decode-pool';
import { ANONYMOUS_APP, IngestProtocol, PrepareRequest, PreparedBatch, prepareBatch } from './ingest-prepare';

export { ANONYMOUS_APP } from './ingest-prepare';

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
  /**
   * decodeWorkers: worker threads that decompress, parse, validate and encode requests (DecodePool), so one
   * process uses more than one core. Default 0: everything on the request's thread (tests, embedded).
   */
  decodeWorkers?: number;
  /** decodeWorkerExecArgv: node options of the decode workers (default the process's own; tests add a TypeScript hook). */
  decodeWorkerExecArgv?: string[];
  now?: () => number;
}

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
  private readonly pool: DecodePool | undefined;

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
    const workers = options.decodeWorkers ?? 0;
    this.pool = workers > 0 ? new DecodePool({ workers, limits: options.limits, policy: options.policy, execArgv: options.decodeWorkerExecArgv }) : undefined;
  }

  /** close: stops the decode workers, if any. */
  async close(): Promise<void> {
    await this.pool?.close();
  }

  /** ingestNative: one `POST /api/v1/spans` body (lz4 or plain JSON); all-or-nothing. */
  ingestNative(body: Buffer, contentEncoding: string | undefined, app?: string): Promise<IngestResult> {
    return this.run({ protocol: 'native', body, contentEncoding, app });
  }

  /** ingestOtlp: one OTLP export request (`/v1/traces` or gRPC Export); invalid spans are reported, the rest accepted. */
  ingestOtlp(body: Buffer, format: OtlpBodyFormat, contentEncoding: string | undefined, app?: string): Promise<IngestResult> {
    return this.run({ protocol: 'otlp', body, format, contentEncoding, app });
  }

  /** ingestZipkin: one Zipkin v2 JSON body (`POST /api/v2/spans`); all-or-nothing, as Zipkin's server does. */
  ingestZipkin(body: Buffer, contentEncoding: string | undefined, app?: string): Promise<IngestResult> {
    return this.run({ protocol: 'zipkin', body, contentEncoding, app });
  }

  /** countRejection: counts a request refused before decoding (auth, body size). */
  countRejection(reason: string): void {
    this.rejected.inc({ reason });
  }

  private async prepare(request: PrepareRequest): Promise<PreparedBatch> {
    try {
      if (this.pool === undefined) return prepareBatch(request, this.options.limits, this.options.policy);
      return await this.pool.submit(request);
    } catch (err) {
      if (err instanceof BatchRejection) this.rejected.inc({ reason: err.reason });
      if (err instanceof DecodePoolFull) {
        this.rejected.inc({ reason: 'overloaded' });
        throw new Overloaded(this.inFlightBytes);
      }
      throw err;
    }
  }

  private async run(request: PrepareRequest & { protocol: IngestProtocol }): Promise<IngestResult> {
    const prepared = await this.prepare(request);
    const protocol = request.protocol;
    const bodyBytes = request.body.byteLength;
    this.received.inc({ protocol }, prepared.valid + prepared.rejectedSpans);
    if (prepared.rejectedSpans > 0) this.rejectedSpans.inc({ protocol }, prepared.rejectedSpans);
    const app = request.app ?? ANONYMOUS_APP;
    if (this.options.rateLimiter !== undefined && prepared.valid > 0) {
      const decision = this.options.rateLimiter.take(app, prepared.valid, (this.options.now ?? Date.now)());
      if (!decision.ok) {
        this.rejected.inc({ reason: 'rate_limited' });
        throw new RateLimited(app, decision.retryAfterSeconds);
      }
    }
    const { messages, traced, metricsOnly, switchedOff, unsampled } = prepared;
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
    if (traced > 0) this.accepted.inc({ route: 'trace' }, traced);
    if (metricsOnly > 0) this.accepted.inc({ route: 'metrics' }, metricsOnly);
    if (switchedOff > 0) this.dropped.inc({ reason: 'switched_off' }, switchedOff);
    if (unsampled > 0) this.dropped.inc({ reason: 'unsampled' }, unsampled);
    return {
      accepted: traced + metricsOnly,
      metricsOnly,
      dropped: switchedOff + unsampled,
      rejectedSpans: prepared.rejectedSpans,
      violations: prepared.violations,
    };
  }
}
