import { gunzipSync } from 'node:zlib';
import { BatchRejection, decompressLz4Frame } from '@skein/domain';

/**
 * decodeContentEncoding: undoes the request's `Content-Encoding` (gzip, lz4 or none) with the decompressed
 * size bounded by `maxBytes`: zlib stops inflating at the limit, and LZ4 frames are bounded from their block
 * sizes before decoding, so a decompression bomb is refused (413) before memory grows.
 */
export function decodeContentEncoding(body: Buffer, encoding: string | undefined, maxBytes: number, allowed: readonly string[]): Buffer {
  const coding = (encoding ?? '').trim().toLowerCase() || 'identity';
  if (!allowed.includes(coding)) {
    throw new BatchRejection('unsupported_encoding', `Content-Encoding "${encoding}" is not supported here; use ${allowed.join(', ')}`);
  }
  if (coding === 'identity') {
    if (body.length > maxBytes) throw new BatchRejection('too_large', `body is ${body.length} bytes, more than the limit of ${maxBytes}`);
    return body;
  }
  if (coding === 'lz4') return decompressLz4Frame(body, maxBytes);
  try {
    return gunzipSync(body, { maxOutputLength: maxBytes });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new BatchRejection('too_large', `gzip body inflates to more than the limit of ${maxBytes} bytes`);
    }
    throw new BatchRejection('corrupt_gzip', `body is not valid gzip: ${(err as Error).message}`);
  }
}
