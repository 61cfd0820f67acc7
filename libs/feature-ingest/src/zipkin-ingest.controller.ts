import { Controller, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import { readRawBody } from '@skein/service-kit';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { INGEST_HTTP_CONTEXT, IngestHttpContext, authenticateRequest, toHttpError } from './ingest-http';

/** ZipkinIngestController: Zipkin's v2 collector endpoint, so Zipkin, Brave and zipkin-js reporters send to Skein unchanged. */
@Controller('api/v2')
export class ZipkinIngestController {
  constructor(@Inject(INGEST_HTTP_CONTEXT) private readonly context: IngestHttpContext) {}

  /** spans: `POST /api/v2/spans`, a JSON array of Zipkin v2 spans (gzip accepted); 202 after Kafka acknowledged. */
  @Post('spans')
  @HttpCode(202)
  async spans(@Req() request: IncomingMessage, @Res({ passthrough: true }) response: ServerResponse): Promise<void> {
    const app = authenticateRequest(this.context, request);
    try {
      const body = await readRawBody(request, this.context.maxBodyBytes);
      await this.context.ingest.ingestZipkin(body, request.headers['content-encoding'], app);
    } catch (err) {
      throw toHttpError(err, response);
    }
  }
}
