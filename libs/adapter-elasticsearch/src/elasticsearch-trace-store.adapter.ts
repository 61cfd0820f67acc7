import { Client } from '@elastic/elasticsearch';
import type { estypes } from '@elastic/elasticsearch';
import { DEFAULT_INDEX_PREFIX, dailyIndexName, indexPattern, indexTemplates } from '@skein/contracts';
import {
  Span,
  StoreFailure,
  StoreWriteResult,
  TraceLocator,
  TraceSearch,
  TraceStore,
  TraceSummary,
  TraceSummaryState,
  spanDocumentId,
} from '@skein/domain';

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
  /** rememberedTraces: how many trace → summary-index placements are remembered between load and save (default 100 000). */
  rememberedTraces?: number;
}

/** DEFAULT_REQUEST_TIMEOUT_MS: default {@link ElasticsearchTraceStoreOptions.requestTimeout}, milliseconds. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** READY_TIMEOUT_MS: how long ready() waits for a ping, milliseconds. */
export const READY_TIMEOUT_MS = 2_000;

/** MAX_SEARCH_SIZE: the largest page ES serves without scrolling (index.max_result_window default). */
export const MAX_SEARCH_SIZE = 10_000;

const DAY_US = 86_400_000_000;

type SpanDocument = Span & { startTime: string };
type SummaryDocument = TraceSummary & { startTime: string; spans: TraceSummaryState['spans'] };

function isoFromUs(timeUs: number): string {
  return new Date(Math.floor(timeUs / 1000)).toISOString();
}

function describeError(error: estypes.ErrorCause): string {
  const causedBy = error.caused_by ? ` (caused by ${error.caused_by.type}: ${error.caused_by.reason ?? ''})` : '';
  return `${error.type}: ${error.reason ?? ''}${causedBy}`;
}

// Escapes the metacharacters of an ES wildcard pattern, so an operation name is matched literally.
function escapeWildcard(text: string): string {
  return text.replace(/[\\*?]/g, (char) => `\\${char}`);
}

/**
 * ElasticsearchTraceStore: the {@link TraceStore} on Elasticsearch 8 (core APIs only). Spans go to daily
 * `<prefix>-spans-YYYY-MM-DD` indices (by span start), one summary per trace to `<prefix>-traces-YYYY-MM-DD`
 * (by the trace's start when first stored; it never moves afterwards, so a trace is never summarised twice).
 */
export class ElasticsearchTraceStore implements TraceStore {
  private readonly client: Client;
  private readonly prefix: string;
  private readonly maxTraceSpans: number;
  private readonly rememberedTraces: number;
  // traceId → the traces index its summary was found in or written to: a summary whose start moved to an
  // earlier day must still be written back where it already lives, not duplicated into the earlier day's index.
  private readonly summaryIndex = new Map<string, string>();

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
  }

  async ensureSchema(): Promise<void> {
    for (const [name, template] of Object.entries(indexTemplates(this.prefix))) {
      // The JSON template's literal types (e.g. `dynamic: string`) are wider than the client's enums.
      await this.client.indices.putIndexTemplate({ name, ...(template as Omit<estypes.IndicesPutIndexTemplateRequest, 'name'>) });
    }
  }

  async writeSpans(spans: Span[]): Promise<StoreWriteResult> {
    if (spans.length === 0) return { failures: [] };
    const operations: object[] = [];
    for (const span of spans) {
      const doc: SpanDocument = { ...span, startTime: isoFromUs(span.startTimeUs) };
      operations.push({ index: { _index: dailyIndexName(this.prefix, 'spans', span.startTimeUs), _id: spanDocumentId(span) } }, doc);
    }
    const failures = await this.bulk(operations, spans.map(spanDocumentId));
    return { failures: failures.map((failure) => failure.failure) };
  }

  async loadSummaryStates(traces: TraceLocator[]): Promise<Map<string, TraceSummaryState>> {
    const states = new Map<string, TraceSummaryState>();
    const wanted = new Map<string, Set<string>>();
    for (const { traceId, startTimeUs } of traces) {
      const indices = wanted.get(traceId) ?? new Set<string>();
      // A trace may have been first stored under the day before or after this span's day.
      for (const offset of [-DAY_US, 0, DAY_US]) indices.add(dailyIndexName(this.prefix, 'traces', startTimeUs + offset));
      const remembered = this.summaryIndex.get(traceId);
      if (remembered !== undefined) indices.add(remembered);
      wanted.set(traceId, indices);
    }
    const docs = [...wanted].flatMap(([traceId, indices]) => [...indices].sort().map((index) => ({ _index: index, _id: traceId })));
    if (docs.length === 0) return states;
    // mget is real-time (reads the translog), so a summary saved a moment ago is seen without a refresh.
    const response = await this.client.mget<SummaryDocument>({ docs, realtime: true });
    for (const item of response.docs) {
      if ('error' in item) {
        // A missing daily index is just "not there"; anything else would risk overwriting a summary we could not read.
        if (item.error.type === 'index_not_found_exception') continue;
        throw new Error(`loading trace summary ${item._id} from ${item._index} failed: ${describeError(item.error)}`);
      }
      // Indices are requested oldest first, so if a trace somehow exists twice the oldest copy wins.
      if (!item.found || item._source === undefined || states.has(item._id)) continue;
      const { spans, startTime: _startTime, ...summary } = item._source;
      states.set(item._id, { summary, spans });
      this.remember(item._id, item._index);
    }
    return states;
  }

  async saveSummaryStates(states: TraceSummaryState[]): Promise<StoreWriteResult> {
    if (states.length === 0) return { failures: [] };
    const operations: object[] = [];
    const indices: string[] = [];
    for (const { summary, spans } of states) {
      const index = this.summaryIndex.get(summary.traceId) ?? dailyIndexName(this.prefix, 'traces', summary.startTimeUs);
      const doc: SummaryDocument = { ...summary, startTime: isoFromUs(summary.startTimeUs), spans };
      operations.push({ index: { _index: index, _id: summary.traceId } }, doc);
      indices.push(index);
    }
    const failures = await this.bulk(
      operations,
      states.map((state) => state.summary.traceId),
    );
    const failed = new Set(failures.map((failure) => failure.position));
    states.forEach((state, position) => {
      if (!failed.has(position)) this.remember(state.summary.traceId, indices[position]);
    });
    return { failures: failures.map((failure) => failure.failure) };
  }

  async getTraceSpans(traceId: string): Promise<Span[]> {
    const response = await this.client.search<SpanDocument>({
      index: indexPattern(this.prefix, 'spans'),
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
    const response = await this.client.search<SummaryDocument>({
      index: indexPattern(this.prefix, 'traces'),
      ignore_unavailable: true,
      allow_no_indices: true,
      size,
      track_total_hits: false,
      query: { bool: { filter } },
      sort: [{ startTimeUs: 'desc' }, { traceId: 'asc' }],
      _source: { excludes: ['spans'] },
    });
    return response.hits.hits.flatMap((hit) => {
      if (hit._source === undefined) return [];
      const { startTime: _startTime, spans: _spans, ...summary } = hit._source;
      return [summary];
    });
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

  /** deleteAllIndices: deletes this prefix's span and trace indices and its two templates (test cleanup). */
  async deleteAllIndices(): Promise<void> {
    // Wildcard deletes are refused by default (action.destructive_requires_name), so resolve names first.
    const existing = await this.client.indices.get({ index: this.ownPatterns(), ignore_unavailable: true, allow_no_indices: true, features: ['settings'] });
    const names = Object.keys(existing);
    for (let i = 0; i < names.length; i += 50) await this.client.indices.delete({ index: names.slice(i, i + 50) });
    for (const name of Object.keys(indexTemplates(this.prefix))) {
      await this.client.indices.deleteIndexTemplate({ name }, { ignore: [404] });
    }
    this.summaryIndex.clear();
  }

  private ownPatterns(): string[] {
    return [indexPattern(this.prefix, 'spans'), indexPattern(this.prefix, 'traces')];
  }

  private remember(traceId: string, index: string): void {
    this.summaryIndex.delete(traceId);
    this.summaryIndex.set(traceId, index);
    // Map iteration is insertion order, so the first key is the least recently used placement.
    if (this.summaryIndex.size > this.rememberedTraces) {
      const oldest = this.summaryIndex.keys().next().value;
      if (oldest !== undefined) this.summaryIndex.delete(oldest);
    }
  }

  // One bulk request; a request-level failure throws (nothing may be reported as written), item failures are returned.
  private async bulk(operations: object[], ids: string[]): Promise<{ position: number; failure: StoreFailure }[]> {
    const response = await this.client.bulk({ operations });
    if (response.items.length !== ids.length) {
      throw new Error(`bulk answered ${response.items.length} items for ${ids.length} documents`);
    }
    if (!response.errors) return [];
    const failures: { position: number; failure: StoreFailure }[] = [];
    response.items.forEach((item, position) => {
      const result = item.index;
      if (result === undefined) {
        failures.push({ position, failure: { id: ids[position], reason: 'bulk item without an index result', retryable: true } });
        return;
      }
      if (result.error === undefined && result.status < 300) return;
      const reason = result.error ? describeError(result.error) : `status ${result.status}`;
      // 429 (rejected: queue full, circuit breaker) and 5xx are transient; 4xx such as mapping conflicts never will succeed.
      const retryable = result.status === 429 || result.status >= 500;
      failures.push({ position, failure: { id: ids[position], reason, retryable } });
    });
    return failures;
  }
}
