import { compressLz4Frame, decompressLz4Frame } from '@skein/domain';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';

/** MAX_RECORD_SET_BYTES: largest decompressed record set accepted from the broker (256 MiB), a guard against a corrupt frame. */
export const MAX_RECORD_SET_BYTES = 256 * 1024 * 1024;

/**
 * lz4Codec: the LZ4 codec in the shape kafkajs expects. Kafka record batches (magic v2) carry standard LZ4
 * *frames*, which is what the `lz4` package's `encode`/`decode` produce and read.
 */
export const lz4Codec = {
  /** compress: kafkajs hands over its encoder; the bytes to compress are its `buffer`. */
  async compress(encoder: { buffer: Buffer }): Promise<Buffer> {
    return compressLz4Frame(encoder.buffer);
  },
  /**
   * decompress: one compressed record set → its raw bytes. Goes through the domain's checked frame decoder: the
   * `lz4` package alone can hang or crash the process on a malformed frame.
   */
  async decompress(buffer: Buffer): Promise<Buffer> {
    return decompressLz4Frame(buffer, MAX_RECORD_SET_BYTES);
  },
};

/**
 * registerLz4Codec: makes kafkajs able to produce and consume LZ4 batches. kafkajs ships no LZ4 codec (its
 * default throws "LZ4 compression not implemented") and keeps codecs in a process-wide table, so this is
 * global and idempotent; KafkaMessageBus calls it in its constructor.
 */
export function registerLz4Codec(): void {
  CompressionCodecs[CompressionTypes.LZ4] = () => lz4Codec;
}
