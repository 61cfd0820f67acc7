import { Controller, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import { readRawBody } from '@skein/service-kit';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { INGEST_HTTP_CONTEXT, IngestHttpContext, authenticateRequest, toHttpError } from './ingest-http';

export { RETRY_AFTER_SECONDS } from './ingest-http';

@Controller('api/v1')
export class IngestController {
  constructor(@Inject(INGEST_HTTP_CONTEXT) private readonly context: IngestHttpContext) {}

  /**
   * spans: the native endpoint. Body: an LZ4 frame of `{"spans":[…]}` with `Content-Encoding: lz4` (plain JSON
   * without it). 202 only after Kafka acknowledged; 400 names the bad span and field; 401 without a valid key;
   * 429 over the rate limit; 503 + Retry-After when Kafka did not acknowledge.
   */
  @Post('spans')
  @HttpCode(202)
  async spans(@Req() request: IncomingMessage, @Res({ passthrough: true }) response: ServerResponse): Promise<{ accepted: number; metricsOnly: number; dropped: number }> {
    const app = authenticateRequest(this.context, request);
    try {
      const body = await readRawBody(request, this.context.maxBodyBytes);
      const result = await this.context.ingest.ingestNative(body, request.headers['content-encoding'], app);
      return { accepted: result.accepted, metricsOnly: result.metricsOnly, dropped: result.dropped };
    } catch (err) {
      throw toHttpError(err, response);
    }
  }
}
