import { HrTime, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import fc from 'fast-check';
import { validateSpan } from '../../span/span.validation';
import { DecodedSpans } from '../decoded-spans';
import { BatchLimits, BatchRejection, DEFAULT_BATCH_LIMITS } from '../span-batch.codec';
import { OtlpFormat, decodeOtlpTraces } from './otlp-span.mapper';

/*
 * Property tests of both OTLP decoders against hostile input: random bytes, mutated valid requests, random JSON.
 * Each property: decodeOtlpTraces returns a well-formed DecodedSpans or throws a BatchRejection, nothing else.
 *
 * Runs per property: SKEIN_FUZZ_RUNS (default 2,000, the CI setting). The full run, before changing a decoder:
 *   SKEIN_FUZZ_RUNS=100000 npx jest otlp-decoders.fuzz --selectProjects unit
 *
 * "Never hangs": a synchronous loop cannot be interrupted from inside the process, so the bound is checked two ways:
 * every single decode must finish within SLOW_CALL_MS, and each property as a whole within its time budget
 * (fast-check's interruptAfterTimeLimit, counted as a failure). The decoders' loops each consume input, which is
 * what keeps a call linear; these tests would catch a regression as a slow call or an exhausted budget.
 */

const RUNS = Math.max(1, Number(process.env['SKEIN_FUZZ_RUNS'] ?? 2_000) || 2_000);
// Generous per run (2 cores, GC pauses); a decoding that loops would blow through it by orders of magnitude.
const BUDGET_MS = 30_000 + RUNS * 4;
const SLOW_CALL_MS = 500;
const SMALL_LIMITS: BatchLimits = { ...DEFAULT_BATCH_LIMITS, maxSpansPerBatch: 8 };
const FUZZ_OPTIONS = { numRuns: RUNS, plugins: [fc.interruptAfterTimeLimit(BUDGET_MS, { failOnInterrupt: true })] };
jest.setTimeout(BUDGET_MS * 2);

/** checkDecode: decodes `body` and fails on anything but a well-formed result or a BatchRejection of a whole-body reason. */
function checkDecode(body: Buffer, format: OtlpFormat, limits: BatchLimits = DEFAULT_BATCH_LIMITS): DecodedSpans | BatchRejection {
  const started = performance.now();
  let outcome: DecodedSpans | BatchRejection;
  try {
    outcome = decodeOtlpTraces(body, format, limits);
  } catch (err) {
    if (!(err instanceof BatchRejection)) throw err;
    const expected = format === 'protobuf' ? 'invalid_protobuf' : 'invalid_json';
    if (err.reason !== expected && err.reason !== 'too_large') throw new Error(`unexpected rejection reason ${err.reason}: ${err.message}`);
    outcome = err;
  }
  const elapsed = performance.now() - started;
  // A slow call is timed once more: a GC pause of the test process (it grows to GBs over 100,000 runs) is not
  // repeatable, a decoder that loops or goes superlinear on this input is.
  if (elapsed > SLOW_CALL_MS) {
    const again = performance.now();
    try {
      decodeOtlpTraces(body, format, limits);
    } catch {
      // Same outcome as above; only the time matters here.
    }
    const retimed = performance.now() - again;
    if (retimed > SLOW_CALL_MS) throw new Error(`decoding ${body.length} bytes took ${elapsed.toFixed(0)} ms, then ${retimed.toFixed(0)} ms`);
  }
  if (!(outcome instanceof BatchRejection)) assertWellFormed(outcome, limits);
  return outcome;
}

function assertWellFormed(decoded: DecodedSpans, limits: BatchLimits): void {
  if (!Array.isArray(decoded.spans) || !Array.isArray(decoded.rejected)) throw new Error('spans and rejected must be arrays');
  if (!Number.isInteger(decoded.rejectedSpans) || decoded.rejectedSpans < 0) throw new Error(`rejectedSpans ${decoded.rejectedSpans}`);
  if (decoded.rejected.length < decoded.rejectedSpans) throw new Error('every rejected span must have a violation');
  if (decoded.spans.length + decoded.rejectedSpans > limits.maxSpansPerBatch) throw new Error('more spans than the limit');
  for (const violation of decoded.rejected) {
    if (typeof violation.path !== 'string' || !violation.path.startsWith('resourceSpans[') || typeof violation.message !== 'string') {
      throw new Error(`malformed violation ${JSON.stringify(violation)}`);
    }
  }
  // Accepted spans are valid Skein spans: validating them again changes nothing.
  for (const span of decoded.spans) {
    const again = validateSpan(span, 'span', limits);
    if (!again.ok) throw new Error(`accepted span is invalid: ${JSON.stringify(again.violations)}`);
  }
}

// Seeds: realistic requests from the OpenTelemetry JS SDK and serializers, mutated by the properties below.
const T0_S = Date.UTC(2026, 0, 15, 10, 20, 0) / 1000;
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'fuzz', 'host.name': 'h1', 'process.pid': 7 }),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const tracer = provider.getTracer('fuzz-lib', '1.2.3');

function seedSpans(): ReadableSpan[] {
  exporter.reset();
  const root = tracer.startSpan('GET /a', { kind: SpanKind.SERVER, startTime: [T0_S, 0], attributes: { s: 'x', n: 1, d: 0.5, b: true, l: ['p', 'q'] } });
  const child = tracer.startSpan('call', { kind: SpanKind.CLIENT, startTime: [T0_S, 1_000], links: [{ context: root.spanContext(), attributes: { k: 'v' } }] }, trace.setSpan(ROOT_CONTEXT, root));
  child.addEvent('evt', { e: 1 }, [T0_S, 2_000]);
  child.recordException(new Error('boom'), [T0_S, 3_000]);
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'bad' });
  child.end([T0_S, 9_000]);
  root.end([T0_S, 10_000]);
  const spans = exporter.getFinishedSpans();
  // Values the SDK API refuses but OTLP carries (bytes, maps), as another SDK would send them.
  const extra: Record<string, unknown> = { raw: new Uint8Array([1, 2]), map: { a: [1, { b: 'c' }] } };
  const exotic = { ...spans[0]!, spanContext: () => spans[0]!.spanContext(), attributes: { ...spans[0]!.attributes, ...extra } } as ReadableSpan;
  return [...spans, exotic];
}

const SEED_SPANS = seedSpans();
const seedBody = (format: OtlpFormat): Buffer =>
  Buffer.from((format === 'protobuf' ? ProtobufTraceSerializer : JsonTraceSerializer).serializeRequest(SEED_SPANS) as Uint8Array);
const SEEDS: Record<OtlpFormat, Buffer> = { protobuf: seedBody('protobuf'), json: seedBody('json') };

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; byte: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number }
  | { op: 'repeat'; at: number; count: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x0b, 0x0c, 0x0e, 0x0f, 0x22, 0x7b, 0x5b) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('repeat' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 64 }) }),
);

function mutate(seed: Buffer, mutations: Mutation[]): Buffer {
  let bytes = Buffer.from(seed);
  for (const m of mutations) {
    const at = bytes.length === 0 ? 0 : m.at % bytes.length;
    switch (m.op) {
      case 'flip':
        if (bytes.length > 0) bytes[at] = (bytes[at] as number) ^ (1 << m.bit);
        break;
      case 'set':
        if (bytes.length > 0) bytes[at] = m.byte;
        break;
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
      case 'insert':
        bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
        break;
      case 'delete':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.count)]);
        break;
      case 'repeat': {
        // Duplicates a slice: repeated fields and nested length prefixes that no longer add up.
        const slice = bytes.subarray(at, at + m.count);
        bytes = Buffer.concat([bytes.subarray(0, at + slice.length), slice, bytes.subarray(at + slice.length)]);
        break;
      }
    }
  }
  return bytes;
}

// JSON values a decoder is most likely to mishandle, mixed into the random ones.
const nastyJson = fc.constantFrom<unknown>(null, 0, -1, 1.5, 1e308, -0, '', 'NaN', 'Infinity', '-9223372036854775809', '18446744073709551616', '00', 'zz', [], {}, true, JSON.parse('{"__proto__":{"x":1}}'), [[[]]], { stringValue: 1 }, { arrayValue: {} });
const anyJson = fc.oneof(fc.jsonValue({ maxDepth: 4 }), nastyJson);

type JsonPath = (string | number)[];
function pathsOf(value: unknown, prefix: JsonPath = [], out: JsonPath[] = []): JsonPath[] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((item, i) => pathsOf(item, [...prefix, i], out));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) pathsOf(v, [...prefix, k], out);
  return out;
}

/** setAt: `root` with the value at `path` replaced (or deleted when `replacement` is undefined). */
function setAt(root: unknown, path: JsonPath, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  if (Array.isArray(root)) {
    const copy = [...root];
    if (rest.length === 0 && replacement === undefined) copy.splice(head as number, 1);
    else copy[head as number] = setAt(copy[head as number], rest, replacement);
    return copy;
  }
  const copy = { ...(root as Record<string, unknown>) };
  if (rest.length === 0 && replacement === undefined) delete copy[head as string];
  else copy[head as string] = setAt(copy[head as string], rest, replacement);
  return copy;
}

const SEED_JSON: unknown = JSON.parse(SEEDS.json.toString('utf8'));
const SEED_JSON_PATHS = pathsOf(SEED_JSON);

describe(`OTLP decoders under fuzzing (${RUNS} runs per property; SKEIN_FUZZ_RUNS)`, () => {
  it('the seeds decode cleanly', () => {
    for (const format of ['protobuf', 'json'] as const) {
      const decoded = checkDecode(SEEDS[format], format);
      expect(decoded).not.toBeInstanceOf(BatchRejection);
      expect((decoded as DecodedSpans).spans).toHaveLength(SEED_SPANS.length);
    }
  });

  describe.each<OtlpFormat>(['protobuf', 'json'])('%s', (format) => {
    it('random bytes', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 1024 }), (bytes) => {
          checkDecode(Buffer.from(bytes), format);
        }),
        FUZZ_OPTIONS,
      );
    });

    it('mutations of a valid request (bit flips, truncations, insertions, deletions, repeats)', () => {
      fc.assert(
        fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 6 }), fc.boolean(), (mutations, small) => {
          checkDecode(mutate(SEEDS[format], mutations), format, small ? SMALL_LIMITS : DEFAULT_BATCH_LIMITS);
        }),
        FUZZ_OPTIONS,
      );
    });

    it('random requests the OpenTelemetry JS SDK can produce always decode (rejected spans allowed, rejections not)', () => {
      const text = fc.string({ unit: 'binary', maxLength: 24 });
      const attributeValue = fc.oneof(text, fc.double(), fc.integer(), fc.boolean(), fc.array(text, { maxLength: 3 }), fc.array(fc.integer(), { maxLength: 3 }));
      const spanArb = fc.record({
        name: text,
        kind: fc.constantFrom(SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER),
        startS: fc.oneof(fc.constant(T0_S), fc.integer({ min: 0, max: 2 ** 33 })),
        startNs: fc.integer({ min: 0, max: 999_999_999 }),
        durationNs: fc.integer({ min: 0, max: 5e9 }),
        attributes: fc.dictionary(text, attributeValue, { maxKeys: 6 }),
        events: fc.array(fc.record({ name: text, attributes: fc.dictionary(text, attributeValue, { maxKeys: 3 }) }), { maxLength: 3 }),
        error: fc.option(text, { nil: undefined }),
      });
      fc.assert(
        fc.property(fc.array(spanArb, { maxLength: 6 }), (specs) => {
          exporter.reset();
          for (const spec of specs) {
            const start: HrTime = [spec.startS, spec.startNs];
            const span = tracer.startSpan(spec.name, { kind: spec.kind, startTime: start, attributes: spec.attributes });
            for (const event of spec.events) span.addEvent(event.name, event.attributes, start);
            if (spec.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: spec.error });
            span.end([spec.startS + Math.floor((spec.startNs + spec.durationNs) / 1e9), (spec.startNs + spec.durationNs) % 1e9]);
          }
          const spans = exporter.getFinishedSpans();
          const body = Buffer.from((format === 'protobuf' ? ProtobufTraceSerializer : JsonTraceSerializer).serializeRequest(spans) as Uint8Array);
          const decoded = checkDecode(body, format);
          if (decoded instanceof BatchRejection) throw decoded;
          if (decoded.spans.length + decoded.rejectedSpans !== spans.length) throw new Error('a span was lost');
        }),
        FUZZ_OPTIONS,
      );
    });
  });

  describe('json only', () => {
    it('random JSON documents', () => {
      fc.assert(
        fc.property(anyJson, (value) => {
          checkDecode(Buffer.from(JSON.stringify(value) ?? 'null'), 'json');
        }),
        FUZZ_OPTIONS,
      );
    });

    it('a valid request with parts replaced by random JSON values or deleted', () => {
      const edit = fc.record({ path: fc.nat(), value: fc.option(anyJson, { nil: undefined, freq: 4 }) });
      fc.assert(
        fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), fc.boolean(), (edits, small) => {
          let doc = SEED_JSON;
          for (const e of edits) doc = setAt(doc, SEED_JSON_PATHS[e.path % SEED_JSON_PATHS.length] as JsonPath, e.value);
          checkDecode(Buffer.from(JSON.stringify(doc) ?? 'null'), 'json', small ? SMALL_LIMITS : DEFAULT_BATCH_LIMITS);
        }),
        FUZZ_OPTIONS,
      );
    });
  });
});
