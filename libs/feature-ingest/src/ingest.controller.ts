import { Controller, HttpCode, HttpException, Inject, Post, Req, Res } from '@nestjs/common';
import { BatchRejection } from '@skein/domain';
import { readRawBody } from '@skein/service-kit';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BusUnavailable, IngestService } from './ingest.service';

/** INGEST_SERVICE: injection token of the {@link IngestService} instance. */
export const INGEST_SERVICE = Symbol('INGEST_SERVICE');

/** RETRY_AFTER_SECONDS: the Retry-After a client gets when Kafka is unavailable. */
export const RETRY_AFTER_SECONDS = 5;

@Controller('api/v1')
export class IngestController {
  constructor(
    @Inject(INGEST_SERVICE) private readonly ingest: IngestService,
    @Inject('INGEST_MAX_BODY_BYTES') private readonly maxBodyBytes: number,
  ) {}

  /**
   * spans: the native endpoint. Body: an LZ4 frame of `{"spans":[…]}` with `Content-Encoding: lz4` (plain JSON
   * without it). 202 only after Kafka acknowledged; 400 names the bad span and field; 503 + Retry-After when
   * Kafka did not acknowledge.
   */
  @Post('spans')
  @HttpCode(202)
  async spans(@Req() request: IncomingMessage, @Res({ passthrough: true }) response: ServerResponse): Promise<{ accepted: number }> {
    const body = await readRawBody(request, this.maxBodyBytes);
    try {
      return await this.ingest.ingestNative(body, request.headers['content-encoding']);
    } catch (err) {
      if (err instanceof BatchRejection) {
        const status = err.reason === 'too_large' ? 413 : err.reason === 'unsupported_encoding' ? 415 : 400;
        throw new HttpException({ error: err.reason, message: err.message, violations: err.violations }, status);
      }
      if (err instanceof BusUnavailable) {
        response.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
        throw new HttpException({ error: 'unavailable', message: err.message }, 503);
      }
      throw err;
    }
  }
}
