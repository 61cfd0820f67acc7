/** SpanKind: the role of a span in an RPC, as in OpenTelemetry and Zipkin. */
export type SpanKind = 'server' | 'client' | 'producer' | 'consumer' | 'internal';

/** SPAN_KINDS: every accepted value of {@link SpanKind}. */
export const SPAN_KINDS: readonly SpanKind[] = ['server', 'client', 'producer', 'consumer', 'internal'];

/** Attributes: string key/value pairs (numbers and booleans are stringified on ingest). */
export type Attributes = Record<string, string>;

/** SpanEvent: a timed annotation inside a span (OpenTelemetry event, Zipkin annotation); exceptions are events named `exception`. */
export interface SpanEvent {
  /** timeUs: when it happened, microseconds since the epoch. */
  timeUs: number;
  name: string;
  attributes: Attributes;
}

/** SpanLink: a reference to a span of another (or the same) trace, e.g. the producer of a batch. */
export interface SpanLink {
  traceId: string;
  spanId: string;
  attributes: Attributes;
}

/** InstrumentationScope: the library that recorded the span (OpenTelemetry scope). */
export interface InstrumentationScope {
  name: string;
  version?: string;
}

/**
 * Span: one timed operation of one service, the unit Skein ingests, stores and aggregates.
 * Times are integers in microseconds since the Unix epoch (Zipkin's unit; exact in a JS number until year 2255).
 */
export interface Span {
  /** traceId: 32 lowercase hex characters (16 accepted, as Zipkin's 64-bit ids). */
  traceId: string;
  /** spanId: 16 lowercase hex characters, unique within the trace. */
  spanId: string;
  /** parentSpanId: the caller's spanId; absent on the root (entry) span. */
  parentSpanId?: string;
  /** rpcId: EagleEye hierarchical id (`0`, `0.1`, `0.1.2`) when the SDK sent one. */
  rpcId?: string;
  /** service: the service that recorded the span (e.g. `order-service`). */
  service: string;
  /** operation: the span name (e.g. `POST /orders`). */
  operation: string;
  kind: SpanKind;
  /** startTimeUs: start, microseconds since the epoch. */
  startTimeUs: number;
  /** durationUs: duration in microseconds (>= 0). */
  durationUs: number;
  /** error: true when the operation failed. */
  error: boolean;
  /** remoteService: the peer service of a client/producer span (caller→callee edges). */
  remoteService?: string;
  /** host: the instance that recorded the span (hostname or ip). */
  host?: string;
  /** tags: string key/value attributes (e.g. `http.status_code`). */
  tags: Attributes;
  /** app: the application (tenant) the span was sent by; set by the gateway from the API key, never by the SDK. */
  app?: string;
  /** statusMessage: the error description of a failed span (OpenTelemetry status message). */
  statusMessage?: string;
  /** resource: attributes of the process that recorded the span (OpenTelemetry resource: `host.name`, `k8s.pod.name`, …). */
  resource?: Attributes;
  scope?: InstrumentationScope;
  events?: SpanEvent[];
  links?: SpanLink[];
}

/** MICROS_PER_MS: microseconds in a millisecond. */
export const MICROS_PER_MS = 1000;

/** spanEndUs: end time of a span in epoch microseconds. */
export function spanEndUs(span: Pick<Span, 'startTimeUs' | 'durationUs'>): number {
  return span.startTimeUs + span.durationUs;
}

/** spanDocumentId: the stable storage id of a span, so a replayed span overwrites instead of duplicating. */
export function spanDocumentId(span: Pick<Span, 'traceId' | 'spanId'>): string {
  return `${span.traceId}-${span.spanId}`;
}

/** isEntrySpan: a span that receives a call into its service (server/consumer) or starts a trace. */
export function isEntrySpan(span: Span): boolean {
  return span.kind === 'server' || span.kind === 'consumer' || span.parentSpanId === undefined;
}
