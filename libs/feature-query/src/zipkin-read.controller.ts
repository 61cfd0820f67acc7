import { Controller, Get, Inject, NotFoundException, Param, Query } from '@nestjs/common';
import { TraceSearch, ZipkinV2Span, encodeZipkinV2 } from '@skein/domain';
import { invalidParameter, optionalInteger, parseInteger, single } from './query-params';
import { QUERY_SERVICE, TRACE_SEARCH_MAX_LIMIT, lookbackRange, normalizeTraceId } from './query.controller';
import { QueryService } from './query.service';
import { zipkinAnnotationQuery } from './zipkin-annotation-query';

/** ZIPKIN_DEFAULT_LOOKBACK_MS: `lookback` of `GET /api/v2/traces` when not given: one day, Zipkin's QUERY_LOOKBACK default. */
export const ZIPKIN_DEFAULT_LOOKBACK_MS = 86_400_000;

// Largest epoch milliseconds whose microseconds are still exact in a JS number.
const MAX_EPOCH_MS = Math.floor(Number.MAX_SAFE_INTEGER / 1000);

/** ZIPKIN_DEFAULT_LIMIT: `limit` of `GET /api/v2/traces` when not given, as in Zipkin. */
export const ZIPKIN_DEFAULT_LIMIT = 10;

/**
 * ZipkinReadController: Zipkin's v2 read API (zipkin2-api.yaml), so Zipkin's UI (Lens), Grafana's Zipkin data source
 * and other Zipkin tools read Skein unchanged: JSON arrays, lowercase hex ids, microsecond timestamps. Spans are
 * returned with their recorded times: Zipkin's UI corrects clock skew itself. Names are listed over the last
 * 7 days (Skein's default for `/api/services`); `remoteServiceName` and `/dependencies` are not supported.
 */
@Controller('api/v2')
export class ZipkinReadController {
  constructor(@Inject(QUERY_SERVICE) private readonly query: QueryService) {}

  /** services: `GET /api/v2/services` — service names, sorted. */
  @Get('services')
  services(): Promise<string[]> {
    return this.query.listServices(lookbackRange(undefined));
  }

  /** spans: `GET /api/v2/spans?serviceName=` — the span names of a service, sorted; 400 without serviceName. */
  @Get('spans')
  spans(@Query('serviceName') serviceName?: unknown): Promise<string[]> {
    const service = single('serviceName', serviceName);
    if (service === undefined) throw invalidParameter('serviceName', 'required');
    return this.query.listOperations(service, lookbackRange(undefined));
  }

  /**
   * traces: `GET /api/v2/traces?serviceName&spanName&annotationQuery&minDuration&maxDuration&endTs&lookback&limit` —
   * matching traces newest first, each as its array of spans. Durations in µs (compared with the whole trace's),
   * endTs and lookback in ms (default now and one day), limit default 10.
   */
  @Get('traces')
  async traces(@Query() params: Record<string, unknown> = {}): Promise<ZipkinV2Span[][]> {
    const traces = await this.query.searchTraceSpans(parseZipkinSearch(params));
    return traces.map(encodeZipkinV2);
  }

  /** trace: `GET /api/v2/trace/{traceId}` — the spans of one trace; 404 when unknown. */
  @Get('trace/:traceId')
  async trace(@Param('traceId') id: string): Promise<ZipkinV2Span[]> {
    const traceId = normalizeTraceId('traceId', id);
    const spans = await this.query.getTraceSpans(traceId);
    if (spans.length === 0) throw new NotFoundException({ error: 'not_found', message: `trace ${traceId} not found` });
    return encodeZipkinV2(spans);
  }

  /** autocompleteKeys: `GET /api/v2/autocompleteKeys` — none are configured, so empty (as a Zipkin server without AUTOCOMPLETE_KEYS). */
  @Get('autocompleteKeys')
  autocompleteKeys(): string[] {
    return [];
  }

  /** autocompleteValues: `GET /api/v2/autocompleteValues?key=` — empty, since no key is configured for autocompletion. */
  @Get('autocompleteValues')
  autocompleteValues(@Query('key') key?: unknown): string[] {
    if (single('key', key) === undefined) throw invalidParameter('key', 'required');
    return [];
  }
}

/** parseZipkinSearch: the query parameters of Zipkin's `GET /api/v2/traces` → a {@link TraceSearch}; 400 naming a bad one. */
export function parseZipkinSearch(params: Record<string, unknown>, nowMs = Date.now()): TraceSearch {
  const endMs = parseInteger('endTs', params['endTs'], 1, MAX_EPOCH_MS, nowMs);
  const lookbackMs = parseInteger('lookback', params['lookback'], 1, MAX_EPOCH_MS, ZIPKIN_DEFAULT_LOOKBACK_MS);
  const limit = parseInteger('limit', params['limit'], 1, TRACE_SEARCH_MAX_LIMIT, ZIPKIN_DEFAULT_LIMIT);
  const minDurationUs = optionalInteger('minDuration', params['minDuration'], 1, Number.MAX_SAFE_INTEGER);
  const maxDurationUs = optionalInteger('maxDuration', params['maxDuration'], 1, Number.MAX_SAFE_INTEGER);
  if (minDurationUs !== undefined && maxDurationUs !== undefined && minDurationUs > maxDurationUs) throw invalidParameter('minDuration', 'must not be more than maxDuration');
  const search: TraceSearch = { startUs: Math.max(0, endMs - lookbackMs) * 1000, endUs: endMs * 1000, limit, sort: 'newest' };
  const service = single('serviceName', params['serviceName']);
  // Zipkin's old UI sends spanName=all for "any"; Zipkin's server treats it so too.
  const spanName = single('spanName', params['spanName']);
  if (service !== undefined) search.service = service;
  if (spanName !== undefined && spanName !== 'all') search.operation = spanName;
  if (minDurationUs !== undefined) search.minDurationUs = minDurationUs;
  if (maxDurationUs !== undefined) search.maxDurationUs = maxDurationUs;
  const query = zipkinAnnotationQuery(single('annotationQuery', params['annotationQuery']));
  if (query !== undefined) search.query = query;
  return search;
}
