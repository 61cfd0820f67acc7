import { BusBatch, BusSubscription, MessageBus, Span, StoreWriteResult, TraceStore, groupByTrace, mergeTraceSummary, spanDocumentId } from '@skein/domain';
import { decodeSpanRecords } from '@skein/contracts';
import { registerLagGauge } from '@skein/service-kit';
import { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';

/** SpanAssemblerOptions: the span topic and consumer group, the trace store, metrics and logger. */
export interface SpanAssemblerOptions {
  bus: MessageBus;
  store: TraceStore;
  spansTopic: string;
  groupId: string;
  registry: Registry;
  logger: Logger;
}

/** RetryableStoreError: the store refused some items for now (overload); the whole batch is redelivered. */
export class RetryableStoreError extends Error {}

/**
 * SpanAssemblerService: consumes span messages, stores every span (idempotent ids) and updates one summary per
 * trace. Offsets are committed only after the store acknowledged the spans and summaries of the whole batch.
 */
export class SpanAssemblerService {
  private subscription?: BusSubscription;
  private readonly received: Counter;
  private readonly written: Counter;
  private readonly summaries: Counter;
  private readonly rejected: Counter;
  private readonly dropped: Counter;
  private readonly retries: Counter;
  private readonly unsampled: Counter;

  constructor(private readonly options: SpanAssemblerOptions) {
    const registers = [options.registry];
    this.received = new Counter({ name: 'skein_assembler_spans_received_total', help: 'Spans read from the spans topic.', registers });
    this.written = new Counter({ name: 'skein_assembler_spans_written_total', help: 'Spans acknowledged by the trace store.', registers });
    this.summaries = new Counter({ name: 'skein_assembler_summaries_written_total', help: 'Trace summary documents written.', registers });
    this.rejected = new Counter({ name: 'skein_assembler_messages_rejected_total', help: 'Topic messages that failed validation, by reason.', labelNames: ['reason'], registers });
    this.dropped = new Counter({ name: 'skein_assembler_spans_dropped_total', help: 'Spans the store refused permanently (e.g. mapping conflict), by reason.', labelNames: ['reason'], registers });
    this.retries = new Counter({ name: 'skein_assembler_batch_retries_total', help: 'Batches redelivered because the store failed or refused items temporarily.', registers });
    this.unsampled = new Counter({ name: 'skein_assembler_spans_unsampled_total', help: 'Spans skipped because the sampling policy kept them for metrics only.', registers });
    this.dropped.inc({ reason: 'store_rejected' }, 0);
    registerLagGauge(options.registry, 'skein_assembler_kafka_lag', 'Span messages not yet committed by the span-assembler group.', () => this.subscription?.lag());
  }

  /** start: subscribes to the spans topic. */
  async start(): Promise<void> {
    this.subscription = await this.options.bus.subscribe({ topic: this.options.spansTopic, groupId: this.options.groupId, fromBeginning: true }, (batch) =>
      this.handleBatch(batch).catch((err: unknown) => {
        this.retries.inc();
        this.options.logger.warn({ err, partition: batch.partition, firstOffset: batch.records[0]?.offset }, 'batch not stored; it will be redelivered');
        throw err;
      }),
    );
  }

  /** stop: stops consuming after the batch in flight is stored and committed. */
  async stop(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = undefined;
  }

  /** handleBatch: stores one consumed batch; throws (so nothing is committed) unless everything is durable. */
  async handleBatch(batch: BusBatch): Promise<void> {
    // Unsampled spans (sampling policy) feed the minute metrics only and are never stored as traces.
    const { spans, unsampled, invalid } = decodeSpanRecords(batch.records);
    this.unsampled.inc(unsampled.length);
    for (const record of invalid) {
      this.rejected.inc({ reason: 'invalid_message' });
      this.options.logger.error({ partition: batch.partition, offset: record.offset, reason: record.reason }, 'invalid span message skipped');
    }
    if (spans.length === 0) return;
    this.received.inc(spans.length);
    const stored = this.keepDurable(spans, await this.options.store.writeSpans(spans), (span) => spanDocumentId(span));
    this.written.inc(stored.length);

    const traces = groupByTrace(stored);
    const locators = [...traces.values()].map((traceSpans) => ({ traceId: (traceSpans[0] as Span).traceId, startTimeUs: Math.min(...traceSpans.map((s) => s.startTimeUs)) }));
    const previous = await this.options.store.loadSummaryStates(locators);
    const states = [...traces].map(([traceId, traceSpans]) => mergeTraceSummary(previous.get(traceId), traceSpans));
    const result = await this.options.store.saveSummaryStates(states);
    this.throwIfRetryable(result);
    for (const failure of result.failures) this.options.logger.error({ traceId: failure.id, reason: failure.reason }, 'trace summary refused by the store');
    this.summaries.inc(states.length - result.failures.length);
  }

  private keepDurable(spans: Span[], result: StoreWriteResult, id: (span: Span) => string): Span[] {
    this.throwIfRetryable(result);
    if (result.failures.length === 0) return spans;
    const failed = new Map(result.failures.map((failure) => [failure.id, failure.reason]));
    for (const [spanId, reason] of failed) {
      this.dropped.inc({ reason: 'store_rejected' });
      this.options.logger.error({ id: spanId, reason }, 'span refused permanently by the store');
    }
    return spans.filter((span) => !failed.has(id(span)));
  }

  private throwIfRetryable(result: StoreWriteResult): void {
    const retryable = result.failures.filter((failure) => failure.retryable);
    if (retryable.length > 0) {
      throw new RetryableStoreError(`${retryable.length} document(s) refused for now, first: ${retryable[0]?.reason}`);
    }
  }
}
