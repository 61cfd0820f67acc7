import { BadRequestException, Controller, Get, Inject, NotFoundException, Param, Query } from '@nestjs/common';
import { MinuteStats, TraceQuery, TraceQuerySyntaxError, TraceSearch, TraceSummary, formatTraceQuery, parseTraceQuery } from '@skein/domain';
import { invalidParameter, oneOf, parseBoolean, parseDurationParamUs, parseInteger, parseSort, parseTags, parseTimeMs, single } from './query-params';
import { MAX_METRIC_RANGE_MINUTES, QueryService, TRACE_CLOCKS, TraceView } from './query.service';

/** QUERY_SERVICE: injection token of the {@link QueryService} instance. */
export const QUERY_SERVICE = Symbol('QUERY_SERVICE');

const HOUR_MS = 3_600_000;

/** DEFAULT_NAMES_LOOKBACK_MS: how far back service and operation names are listed by default (7 days). */
export const DEFAULT_NAMES_LOOKBACK_MS = 7 * 24 * HOUR_MS;

/** TRACE_SEARCH_MAX_LIMIT: the largest `limit` of a trace search. */
export const TRACE_SEARCH_MAX_LIMIT = 1000;

/** TRACE_ID_PATTERN: a trace id as the read APIs accept it (after lower-casing): 16 or 32 hex characters. */
export const TRACE_ID_PATTERN = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;

/** normalizeTraceId: the id lower-cased; 400 naming `name` unless it is 16 or 32 hex characters. */
export function normalizeTraceId(name: string, id: string): string {
  const traceId = id.toLowerCase();
  if (!TRACE_ID_PATTERN.test(traceId)) throw invalidParameter(name, `must be 16 or 32 hex characters, got "${id}"`);
  return traceId;
}

/** parseQueryString: a Kibana-style query (`q`) → its AST; 400 `{error: 'invalid_query', message, position}` when it does not parse. */
export function parseQueryString(text: string): TraceQuery {
  try {
    return parseTraceQuery(text);
  } catch (err) {
    if (err instanceof TraceQuerySyntaxError) throw new BadRequestException({ error: 'invalid_query', message: err.message, position: err.position });
    throw err;
  }
}

/** lookbackRange: [now − lookback, now] in microseconds; `lookback` in ms, default {@link DEFAULT_NAMES_LOOKBACK_MS}. */
export function lookbackRange(lookback: unknown, nowMs = Date.now()): { startUs: number; endUs: number } {
  const lookbackMs = parseInteger('lookback', lookback, 1, Number.MAX_SAFE_INTEGER, DEFAULT_NAMES_LOOKBACK_MS);
  return { startUs: Math.max(0, nowMs - lookbackMs) * 1000, endUs: nowMs * 1000 };
}

@Controller('api')
export class QueryController {
  constructor(@Inject(QUERY_SERVICE) private readonly query: QueryService) {}

  /** trace: `GET /api/traces/:id?clock=adjusted|raw` — the span tree (default: skew-adjusted times); 404 when unknown. */
  @Get('traces/:id')
  async trace(@Param('id') id: string, @Query('clock') clock?: unknown): Promise<TraceView> {
    const traceId = normalizeTraceId('id', id);
    const view = await this.query.getTrace(traceId, oneOf('clock', clock, TRACE_CLOCKS, 'adjusted'));
    if (view === undefined) throw new NotFoundException({ error: 'not_found', message: `no span of trace ${traceId} is stored (yet)` });
    return view;
  }

  /**
   * traces: `GET /api/traces?service=&operation=&tag=k=v&tags=&minDuration=&maxDuration=&errors=&start=&end=&limit=&sort=&q=`
   * — trace summaries matching every filter given, and `query`, the normalized `q` when one was given; default: the
   * last hour, 20 traces, newest first (docs/query.md).
   */
  @Get('traces')
  async traces(@Query() params: Record<string, unknown> = {}): Promise<{ traces: TraceSummary[]; query?: string }> {
    const traces = await this.query.searchTraces(parseTraceSearch(params));
    const q = params['q'];
    // Echo the normalized q (canonical names, explicit AND/OR/NOT), so a user sees how the query was read.
    return typeof q === 'string' ? { traces, query: formatTraceQuery(parseTraceQuery(q)) } : { traces };
  }

  /** metrics: `GET /api/metrics?service=&operation=&from=&to=` — minute stats; default: the last hour. */
  @Get('metrics')
  async metrics(@Query('service') service?: unknown, @Query('operation') operation?: unknown, @Query('from') from?: unknown, @Query('to') to?: unknown): Promise<{ minutes: MinuteStats[] }> {
    const serviceName = single('service', service);
    const operationName = single('operation', operation);
    if (serviceName === undefined) throw invalidParameter('service', 'required');
    if (operationName === undefined) throw invalidParameter('operation', 'required');
    const toMs = parseTimeMs('to', to, Date.now());
    const fromMs = parseTimeMs('from', from, toMs - HOUR_MS);
    if (fromMs > toMs) throw invalidParameter('from', 'must not be after to');
    if (toMs - fromMs > MAX_METRIC_RANGE_MINUTES * 60_000) throw invalidParameter('from/to', `at most ${MAX_METRIC_RANGE_MINUTES} minutes apart`);
    return { minutes: await this.query.minuteStats(serviceName, operationName, fromMs, toMs) };
  }

  /** metricServices: `GET /api/metrics/services` — services with minute metrics (entry spans). */
  @Get('metrics/services')
  async metricServices(): Promise<{ services: string[] }> {
    return { services: await this.query.metricServices() };
  }

  /** metricOperations: `GET /api/metrics/services/:name/operations` — operations of a service with minute metrics. */
  @Get('metrics/services/:name/operations')
  async metricOperations(@Param('name') name: string): Promise<{ operations: string[] }> {
    return { operations: await this.query.metricOperations(name) };
  }

  /** services: `GET /api/services?lookback=` — services with a stored span in the last `lookback` ms (default 7 days). */
  @Get('services')
  async services(@Query('lookback') lookback?: unknown): Promise<{ services: string[] }> {
    return { services: await this.query.listServices(lookbackRange(lookback)) };
  }

  /** operations: `GET /api/services/:name/operations?lookback=` — span names of a service, same lookback. */
  @Get('services/:name/operations')
  async operations(@Param('name') name: string, @Query('lookback') lookback?: unknown): Promise<{ operations: string[] }> {
    return { operations: await this.query.listOperations(name, lookbackRange(lookback)) };
  }
}

/** parseTraceSearch: the query parameters of `GET /api/traces` → a {@link TraceSearch}; 400 naming the first bad one. */
export function parseTraceSearch(params: Record<string, unknown>, nowMs = Date.now()): TraceSearch {
  const endMs = parseTimeMs('end', params['end'], nowMs);
  const startMs = parseTimeMs('start', params['start'], endMs - HOUR_MS);
  if (startMs > endMs) throw invalidParameter('start', 'must not be after end');
  const limit = parseInteger('limit', params['limit'], 1, TRACE_SEARCH_MAX_LIMIT, 20);
  const sort = parseSort(params['sort']);
  const minDurationUs = parseDurationParamUs('minDuration', params['minDuration']);
  const maxDurationUs = parseDurationParamUs('maxDuration', params['maxDuration']);
  if (minDurationUs !== undefined && maxDurationUs !== undefined && minDurationUs > maxDurationUs) throw invalidParameter('minDuration', 'must not be more than maxDuration');
  const { tags, extra } = parseTags(params['tag'], params['tags']);
  // Unlike other parameters an empty q is not "absent": the grammar (docs/query.md) answers it with `query: empty`.
  const text = params['q'] === '' ? '' : single('q', params['q']);
  const clauses = [...(text === undefined ? [] : [parseQueryString(text)]), ...extra];
  const search: TraceSearch = { startUs: startMs * 1000, endUs: endMs * 1000, limit, sort };
  const service = single('service', params['service']);
  const operation = single('operation', params['operation']);
  if (service !== undefined) search.service = service;
  if (operation !== undefined) search.operation = operation;
  if (Object.keys(tags).length > 0) search.tags = tags;
  if (minDurationUs !== undefined) search.minDurationUs = minDurationUs;
  if (maxDurationUs !== undefined) search.maxDurationUs = maxDurationUs;
  if (parseBoolean('errors', params['errors'], false)) search.errorsOnly = true;
  if (clauses.length === 1) search.query = clauses[0];
  else if (clauses.length > 1) search.query = { kind: 'and', clauses };
  return search;
}
