import { Server, ServerCredentials, ServerUnaryCall, ServiceDefinition, UntypedServiceImplementation, sendUnaryData, status } from '@grpc/grpc-js';
import { SPAN_INGEST_SEND_PATH, SpanIngestDecodeError, decodeSendSpansRequest, encodeSendSpansResponse } from '@skein/contracts';
import { ApiKeyRegistry, BatchRejection, encodeOtlpExportResponse, otlpPartialSuccess } from '@skein/domain';
import { BusUnavailable, IngestService, Overloaded, RateLimited } from './ingest.service';

/** OTLP_TRACE_EXPORT_PATH: the gRPC method OpenTelemetry exporters call. */
export const OTLP_TRACE_EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

const identity = (value: Buffer): Buffer => value;

/**
 * otlpTraceServiceDefinition: TraceService/Export with raw-bytes (de)serialisation: requests go straight to
 * Skein's own protobuf decoder (checked, bounded) instead of a generic one, and answers are pre-encoded.
 */
export const otlpTraceServiceDefinition: ServiceDefinition = {
  Export: {
    path: OTLP_TRACE_EXPORT_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** spanIngestServiceDefinition: Skein's native `skein.ingest.v1.SpanIngest/Send` (span_ingest.proto), raw bytes as above. */
export const spanIngestServiceDefinition: ServiceDefinition = {
  Send: { ...(otlpTraceServiceDefinition['Export'] as ServiceDefinition[string]), path: SPAN_INGEST_SEND_PATH },
};

/** GrpcError: a gRPC status with a message, as grpc-js's callback expects. */
interface GrpcError {
  code: status;
  details: string;
}

/** toGrpcError: the gRPC equivalent of the HTTP answers (INVALID_ARGUMENT, UNAUTHENTICATED, RESOURCE_EXHAUSTED, UNAVAILABLE). */
export function toGrpcError(err: unknown): GrpcError {
  const explicit = (err as { grpc?: status }).grpc;
  if (explicit !== undefined) return { code: explicit, details: (err as Error).message };
  if (err instanceof SpanIngestDecodeError) return { code: status.INVALID_ARGUMENT, details: `invalid_protobuf: ${err.message}` };
  if (err instanceof BatchRejection) return { code: err.reason === 'too_large' ? status.RESOURCE_EXHAUSTED : status.INVALID_ARGUMENT, details: `${err.reason}: ${err.message}` };
  if (err instanceof RateLimited) return { code: status.RESOURCE_EXHAUSTED, details: `rate_limited: ${err.message}` };
  if (err instanceof BusUnavailable || err instanceof Overloaded) return { code: status.UNAVAILABLE, details: err.message };
  return { code: status.INTERNAL, details: (err as Error).message ?? String(err) };
}

/** OtlpGrpcOptions: the ingest service, API keys (absent = open), and where to listen. */
export interface OtlpGrpcOptions {
  ingest: IngestService;
  apiKeys?: ApiKeyRegistry;
  host: string;
  /** port: TCP port (4317 customary; 0 = any free port). */
  port: number;
  /** maxMessageBytes: largest request message, bytes (the body limit). */
  maxMessageBytes: number;
}

/**
 * OtlpGrpcServer: the gateway's gRPC port: OTLP `TraceService/Export` and Skein's native `SpanIngest/Send`,
 * with the API key in the `authorization` metadata (`Bearer <key>`). OTLP partial success is answered in the
 * response, like OTLP/HTTP.
 */
export class OtlpGrpcServer {
  private server?: Server;
  private boundPort?: number;

  constructor(private readonly options: OtlpGrpcOptions) {}

  /** port: the port actually bound (after start). */
  get port(): number | undefined {
    return this.boundPort;
  }

  async start(): Promise<number> {
    const server = new Server({ 'grpc.max_receive_message_length': this.options.maxMessageBytes });
    const implementation: UntypedServiceImplementation = {
      Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        void this.export(call).then(
          (response) => callback(null, response),
          (err: unknown) => callback(toGrpcError(err)),
        );
      },
    };
    server.addService(otlpTraceServiceDefinition, implementation);
    server.addService(spanIngestServiceDefinition, {
      Send: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        void this.send(call).then(
          (response) => callback(null, response),
          (err: unknown) => callback(toGrpcError(err)),
        );
      },
    });
    this.boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${this.options.host}:${this.options.port}`, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.server = server;
    return this.boundPort;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  }

  private async send(call: ServerUnaryCall<Buffer, Buffer>): Promise<Buffer> {
    const app = this.authenticate(call);
    const request = decodeSendSpansRequest(call.request);
    const result = await this.options.ingest.ingestNative(request.batch, request.encoding || undefined, app);
    return encodeSendSpansResponse({ accepted: result.accepted, metricsOnly: result.metricsOnly, dropped: result.dropped });
  }

  private async export(call: ServerUnaryCall<Buffer, Buffer>): Promise<Buffer> {
    const app = this.authenticate(call);
    const result = await this.options.ingest.ingestOtlp(call.request, 'protobuf', undefined, app);
    return encodeOtlpExportResponse(otlpPartialSuccess({ spans: [], rejected: result.violations, rejectedSpans: result.rejectedSpans }));
  }

  private authenticate(call: ServerUnaryCall<Buffer, Buffer>): string | undefined {
    let app: string | undefined;
    if (this.options.apiKeys !== undefined) {
      const header = call.metadata.get('authorization')[0];
      const result = this.options.apiKeys.authenticate(typeof header === 'string' ? header : header?.toString('utf8'));
      if (!result.ok) {
        this.options.ingest.countRejection('unauthenticated');
        throw Object.assign(new Error(`unauthenticated: ${result.reason} API key`), { grpc: status.UNAUTHENTICATED });
      }
      app = result.app;
    }
    return app;
  }
}
