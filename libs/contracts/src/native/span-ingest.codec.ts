/**
 * Protobuf codec of the two small messages of `skein.ingest.v1.SpanIngest` (span_ingest.proto), written out
 * so the gateway needs no generic protobuf runtime on its hot path.
 */

/** SendSpansRequest: a native batch body and its encoding (`lz4` or `identity`). */
export interface SendSpansRequest {
  batch: Buffer;
  encoding: string;
}

/** SendSpansResponse: what Send answers (see span_ingest.proto). */
export interface SendSpansResponse {
  accepted: number;
  metricsOnly: number;
  dropped: number;
}

/** SpanIngestDecodeError: the request bytes are not a SendSpansRequest. */
export class SpanIngestDecodeError extends Error {}

function readVarint(bytes: Buffer, start: number): [number, number] {
  let value = 0;
  let multiplier = 1;
  let pos = start;
  for (let i = 0; i < 10; i++) {
    const byte = bytes[pos++];
    if (byte === undefined) throw new SpanIngestDecodeError('truncated varint');
    value += (byte & 0x7f) * multiplier;
    if (byte < 0x80) {
      if (!Number.isSafeInteger(value)) throw new SpanIngestDecodeError('varint too large');
      return [value, pos];
    }
    multiplier *= 128;
  }
  throw new SpanIngestDecodeError('varint longer than 10 bytes');
}

/** decodeSendSpansRequest: parses a SendSpansRequest; unknown fields are skipped; malformed bytes throw SpanIngestDecodeError. */
export function decodeSendSpansRequest(bytes: Buffer): SendSpansRequest {
  let batch: Buffer = Buffer.alloc(0);
  let encoding = '';
  let pos = 0;
  while (pos < bytes.length) {
    const [tag, afterTag] = readVarint(bytes, pos);
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    pos = afterTag;
    if (wire === 0) [, pos] = readVarint(bytes, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [length, afterLength] = readVarint(bytes, pos);
      const end = afterLength + length;
      if (end > bytes.length) throw new SpanIngestDecodeError(`field ${field} runs past the end of the message`);
      if (field === 1) batch = bytes.subarray(afterLength, end);
      else if (field === 2) encoding = bytes.toString('utf8', afterLength, end);
      pos = end;
    } else throw new SpanIngestDecodeError(`unsupported wire type ${wire} (field ${field})`);
    if (pos > bytes.length) throw new SpanIngestDecodeError('message is truncated');
  }
  return { batch, encoding };
}

function pushVarint(out: number[], value: number): void {
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

/** encodeSendSpansRequest: the bytes of a SendSpansRequest (for clients and tests). */
export function encodeSendSpansRequest(request: SendSpansRequest): Buffer {
  const head: number[] = [0x0a];
  pushVarint(head, request.batch.length);
  const encoding = Buffer.from(request.encoding, 'utf8');
  const tail: number[] = encoding.length > 0 ? [0x12] : [];
  if (encoding.length > 0) pushVarint(tail, encoding.length);
  return Buffer.concat([Buffer.from(head), request.batch, Buffer.from(tail), encoding]);
}

/** encodeSendSpansResponse: the bytes of a SendSpansResponse (zero fields omitted, as proto3 does). */
export function encodeSendSpansResponse(response: SendSpansResponse): Buffer {
  const out: number[] = [];
  const field = (tag: number, value: number) => {
    if (value === 0) return;
    out.push(tag);
    pushVarint(out, value);
  };
  field(0x08, response.accepted);
  field(0x10, response.metricsOnly);
  field(0x18, response.dropped);
  return Buffer.from(out);
}
