import { Controller, HttpCode, HttpException, Inject, Post, Req, Res, StreamableFile } from '@nestjs/common';
import { encodeOtlpExportResponse, otlpPartialSuccess } from '@skein/domain';
import { readRawBody } from '@skein/service-kit';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { INGEST_HTTP_CONTEXT, IngestHttpContext, authenticateRequest, toHttpError } from './ingest-http';

/**
 * OtlpHttpController: OTLP/HTTP `POST /v1/traces` (protobuf or JSON, gzip accepted), so any OpenTelemetry SDK
 * or Collector exports to Skein unchanged. Invalid spans are reported as OTLP partial success; the rest are
 * accepted. The answer has the request's encoding, as the OTLP specification requires.
 */
@Controller('v1')
export class OtlpHttpController {
  constructor(@Inject(INGEST_HTTP_CONTEXT) private readonly context: IngestHttpContext) {}

  @Post('traces')
  @HttpCode(200)
  async traces(@Req() request: IncomingMessage, @Res({ passthrough: true }) response: ServerResponse): Promise<StreamableFile | object> {
    const app = authenticateRequest(this.context, request);
    const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    const format = contentType === 'application/x-protobuf' || contentType === 'application/protobuf' ? 'protobuf' : contentType === 'application/json' ? 'json' : undefined;
    if (format === undefined) {
      this.context.ingest.countRejection('unsupported_media_type');
      throw new HttpException({ error: 'unsupported_media_type', message: `Content-Type "${contentType}" is not supported: use application/x-protobuf or application/json` }, 415);
    }
    try {
      const body = await readRawBody(request, this.context.maxBodyBytes);
      const result = await this.context.ingest.ingestOtlp(body, format, request.headers['content-encoding'], app);
      const partial = otlpPartialSuccess({ spans: [], rejected: result.violations, rejectedSpans: result.rejectedSpans });
      if (format === 'protobuf') {
        // As bytes: a returned Buffer would go through Express's res.json() as `{"type":"Buffer","data":[…]}`.
        const bytes = encodeOtlpExportResponse(partial);
        return new StreamableFile(bytes, { type: 'application/x-protobuf', length: bytes.length });
      }
      return partial.rejectedSpans > 0 ? { partialSuccess: { rejectedSpans: String(partial.rejectedSpans), errorMessage: partial.errorMessage } } : {};
    } catch (err) {
      throw toHttpError(err, response);
    }
  }
}
