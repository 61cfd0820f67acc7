/*
 * otlp-decode.bench.ts: decoded spans per second of the OTLP trace decoders, protobuf and JSON.
 *   node -r ./tools/register.js tools/bench/otlp-decode.bench.ts [seconds per measurement, default 3]
 *
 * The request is what a busy service's OpenTelemetry JS exporter sends: 20 traces of 50 spans (1,000 spans), each
 * span with about 10 attributes, one resource with the usual resource attributes, serialized by the real
 * OpenTelemetry serializers. Each format is measured twice: the wire decoder alone (bytes → plain objects) and
 * decodeOtlpTraces (the same, mapped to Skein spans and validated): the difference is the mapping's cost.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { DEFAULT_BATCH_LIMITS, OtlpFormat, decodeOtlpTraces, readOtlpJsonRequest, readOtlpProtobufRequest } from '@skein/domain';

const TRACES = 20;
const SPANS_PER_TRACE = 50;
const SECONDS = Number(process.argv[2] ?? 3);

function recordRequestSpans(): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'checkout-service',
      'service.version': '2.14.0',
      'service.instance.id': '627cc493-f310-47de-96bd-71410b7dec09',
      'host.name': 'ip-10-1-2-3.ec2.internal',
      'k8s.pod.name': 'checkout-7d9f8c6b5-x2k4q',
      'k8s.namespace.name': 'shop',
      'deployment.environment.name': 'production',
      'telemetry.sdk.language': 'nodejs',
      'telemetry.sdk.name': 'opentelemetry',
      'telemetry.sdk.version': '2.12.1',
      'process.pid': 4242,
    }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('@opentelemetry/instrumentation-http', '0.57.1');
  const t0 = Math.floor(Date.now() / 1000);
  for (let t = 0; t < TRACES; t++) {
    const root = tracer.startSpan('POST /api/checkout', {
      kind: SpanKind.SERVER,
      startTime: [t0, t * 1_000_000],
      attributes: { 'http.request.method': 'POST', 'http.route': '/api/checkout', 'url.path': '/api/checkout', 'http.response.status_code': 200, 'user_agent.original': 'Mozilla/5.0', 'client.address': '10.0.0.7', 'server.port': 8080, 'network.protocol.version': '1.1', 'url.scheme': 'https', 'http.request.body.size': 512 },
    });
    const ctx = trace.setSpan(ROOT_CONTEXT, root);
    for (let s = 1; s < SPANS_PER_TRACE; s++) {
      const child = tracer.startSpan(`SELECT orders ${s % 7}`, {
        kind: s % 3 === 0 ? SpanKind.CLIENT : SpanKind.INTERNAL,
        startTime: [t0, t * 1_000_000 + s * 10_000],
        attributes: { 'db.system.name': 'postgresql', 'db.namespace': 'shop', 'db.operation.name': 'SELECT', 'db.collection.name': 'orders', 'db.query.text': 'SELECT * FROM orders WHERE id = $1', 'server.address': 'db-1.internal', 'server.port': 5432, 'peer.service': 'postgres', 'db.response.returned_rows': s, 'retry': s % 5 === 0 },
      }, ctx);
      if (s % 10 === 0) {
        child.recordException(new Error('connection reset'));
        child.setStatus({ code: SpanStatusCode.ERROR, message: 'connection reset' });
      }
      child.end([t0, t * 1_000_000 + s * 10_000 + 5_000]);
    }
    root.end([t0, t * 1_000_000 + 900_000]);
  }
  return exporter.getFinishedSpans();
}

/** measure: runs `fn` repeatedly for SECONDS after a warm-up and returns spans decoded per second. */
function measure(spans: number, fn: () => number): number {
  const warmUntil = performance.now() + 500;
  while (performance.now() < warmUntil) fn();
  let decoded = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < SECONDS * 1000) {
    decoded += fn();
    elapsed = performance.now() - start;
  }
  if (decoded % spans !== 0) throw new Error('a decode lost spans');
  return decoded / (elapsed / 1000);
}

function main(): void {
  const spans = recordRequestSpans();
  const bodies: Record<OtlpFormat, Buffer> = {
    protobuf: Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array),
    json: Buffer.from(JsonTraceSerializer.serializeRequest(spans) as Uint8Array),
  };
  const options = { maxSpans: DEFAULT_BATCH_LIMITS.maxSpansPerBatch };
  const count = (request: ReturnType<typeof readOtlpProtobufRequest>) => request.resourceSpans.reduce((n, rs) => n + rs.scopeSpans.reduce((m, ss) => m + ss.spans.length, 0), 0);
  console.log(`request: ${TRACES} traces x ${SPANS_PER_TRACE} spans = ${spans.length} spans; protobuf ${bodies.protobuf.length} bytes, JSON ${bodies.json.length} bytes; ${SECONDS} s per measurement, node ${process.version}`);
  const rows: [string, number, number][] = [];
  for (const format of ['protobuf', 'json'] as const) {
    const body = bodies[format];
    const wire = measure(spans.length, () => count(format === 'protobuf' ? readOtlpProtobufRequest(body, options) : readOtlpJsonRequest(body, options)));
    const full = measure(spans.length, () => {
      const decoded = decodeOtlpTraces(body, format, DEFAULT_BATCH_LIMITS);
      if (decoded.rejectedSpans !== 0) throw new Error(`rejected: ${JSON.stringify(decoded.rejected.slice(0, 3))}`);
      return decoded.spans.length;
    });
    rows.push([format, wire, full]);
  }
  for (const [format, wire, full] of rows) {
    const mb = (bodies[format as OtlpFormat].length / spans.length) * full / 1e6;
    console.log(`${format.padEnd(8)}  wire decode ${Math.round(wire).toLocaleString('en-US').padStart(10)} spans/s   decodeOtlpTraces (mapped + validated) ${Math.round(full).toLocaleString('en-US').padStart(9)} spans/s (${mb.toFixed(1)} MB/s of body)`);
  }
}

main();
