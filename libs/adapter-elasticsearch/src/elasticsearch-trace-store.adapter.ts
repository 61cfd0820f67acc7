import { Client } from '@elastic/elasticsearch';
import type { estypes } from '@elastic/elasticsearch';
import { DEFAULT_INDEX_PREFIX, dayIndexName, indexDay, indexPattern, indexTemplates, traceDaysIndexName, traceDaysPattern } from '@skein/contracts';
import {
  Span,
  SpanJson,
  SpanWriter,
  StoreFailure,
  StoreWriteResult,
  SummaryCreateResult,
  TimeRange,
  TraceLocator,
  TraceSearch,
  TraceStore,
  TraceSummary,
  TraceSort,
  TraceSummaryState,
  spanDocumentId,
  summaryTag,
} from '@skein/domain';
import { BODY_POOL_FREE_BUFFERS, BodyBufferPool, BulkItem, DocumentWriter, bulkBody, isoFromUs } from './bulk-body';
import { traceQueryToElasticsearch } from './elasticsearch-trace-query';
import { decodeSummarySpans, encodeSpanTable } from './summary-span-table';

/** ElasticsearchTraceStoreOptions: how {@link ElasticsearchTraceStore} reaches Elasticsearch and names its indices. */
export interface ElasticsearchTraceStoreOptions {
  /** node: Elasticsearch URL, e.g. `http://127.0.0.1:9200`; ignored when `client` is given. */
  node?: string;
  /** indexPrefix: prefix of indices and templates (default {@link DEFAULT_INDEX_PREFIX}); lowercase, tests use a unique one. */
  indexPrefix?: string;
  /** requestTimeout: milliseconds before one request is abandoned (default 30 000); ignored when `client` is given. */
  requestTimeout?: number;
  /** maxRetries: retries of a request after a connection error (default 3); ignored when `client` is given. */
  maxRetries?: number;
  /** client: a ready client to use instead of building one from `node` (close() closes it too). */
  client?: Client;
  /** maxTraceSpans: most spans getTraceSpans returns for one trace (default 10 000, ES's max_result_window). */
  maxTraceSpans?: number;
  /** rememberedTraces: how many trace → day placements are kept in memory (default 100 000); others are read from the lookup index. */
  rememberedTraces?: number;
  /** bulkRetries: extra attempts for bulk items Elasticsearch refused with 429 (or 5xx), default 3; what still fails is reported retryable. */
  bulkRetries?: number;
  /** bulkRetryBackoffMs: the delay before the first bulk retry, doubled per attempt, default 200. */
  bulkRetryBackoffMs?: number;
  /** catalogMaxTerms: the most services (or operations of a service) listServices/listOperations return, default 10 000. */
  catalogMaxTerms?: number;
  /** bodyBuffersKept: bulk body buffers kept for reuse once their request is over (default {@link BODY_POOL_FREE_BUFFERS}); 0 = a fresh buffer per bulk. */
  bodyBuffersKept?: number;
}

/** DEFAULT_REQUEST_TIMEOUT_MS: default {@link ElasticsearchTraceStoreOptions.requestTimeout}, milliseconds. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** READY_TIMEOUT_MS: how long ready() waits for a ping, milliseconds. */
export const READY_TIMEOUT_MS = 2_000;

/** SEARCH_RETRIES: retries of a search whose shards are not all available yet (a daily index just created). */
const SEARCH_RETRIES = 3;

/** MAX_SEARCH_SIZE: the largest page ES serves without scrolling (index.max_result_window default). */
export const MAX_SEARCH_SIZE = 10_000;

const DAY_US = 86_400_000_000;

/** SPAN_WRITER_INITIAL_SPANS: the spans a span writer's first buffer is sized for without a hint (it doubles as needed). */
const SPAN_WRITER_INITIAL_SPANS = 1_000;

/** SPAN_WRITER_MAX_INITIAL_SPANS: the largest first buffer a hint may ask for, in spans (~1 KiB each). */
const SPAN_WRITER_MAX_INITIAL_SPANS = 20_000;

/** UNPLACED_TRACE_REASON: why a document of a trace whose trace-id → day lookup failed is not written (retried later). */
const UNPLACED_TRACE_REASON = 'the trace-id → day lookup could not be written';

type SpanDocument = Span & { startTime: string };
/** SummaryDocument: a trace summary document as stored: `spans` is a span table ({@link encodeSpanTable}) or, written before it, a list of compact spans. */
type SummaryDocument = TraceSummary & { startTime: string; spans: unknown };
type TraceDayDocument = { day: string };

/** summaryDocumentSource: the JSON source of a trace's summary document: the summary, its `startTime` date and its compact spans as a span table. */
export function summaryDocumentSource({ summary, spans }: TraceSummaryState): string {
  const doc: SummaryDocument = { ...summary, startTime: isoFromUs(summary.startTimeUs), spans: encodeSpanTable(spans) };
  return JSON.stringify(doc);
}

/** SummaryBulkDocuments: trace summaries as a bulk body, each item naming its document by range in the body (for retries). */
interface SummaryBulkDocuments {
  items: BulkItem[];
  /** documents: the body (its buffer released once the request is over). */
  documents: DocumentWriter;
  /** failures: the traces whose day is unknown (no document: retried later). */
  failures: StoreFailure[];
}

/** SUMMARY_BYTES_PER_SPAN / SUMMARY_BYTES_BASE: the first guess of a summary document's size, bytes (measured ~263 per span for the assembler bench's traces: ~100 the span table, the rest tags). */
const SUMMARY_BYTES_PER_SPAN = 300;
const SUMMARY_BYTES_BASE = 1_024;

/**
 * summaryBulkDocuments: the bulk body of trace summaries in their traces' daily indices (`days`: trace → day),
 * each document serialized straight into the body, so no document string outlives its summary's turn.
 */
function summaryBulkDocuments(prefix: string, states: readonly TraceSummaryState[], days: Map<string, string>, action: 'index' | 'create', pool?: BodyBufferPool): SummaryBulkDocuments {
  let expectedBytes = 0;
  for (const { spans } of states) expectedBytes += SUMMARY_BYTES_BASE + SUMMARY_BYTES_PER_SPAN * spans.length;
  const documents = new DocumentWriter(states.length, expectedBytes, pool);
  const failures: StoreFailure[] = [];
  const placed: { index: string; id: string }[] = [];
  for (const state of states) {
    const id = state.summary.traceId;
    const day = days.get(id);
    if (day === undefined) {
      failures.push({ id, reason: UNPLACED_TRACE_REASON, retryable: true });
      continue;
    }
    const index = dayIndexName(prefix, 'traces', day);
    documents.action(action, JSON.stringify(index), id);
    documents.add(summaryDocumentSource(state));
    placed.push({ index, id });
  }
  const body = documents.bytes();
  const items = placed.map(({ index, id }, i): BulkItem => ({ action, index, id, source: body, sourceStart: documents.start(i), sourceEnd: documents.end(i) }));
  return { items, documents, failures };
}

/** SpanBulkDocuments: a batch's spans as a bulk body, with what the store needs of each span to place and name it. */
export interface SpanBulkDocuments {
  /** documents: the bulk body (action line and document per span, in order). */
  documents: DocumentWriter;
  /** ids / traceIds / days: per span, its `_id`, its trace and the day its action line names (the span's own). */
  ids: string[];
  traceIds: string[];
  days: string[];
  /** earliest: per trace, the earliest span start among these spans, µs (places the trace on its day). */
  earliest: Map<string, number>;
}

/**
 * SpanBulkBuilder: builds {@link SpanBulkDocuments} one span at a time, each span in the span index of its own
 * start day ({@link DocumentWriter.replaceIndexEnd} later moves it to its trace's day). A span is needed only
 * while it is added, so a caller decoding messages can let each message's span objects go before the next.
 */
export class SpanBulkBuilder {
  private readonly earliest = new Map<string, number>();
  private readonly documents: DocumentWriter;
  private readonly traceIds: string[] = [];
  private readonly ids: string[] = [];
  private readonly days: string[] = [];
  private traceId = '';
  private dayNumber = Number.NaN;
  private day = '';
  private indexJson = '';

  /** expectedSpans: sizes the first buffer (it grows as needed); pool: where the body's buffers come from. */
  constructor(private readonly prefix: string, expectedSpans: number, pool?: BodyBufferPool) {
    this.documents = new DocumentWriter(expectedSpans, undefined, pool);
  }

  /** size: spans added so far. */
  get size(): number {
    return this.ids.length;
  }

  /** add: the span's action line and document: its JSON text from the message where given ({@link addSpanDocument}). */
  add(span: Span, json: SpanJson | undefined): void {
    // One trace id string per run of spans of a trace (these wait for Elasticsearch), not one per span.
    if (span.traceId !== this.traceId) this.traceId = span.traceId;
    const traceId = this.traceId;
    const first = this.earliest.get(traceId);
    if (first === undefined || span.startTimeUs < first) this.earliest.set(traceId, span.startTimeUs);
    const spanDay = Math.floor(span.startTimeUs / DAY_US);
    if (spanDay !== this.dayNumber) {
      this.dayNumber = spanDay;
      this.day = indexDay(span.startTimeUs);
      this.indexJson = JSON.stringify(dayIndexName(this.prefix, 'spans', this.day));
    }
    const id = spanDocumentId(span);
    this.documents.action('index', this.indexJson, id);
    addSpanDocument(this.documents, span, json);
    this.traceIds.push(traceId);
    this.ids.push(id);
    this.days.push(this.day);
  }

  /** finish: what was built; the builder is not used after. */
  finish(): SpanBulkDocuments {
    return { documents: this.documents, ids: this.ids, traceIds: this.traceIds, days: this.days, earliest: this.earliest };
  }
}

/** spanBulkDocuments: the bulk body of a batch's spans (their JSON text from the messages, where given), as {@link SpanBulkBuilder} builds it. */
export function spanBulkDocuments(prefix: string, spans: readonly Span[], json: readonly (SpanJson | undefined)[] | undefined, pool?: BodyBufferPool): SpanBulkDocuments {
  const builder = new SpanBulkBuilder(prefix, spans.length, pool);
  for (let i = 0; i < spans.length; i++) builder.add(spans[i] as Span, json?.[i]);
  return builder.finish();
}

/**
 * addSpanDocument: appends a span's document to `documents`: the span (a validated plain object) plus `startTime`,
 * its start as a date for Kibana. The span's JSON text from the topic message, when given ({@link SpanJson}), is
 * used as it is: serializing spans again was the largest part of the assembler's own CPU.
 */
export function addSpanDocument(documents: DocumentWriter, span: Span, text: SpanJson | undefined): void {
  const startTime: SpanDocument['startTime'] = isoFromUs(span.startTimeUs);
  if (text === undefined) documents.add(JSON.stringify(span), `"startTime":"${startTime}"`);
  else documents.addBytes(text.bytes, text.start, text.end, `"startTime":"${startTime}"`);
}

function describeError(error: estypes.ErrorCause): string {
  const causedBy = error.caused_by ? ` (caused by ${error.caused_by.type}: ${error.caused_by.reason ?? ''})` : '';
  return `${error.type}: ${error.reason ?? ''}${causedBy}`;
}

// Escapes the metacharacters of an ES wildcard pattern, so an operation name is matched literally.
function escapeWildcard(text: string): string {
  return text.replace(/[\\*?]/g, (char) => `\\${char}`);
}

// Escapes Lucene regular-expression syntax (terms aggregation `include`), so a service name is matched literally.
function escapeRegExp(text: string): string {
  return text.replace(/[.?+*|{}[\]()"\\#@&<>~]/g, (char) => `\\${char}`);
}

const SORTS: Record<TraceSort, estypes.SortCombinations[]> = {
  newest: [{ startTimeUs: 'desc' }, { traceId: 'asc' }],
  oldest: [{ startTimeUs: 'asc' }, { traceId: 'asc' }],
  longest: [{ durationUs: 'desc' }, { traceId: 'asc' }],
  shortest: [{ durationUs: 'asc' }, { traceId: 'asc' }],
  most_spans: [{ spanCount: 'desc' }, { traceId: 'asc' }],
  fewest_spans: [{ spanCount: 'asc' }, { traceId: 'asc' }],
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * BULK_RESPONSE_FILTER: only each item's status and error come back. The full answer (index, id, version,
 * shards, seq_no per item) is about 200 bytes per document that Elasticsearch would write and we would parse.
 */
const BULK_RESPONSE_FILTER = 'items.*.status,items.*.error';

type FilteredBulkResponse = { items?: Partial<Record<BulkItem['action'], { status: number; error?: estypes.ErrorCause }>>[] };

/**
 * ElasticsearchTraceStore: the {@link TraceStore} on Elasticsearch 8 (core APIs only). Every trace belongs to
 * one UTC day, fixed when its first spans are stored (the day of their earliest start) and recorded in a small
 * trace-id → day lookup (`<prefix>-trace-days-YYYY-MM`, one document per trace). All its spans go to
 * `<prefix>-spans-<day>` and its summary to `<prefix>-traces-<day>`, so a lookup by trace id reads the lookup
 * and then one day's indices, and a trace crossing midnight is never split or summarised twice.
 */
export class ElasticsearchTraceStore implements TraceStore {
  private readonly client: Client;
  private readonly prefix: string;
  private readonly maxTraceSpans: number;
  private readonly rememberedTraces: number;
  private readonly bulkRetries: number;
  private readonly bulkRetryBackoffMs: number;
  private readonly catalogMaxTerms: number;
  // traceId → day, least recently used first: saves a lookup read for traces seen moments ago.
  private readonly traceDays = new Map<string, string>();
  /** bodies: bulk body buffers of finished requests, for the next ones. */
  private readonly bodies: BodyBufferPool;

  constructor(options: ElasticsearchTraceStoreOptions) {
    if (options.client === undefined && options.node === undefined) throw new Error('ElasticsearchTraceStore needs `node` or `client`');
    this.client =
      options.client ??
      new Client({
        node: options.node,
        requestTimeout: options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS,
        maxRetries: options.maxRetries ?? 3,
      });
    this.prefix = options.indexPrefix ?? DEFAULT_INDEX_PREFIX;
    this.maxTraceSpans = Math.min(options.maxTraceSpans ?? MAX_SEARCH_SIZE, MAX_SEARCH_SIZE);
    this.rememberedTraces = options.rememberedTraces ?? 100_000;
    this.bulkRetries = options.bulkRetries ?? 3;
    this.bulkRetryBackoffMs = options.bulkRetryBackoffMs ?? 200;
    this.catalogMaxTerms = Math.min(options.catalogMaxTerms ?? MAX_SEARCH_SIZE, 65_536);
    this.bodies = new BodyBufferPool(options.bodyBuffersKept ?? BODY_POOL_FREE_BUFFERS);
  }

  async ensureSchema(): Promise<void> {
    for (const [name, template] of Object.entries(indexTemplates(this.prefix))) {
      // The JSON template's literal types (e.g. `dynamic: string`) are wider than the client's enums.
      await this.client.indices.putIndexTemplate({ name, ...(template as Omit<estypes.IndicesPutIndexTemplateRequest, 'name'>) });
    }
  }

  /**
   * writeSpans: not async on purpose: an async function keeps its arguments alive across every await, and these
   * are a batch's span objects. They are turned into document bytes (off the JS heap) here; only those wait for
   * Elasticsearch.
   */
  writeSpans(spans: Span[], json?: readonly (SpanJson | undefined)[]): Promise<StoreWriteResult> {
    if (spans.length === 0) return Promise.resolve({ failures: [] });
    return this.writeSpanDocuments(spanBulkDocuments(this.prefix, spans, json, this.bodies));
  }

  /** spanWriter: each added span goes into the bulk body at once ({@link SpanBulkBuilder}); the span object is not kept. */
  spanWriter(expectedSpans = SPAN_WRITER_INITIAL_SPANS): SpanWriter {
    const builder = new SpanBulkBuilder(this.prefix, Math.max(1, Math.min(expectedSpans, SPAN_WRITER_MAX_INITIAL_SPANS)), this.bodies);
    return {
      add: (span, json) => builder.add(span, json),
      get size() {
        return builder.size;
      },
      write: () => (builder.size === 0 ? Promise.resolve({ failures: [] }) : this.writeSpanDocuments(builder.finish())),
    };
  }

  private async writeSpanDocuments(built: SpanBulkDocuments): Promise<StoreWriteResult> {
    try {
      return await this.sendSpanDocuments(built);
    } finally {
      // Every attempt of the bulk (retries build their bodies from the items' ranges of this buffer) is over.
      built.documents.release();
    }
  }

  private async sendSpanDocuments({ documents, ids, traceIds, days: guessed, earliest }: SpanBulkDocuments): Promise<StoreWriteResult> {
    const days = await this.placeTraces(earliest);
    const items: BulkItem[] = [];
    const failures: StoreFailure[] = [];
    const bytes = documents.bytes();
    const indexOfDay = new Map<string, string>();
    let bodyHolds = true;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      const day = days.get(traceIds[i] as string);
      if (day === undefined) {
        failures.push({ id, reason: UNPLACED_TRACE_REASON, retryable: true });
        bodyHolds = false;
        continue;
      }
      // Written with the span's own day; the trace's day (its earliest span, or its recorded lookup) rarely differs.
      const written = guessed[i] as string;
      if (day !== written) {
        if (day.length === written.length) documents.replaceIndexEnd(i, day);
        else bodyHolds = false;
      }
      let index = indexOfDay.get(day);
      if (index === undefined) {
        index = dayIndexName(this.prefix, 'spans', day);
        indexOfDay.set(day, index);
      }
      items.push({ action: 'index', index, id, source: bytes, sourceStart: documents.start(i), sourceEnd: documents.end(i) });
    }
    // The body written before placement is the request when every span kept its place; otherwise one is built from the items.
    failures.push(...(await this.bulk(items, bodyHolds ? bytes : undefined)).map((failure) => failure.failure));
    return { failures };
  }

  async loadSummaryStates(traces: TraceLocator[]): Promise<Map<string, TraceSummaryState>> {
    const states = new Map<string, TraceSummaryState>();
    const earliest = new Map<string, number>();
    for (const { traceId, startTimeUs } of traces) earliest.set(traceId, Math.min(earliest.get(traceId) ?? Infinity, startTimeUs));
    const days = await this.findDays(earliest);
    const docs = [...days].map(([traceId, day]) => ({ _index: dayIndexName(this.prefix, 'traces', day), _id: traceId }));
    if (docs.length === 0) return states;
    // mget is real-time (reads the translog), so a summary saved a moment ago is seen without a refresh.
    const response = await this.client.mget<SummaryDocument>({ docs, realtime: true });
    for (const item of response.docs) {
      if ('error' in item) {
        // A missing daily index is just "not there"; anything else would risk overwriting a summary we could not read.
        if (item.error.type === 'index_not_found_exception') continue;
        throw new Error(`loading trace summary ${item._id} from ${item._index} failed: ${describeError(item.error)}`);
      }
      if (!item.found || item._source === undefined) continue;
      const { spans, startTime: _startTime, ...summary } = item._source;
      states.set(item._id, { summary, spans: decodeSummarySpans(item._id, spans) });
    }
    return states;
  }

  saveSummaryStates(states: TraceSummaryState[]): Promise<StoreWriteResult> {
    return this.writeSummaryStates(states, 'index').then(({ failures }) => ({ failures }));
  }

  /** createSummaryStates: bulk `create` of the summaries; an item answered 409 (the trace has a summary) is `existing`. */
  createSummaryStates(states: TraceSummaryState[]): Promise<SummaryCreateResult> {
    return this.writeSummaryStates(states, 'create');
  }

  /**
   * writeSummaryStates: not an `async` function, on purpose: the states (summaries, tag lists, compact spans)
   * are needed only until their documents are in the bulk body, and an async function would hold them, and the
   * documents, across the bulk request, long enough for the garbage collector to copy and promote them.
   */
  private writeSummaryStates(states: TraceSummaryState[], action: 'index' | 'create'): Promise<SummaryCreateResult> {
    if (states.length === 0) return Promise.resolve({ failures: [], existing: [] });
    const earliest = new Map<string, number>();
    for (const { summary } of states) earliest.set(summary.traceId, summary.startTimeUs);
    return this.placeTraces(earliest).then((days) => this.sendSummaries(summaryBulkDocuments(this.prefix, states, days, action, this.bodies), action));
  }

  private async sendSummaries({ items, documents, failures }: SummaryBulkDocuments, action: 'index' | 'create'): Promise<SummaryCreateResult> {
    const existing: string[] = [];
    let answered;
    try {
      answered = await this.bulk(items, documents.bytes());
    } finally {
      documents.release();
    }
    for (const { status, failure } of answered) {
      if (action === 'create' && status === 409) existing.push(failure.id);
      else failures.push(failure);
    }
    return { failures, existing };
  }

  /** getTraceSpans: reads the trace's day from the lookup, then searches that one day's span index. */
  async getTraceSpans(traceId: string): Promise<Span[]> {
    const day = await this.dayOfTrace(traceId);
    if (day === undefined) return [];
    const response = await this.search<SpanDocument>({
      index: dayIndexName(this.prefix, 'spans', day),
      ignore_unavailable: true,
      allow_no_indices: true,
      size: this.maxTraceSpans,
      track_total_hits: false,
      query: { term: { traceId } },
      sort: [{ startTimeUs: 'asc' }, { spanId: 'asc' }],
    });
    return response.hits.hits.flatMap((hit) => {
      if (hit._source === undefined) return [];
      const { startTime: _startTime, ...span } = hit._source;
      return [span];
    });
  }

  /**
   * searchTraces: `operation` alone matches that operation in any service (a suffix wildcard `*:<operation>`
   * on `operations`); with `service` it must be that service's operation. `limit` is capped at {@link MAX_SEARCH_SIZE}.
   */
  async searchTraces(search: TraceSearch): Promise<TraceSummary[]> {
    const size = Math.min(Math.max(0, Math.floor(search.limit)), MAX_SEARCH_SIZE);
    if (size === 0) return [];
    const filter: estypes.QueryDslQueryContainer[] = [{ range: { startTimeUs: { gte: search.startUs, lte: search.endUs } } }];
    if (search.service !== undefined) filter.push({ term: { services: search.service } });
    if (search.operation !== undefined) {
      filter.push(
        search.service !== undefined
          ? { term: { operations: `${search.service}:${search.operation}` } }
          : { wildcard: { operations: { value: `*:${escapeWildcard(search.operation)}` } } },
      );
    }
    for (const [key, value] of Object.entries(search.tags ?? {})) filter.push({ term: { tags: summaryTag(key, value) } });
    if (search.minDurationUs !== undefined || search.maxDurationUs !== undefined) {
      filter.push({ range: { durationUs: { gte: search.minDurationUs, lte: search.maxDurationUs } } });
    }
    if (search.errorsOnly === true) filter.push({ range: { errorCount: { gte: 1 } } });
    if (search.query !== undefined) filter.push(traceQueryToElasticsearch(search.query));
    const response = await this.search<SummaryDocument>({
      index: indexPattern(this.prefix, 'traces'),
      ignore_unavailable: true,
      allow_no_indices: true,
      size,
      track_total_hits: false,
      query: { bool: { filter } },
      sort: SORTS[search.sort ?? 'newest'],
      _source: { excludes: ['spans'] },
    });
    return response.hits.hits.flatMap((hit) => {
      if (hit._source === undefined) return [];
      const { startTime: _startTime, spans: _spans, ...summary } = hit._source;
      return [summary];
    });
  }

  /** listServices: a terms aggregation over the summaries' `services` of traces starting in the range. */
  async listServices(range: TimeRange): Promise<string[]> {
    return this.terms('services', [], range, undefined);
  }

  /** listOperations: the `service:operation` entries of that service, without the service prefix. */
  async listOperations(service: string, range: TimeRange): Promise<string[]> {
    const entries = await this.terms('operations', [{ term: { services: service } }], range, `${escapeRegExp(service)}:.*`);
    return entries.map((entry) => entry.slice(service.length + 1));
  }

  /**
   * deleteBefore: deletes the daily span and summary indices of days that ended at or before `cutoffUs`, and
   * the monthly trace-day lookup indices of months that did. Index deletion only: no ILM, no delete-by-query.
   */
  async deleteBefore(cutoffUs: number): Promise<string[]> {
    const existing = await this.client.indices.get({ index: this.ownPatterns(), ignore_unavailable: true, allow_no_indices: true, features: ['settings'] });
    const expired: string[] = [];
    const cutoffMs = Math.floor(cutoffUs / 1000);
    for (const name of Object.keys(existing)) {
      const day = /-(\d{4}-\d{2}-\d{2})$/.exec(name)?.[1];
      const month = /-trace-days-(\d{4})-(\d{2})$/.exec(name);
      if (day !== undefined && (name.startsWith(`${this.prefix}-spans-`) || name.startsWith(`${this.prefix}-traces-`))) {
        if (Date.parse(`${day}T00:00:00Z`) + DAY_US / 1000 <= cutoffMs) expired.push(name);
      } else if (month !== null && name.startsWith(`${this.prefix}-trace-days-`)) {
        if (Date.UTC(Number(month[1]), Number(month[2]), 1) <= cutoffMs) expired.push(name);
      }
    }
    expired.sort();
    for (let i = 0; i < expired.length; i += 50) await this.client.indices.delete({ index: expired.slice(i, i + 50) }, { ignore: [404] });
    if (expired.length > 0) this.traceDays.clear();
    return expired;
  }

  /** ready: Elasticsearch answers cluster health within {@link READY_TIMEOUT_MS} and the cluster is not red. */
  async ready(): Promise<boolean> {
    try {
      // Not ping (HEAD /): the integ-test-zip distribution has no root endpoint and answers it 405.
      const health = await this.client.cluster.health({}, { requestTimeout: READY_TIMEOUT_MS, maxRetries: 0 });
      return health.status !== 'red';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** refresh: makes every write so far searchable in this prefix's indices (tests; production relies on refresh_interval). */
  async refresh(): Promise<void> {
    await this.client.indices.refresh({ index: this.ownPatterns(), ignore_unavailable: true, allow_no_indices: true });
  }

  /** deleteAllIndices: deletes this prefix's indices and templates (test cleanup). */
  async deleteAllIndices(): Promise<void> {
    // Wildcard deletes are refused by default (action.destructive_requires_name), so resolve names first.
    const existing = await this.client.indices.get({ index: this.ownPatterns(), ignore_unavailable: true, allow_no_indices: true, features: ['settings'] });
    const names = Object.keys(existing);
    for (let i = 0; i < names.length; i += 50) await this.client.indices.delete({ index: names.slice(i, i + 50) });
    for (const name of Object.keys(indexTemplates(this.prefix))) {
      await this.client.indices.deleteIndexTemplate({ name }, { ignore: [404] });
    }
    this.traceDays.clear();
  }

  private ownPatterns(): string[] {
    return [indexPattern(this.prefix, 'spans'), indexPattern(this.prefix, 'traces'), traceDaysPattern(this.prefix)];
  }

  private async terms(field: 'services' | 'operations', filter: estypes.QueryDslQueryContainer[], range: TimeRange, include: string | undefined): Promise<string[]> {
    const response = await this.search({
      index: indexPattern(this.prefix, 'traces'),
      ignore_unavailable: true,
      allow_no_indices: true,
      size: 0,
      track_total_hits: false,
      query: { bool: { filter: [{ range: { startTimeUs: { gte: range.startUs, lte: range.endUs } } }, ...filter] } },
      aggs: { names: { terms: { field, size: this.catalogMaxTerms, order: { _key: 'asc' }, ...(include === undefined ? {} : { include }) } } },
    });
    const aggregation = response.aggregations?.['names'] as estypes.AggregationsStringTermsAggregate | undefined;
    const buckets = aggregation?.buckets;
    return Array.isArray(buckets) ? buckets.map((bucket) => String(bucket.key)) : [];
  }

  /**
   * findDays: the recorded day of each trace (cache, then a real-time read of the lookup in the months around
   * its earliest known span); traces never stored are absent.
   */
  private async findDays(earliest: Map<string, number>): Promise<Map<string, string>> {
    const days = new Map<string, string>();
    const docs: { _index: string; _id: string }[] = [];
    for (const [traceId, startUs] of earliest) {
      const cached = this.traceDays.get(traceId);
      if (cached !== undefined) {
        days.set(traceId, cached);
        continue;
      }
      for (const index of this.lookupIndices(startUs)) docs.push({ _index: index, _id: traceId });
    }
    if (docs.length === 0) return days;
    const response = await this.client.mget<TraceDayDocument>({ docs, realtime: true });
    for (const item of response.docs) {
      if ('error' in item) {
        if (item.error.type === 'index_not_found_exception') continue;
        throw new Error(`reading the day of trace ${item._id} from ${item._index} failed: ${describeError(item.error)}`);
      }
      if (!item.found || item._source === undefined || days.has(item._id)) continue;
      days.set(item._id, item._source.day);
      this.remember(item._id, item._source.day);
    }
    return days;
  }

  /**
   * placeTraces: the day of each trace, recording a new trace's day (that of `earliest`) in the lookup first,
   * so no span is stored where a lookup by trace id would not find it. A trace whose lookup could not be
   * written is absent (its documents are reported retryable).
   */
  private async placeTraces(earliest: Map<string, number>): Promise<Map<string, string>> {
    // A trace whose lookup can only be in one month's index needs no read first: creating its lookup answers 409
    // exactly when it is recorded there, and is then read back. That saves a round trip per batch of new traces.
    const toRead = new Map<string, number>();
    const fresh: [string, number][] = [];
    for (const entry of earliest) {
      if (this.traceDays.has(entry[0]) || this.lookupIndices(entry[1]).length > 1) toRead.set(entry[0], entry[1]);
      else fresh.push(entry);
    }
    const days = await this.findDays(toRead);
    for (const entry of toRead) if (!days.has(entry[0])) fresh.push(entry);
    if (fresh.length === 0) return days;
    const items: BulkItem[] = fresh.map(([traceId, startUs]) => {
      const day = indexDay(startUs);
      const doc: TraceDayDocument = { day };
      return { action: 'create', index: traceDaysIndexName(this.prefix, day), id: traceId, source: JSON.stringify(doc) };
    });
    const failed = await this.bulk(items);
    const conflicted = new Map<string, number>();
    const failedIds = new Set<string>();
    for (const { position, status } of failed) {
      const [traceId, startUs] = fresh[position];
      // 409: recorded meanwhile (another consumer, or a lookup the cache did not know): read it back.
      if (status === 409) conflicted.set(traceId, startUs);
      else failedIds.add(traceId);
    }
    for (const [traceId, startUs] of fresh) {
      if (failedIds.has(traceId) || conflicted.has(traceId)) continue;
      const day = indexDay(startUs);
      days.set(traceId, day);
      this.remember(traceId, day);
    }
    if (conflicted.size > 0) for (const [traceId, day] of await this.findDays(conflicted)) days.set(traceId, day);
    return days;
  }

  /** lookupIndices: the monthly lookup indices that may record a trace whose spans start at `startUs` (a trace's day is its first stored spans' day; later spans of it start at most a day or so away). */
  private lookupIndices(startUs: number): string[] {
    const first = traceDaysIndexName(this.prefix, indexDay(startUs - DAY_US));
    const last = traceDaysIndexName(this.prefix, indexDay(startUs + DAY_US));
    if (first === last) return [first];
    return [...new Set([first, traceDaysIndexName(this.prefix, indexDay(startUs)), last])].sort();
  }

  /** dayOfTrace: the recorded day of a trace from the lookup (a search: the month is not known up front). */
  private async dayOfTrace(traceId: string): Promise<string | undefined> {
    const cached = this.traceDays.get(traceId);
    if (cached !== undefined) return cached;
    const response = await this.search<TraceDayDocument>({
      index: traceDaysPattern(this.prefix),
      ignore_unavailable: true,
      allow_no_indices: true,
      size: 1,
      track_total_hits: false,
      query: { ids: { values: [traceId] } },
    });
    return response.hits.hits[0]?._source?.day;
  }

  private remember(traceId: string, day: string): void {
    this.traceDays.delete(traceId);
    this.traceDays.set(traceId, day);
    // Map iteration is insertion order, so the first key is the least recently used placement.
    if (this.traceDays.size > this.rememberedTraces) {
      const oldest = this.traceDays.keys().next().value;
      if (oldest !== undefined) this.traceDays.delete(oldest);
    }
  }

  /**
   * search: a search that either answers from every shard or fails. Right after a daily index is created its
   * shard may not be started yet (`no_shard_available_action_exception`, or a shard failure inside a 200
   * answer); that is retried for up to about a second rather than served as a silently partial result.
   */
  private async search<T = unknown>(request: estypes.SearchRequest): Promise<estypes.SearchResponse<T>> {
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await this.client.search<T>({ ...request, allow_partial_search_results: false });
        if (response._shards.failed === 0) return response;
        const reason = response._shards.failures?.[0]?.reason;
        if (attempt >= SEARCH_RETRIES) throw new Error(`search of ${String(request.index)} failed on ${response._shards.failed} shard(s): ${reason ? describeError(reason) : 'unknown'}`);
      } catch (err) {
        const status = (err as { meta?: { statusCode?: number } }).meta?.statusCode;
        if (attempt >= SEARCH_RETRIES || status !== 503) throw err;
      }
      await sleep(250 * (attempt + 1));
    }
  }

  /**
   * bulk: writes the items; a request-level failure throws (nothing may be reported as written). Items refused
   * with 429 or 5xx (queue full, circuit breaker, shard busy) are sent again after a growing backoff, up to
   * `bulkRetries` times; what still fails is returned with its position and status, retryable or not. `body`,
   * when given, is the items' bulk body already written, sent as the first attempt.
   */
  private async bulk(items: BulkItem[], body?: Buffer): Promise<{ position: number; status: number; failure: StoreFailure }[]> {
    let pending = items.map((item, position) => ({ item, position }));
    const failures: { position: number; status: number; failure: StoreFailure }[] = [];
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(this.bulkRetryBackoffMs * 2 ** (attempt - 1));
      const request = attempt === 0 && body !== undefined ? body : bulkBody(pending.map(({ item }) => item));
      const response = await this.client.transport.request<FilteredBulkResponse>({ method: 'POST', path: '/_bulk', querystring: { filter_path: BULK_RESPONSE_FILTER }, bulkBody: request });
      const answers = response.items ?? [];
      if (answers.length !== pending.length) throw new Error(`bulk answered ${answers.length} items for ${pending.length} documents`);
      const retry: typeof pending = [];
      answers.forEach((answer, i) => {
        const { item, position } = pending[i];
        const result = answer[item.action];
        if (result !== undefined && result.error === undefined && result.status < 300) return;
        const status = result?.status ?? 500;
        const reason = result?.error ? describeError(result.error) : `status ${status}`;
        // 429 (rejected: queue full, circuit breaker) and 5xx are transient; 4xx such as mapping conflicts never will succeed.
        const retryable = status === 429 || status >= 500;
        if (retryable && attempt < this.bulkRetries) retry.push(pending[i]);
        else failures.push({ position, status, failure: { id: item.id, reason, retryable } });
      });
      pending = retry;
    }
    return failures;
  }
}
