import { randomBytes } from 'node:crypto';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { lz4Codec, registerLz4Codec } from './kafka-lz4.codec';

describe('LZ4 codec for kafkajs', () => {
  const roundTrip = async (input: Buffer) => lz4Codec.decompress(await lz4Codec.compress({ buffer: input }));

  it('round-trips compressible, random, empty and multi-block inputs', async () => {
    const inputs = [
      Buffer.from('{"v":1,"traceId":"abc","spans":[]}'.repeat(500)),
      randomBytes(10_000),
      Buffer.alloc(0),
      // Larger than the 4 MiB default block: the frame holds several blocks.
      Buffer.concat([randomBytes(3 << 20), Buffer.alloc(3 << 20, 7)]),
    ];
    for (const input of inputs) expect((await roundTrip(input)).equals(input)).toBe(true);
  });

  it('writes the LZ4 frame format Kafka expects (magic 0x184D2204) and compresses', async () => {
    const input = Buffer.from('span '.repeat(10_000));
    const compressed = await lz4Codec.compress({ buffer: input });
    expect(compressed.readUInt32LE(0)).toBe(0x184d2204);
    expect(compressed.length).toBeLessThan(input.length / 10);
  });

  it('rejects corrupt input instead of returning garbage', async () => {
    const compressed = await lz4Codec.compress({ buffer: Buffer.from('hello '.repeat(1_000)) });
    const corrupt = Buffer.from(compressed);
    corrupt.fill(0xff, 12, 40);
    await expect(lz4Codec.decompress(corrupt)).rejects.toThrow();
  });

  it('registers itself as the kafkajs LZ4 codec', () => {
    registerLz4Codec();
    expect(CompressionCodecs[CompressionTypes.LZ4]()).toBe(lz4Codec);
  });
});
