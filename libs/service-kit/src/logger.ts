import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';

/** createLogger: a pino JSON logger for one service, writing to stdout (errors through {@link serializeError}). */
export function createLogger(service: string, level: string, destination?: pino.DestinationStream): Logger {
  const options = { level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime, serializers: { err: serializeError } };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** MAX_LOGGED_ANSWER_CHARS: how much of an Elasticsearch answer an error log line keeps, characters. */
export const MAX_LOGGED_ANSWER_CHARS = 2_000;

/**
 * serializeError: pino's error serializer, except that an Elasticsearch client error's `meta` is cut down to
 * the status, the request's method and path, the attempts and the start of the answer. The client's `meta`
 * holds the whole request body, and a span bulk is megabytes, logged as an object of byte indices: every failed
 * batch during an Elasticsearch outage would have written a line of tens of megabytes.
 */
export function serializeError(err: Error): Record<string, unknown> {
  const serialized = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
  const meta = serialized['meta'];
  if (typeof meta !== 'object' || meta === null) return serialized;
  const { statusCode, body, meta: request } = meta as { statusCode?: unknown; body?: unknown; meta?: { request?: { params?: { method?: unknown; path?: unknown } }; attempts?: unknown } };
  const params = request?.request?.params;
  let answer: string | undefined;
  if (body !== undefined && body !== null) {
    answer = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8', 0, MAX_LOGGED_ANSWER_CHARS) : JSON.stringify(body);
    if (answer.length > MAX_LOGGED_ANSWER_CHARS) answer = `${answer.slice(0, MAX_LOGGED_ANSWER_CHARS)}…`;
  }
  serialized['meta'] = { statusCode, method: params?.method, path: params?.path, attempts: request?.attempts, answer };
  return serialized;
}

/** PinoNestLogger: routes NestJS's own log lines into the service's pino logger (JSON, one line each). */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}
