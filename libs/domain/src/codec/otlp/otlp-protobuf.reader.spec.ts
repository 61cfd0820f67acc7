import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { BatchRejection } from '../span-batch.codec';
import { readOtlpJsonRequest } from './otlp-json.decoder';
import { MAX_OTLP_NESTING_DEPTH, OtlpExportTraceRequest, readOtlpProtobufRequest } from './otlp-protobuf.reader';

// A minimal protobuf writer, so each test states the exact bytes it sends.
const varint = (value: bigint | number): number[] => {
  let rest = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (rest >= 0x80n) {
    out.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  out.push(Number(rest));
  return out;
};
const key = (field: number, wire: number): number[] => varint(field * 8 + wire);
const len = (field: number, ...payload: number[][]): number[] => {
  const body = payload.flat();
  return [...key(field, 2), ...varint(body.length), ...body];
};
const str = (field: number, text: string): number[] => len(field, [...Buffer.from(text)]);
const uvarint = (field: number, value: bigint | number): number[] => [...key(field, 0), ...varint(value)];
const fixed64 = (field: number, value: bigint): number[] => {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(value);
  return [...key(field, 1), ...bytes];
};
const fixed32 = (field: number, value: number): number[] => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return [...key(field, 5), ...bytes];
};
const group = (field: number, ...payload: number[][]): number[] => [...key(field, 3), ...payload.flat(), ...key(field, 4)];

const TRACE_ID = Buffer.from('5b8efff798038103d269b633813fc60c', 'hex');
const SPAN_ID = Buffer.from('eee19b7ec3c1b174', 'hex');
/** spanBytes: the fields of a valid SERVER span, then `extra`. */
const spanBytes = (...extra: number[][]): number[] => [
  ...len(1, [...TRACE_ID]),
  ...len(2, [...SPAN_ID]),
  ...str(5, 'op'),
  ...uvarint(6, 2),
  ...fixed64(7, 1768472400123456789n),
  ...fixed64(8, 1768472400223456789n),
  ...extra.flat(),
];
/** requestBytes: ExportTraceServiceRequest { resource_spans { scope_spans { spans: each } } }. */
const requestBytes = (...spans: number[][]): Buffer => Buffer.from(len(1, len(2, ...spans.map((s) => len(2, s)))));
const attribute = (name: string, anyValue: number[]): number[] => len(9, str(1, name), len(2, anyValue));

const read = (bytes: Buffer | number[], maxSpans = 1000): OtlpExportTraceRequest => readOtlpProtobufRequest(Buffer.from(bytes), { maxSpans });
const firstSpan = (bytes: Buffer) => read(bytes).resourceSpans[0]!.scopeSpans[0]!.spans[0]!;

function rejection(fn: () => unknown): BatchRejection {
  try {
    fn();
  } catch (err) {
    if (err instanceof BatchRejection) return err;
    throw new Error(`expected a BatchRejection, got ${String(err)}`);
  }
  throw new Error('expected a BatchRejection, but nothing was thrown');
}

describe('readOtlpProtobufRequest: wire format', () => {
  it('reads a span: hex ids, name, kind, fixed64 times', () => {
    expect(firstSpan(requestBytes(spanBytes()))).toMatchObject({
      traceId: '5b8efff798038103d269b633813fc60c',
      spanId: 'eee19b7ec3c1b174',
      parentSpanId: '',
      name: 'op',
      kind: 2,
      startTimeUnixNano: 1768472400123456789n,
      endTimeUnixNano: 1768472400223456789n,
    });
  });

  it('reads every AnyValue type, int64 over the full signed range (10-byte varints)', () => {
    const span = firstSpan(
      requestBytes(
        spanBytes(
          attribute('s', str(1, 'héllo')),
          attribute('b', uvarint(2, 1)),
          attribute('i.max', uvarint(3, 2n ** 63n - 1n)),
          attribute('i.min', uvarint(3, -(2n ** 63n))),
          attribute('i.neg', uvarint(3, -1)),
          attribute('d', [...key(4, 1), ...new Uint8Array(new Float64Array([-2.5]).buffer)]),
          attribute('a', len(5, len(1, str(1, 'x')), len(1, uvarint(3, 7)), len(1))),
          attribute('kv', len(6, len(1, str(1, 'k'), len(2, uvarint(2, 0))))),
          attribute('bytes', len(7, [0, 255])),
          attribute('empty', []),
        ),
      ),
    );
    expect(span.attributes).toEqual([
      { key: 's', value: { stringValue: 'héllo' } },
      { key: 'b', value: { boolValue: true } },
      { key: 'i.max', value: { intValue: 2n ** 63n - 1n } },
      { key: 'i.min', value: { intValue: -(2n ** 63n) } },
      { key: 'i.neg', value: { intValue: -1n } },
      { key: 'd', value: { doubleValue: -2.5 } },
      { key: 'a', value: { arrayValue: { values: [{ stringValue: 'x' }, { intValue: 7n }, null] } } },
      { key: 'kv', value: { kvlistValue: { values: [{ key: 'k', value: { boolValue: false } }] } } },
      { key: 'bytes', value: { bytesValue: new Uint8Array([0, 255]) } },
      { key: 'empty', value: null },
    ]);
  });

  it('skips unknown fields of every wire type (groups included) at every level, and known fields sent with another wire type', () => {
    const unknown = [...uvarint(90, 123456789), ...fixed64(91, 1n), ...fixed32(92, 7), ...str(93, 'future'), ...group(94, uvarint(1, 1), group(2, str(3, 'x')))];
    const plain = requestBytes(spanBytes(attribute('k', str(1, 'v'))));
    const noisy = Buffer.from(
      len(1, unknown, len(2, unknown, len(2, spanBytes(unknown, len(9, unknown, str(1, 'k'), len(2, unknown, str(1, 'v'))), uvarint(5, 99), fixed32(1, 0)))), unknown).concat(unknown),
    );
    expect(read(noisy)).toEqual(read(plain));
  });

  it('merges a repeated status and resource (protobuf semantics); the last oneof member and scalar win', () => {
    const bytes = Buffer.from(
      len(1, len(1, len(1, str(1, 'a'))), len(1, len(1, str(1, 'b'))), len(2, len(2, spanBytes(len(15, str(2, 'first')), len(15, uvarint(3, 2)), str(5, 'renamed'), attribute('x', [...str(1, 's'), ...uvarint(3, 5)]))))),
    );
    const rs = read(bytes).resourceSpans[0]!;
    expect(rs.resource.attributes.map((a) => a.key)).toEqual(['a', 'b']);
    const span = rs.scopeSpans[0]!.spans[0]!;
    expect(span.status).toEqual({ message: 'first', code: 2 });
    expect(span.name).toBe('renamed');
    expect(span.attributes[0]!.value).toEqual({ intValue: 5n });
  });

  it.each<[string, number[]]>([
    ['a truncated varint', [0x08, 0x80]],
    ['a varint of 11 bytes', [0x08, ...Array(10).fill(0xff), 0x01]],
    ['a 10th varint byte above 1', [0x08, ...Array(9).fill(0xff), 0x02]],
    ['a tag above 32 bits', [0xff, 0xff, 0xff, 0xff, 0x7f]],
    ['field number 0', [0x02, 0x00]],
    ['wire type 6', [0x0e]],
    ['wire type 7', [0x0f]],
    ['an end-group without a start', [0x0c]],
    ['an unclosed group', [0x0b, 0x08, 0x01]],
    ['a group closed by another field', [0x0b, 0x14]],
    ['a truncated fixed64', [0x09, 1, 2, 3]],
    ['a truncated fixed32', [0x0d, 1, 2]],
    ['a length past the end', [0x0a, 0x05, 0x00]],
    ['a length of 2^32', [0x0a, 0x80, 0x80, 0x80, 0x80, 0x10]],
    ['a nested length past its parent', len(1, [...key(2, 2), 5], [0, 0, 0, 0, 0])],
    ['a truncated fixed64 time inside a span', [...len(1, len(2, len(2, [...key(7, 1), 1, 2, 3])))]],
  ])('refuses %s as invalid_protobuf', (_name, bytes) => {
    const err = rejection(() => read(bytes));
    expect(err.reason).toBe('invalid_protobuf');
    expect(err.message).toMatch(/^body is not a valid OTLP protobuf request: .+ at byte \d+$/);
  });

  it(`accepts AnyValue nesting of ${MAX_OTLP_NESTING_DEPTH} levels and refuses one more`, () => {
    const nested = (levels: number): number[] => {
      let value = str(1, 'leaf');
      for (let i = 1; i < levels; i++) value = len(5, len(1, value));
      return value;
    };
    expect(() => read(requestBytes(spanBytes(attribute('deep', nested(MAX_OTLP_NESTING_DEPTH)))))).not.toThrow();
    expect(rejection(() => read(requestBytes(spanBytes(attribute('deep', nested(MAX_OTLP_NESTING_DEPTH + 1)))))).reason).toBe('invalid_protobuf');
  });

  it(`accepts group nesting of ${MAX_OTLP_NESTING_DEPTH} levels and refuses one more`, () => {
    const nested = (levels: number): number[] => (levels === 0 ? [] : group(1, nested(levels - 1)));
    expect(() => read(nested(MAX_OTLP_NESTING_DEPTH))).not.toThrow();
    expect(rejection(() => read(nested(MAX_OTLP_NESTING_DEPTH + 1))).reason).toBe('invalid_protobuf');
  });

  it('refuses more than maxSpans spans as too_large before decoding them', () => {
    const three = requestBytes(spanBytes(), spanBytes(), [0xff]);
    // The third span is corrupt: too_large is found first, so the body is never decoded that far.
    expect(rejection(() => read(three, 2)).reason).toBe('too_large');
    expect(rejection(() => read(three, 3)).reason).toBe('invalid_protobuf');
  });

  it('reads a Uint8Array view at an offset as well as a Buffer', () => {
    const bytes = requestBytes(spanBytes());
    const padded = new Uint8Array(bytes.length + 7);
    padded.set(bytes, 5);
    expect(readOtlpProtobufRequest(padded.subarray(5, 5 + bytes.length), { maxSpans: 10 })).toEqual(read(bytes));
  });
});

describe('readOtlpProtobufRequest and readOtlpJsonRequest agree on what the OpenTelemetry JS serializers produce', () => {
  it('decodes the protobuf and the JSON encoding of the same spans to the same objects', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'svc', pid: 42 }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('lib', '1.0.0');
    const parent = tracer.startSpan('parent', { kind: SpanKind.SERVER, attributes: { a: 'x', n: 3, f: 0.5, ok: true, list: ['p', 'q'] } });
    const child = tracer.startSpan('child', { kind: SpanKind.CLIENT, links: [{ context: parent.spanContext(), attributes: { l: 1 } }] }, trace.setSpan(ROOT_CONTEXT, parent));
    child.addEvent('e', { k: 'v' });
    child.recordException(new RangeError('out of range'));
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'failed' });
    child.end();
    parent.end();
    // Values the SDK API refuses but OTLP carries (bytes, maps), as another SDK would send them.
    const extra: Record<string, unknown> = { raw: new Uint8Array([1, 2, 3]), map: { z: [1, { y: null }] } };
    const spans = exporter.getFinishedSpans().map((s) => ({ ...s, spanContext: () => s.spanContext(), attributes: { ...s.attributes, ...extra } }) as ReadableSpan);
    const fromProtobuf = readOtlpProtobufRequest(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!), { maxSpans: 10 });
    const fromJson = readOtlpJsonRequest(Buffer.from(JsonTraceSerializer.serializeRequest(spans)!), { maxSpans: 10 });
    expect(fromProtobuf.resourceSpans[0]!.scopeSpans[0]!.spans).toHaveLength(2);
    expect(fromJson).toEqual(fromProtobuf);
  });
});
