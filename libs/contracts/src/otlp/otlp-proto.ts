import * as path from 'node:path';

/**
 * OTLP_PROTO_ROOT: absolute directory holding the OTLP `.proto` files (`opentelemetry/proto/...`), the include
 * root for `@grpc/proto-loader` (`includeDirs: [OTLP_PROTO_ROOT]`), because the files import each other by that path.
 * A build that bundles this library must copy the `proto/` folder beside the compiled file.
 */
export const OTLP_PROTO_ROOT: string = path.join(__dirname, 'proto');

/** OTLP_TRACE_SERVICE_PROTO: absolute path of `trace_service.proto` (service `opentelemetry.proto.collector.trace.v1.TraceService`). */
export const OTLP_TRACE_SERVICE_PROTO: string = path.join(OTLP_PROTO_ROOT, 'opentelemetry', 'proto', 'collector', 'trace', 'v1', 'trace_service.proto');
