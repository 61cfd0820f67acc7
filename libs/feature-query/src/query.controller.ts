import { BadRequestException, Controller, Get, Inject, NotFoundException, Param, Query } from '@nestjs/common';
import { MinuteStats, TraceSummary } from '@skein/domain';
import { MAX_METRIC_RANGE_MINUTES, QueryService, TraceView } from './query.service';

/** QUERY_SERVICE: injection token of the {@link QueryService} instance. */
export const QUERY_SERVICE = Symbol('QUERY_SERVICE');

const HOUR_MS = 3_600_000;
const TRACE_ID = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;

/** parseTime: a query parameter given as epoch milliseconds or an ISO-8601 date; 400 naming the parameter otherwise. */
function parseTime(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new BadRequestException({ error: 'invalid_parameter', message: `${name}: must be epoch milliseconds or an ISO-8601 date, got "${value}"` });
  return ms;
}

function parseLimit(value: string | undefined): number {
  if (value === undefined || value === '') return 20;
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new BadRequestException({ error: 'invalid_parameter', message: `limit: must be an integer from 1 to 1000, got "${value}"` });
  return limit;
}

@Controller('api')
export class QueryController {
  constructor(@Inject(QUERY_SERVICE) private readonly query: QueryService) {}

  /** trace: `GET /api/traces/:id` — the span tree; 404 when unknown. */
  @Get('traces/:id')
  async trace(@Param('id') id: string): Promise<TraceView> {
    const traceId = id.toLowerCase();
    if (!TRACE_ID.test(traceId)) throw new BadRequestException({ error: 'invalid_parameter', message: `id: must be 16 or 32 hex characters, got "${id}"` });
    const trace = await this.query.getTrace(traceId);
    if (trace === undefined) throw new NotFoundException({ error: 'not_found', message: `no span of trace ${traceId} is stored (yet)` });
    return trace;
  }

  /** traces: `GET /api/traces?service=&operation=&start=&end=&limit=` — summaries, newest first; default: the last hour, 20. */
  @Get('traces')
  async traces(
    @Query('service') service?: string,
    @Query('operation') operation?: string,
    @Query('start') start?: string,
    @Query('end') end?: string,
    @Query('limit') limit?: string,
  ): Promise<{ traces: TraceSummary[] }> {
    const endMs = parseTime('end', end, Date.now());
    const startMs = parseTime('start', start, endMs - HOUR_MS);
    if (startMs > endMs) throw new BadRequestException({ error: 'invalid_parameter', message: 'start: must not be after end' });
    return { traces: await this.query.searchTraces({ service: service || undefined, operation: operation || undefined, startMs, endMs, limit: parseLimit(limit) }) };
  }

  /** metrics: `GET /api/metrics?service=&operation=&from=&to=` — minute stats; default: the last hour. */
  @Get('metrics')
  async metrics(@Query('service') service?: string, @Query('operation') operation?: string, @Query('from') from?: string, @Query('to') to?: string): Promise<{ minutes: MinuteStats[] }> {
    if (!service) throw new BadRequestException({ error: 'invalid_parameter', message: 'service: required' });
    if (!operation) throw new BadRequestException({ error: 'invalid_parameter', message: 'operation: required' });
    const toMs = parseTime('to', to, Date.now());
    const fromMs = parseTime('from', from, toMs - HOUR_MS);
    if (fromMs > toMs) throw new BadRequestException({ error: 'invalid_parameter', message: 'from: must not be after to' });
    if (toMs - fromMs > MAX_METRIC_RANGE_MINUTES * 60_000) throw new BadRequestException({ error: 'invalid_parameter', message: `from/to: at most ${MAX_METRIC_RANGE_MINUTES} minutes apart` });
    return { minutes: await this.query.minuteStats(service, operation, fromMs, toMs) };
  }

  /** services: `GET /api/services` — services with minute metrics. */
  @Get('services')
  async services(): Promise<{ services: string[] }> {
    return { services: await this.query.listServices() };
  }

  /** operations: `GET /api/services/:name/operations`. */
  @Get('services/:name/operations')
  async operations(@Param('name') name: string): Promise<{ operations: string[] }> {
    return { operations: await this.query.listOperations(name) };
  }
}
