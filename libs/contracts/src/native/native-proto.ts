import { join } from 'node:path';

/** NATIVE_PROTO_ROOT: include root of Skein's own .proto files. */
export const NATIVE_PROTO_ROOT = join(__dirname, 'proto');

/** SPAN_INGEST_PROTO: the native gRPC ingest service (`skein.ingest.v1.SpanIngest`). */
export const SPAN_INGEST_PROTO = join(NATIVE_PROTO_ROOT, 'skein', 'ingest', 'v1', 'span_ingest.proto');

/** SPAN_INGEST_SEND_PATH: the gRPC method path of SpanIngest/Send. */
export const SPAN_INGEST_SEND_PATH = '/skein.ingest.v1.SpanIngest/Send';
