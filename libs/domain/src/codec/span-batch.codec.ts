import * as lz4 from 'lz4';
import { Span } from '../span/span.model';
import { DEFAULT_SPAN_LIMITS, SpanLimits, SpanViolation, validateSpan } from '../span/span.validation';

/** BatchRejectionReason: why a whole batch was refused; also the `reason` label of the rejected counter. */
export type BatchRejectionReason = 'corrupt_lz4' | 'corrupt_gzip' | 'invalid_json' | 'invalid_protobuf' | 'invalid_batch' | 'invalid_span' | 'too_large' | 'unsupported_encoding';

/** BatchRejection: a batch refused as a whole, with every violation found (capped at {@link MAX_REPORTED_VIOLATIONS}). */
export class BatchRejection extends Error {
  constructor(
    readonly reason: BatchRejectionReason,
    message: string,
    readonly violations: SpanViolation[] = [],
  ) {
    super(message);
    this.name = 'BatchRejection';
  }
}

/** MAX_REPORTED_VIOLATIONS: most violations listed in one rejection, so an error answer stays small. */
export const MAX_REPORTED_VIOLATIONS = 50;

/** BatchLimits: limits on one native batch; span-level limits included. */
export interface BatchLimits extends SpanLimits {
  /** maxSpansPerBatch: most spans in one batch. Default 10,000. */
  maxSpansPerBatch: number;
  /** maxDecompressedBytes: largest JSON body after lz4 decompression, bytes. Default 64 MiB. */
  maxDecompressedBytes: number;
}

/** DEFAULT_BATCH_LIMITS: the defaults of {@link BatchLimits}. */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { ...DEFAULT_SPAN_LIMITS, maxSpansPerBatch: 10_000, maxDecompressedBytes: 64 * 1024 * 1024 };

const LZ4_FRAME_MAGIC = 0x184d2204;

/**
 * lz4FrameProblem: why `body` is not exactly one complete LZ4 frame, or the most bytes it can decompress to.
 * Walks the header and block sizes only (checksums and block contents are checked by the decoder). The `lz4`
 * package must only see complete frames: it returns a truncated frame's partial output without an error (and
 * then emits an unhandled 'error' event that crashes the process), loops forever on a trailing skippable frame,
 * and misreads dictionary ids and concatenated frames.
 */
function lz4FrameProblem(body: Buffer): { problem: string } | { maxOutputBytes: number } {
  let pos = 4;
  const flags = body[pos];
  const descriptor = body[pos + 1];
  if (flags === undefined || descriptor === undefined || body.length < pos + 3) return { problem: 'frame header is truncated' };
  if (flags >> 6 !== 1) return { problem: `unsupported frame version ${flags >> 6}` };
  if (flags & 0x01) return { problem: 'dictionary ids are not supported' };
  const blockMaxId = (descriptor >> 4) & 0x07;
  if (blockMaxId < 4) return { problem: `invalid block maximum size id ${blockMaxId}` };
  // 4 → 64 KiB, 5 → 256 KiB, 6 → 1 MiB, 7 → 4 MiB
  const blockMaxBytes = 1 << (8 + 2 * blockMaxId);
  const blockChecksum = (flags & 0x10) !== 0;
  const contentChecksum = (flags & 0x04) !== 0;
  pos += 2 + ((flags & 0x08) !== 0 ? 8 : 0) + 1; // FLG, BD, optional content size, header checksum
  // The decompressed size can be bounded before decoding: a stored block is its own size, a compressed one at
  // most the frame's block maximum. So a decompression bomb is refused without inflating it.
  let maxOutputBytes = 0;
  for (;;) {
    if (pos + 4 > body.length) return { problem: 'frame is truncated (end mark missing)' };
    const blockSize = body.readUInt32LE(pos);
    pos += 4;
    if (blockSize === 0) break;
    const stored = (blockSize & 0x80000000) !== 0;
    const size = blockSize & 0x7fffffff;
    if (size > blockMaxBytes) return { problem: `block of ${size} bytes is larger than the frame's block maximum ${blockMaxBytes}` };
    maxOutputBytes += stored ? size : blockMaxBytes;
    pos += size + (blockChecksum ? 4 : 0);
  }
  if (contentChecksum) pos += 4;
  if (pos > body.length) return { problem: 'frame is truncated (content checksum missing)' };
  if (pos < body.length) return { problem: `${body.length - pos} byte(s) after the end of the frame` };
  return { maxOutputBytes };
}

/** Lz4Native: the parts of the `lz4` package used here beyond encode/decode: the raw block codec and xxHash-32 (both native). */
interface Lz4Native {
  decodeBlock(input: Buffer, output: Buffer): number;
  encodeBlock(input: Buffer, output: Buffer): number;
  encodeBound(size: number): number;
  utils: { blockChecksum(data: Buffer): number };
}
const lz4Native = lz4 as unknown as Lz4Native;

// One block of output at a time is decoded into (or compressed from) these, then copied out at its exact size.
// Allocated once and reused (decoding is synchronous): the `lz4` package's frame decoder zero-fills a fresh
// buffer of the frame's block maximum (4 MiB for its own frames) per block, which dominated the cost of a request.
const scratch = new Map<number, Buffer>();
function scratchOf(bytes: number): Buffer {
  let buffer = scratch.get(bytes);
  if (buffer === undefined) {
    buffer = Buffer.allocUnsafe(bytes);
    scratch.set(bytes, buffer);
  }
  return buffer;
}

/** xxh32: xxHash-32 with seed 0 as an unsigned number, the LZ4 frame checksum. */
function xxh32(data: Buffer): number {
  return lz4Native.utils.blockChecksum(data) >>> 0;
}

/**
 * decodeFrame: the content of a frame that lz4FrameProblem accepted, checking what it does not: reserved bit,
 * header checksum, block checksums, each block's LZ4 data (the native safe decoder, bounded by the block
 * maximum), and the content checksum. Returns the problem as a string instead of throwing.
 */
function decodeFrame(body: Buffer): Buffer | string {
  const flags = body[4] as number;
  const descriptor = body[5] as number;
  if ((flags & 0x02) !== 0) return 'reserved bit set';
  const blockMaxBytes = 1 << (8 + 2 * ((descriptor >> 4) & 0x07));
  const headerEnd = 6 + ((flags & 0x08) !== 0 ? 8 : 0);
  if (((xxh32(body.subarray(4, headerEnd)) >> 8) & 0xff) !== body[headerEnd]) return 'invalid frame header checksum';
  const blockChecksum = (flags & 0x10) !== 0;
  const contentChecksum = (flags & 0x04) !== 0;
  const chunks: Buffer[] = [];
  let total = 0;
  let storedView = false;
  let pos = headerEnd + 1;
  for (;;) {
    const blockSize = body.readUInt32LE(pos);
    pos += 4;
    if (blockSize === 0) break;
    const size = blockSize & 0x7fffffff;
    const data = body.subarray(pos, pos + size);
    pos += size;
    if (blockChecksum) {
      if (xxh32(data) !== body.readUInt32LE(pos)) return 'invalid block checksum';
      pos += 4;
    }
    if ((blockSize & 0x80000000) !== 0) {
      chunks.push(data);
      total += size;
      storedView = true;
      continue;
    }
    const out = scratchOf(blockMaxBytes);
    const decoded = lz4Native.decodeBlock(data, out);
    if (decoded < 0) return `invalid data block at byte ${-decoded}`;
    chunks.push(copyOf(out, decoded));
    total += decoded;
  }
  const content = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total);
  if (contentChecksum && xxh32(content) !== body.readUInt32LE(pos)) return 'invalid content checksum';
  // A lone stored block is a view of the request body: copy it, so the result never aliases the caller's buffer.
  return storedView && chunks.length === 1 ? copyOf(content, content.length) : content;
}

/**
 * copyOf: the first `bytes` of `source` in a buffer of their own. Buffer.from(view) zero-fills a new buffer before
 * copying into it; filling and copying every Kafka record set was 2.3% of span-assembler's CPU.
 */
function copyOf(source: Buffer, bytes: number): Buffer {
  const copy = Buffer.allocUnsafe(bytes);
  source.copy(copy, 0, 0, bytes);
  return copy;
}

/** decompressLz4Frame: decodes an LZ4 frame (the format of the `lz4` CLI); corrupt input is a {@link BatchRejection}. */
export function decompressLz4Frame(body: Buffer, maxBytes: number): Buffer {
  if (body.length < 7 || body.readUInt32LE(0) !== LZ4_FRAME_MAGIC) {
    throw new BatchRejection('corrupt_lz4', 'body is not an LZ4 frame (magic number 0x184D2204 missing)');
  }
  const frame = lz4FrameProblem(body);
  if ('problem' in frame) throw new BatchRejection('corrupt_lz4', `body is not a valid LZ4 frame: ${frame.problem}`);
  // Full blocks except the last are the norm, so this bound is close to the real size for honest senders.
  if (frame.maxOutputBytes > maxBytes + 4 * 1024 * 1024) {
    throw new BatchRejection('too_large', `LZ4 frame may decompress to ${frame.maxOutputBytes} bytes, more than the limit of ${maxBytes}`);
  }
  const out = decodeFrame(body);
  if (typeof out === 'string') throw new BatchRejection('corrupt_lz4', `body is not a valid LZ4 frame: ${out}`);
  if (out.length > maxBytes) {
    throw new BatchRejection('too_large', `decompressed body is ${out.length} bytes, more than the limit of ${maxBytes}`);
  }
  return out;
}

/** LZ4_FRAME_BLOCK_BYTES: block maximum of the frames compressLz4Frame writes (4 MiB, as the `lz4` package's default). */
const LZ4_FRAME_BLOCK_BYTES = 4 * 1024 * 1024;

/**
 * compressLz4Frame: encodes bytes as one LZ4 frame, the native batch encoding: independent 4 MiB blocks,
 * content checksum (the `lz4` package's defaults, byte for byte compatible with its decoder and the lz4 CLI).
 */
export function compressLz4Frame(data: Buffer): Buffer {
  // FLG: version 01, independent blocks, content checksum; BD: 4 MiB blocks; then the header checksum.
  const header = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x64, 0x70, 0]);
  header[6] = (xxh32(header.subarray(4, 6)) >> 8) & 0xff;
  const parts: Buffer[] = [header];
  let total = header.length;
  for (let at = 0; at < data.length; at += LZ4_FRAME_BLOCK_BYTES) {
    const chunk = data.subarray(at, Math.min(data.length, at + LZ4_FRAME_BLOCK_BYTES));
    const out = scratchOf(4 + lz4Native.encodeBound(LZ4_FRAME_BLOCK_BYTES));
    const compressed = lz4Native.encodeBlock(chunk, out.subarray(4, 4 + lz4Native.encodeBound(chunk.length)));
    let block: Buffer;
    if (compressed > 0 && compressed < chunk.length) {
      out.writeUInt32LE(compressed, 0);
      block = copyOf(out, 4 + compressed);
    } else {
      // Incompressible: stored as is, high bit of the size set.
      block = Buffer.allocUnsafe(4 + chunk.length);
      block.writeUInt32LE((0x80000000 | chunk.length) >>> 0, 0);
      chunk.copy(block, 4);
    }
    parts.push(block);
    total += block.length;
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(xxh32(data), 4);
  parts.push(trailer);
  return Buffer.concat(parts, total + trailer.length);
}

/**
 * parseSpanBatch: parses a native batch `{"spans":[...]}` (UTF-8 JSON) and validates every span.
 * All-or-nothing: one invalid span rejects the batch, and the rejection names each span and field.
 */
export function parseSpanBatch(json: Buffer | string, limits: BatchLimits = DEFAULT_BATCH_LIMITS): Span[] {
  let value: unknown;
  try {
    value = JSON.parse(typeof json === 'string' ? json : json.toString('utf8'));
  } catch (err) {
    throw new BatchRejection('invalid_json', `body is not valid JSON: ${(err as Error).message}`);
  }
  const rawSpans = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)['spans'] : undefined;
  if (!Array.isArray(rawSpans)) {
    throw new BatchRejection('invalid_batch', 'body must be a JSON object with a "spans" array');
  }
  if (rawSpans.length === 0) throw new BatchRejection('invalid_batch', '"spans" is empty');
  if (rawSpans.length > limits.maxSpansPerBatch) {
    throw new BatchRejection('too_large', `batch has ${rawSpans.length} spans, more than the limit of ${limits.maxSpansPerBatch}`);
  }
  const spans: Span[] = [];
  const violations: SpanViolation[] = [];
  rawSpans.forEach((raw, index) => {
    const result = validateSpan(raw, `spans[${index}]`, limits);
    if (result.ok) spans.push(result.span);
    else violations.push(...result.violations);
  });
  if (violations.length > 0) {
    const shown = violations.slice(0, MAX_REPORTED_VIOLATIONS);
    const first = shown[0] as SpanViolation;
    throw new BatchRejection('invalid_span', `${violations.length} invalid field(s); first: ${first.path}: ${first.message}`, shown);
  }
  return spans;
}

/** decodeNativeBatch: body of `POST /api/v1/spans` → validated spans; `encoding` is the Content-Encoding header. */
export function decodeNativeBatch(body: Buffer, encoding: string | undefined, limits: BatchLimits = DEFAULT_BATCH_LIMITS): Span[] {
  const coding = (encoding ?? 'identity').trim().toLowerCase();
  if (coding === 'lz4') return parseSpanBatch(decompressLz4Frame(body, limits.maxDecompressedBytes), limits);
  if (coding === 'identity' || coding === '') return parseSpanBatch(body, limits);
  throw new BatchRejection('unsupported_encoding', `Content-Encoding "${encoding}" is not supported; use lz4 or none`);
}

/** encodeNativeBatch: spans → an lz4-compressed native batch body (what SDKs send). */
export function encodeNativeBatch(spans: Span[]): Buffer {
  return compressLz4Frame(Buffer.from(JSON.stringify({ spans })));
}

/** groupByTrace: spans grouped by traceId, in first-seen order. */
export function groupByTrace(spans: Iterable<Span>): Map<string, Span[]> {
  const traces = new Map<string, Span[]>();
  for (const span of spans) {
    const group = traces.get(span.traceId);
    if (group) group.push(span);
    else traces.set(span.traceId, [span]);
  }
  return traces;
}
