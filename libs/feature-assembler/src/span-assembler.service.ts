import {
  BatchOutcome,
  BusBatch,
  BusRecord,
  BusSubscription,
  DEFAULT_OPEN_TRACE_LIMITS,
  HeldSpans,
  MessageBus,
  OpenTrace,
  OpenTraceBuffer,
  OpenTraceLimits,
  Span,
  SpanJson,
  StringInterner,
  TraceStore,
  TraceSummaryState,
  holdSpans,
  mergeCompactSpans,
  spanDocumentId,
} from '@skein/domain';
import { decodeSpanMessage, encodeDeadLetter } from '@skein/contracts';
import { registerLagGauge } from '@skein/service-kit';
import { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** SpanAssemblerOptions: topics, consumer group, trace store, limits, metrics and logger. Durations in ms. */
export interface SpanAssemblerOptions {
  bus: MessageBus;
  store: TraceStore;
  spansTopic: string;
  /** deadLetterTopic: where spans the store refuses permanently go, with the reason. */
  deadLetterTopic: string;
  groupId: string;
  registry: Registry;
  logger: Logger;
  /** limits: idle period and memory bounds (default {@link DEFAULT_OPEN_TRACE_LIMITS}). */
  limits?: Partial<OpenTraceLimits>;
  /** partitionsConcurrently: partitions whose batches are stored at once (overlaps Elasticsearch bulks), default 3. */
  partitionsConcurrently?: number;
  /** flushIntervalMs: how often idle traces are looked for, default 250. */
  flushIntervalMs?: number;
  /** summaryBatchSize: most summaries written per store request, default 500. */
  summaryBatchSize?: number;
  /** backpressureWaitMs: how long a batch waits for room when the buffer is full before it is redelivered later, default 10 000. */
  backpressureWaitMs?: number;
  /** shutdownFlushMs: how long stop() keeps trying to write the open summaries, default 15 000. */
  shutdownFlushMs?: number;
  /** retentionDays: days of traces kept; 0 disables the retention job. Default 0 (the app config sets it). */
  retentionDays?: number;
  /** retentionIntervalMs: how often the retention job runs, default 3 600 000 (hourly; also once at start). */
  retentionIntervalMs?: number;
  /** now: the clock (tests), epoch milliseconds. */
  now?: () => number;
}

/** RetryableStoreError: the store refused some items for now (overload); the whole batch is redelivered. */
export class RetryableStoreError extends Error {}

/** BackpressureError: the open-trace buffer stayed full; the batch is redelivered later (the partition pauses). */
export class BackpressureError extends Error {}

/** summariseTrace: an open trace's summary state, merged into the stored one when given. */
function summariseTrace(trace: OpenTrace, previous?: TraceSummaryState): TraceSummaryState {
  return mergeCompactSpans(previous, trace.spans, { tags: trace.tags, truncated: trace.truncated });
}

/**
 * SpanAssemblerService: consumes span messages, stores every span at once (idempotent ids), keeps each trace
 * open until no span of it arrived for the idle period, then writes one summary per trace (a late span reopens
 * the trace and updates the same summary document). Offsets are committed only up to the oldest record whose
 * spans or summary are not durable yet, so a crash replays at most the open window. Spans the store refuses
 * permanently go to the dead-letter topic with the reason; temporary refusals (429, ES down) redeliver the batch.
 */
export class SpanAssemblerService {
  private subscription?: BusSubscription;
  private readonly buffer: OpenTraceBuffer;
  /** strings: service, operation and host names shared by the spans held open. */
  private readonly strings = new StringInterner();
  private readonly now: () => number;
  private flushTimer?: NodeJS.Timeout;
  private retentionTimer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private flushBackoffUntil = 0;
  private flushFailures = 0;
  /** lastBatchSpans: spans of the last batch that had any (sizes the next batch's span writer). */
  private lastBatchSpans: number | undefined;
  private stopping = false;
  private readonly received: Counter;
  private readonly written: Counter;
  private readonly summaries: Counter;
  private readonly rejected: Counter;
  private readonly dropped: Counter;
  private readonly deadLettered: Counter;
  private readonly retries: Counter;
  private readonly unsampled: Counter;
  private readonly backpressure: Counter;
  private readonly summaryFailures: Counter;
  private readonly retentionDeleted: Counter;
  private readonly summaryLag: Histogram;
  private readonly batchSpans: Histogram;
  private readonly batchStoreSeconds: Histogram;

  constructor(private readonly options: SpanAssemblerOptions) {
    this.buffer = new OpenTraceBuffer({ ...DEFAULT_OPEN_TRACE_LIMITS, ...options.limits });
    this.now = options.now ?? Date.now;
    const registers = [options.registry];
    this.received = new Counter({ name: 'skein_assembler_spans_received_total', help: 'Spans read from the spans topic.', registers });
    this.written = new Counter({ name: 'skein_assembler_spans_written_total', help: 'Spans acknowledged by the trace store.', registers });
    this.summaries = new Counter({ name: 'skein_assembler_summaries_written_total', help: 'Trace summary documents written (a late span writes its trace again).', registers });
    this.rejected = new Counter({ name: 'skein_assembler_messages_rejected_total', help: 'Topic messages that failed validation, by reason.', labelNames: ['reason'], registers });
    this.dropped = new Counter({ name: 'skein_assembler_spans_dropped_total', help: 'Spans lost without a dead letter, by reason (should stay 0).', labelNames: ['reason'], registers });
    this.deadLettered = new Counter({ name: 'skein_assembler_spans_dead_lettered_total', help: 'Spans the store refused permanently, sent to the dead-letter topic.', registers });
    this.retries = new Counter({ name: 'skein_assembler_batch_retries_total', help: 'Batches redelivered because the store failed or refused items temporarily, by reason.', labelNames: ['reason'], registers });
    this.unsampled = new Counter({ name: 'skein_assembler_spans_unsampled_total', help: 'Spans skipped because the sampling policy kept them for metrics only.', registers });
    this.backpressure = new Counter({ name: 'skein_assembler_backpressure_waits_total', help: 'Batches that waited because the open-trace buffer was full.', registers });
    this.summaryFailures = new Counter({ name: 'skein_assembler_summary_failures_total', help: 'Summary writes that failed, by outcome (retried, or refused permanently).', labelNames: ['outcome'], registers });
    this.retentionDeleted = new Counter({ name: 'skein_assembler_retention_deleted_total', help: 'Daily indices (or days) deleted by the retention job.', registers });
    this.summaryLag = new Histogram({
      name: 'skein_assembler_summary_delay_seconds',
      help: 'From the last span of a trace arriving to its summary being durable (the idle period included).',
      buckets: [1, 2, 5, 6, 8, 10, 15, 30, 60, 120],
      registers,
    });
    // Spans per stored batch and the store's time for it: many small batches (a fetch per few records) make the
    // store pay per request; slow batches are the store itself.
    this.batchSpans = new Histogram({
      name: 'skein_assembler_batch_spans',
      help: 'Spans per consumed batch written to the trace store (one bulk request per batch).',
      buckets: [10, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
      registers,
    });
    this.batchStoreSeconds = new Histogram({
      name: 'skein_assembler_batch_store_seconds',
      help: "The trace store's time to make one batch's spans durable.",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    const buffer = this.buffer;
    new Gauge({ name: 'skein_assembler_open_traces', help: 'Traces waiting for their idle period.', registers, collect() { this.set(buffer.size); } });
    new Gauge({ name: 'skein_assembler_open_spans', help: 'Spans held in memory for open traces.', registers, collect() { this.set(buffer.spanCount); } });
    this.dropped.inc({ reason: 'summary_rejected' }, 0);
    registerLagGauge(options.registry, 'skein_assembler_kafka_lag', 'Span messages not yet committed by the span-assembler group.', () => this.subscription?.lag());
  }

  /** start: subscribes to the spans topic and starts the idle-trace flusher and the retention job. */
  async start(): Promise<void> {
    const subscribe = { topic: this.options.spansTopic, groupId: this.options.groupId, fromBeginning: true, partitionsConcurrently: this.options.partitionsConcurrently ?? 3 };
    this.subscription = await this.options.bus.subscribe(subscribe, (batch) =>
      this.handleBatch(batch).catch((err: unknown) => {
        this.retries.inc({ reason: err instanceof BackpressureError ? 'backpressure' : 'store' });
        this.options.logger.warn({ err, partition: batch.partition, firstOffset: batch.records[0]?.offset }, 'batch not stored; it will be redelivered');
        throw err;
      }),
    );
    this.flushTimer = setInterval(() => void this.flushDue(false), this.options.flushIntervalMs ?? 250);
    if ((this.options.retentionDays ?? 0) > 0) {
      void this.runRetention();
      this.retentionTimer = setInterval(() => void this.runRetention(), this.options.retentionIntervalMs ?? 3_600_000);
    }
  }

  /** stop: graceful: stop fetching, write every open summary (bounded time), commit, leave the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.flushTimer);
    clearInterval(this.retentionTimer);
    const subscription = this.subscription;
    this.subscription = undefined;
    if (subscription === undefined) return;
    await subscription.pause();
    await this.flushing;
    const deadline = this.now() + (this.options.shutdownFlushMs ?? 15_000);
    while (this.buffer.size > 0 && this.now() < deadline) {
      this.flushBackoffUntil = 0;
      await this.flushDue(true);
      if (this.buffer.size > 0) await sleep(200);
    }
    if (this.buffer.size > 0) this.options.logger.warn({ openTraces: this.buffer.size }, 'summaries not written before shutdown; their records stay uncommitted and are replayed');
    await subscription.commit(this.buffer.commitOffsets());
    await subscription.stop();
  }

  /** openTraces: traces waiting for their idle period (tests, metrics). */
  get openTraces(): number {
    return this.buffer.size;
  }

  /**
   * handleBatch: stores the spans of one consumed batch and opens their traces; throws (nothing of the batch
   * is committed) unless every span is durable or dead-lettered. Resolves with the offset up to which the
   * partition may be committed.
   */
  async handleBatch(batch: BusBatch): Promise<BatchOutcome> {
    await this.waitForRoom();
    // One record at a time: its spans go to the store's writer (which turns them into what it sends, each span's
    // JSON text from the message where it can) and the open-trace buffer's share is made (compact spans and
    // distinct tags), then the decoded spans are garbage. Decoding the whole batch first kept 5,000 span objects
    // alive across several young-generation collections, which copied and promoted them: most of the assembler's
    // garbage-collection time. The refused-span path decodes the records again.
    const perRecord: { offset: number; held: HeldSpans }[] = [];
    // Sized like the last batch: the store's bulk body is then allocated once, not grown by copying.
    const writer = this.options.store.spanWriter(this.lastBatchSpans);
    for (const record of batch.records) {
      const spansOfRecord = this.sampledSpans(batch, record);
      if (spansOfRecord === undefined) continue;
      const { spans, json } = spansOfRecord;
      for (let i = 0; i < spans.length; i++) writer.add(spans[i] as Span, json[i]);
      perRecord.push({ offset: record.offset, held: holdSpans(spans, this.strings) });
    }
    const last = batch.records[batch.records.length - 1];
    const spanCount = writer.size;
    if (spanCount > 0) {
      this.lastBatchSpans = spanCount;
      this.received.inc(spanCount);
      this.batchSpans.observe(spanCount);
      const endStore = this.batchStoreSeconds.startTimer();
      const result = await writer.write();
      endStore();
      const retryable = result.failures.filter((failure) => failure.retryable);
      if (retryable.length > 0) throw new RetryableStoreError(`${retryable.length} span(s) refused for now, first: ${retryable[0]?.reason}`);
      const refused = new Map(result.failures.map((failure) => [failure.id, failure.reason]));
      if (refused.size > 0) {
        // Rare (a mapping conflict): the records are decoded again, once, for the dead letters and to hold only
        // the stored spans and their tags.
        const decodedAgain = batch.records.map((record) => ({ offset: record.offset, spans: this.sampledSpans(batch, record, false)?.spans ?? [] }));
        await this.deadLetter(batch, decodedAgain, refused);
        perRecord.length = 0;
        for (const { offset, spans: recordSpans } of decodedAgain) {
          const stored = recordSpans.filter((span) => !refused.has(spanDocumentId(span)));
          if (stored.length > 0) perRecord.push({ offset, held: holdSpans(stored, this.strings) });
        }
      }
      this.written.inc(spanCount - refused.size);
      const nowMs = this.now();
      for (const { offset, held } of perRecord) this.buffer.add(batch.partition, offset, held, nowMs);
    }
    if (last !== undefined) this.buffer.handled(batch.partition, last.offset + 1);
    return { commitUpTo: this.buffer.watermark(batch.partition) };
  }

  /**
   * sampledSpans: the spans of one record to store as traces, and their JSON text; undefined when the record is
   * invalid (counted and logged once, when `count`) or unsampled (its spans feed the minute metrics only).
   */
  private sampledSpans(batch: BusBatch, record: BusRecord, count = true): { spans: Span[]; json: readonly (SpanJson | undefined)[] } | undefined {
    const decoded = decodeSpanMessage(record.value);
    if (!decoded.ok) {
      if (!count) return undefined;
      const first = decoded.violations[0];
      this.rejected.inc({ reason: 'invalid_message' });
      this.options.logger.error({ partition: batch.partition, offset: record.offset, reason: first ? `${decoded.reason}: ${first.path}: ${first.message}` : decoded.reason }, 'invalid span message skipped');
      return undefined;
    }
    if (!decoded.message.sampled) {
      if (count) this.unsampled.inc(decoded.message.spans.length);
      return undefined;
    }
    return { spans: decoded.message.spans, json: decoded.json };
  }

  /** flushDue: writes the summaries of idle traces (all open ones when `all`), then commits what became durable. */
  flushDue(all: boolean): Promise<void> {
    if (this.flushing !== undefined) return this.flushing;
    if (!all && this.now() < this.flushBackoffUntil) return Promise.resolve();
    this.flushing = this.flushOnce(all).finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async flushOnce(all: boolean): Promise<void> {
    const batchSize = this.options.summaryBatchSize ?? 500;
    try {
      for (;;) {
        const due = this.buffer.take(this.buffer.due(this.now(), batchSize, all));
        if (due.length === 0) break;
        await this.writeSummaries(due);
        if (due.length < batchSize) break;
      }
      this.flushFailures = 0;
    } catch (err) {
      // ES down or overloaded: keep the traces open and try again later; their records stay uncommitted.
      this.flushFailures++;
      this.flushBackoffUntil = this.now() + Math.min(10_000, 250 * 2 ** Math.min(this.flushFailures, 6));
      this.summaryFailures.inc({ outcome: 'retried' });
      this.options.logger.warn({ err, openTraces: this.buffer.size }, 'trace summaries not written; retrying');
    }
    // While stopping, stop() commits after its final flush (commitOffsets reports each watermark only once).
    if (this.subscription === undefined || this.stopping) return;
    const offsets = this.buffer.commitOffsets();
    if (offsets.length > 0) await this.subscription.commit(offsets);
  }

  private async writeSummaries(traces: OpenTrace[]): Promise<void> {
    // Most traces are summarised once: create their summaries without a read; only a trace that has one
    // already (late spans, a replay) is loaded, merged and saved again. The states are not kept here: the store
    // may let them go once their documents are written (the Elasticsearch store does, before its request).
    const created = await this.options.store.createSummaryStates(traces.map((trace) => summariseTrace(trace)));
    const result = { failures: created.failures };
    if (created.existing.length > 0) {
      const existing = new Set(created.existing);
      const late = traces.filter((trace) => existing.has(trace.traceId));
      const previous = await this.options.store.loadSummaryStates(late.map((trace) => ({ traceId: trace.traceId, startTimeUs: trace.earliestStartUs })));
      result.failures.push(...(await this.options.store.saveSummaryStates(late.map((trace) => summariseTrace(trace, previous.get(trace.traceId))))).failures);
    }
    const retryable = new Set(result.failures.filter((failure) => failure.retryable).map((failure) => failure.id));
    for (const failure of result.failures) {
      if (failure.retryable) continue;
      // The spans are stored and searchable by trace id; only the summary (trace search) misses this trace.
      this.dropped.inc({ reason: 'summary_rejected' });
      this.summaryFailures.inc({ outcome: 'refused' });
      this.options.logger.error({ traceId: failure.id, reason: failure.reason }, 'trace summary refused permanently by the store');
    }
    const done = traces.filter((trace) => !retryable.has(trace.traceId));
    const nowMs = this.now();
    for (const trace of done) this.summaryLag.observe((nowMs - trace.lastSeenMs) / 1000);
    this.buffer.summarised(done);
    this.summaries.inc(done.length - (result.failures.length - retryable.size));
    if (retryable.size > 0) throw new RetryableStoreError(`${retryable.size} summary(ies) refused for now, first: ${result.failures.find((f) => f.retryable)?.reason}`);
  }

  /** deadLetter: the refused spans of the batch's records (decoded again by the caller: rare, a mapping conflict), to the dead-letter topic. */
  private async deadLetter(batch: BusBatch, records: { offset: number; spans: Span[] }[], refused: Map<string, string>): Promise<void> {
    const messages = [];
    const failedAtMs = this.now();
    for (const record of records) {
      for (const span of record.spans) {
        const reason = refused.get(spanDocumentId(span));
        if (reason === undefined) continue;
        messages.push(encodeDeadLetter({ reason, store: 'trace-store', failedAtMs, source: { topic: batch.topic, partition: batch.partition, offset: record.offset }, span }));
        this.options.logger.error({ traceId: span.traceId, spanId: span.spanId, reason }, 'span refused permanently by the store; sent to the dead-letter topic');
      }
    }
    // Durable before the batch may be committed: if the dead-letter topic is unavailable, the batch is redelivered.
    await this.options.bus.publish(this.options.deadLetterTopic, messages);
    this.deadLettered.inc(messages.length);
  }

  private async waitForRoom(): Promise<void> {
    if (!this.buffer.isFull()) return;
    this.backpressure.inc();
    const deadline = this.now() + (this.options.backpressureWaitMs ?? 10_000);
    while (this.buffer.isFull()) {
      if (this.now() >= deadline || this.stopping) throw new BackpressureError(`${this.buffer.size} traces are open (the limit); waiting for their summaries`);
      await this.flushDue(false);
      await sleep(100);
    }
  }

  private async runRetention(): Promise<void> {
    const days = this.options.retentionDays ?? 0;
    if (days <= 0) return;
    // Keep `days` whole UTC days before today, plus today.
    const todayMs = Math.floor(this.now() / 86_400_000) * 86_400_000;
    const cutoffUs = (todayMs - days * 86_400_000) * 1000;
    try {
      const deleted = await this.options.store.deleteBefore(cutoffUs);
      this.retentionDeleted.inc(deleted.length);
      if (deleted.length > 0) this.options.logger.info({ deleted, retentionDays: days }, 'retention: deleted expired trace data');
    } catch (err) {
      this.options.logger.warn({ err }, 'retention job failed; it runs again at the next interval');
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
