import { BusBatch, BusSubscription, MessageBus, MetricStore, MinuteAggregator } from '@skein/domain';
import { decodeSpanRecords } from '@skein/contracts';
import { registerLagGauge } from '@skein/service-kit';
import { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';

/** MetricsAggregatorOptions: the span topic and consumer group, the metric store, metrics and logger. */
export interface MetricsAggregatorOptions {
  bus: MessageBus;
  store: MetricStore;
  spansTopic: string;
  groupId: string;
  registry: Registry;
  logger: Logger;
}

/**
 * MetricsAggregatorService: folds every consumed span into minute windows per (service, operation) and adds
 * them to the metric store together with the batch's last offset. The store skips offsets it has already
 * applied, so a redelivered batch (crash before the Kafka commit) is never counted twice.
 */
export class MetricsAggregatorService {
  private subscription?: BusSubscription;
  private readonly received: Counter;
  private readonly counted: Counter;
  private readonly replayed: Counter;
  private readonly rejected: Counter;
  private readonly written: Counter;

  constructor(private readonly options: MetricsAggregatorOptions) {
    const registers = [options.registry];
    this.received = new Counter({ name: 'skein_metrics_spans_received_total', help: 'Spans read from the spans topic.', registers });
    this.counted = new Counter({ name: 'skein_metrics_calls_counted_total', help: 'Entry spans counted as calls in minute windows.', registers });
    this.replayed = new Counter({ name: 'skein_metrics_records_replayed_total', help: 'Records skipped because their offset was already applied (redelivery).', registers });
    this.rejected = new Counter({ name: 'skein_metrics_messages_rejected_total', help: 'Topic messages that failed validation, by reason.', labelNames: ['reason'], registers });
    this.written = new Counter({ name: 'skein_metrics_windows_written_total', help: 'Minute-window increments written to the metric store.', registers });
    registerLagGauge(options.registry, 'skein_metrics_kafka_lag', 'Span messages not yet committed by the metrics-aggregator group.', () => this.subscription?.lag());
  }

  /** start: subscribes to the spans topic. */
  async start(): Promise<void> {
    this.subscription = await this.options.bus.subscribe({ topic: this.options.spansTopic, groupId: this.options.groupId, fromBeginning: true }, (batch) =>
      this.handleBatch(batch).catch((err: unknown) => {
        this.options.logger.warn({ err, partition: batch.partition }, 'minute windows not stored; the batch will be redelivered');
        throw err;
      }),
    );
  }

  /** stop: stops consuming after the batch in flight is applied and committed. */
  async stop(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = undefined;
  }

  /** handleBatch: aggregates one batch and applies it with its checkpoint. */
  async handleBatch(batch: BusBatch): Promise<void> {
    const last = batch.records[batch.records.length - 1];
    if (last === undefined) return;
    const stream = `${this.options.groupId}/${batch.topic}/${batch.partition}`;
    const checkpoint = await this.options.store.getCheckpoint(stream);
    const fresh = checkpoint === undefined ? batch.records : batch.records.filter((record) => record.offset > checkpoint);
    this.replayed.inc(batch.records.length - fresh.length);
    if (fresh.length === 0) return;
    // Minute metrics count every call, sampled or not: traces are sampled, TP metrics are not.
    const { spans: sampled, unsampled, invalid } = decodeSpanRecords(fresh);
    const spans = unsampled.length === 0 ? sampled : [...sampled, ...unsampled];
    for (const record of invalid) {
      this.rejected.inc({ reason: 'invalid_message' });
      this.options.logger.error({ partition: batch.partition, offset: record.offset, reason: record.reason }, 'invalid span message skipped');
    }
    this.received.inc(spans.length);
    const aggregator = new MinuteAggregator();
    let calls = 0;
    for (const span of spans) if (aggregator.add(span)) calls++;
    const windows = aggregator.drain();
    const applied = await this.options.store.applyWindows(windows, { stream, offset: last.offset });
    if (applied) {
      this.counted.inc(calls);
      this.written.inc(windows.length);
    } else this.replayed.inc(fresh.length);
  }
}
