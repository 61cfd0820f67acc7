import { HttpException } from '@nestjs/common';
import { ApiKeyRegistry, BatchRejection } from '@skein/domain';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BusUnavailable, IngestService, Overloaded, RateLimited } from './ingest.service';

/** RETRY_AFTER_SECONDS: the Retry-After a client gets when Kafka is unavailable or the gateway is overloaded. */
export const RETRY_AFTER_SECONDS = 5;

/** IngestHttpContext: what every ingest endpoint shares: the service, the body limit and the API keys. */
export interface IngestHttpContext {
  ingest: IngestService;
  /** maxBodyBytes: largest body as sent, bytes. */
  maxBodyBytes: number;
  /** apiKeys: when set, every request needs `Authorization: Bearer <key>`; absent = open (tests only). */
  apiKeys?: ApiKeyRegistry;
}

/** INGEST_HTTP_CONTEXT: injection token of the {@link IngestHttpContext}. */
export const INGEST_HTTP_CONTEXT = Symbol('INGEST_HTTP_CONTEXT');

/** authenticateRequest: the application of the request's API key; 401 naming what is wrong otherwise. */
export function authenticateRequest(context: IngestHttpContext, request: IncomingMessage): string | undefined {
  if (context.apiKeys === undefined) return undefined;
  const result = context.apiKeys.authenticate(request.headers['authorization']);
  if (result.ok) return result.app;
  context.ingest.countRejection('unauthenticated');
  const message = {
    missing: 'missing API key: send "Authorization: Bearer <key>"',
    malformed: 'malformed Authorization header: expected "Bearer <key>"',
    unknown: 'unknown API key',
  }[result.reason];
  throw new HttpException({ error: 'unauthenticated', message }, 401);
}

/**
 * toHttpError: maps an ingest failure to its HTTP answer: 400/413/415 for bad requests (naming span and field),
 * 429 + Retry-After over the rate limit, 503 + Retry-After when Kafka did not acknowledge or the gateway is full.
 */
export function toHttpError(err: unknown, response: ServerResponse): unknown {
  if (err instanceof BatchRejection) {
    const status = err.reason === 'too_large' ? 413 : err.reason === 'unsupported_encoding' ? 415 : 400;
    return new HttpException({ error: err.reason, message: err.message, violations: err.violations }, status);
  }
  if (err instanceof RateLimited) {
    response.setHeader('Retry-After', String(err.retryAfterSeconds));
    return new HttpException({ error: 'rate_limited', message: err.message }, 429);
  }
  if (err instanceof BusUnavailable || err instanceof Overloaded) {
    response.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    return new HttpException({ error: 'unavailable', message: err.message }, 503);
  }
  if (err instanceof HttpException && err.getStatus() === 413) return err;
  return err;
}
