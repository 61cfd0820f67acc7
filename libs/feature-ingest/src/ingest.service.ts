import { BatchLimits, BatchRejection, MessageBus, Span, decodeNativeBatch } from '@skein/domain';
import { encodeSpanMessages } from '@skein/contracts';
import { Counter, Histogram, Registry } from 'prom-client';

/** IngestOptions: what the ingest path needs: the bus and topic, limits, and the metrics registry. */
export interface IngestOptions {
  bus: MessageBus;
  /** spansTopic: topic the spans are written to (`skein.spans.v1`, possibly prefixed). */
  spansTopic: string;
  limits: BatchLimits;
  /** maxBodyBytes: largest compressed request body, bytes. */
  maxBodyBytes: number;
  registry: Registry;
}

/** BusUnavailable: the bus did not acknowledge the batch; nothing of it may be reported as accepted. */
export class BusUnavailable extends Error {
  constructor(cause: Error) {
    super(`the span log (Kafka) did not acknowledge the batch: ${cause.message}`);
    this.name = 'BusUnavailable';
  }
}

/** IngestService: decodes and validates a native batch, then writes it to the spans topic and waits for the acknowledgement. */
export class IngestService {
  private readonly received: Counter;
  private readonly accepted: Counter;
  private readonly rejected: Counter;
  private readonly dropped: Counter;
  private readonly produceSeconds: Histogram;

  constructor(private readonly options: IngestOptions) {
    const registers = [options.registry];
    this.received = new Counter({ name: 'skein_ingest_spans_received_total', help: 'Spans received in batches, before validation (batches that fail to decode count 0).', registers });
    this.accepted = new Counter({ name: 'skein_ingest_spans_accepted_total', help: 'Spans written to Kafka and acknowledged to the client.', registers });
    this.rejected = new Counter({ name: 'skein_ingest_batches_rejected_total', help: 'Batches refused, by reason.', labelNames: ['reason'], registers });
    this.dropped = new Counter({ name: 'skein_ingest_spans_dropped_total', help: 'Spans accepted but not written. Stays 0: every failure is answered to the client instead.', labelNames: ['reason'], registers });
    this.dropped.inc({ reason: 'none' }, 0);
    this.produceSeconds = new Histogram({
      name: 'skein_ingest_produce_seconds',
      help: 'Time from decoded batch to Kafka acknowledgement, seconds.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
  }

  /** ingestNative: handles one `POST /api/v1/spans` body; throws {@link BatchRejection} or {@link BusUnavailable}. */
  async ingestNative(body: Buffer, contentEncoding: string | undefined): Promise<{ accepted: number }> {
    let spans: Span[];
    try {
      spans = decodeNativeBatch(body, contentEncoding, this.options.limits);
    } catch (err) {
      if (err instanceof BatchRejection) this.rejected.inc({ reason: err.reason });
      throw err;
    }
    this.received.inc(spans.length);
    const stop = this.produceSeconds.startTimer();
    try {
      await this.options.bus.publish(this.options.spansTopic, encodeSpanMessages(spans));
    } catch (err) {
      this.rejected.inc({ reason: 'kafka_unavailable' });
      throw new BusUnavailable(err as Error);
    } finally {
      stop();
    }
    this.accepted.inc(spans.length);
    return { accepted: spans.length };
  }
}
