import { BatchRejection } from '../span-batch.codec';

/*
 * OTLP trace requests as plain objects, and a hand-written reader of their protobuf encoding.
 *
 * The object shapes mirror the OTLP/JSON mapping (camelCase names, `{ values: [...] }` wrappers), so the protobuf
 * reader and the JSON decoder produce the same thing and one mapper turns both into Skein spans. Two choices
 * differ from a generated protobuf class: ids are lowercase hex strings (what Skein stores; '' when absent) and
 * 64-bit integers are bigint (exact; a JS number is not above 2^53).
 *
 * Why hand-written: this is the one parser that sees every untrusted OTLP byte, so it is small enough to audit,
 * bounds-checks every read, skips unknown fields of every wire type (newer OTLP versions add fields), and is
 * faster than a reflective decoder because it switches on whole tags and builds the final shape directly.
 */

/** OtlpAnyValue: an attribute value (opentelemetry.proto.common.v1.AnyValue); an AnyValue with no value set is `null`. */
export type OtlpAnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: bigint }
  | { doubleValue: number }
  | { bytesValue: Uint8Array }
  | { arrayValue: { values: (OtlpAnyValue | null)[] } }
  | { kvlistValue: { values: OtlpKeyValue[] } };

/** OtlpKeyValue: one attribute; `value` is null when the sender left it empty. */
export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue | null;
}

/** OtlpResource: the process that recorded the spans (`service.name`, `host.name`, ...). */
export interface OtlpResource {
  attributes: OtlpKeyValue[];
  droppedAttributesCount: number;
}

/** OtlpInstrumentationScope: the instrumentation library; `name`/`version` are '' when absent. */
export interface OtlpInstrumentationScope {
  name: string;
  version: string;
  attributes: OtlpKeyValue[];
  droppedAttributesCount: number;
}

/** OtlpStatus: `code` is 0 UNSET, 1 OK, 2 ERROR (other numbers are kept as sent). */
export interface OtlpStatus {
  message: string;
  code: number;
}

/** OtlpEvent: a timed annotation; `timeUnixNano` in nanoseconds since the epoch. */
export interface OtlpEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: OtlpKeyValue[];
  droppedAttributesCount: number;
}

/** OtlpLink: a reference to another span; ids as lowercase hex. */
export interface OtlpLink {
  traceId: string;
  spanId: string;
  traceState: string;
  attributes: OtlpKeyValue[];
  droppedAttributesCount: number;
  flags: number;
}

/**
 * OtlpSpan: one span as sent. `traceId`/`spanId`/`parentSpanId` are lowercase hex ('' when absent; the JSON decoder
 * passes non-hex text through unchanged so the mapper rejects that span alone); `kind` is the SpanKind number
 * (0 UNSPECIFIED, 1 INTERNAL, 2 SERVER, 3 CLIENT, 4 PRODUCER, 5 CONSUMER); times in nanoseconds since the epoch.
 */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  traceState: string;
  parentSpanId: string;
  flags: number;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: OtlpKeyValue[];
  droppedAttributesCount: number;
  events: OtlpEvent[];
  droppedEventsCount: number;
  links: OtlpLink[];
  droppedLinksCount: number;
  status: OtlpStatus;
}

/** OtlpScopeSpans: the spans of one instrumentation scope. */
export interface OtlpScopeSpans {
  scope: OtlpInstrumentationScope;
  spans: OtlpSpan[];
  schemaUrl: string;
}

/** OtlpResourceSpans: the spans of one resource. */
export interface OtlpResourceSpans {
  resource: OtlpResource;
  scopeSpans: OtlpScopeSpans[];
  schemaUrl: string;
}

/** OtlpExportTraceRequest: opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest. */
export interface OtlpExportTraceRequest {
  resourceSpans: OtlpResourceSpans[];
}

/** OtlpDecodeOptions: limits applied while decoding, before any span is built. */
export interface OtlpDecodeOptions {
  /** maxSpans: most spans in one request; one more is a BatchRejection('too_large') thrown at once. */
  maxSpans: number;
}

/**
 * MAX_OTLP_NESTING_DEPTH: deepest AnyValue nesting (arrays and key/value lists inside each other) and deepest
 * group nesting accepted, 32. Real attributes nest a level or two; the bound keeps recursion off the stack limit.
 */
export const MAX_OTLP_NESTING_DEPTH = 32;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

// Fields are matched on the whole tag, written `0x0a /* 1:len */` (field number << 3 | wire type), so that a known
// field sent with an unexpected wire type falls to `default` and is skipped as unknown, as the reference protobuf
// runtimes do, and the switches compile to jump tables.

/** WireReader: a cursor over the input; every read takes the end of the enclosing message and never passes it. */
class WireReader {
  pos = 0;
  // Both halves of the last varint, as unsigned 32-bit numbers (fields rather than a returned pair: no allocation).
  lo = 0;
  hi = 0;
  spans = 0;
  private readonly view: DataView;

  constructor(
    readonly buf: Buffer,
    readonly maxSpans: number,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  fail(message: string): never {
    throw new BatchRejection('invalid_protobuf', `body is not a valid OTLP protobuf request: ${message} at byte ${this.pos}`);
  }

  /** varint: reads one base-128 varint of at most 10 bytes into lo/hi. */
  varint(end: number): void {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let b: number;
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) this.fail('truncated varint');
      b = buf[pos++] as number;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        this.lo = lo >>> 0;
        this.hi = 0;
        return;
      }
    }
    if (pos >= end) this.fail('truncated varint');
    b = buf[pos++] as number;
    lo |= (b & 0x0f) << 28;
    let hi = (b & 0x70) >> 4;
    if (b >= 0x80) {
      for (let shift = 3; ; shift += 7) {
        if (pos >= end) this.fail('truncated varint');
        b = buf[pos++] as number;
        // The 10th byte holds bit 63 only: anything more overflows 64 bits (and a continuation bit would go on).
        if (shift === 31 && b > 1) {
          this.pos = pos - 1;
          this.fail('varint longer than 64 bits');
        }
        hi |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
    }
    this.pos = pos;
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  /** uint32: a varint's low 32 bits (enums, counts; protobuf truncates wider values the same way). */
  uint32(end: number): number {
    if (this.pos < end) {
      const b = this.buf[this.pos] as number;
      if (b < 0x80) {
        this.pos++;
        this.hi = 0;
        return b;
      }
    }
    this.varint(end);
    return this.lo;
  }

  /** readTag: the next field's tag; field number 0 and tags above 32 bits are invalid. */
  readTag(end: number): number {
    const value = this.uint32(end);
    if (this.hi !== 0) this.fail('tag longer than 32 bits');
    if (value >>> 3 === 0) this.fail('field number 0');
    return value;
  }

  /** length: a length prefix checked against the bytes left in the enclosing message; returns the end offset. */
  length(end: number): number {
    const len = this.uint32(end);
    if (this.hi !== 0 || len > end - this.pos) this.fail('length prefix runs past the end of its message');
    return this.pos + len;
  }

  string(end: number): string {
    const stop = this.length(end);
    const text = stop === this.pos ? '' : this.buf.toString('utf8', this.pos, stop);
    this.pos = stop;
    return text;
  }

  hex(end: number): string {
    const stop = this.length(end);
    const text = stop === this.pos ? '' : this.buf.toString('hex', this.pos, stop);
    this.pos = stop;
    return text;
  }

  bytes(end: number): Uint8Array {
    const stop = this.length(end);
    // A copy, so a kept attribute does not pin the whole request body in memory.
    const out = new Uint8Array(stop - this.pos);
    out.set(this.buf.subarray(this.pos, stop));
    this.pos = stop;
    return out;
  }

  fixed64(end: number): bigint {
    if (end - this.pos < 8) this.fail('truncated fixed64');
    const value = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return value;
  }

  double(end: number): number {
    if (end - this.pos < 8) this.fail('truncated double');
    const value = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return value;
  }

  fixed32(end: number): number {
    if (end - this.pos < 4) this.fail('truncated fixed32');
    const value = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return value;
  }

  /** int64: the last varint as a signed 64-bit integer. */
  int64(end: number): bigint {
    this.varint(end);
    if (this.hi === 0) return BigInt(this.lo);
    return BigInt.asIntN(64, (BigInt(this.hi) << 32n) | BigInt(this.lo));
  }

  /** skip: passes over the value of an unknown field, of any wire type. */
  skip(fieldTag: number, end: number): void {
    const wire = fieldTag & 7;
    if (wire === WIRE_START_GROUP) this.skipGroup(fieldTag >>> 3, end);
    else if (wire === WIRE_END_GROUP) this.fail('end-group without a start-group');
    else this.skipScalar(wire, end);
  }

  private skipScalar(wire: number, end: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint(end);
        return;
      case WIRE_FIXED64:
        if (end - this.pos < 8) this.fail('truncated fixed64');
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.pos = this.length(end);
        return;
      case WIRE_FIXED32:
        if (end - this.pos < 4) this.fail('truncated fixed32');
        this.pos += 4;
        return;
      default:
        this.fail(`invalid wire type ${wire}`);
    }
  }

  /** skipGroup: a deprecated proto2 group, iteratively, matching each end-group to its start-group's field. */
  private skipGroup(field: number, end: number): void {
    const open = [field];
    while (open.length > 0) {
      if (this.pos >= end) this.fail('group not closed');
      const fieldTag = this.readTag(end);
      const wire = fieldTag & 7;
      if (wire === WIRE_END_GROUP) {
        if (open.pop() !== fieldTag >>> 3) this.fail('end-group does not match its start-group');
      } else if (wire === WIRE_START_GROUP) {
        if (open.length >= MAX_OTLP_NESTING_DEPTH) this.fail(`groups nested deeper than ${MAX_OTLP_NESTING_DEPTH}`);
        open.push(fieldTag >>> 3);
      } else this.skipScalar(wire, end);
    }
  }
}

function readAnyValue(r: WireReader, end: number, depth: number): OtlpAnyValue | null {
  if (depth > MAX_OTLP_NESTING_DEPTH) r.fail(`attribute values nested deeper than ${MAX_OTLP_NESTING_DEPTH}`);
  // A oneof: the last member on the wire wins.
  let value: OtlpAnyValue | null = null;
  while (r.pos < end) {
    const fieldTag = r.readTag(end);
    switch (fieldTag) {
      case 0x0a /* 1:len */:
        value = { stringValue: r.string(end) };
        break;
      case 0x10 /* 2:varint */:
        r.varint(end);
        value = { boolValue: r.lo !== 0 || r.hi !== 0 };
        break;
      case 0x18 /* 3:varint */:
        value = { intValue: r.int64(end) };
        break;
      case 0x21 /* 4:fixed64 */:
        value = { doubleValue: r.double(end) };
        break;
      case 0x2a /* 5:len */: {
        const stop = r.length(end);
        const values: (OtlpAnyValue | null)[] = [];
        while (r.pos < stop) {
          const itemTag = r.readTag(stop);
          if (itemTag === 0x0a /* 1:len */) values.push(readAnyValue(r, r.length(stop), depth + 1));
          else r.skip(itemTag, stop);
        }
        value = { arrayValue: { values } };
        break;
      }
      case 0x32 /* 6:len */: {
        const stop = r.length(end);
        const values: OtlpKeyValue[] = [];
        while (r.pos < stop) {
          const itemTag = r.readTag(stop);
          if (itemTag === 0x0a /* 1:len */) values.push(readKeyValue(r, r.length(stop), depth + 1));
          else r.skip(itemTag, stop);
        }
        value = { kvlistValue: { values } };
        break;
      }
      case 0x3a /* 7:len */:
        value = { bytesValue: r.bytes(end) };
        break;
      default:
        r.skip(fieldTag, end);
    }
  }
  return value;
}

function readKeyValue(r: WireReader, end: number, depth: number): OtlpKeyValue {
  const kv: OtlpKeyValue = { key: '', value: null };
  while (r.pos < end) {
    const fieldTag = r.readTag(end);
    if (fieldTag === 0x0a /* 1:len */) kv.key = r.string(end);
    else if (fieldTag === 0x12 /* 2:len */) kv.value = readAnyValue(r, r.length(end), depth);
    else r.skip(fieldTag, end);
  }
  return kv;
}

function readResource(r: WireReader, end: number, into: OtlpResource): void {
  while (r.pos < end) {
    const fieldTag = r.readTag(end);
    if (fieldTag === 0x0a /* 1:len */) into.attributes.push(readKeyValue(r, r.length(end), 1));
    else if (fieldTag === 0x10 /* 2:varint */) into.droppedAttributesCount = r.uint32(end);
    else r.skip(fieldTag, end);
  }
}

function readScope(r: WireReader, end: number, into: OtlpInstrumentationScope): void {
  while (r.pos < end) {
    const fieldTag = r.readTag(end);
    switch (fieldTag) {
      case 0x0a /* 1:len */:
        into.name = r.string(end);
        break;
      case 0x12 /* 2:len */:
        into.version = r.string(end);
        break;
      case 0x1a /* 3:len */:
        into.attributes.push(readKeyValue(r, r.length(end), 1));
        break;
      case 0x20 /* 4:varint */:
        into.droppedAttributesCount = r.uint32(end);
        break;
      default:
        r.skip(fieldTag, end);
    }
  }
}

function readStatus(r: WireReader, end: number, into: OtlpStatus): void {
  while (r.pos < end) {
    const fieldTag = r.readTag(end);
    if (fieldTag === 0x12 /* 2:len */) into.message = r.string(end);
    else if (fieldTag === 0x18 /* 3:varint */) into.code = r.uint32(end) | 0;
    else r.skip(fieldTag, end);
  }
}

function readEvent(r: WireReader, end: number): OtlpEvent {
  const event: OtlpEvent = { timeUnixNano: 0n, name: '', attributes: [], droppedAttributesCount: 0 };
  while (r.pos < end) {
    const fieldTag = r.readTag(end);
    switch (fieldTag) {
      case 0x09 /* 1:fixed64 */:
        event.timeUnixNano = r.fixed64(end);
        break;
      case 0x12 /* 2:len */:
        event.name = r.string(end);
        break;
      case 0x1a /* 3:len */:
        event.attributes.push(readKeyValue(r, r.length(end), 1));
        break;
      case 0x20 /* 4:varint */:
        event.droppedAttributesCount = r.uint32(end);
        break;
      default:
        r.skip(fieldTag, end);
    }
  }
  return event;
}

function readLink(r: WireReader, end: number): OtlpLink {
  const link: OtlpLink = { traceId: '', spanId: '', traceState: '', attributes: [], droppedAttributesCount: 0, flags: 0 };
  while (r.pos < end) {
    const fieldTag = r.readTag(end);
    switch (fieldTag) {
      case 0x0a /* 1:len */:
        link.traceId = r.hex(end);
        break;
      case 0x12 /* 2:len */:
        link.spanId = r.hex(end);
        break;
      case 0x1a /* 3:len */:
        link.traceState = r.string(end);
        break;
      case 0x22 /* 4:len */:
        link.attributes.push(readKeyValue(r, r.length(end), 1));
        break;
      case 0x28 /* 5:varint */:
        link.droppedAttributesCount = r.uint32(end);
        break;
      case 0x35 /* 6:fixed32 */:
        link.flags = r.fixed32(end);
        break;
      default:
        r.skip(fieldTag, end);
    }
  }
  return link;
}

function readSpan(r: WireReader, end: number): OtlpSpan {
  const span: OtlpSpan = {
    traceId: '',
    spanId: '',
    traceState: '',
    parentSpanId: '',
    flags: 0,
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { message: '', code: 0 },
  };
  while (r.pos < end) {
    const fieldTag = r.readTag(end);
    switch (fieldTag) {
      case 0x0a /* 1:len */:
        span.traceId = r.hex(end);
        break;
      case 0x12 /* 2:len */:
        span.spanId = r.hex(end);
        break;
      case 0x1a /* 3:len */:
        span.traceState = r.string(end);
        break;
      case 0x22 /* 4:len */:
        span.parentSpanId = r.hex(end);
        break;
      case 0x2a /* 5:len */:
        span.name = r.string(end);
        break;
      case 0x30 /* 6:varint */:
        span.kind = r.uint32(end) | 0;
        break;
      case 0x39 /* 7:fixed64 */:
        span.startTimeUnixNano = r.fixed64(end);
        break;
      case 0x41 /* 8:fixed64 */:
        span.endTimeUnixNano = r.fixed64(end);
        break;
      case 0x4a /* 9:len */:
        span.attributes.push(readKeyValue(r, r.length(end), 1));
        break;
      case 0x50 /* 10:varint */:
        span.droppedAttributesCount = r.uint32(end);
        break;
      case 0x5a /* 11:len */:
        span.events.push(readEvent(r, r.length(end)));
        break;
      case 0x60 /* 12:varint */:
        span.droppedEventsCount = r.uint32(end);
        break;
      case 0x6a /* 13:len */:
        span.links.push(readLink(r, r.length(end)));
        break;
      case 0x70 /* 14:varint */:
        span.droppedLinksCount = r.uint32(end);
        break;
      case 0x7a /* 15:len */:
        // A repeated singular message field merges into the previous one (protobuf semantics).
        readStatus(r, r.length(end), span.status);
        break;
      case 0x85 /* 16:fixed32 */:
        span.flags = r.fixed32(end);
        break;
      default:
        r.skip(fieldTag, end);
    }
  }
  return span;
}

function readScopeSpans(r: WireReader, end: number): OtlpScopeSpans {
  const scopeSpans: OtlpScopeSpans = { scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, spans: [], schemaUrl: '' };
  while (r.pos < end) {
    const fieldTag = r.readTag(end);
    if (fieldTag === 0x12 /* 2:len */) {
      // Counted before the span is built: a too-large request is refused without decoding the rest.
      if (++r.spans > r.maxSpans) throw new BatchRejection('too_large', `request has more than ${r.maxSpans} spans, the limit`);
      scopeSpans.spans.push(readSpan(r, r.length(end)));
    } else if (fieldTag === 0x0a /* 1:len */) readScope(r, r.length(end), scopeSpans.scope);
    else if (fieldTag === 0x1a /* 3:len */) scopeSpans.schemaUrl = r.string(end);
    else r.skip(fieldTag, end);
  }
  return scopeSpans;
}

function readResourceSpans(r: WireReader, end: number): OtlpResourceSpans {
  const resourceSpans: OtlpResourceSpans = { resource: { attributes: [], droppedAttributesCount: 0 }, scopeSpans: [], schemaUrl: '' };
  while (r.pos < end) {
    const fieldTag = r.readTag(end);
    if (fieldTag === 0x12 /* 2:len */) resourceSpans.scopeSpans.push(readScopeSpans(r, r.length(end)));
    else if (fieldTag === 0x0a /* 1:len */) readResource(r, r.length(end), resourceSpans.resource);
    else if (fieldTag === 0x1a /* 3:len */) resourceSpans.schemaUrl = r.string(end);
    else r.skip(fieldTag, end);
  }
  return resourceSpans;
}

/**
 * readOtlpProtobufRequest: decodes the bytes of an ExportTraceServiceRequest (OTLP/HTTP `application/x-protobuf`
 * body, or an OTLP/gRPC message) into plain objects. Unknown fields of any wire type are skipped; malformed input
 * (truncation, varint overflow, invalid wire type, unbalanced groups, nesting deeper than
 * {@link MAX_OTLP_NESTING_DEPTH}) is a BatchRejection('invalid_protobuf'), more than `maxSpans` spans a
 * BatchRejection('too_large'). Runs in time linear in the input and allocates in proportion to it.
 */
export function readOtlpProtobufRequest(body: Uint8Array, options: OtlpDecodeOptions): OtlpExportTraceRequest {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const r = new WireReader(buf, options.maxSpans);
  const end = buf.length;
  const request: OtlpExportTraceRequest = { resourceSpans: [] };
  while (r.pos < end) {
    const fieldTag = r.readTag(end);
    if (fieldTag === 0x0a /* 1:len */) request.resourceSpans.push(readResourceSpans(r, r.length(end)));
    else r.skip(fieldTag, end);
  }
  return request;
}
