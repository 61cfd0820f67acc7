import * as lz4 from 'lz4';
import { Span } from '../span/span.model';
import { FIXED_IDS, TRACE_A, TRACE_B, fixedThreeServiceTrace, makeSpan, mulberry32, spanIdOf } from '../testing/span-fixtures';
import {
  BatchLimits,
  BatchRejection,
  BatchRejectionReason,
  DEFAULT_BATCH_LIMITS,
  MAX_REPORTED_VIOLATIONS,
  compressLz4Frame,
  decodeNativeBatch,
  decompressLz4Frame,
  encodeNativeBatch,
  groupByTrace,
  parseSpanBatch,
} from './span-batch.codec';

const LZ4_MAGIC = Buffer.from([0x04, 0x22, 0x4d, 0x18]);

/** rejection: the BatchRejection thrown by `fn` (fails the test when it returns or throws something else). */
function rejection(fn: () => unknown): BatchRejection {
  try {
    fn();
  } catch (err) {
    if (err instanceof BatchRejection) return err;
    throw new Error(`expected a BatchRejection, got ${String(err)}`);
  }
  throw new Error('expected a BatchRejection, but nothing was thrown');
}

function reasonOf(fn: () => unknown): BatchRejectionReason {
  return rejection(fn).reason;
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/** rawSpan: an untrusted JSON span as an SDK sends it. */
function rawSpan(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { traceId: TRACE_A, spanId: spanIdOf(1), service: 'svc', operation: 'op', startTimeUs: 1_768_472_400_000_000, durationUs: 10, ...overrides };
}

/** pseudoRandomText: deterministic, poorly compressible printable text. */
function pseudoRandomText(length: number, seed: number): Buffer {
  const next = mulberry32(seed);
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = 0x21 + Math.floor(next() * 94);
  return out;
}

describe('BatchRejection', () => {
  it('is an Error carrying its reason, message and violations', () => {
    const violation = { path: 'spans[0].traceId', message: 'required' };
    const err = new BatchRejection('invalid_span', 'bad batch', [violation]);
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(BatchRejection);
    expect(err.name).toBe('BatchRejection');
    expect(err.reason).toBe('invalid_span');
    expect(err.message).toBe('bad batch');
    expect(err.violations).toEqual([violation]);
    expect(new BatchRejection('too_large', 'x').violations).toEqual([]);
  });
});

describe('DEFAULT_BATCH_LIMITS', () => {
  it('holds the documented defaults, span limits included', () => {
    expect(DEFAULT_BATCH_LIMITS).toEqual({ maxNameLength: 256, maxTags: 128, maxTagValueLength: 4096, maxEvents: 128, maxLinks: 128, maxSpansPerBatch: 10_000, maxDecompressedBytes: 64 * 1024 * 1024 });
  });
});

describe('lz4 frames', () => {
  it('compressLz4Frame writes a standard LZ4 frame (magic 0x184D2204) that decompresses to the same bytes', () => {
    const data = Buffer.from('{"spans":[]}'.repeat(100));
    const frame = compressLz4Frame(data);
    expect(frame.subarray(0, 4)).toEqual(LZ4_MAGIC);
    expect(frame.length).toBeLessThan(data.length);
    expect(decompressLz4Frame(frame, data.length)).toEqual(data);
  });

  it('round-trips an empty body', () => {
    expect(decompressLz4Frame(compressLz4Frame(Buffer.alloc(0)), 0)).toEqual(Buffer.alloc(0));
  });

  it('compressLz4Frame writes the same bytes as the lz4 package, and each reads the other', () => {
    for (const data of [Buffer.alloc(0), Buffer.from('{"spans":[]}'.repeat(1000)), Buffer.from(JSON.stringify({ spans: Array.from({ length: 60_000 }, (_, i) => rawSpan({ spanId: spanIdOf(i) })) }))]) {
      const frame = compressLz4Frame(data);
      expect(frame.equals(lz4.encode(data))).toBe(true);
      expect(lz4.decode(frame).equals(data)).toBe(true);
    }
    // Incompressible data: stored blocks here, where the lz4 package stores a compressed block larger than its input.
    const noise = Buffer.concat([pseudoRandomText(4 * 1024 * 1024, 6), Buffer.from('tail')]);
    expect(lz4.decode(compressLz4Frame(noise)).equals(noise)).toBe(true);
    expect(decompressLz4Frame(lz4.encode(noise), noise.length).equals(noise)).toBe(true);
  });

  it('checks block checksums when the frame has them', () => {
    // Built by hand: the lz4 package's encoder checksums the whole output buffer rather than the block (a bug).
    const xxh32 = (data: Buffer): number => (lz4 as unknown as { utils: { blockChecksum(d: Buffer): number } }).utils.blockChecksum(data) >>> 0;
    const data = Buffer.from('{"spans":[]}'.repeat(1000));
    const plain = compressLz4Frame(data);
    const blockBytes = plain.readUInt32LE(7) & 0x7fffffff;
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32LE(xxh32(plain.subarray(11, 11 + blockBytes)));
    const frame = Buffer.concat([plain.subarray(0, 11 + blockBytes), checksum, plain.subarray(11 + blockBytes)]);
    frame[4] = frame[4]! | 0x10;
    frame[6] = (xxh32(frame.subarray(4, 6)) >> 8) & 0xff;
    expect(decompressLz4Frame(frame, data.length).equals(data)).toBe(true);
    const broken = Buffer.from(frame);
    broken[11 + blockBytes] = broken[11 + blockBytes]! ^ 0x01;
    expect(rejection(() => decompressLz4Frame(broken, data.length)).message).toBe('body is not a valid LZ4 frame: invalid block checksum');
  });

  it('names a wrong header checksum, a reserved bit and a wrong content checksum', () => {
    const data = Buffer.from('{"spans":[]}'.repeat(100));
    const frame = compressLz4Frame(data);
    const header = Buffer.from(frame);
    header[6] = header[6]! ^ 0x01;
    expect(rejection(() => decompressLz4Frame(header, data.length)).message).toBe('body is not a valid LZ4 frame: invalid frame header checksum');
    const reserved = Buffer.from(frame);
    reserved[4] = reserved[4]! | 0x02;
    expect(rejection(() => decompressLz4Frame(reserved, data.length)).message).toBe('body is not a valid LZ4 frame: reserved bit set');
    const content = Buffer.from(frame);
    content[content.length - 1] = content[content.length - 1]! ^ 0x01;
    expect(rejection(() => decompressLz4Frame(content, data.length)).message).toBe('body is not a valid LZ4 frame: invalid content checksum');
  });

  it('never returns a view of the body (a lone stored block is copied)', () => {
    const data = pseudoRandomText(1000, 8);
    const frame = compressLz4Frame(data);
    expect(frame.readUInt32LE(7)).toBe(0x8000_0000 + 1000);
    const out = decompressLz4Frame(frame, data.length);
    frame.fill(0);
    expect(out.equals(data)).toBe(true);
  });

  it('round-trips a body larger than one 4 MiB block', () => {
    const data = Buffer.from(JSON.stringify(Array.from({ length: 200_000 }, (_, i) => ({ i, name: `span-${i}` }))));
    expect(data.length).toBeGreaterThan(4 * 1024 * 1024);
    expect(decompressLz4Frame(compressLz4Frame(data), data.length).equals(data)).toBe(true);
  });

  describe('frames written with other options', () => {
    const data = pseudoRandomText(200_000, 3);
    const variants: [string, Buffer][] = [
      ['64 KiB blocks, some stored uncompressed', lz4.encode(data, { blockMaxSize: 64 * 1024 })],
      ['no content checksum', lz4.encode(data, { blockMaxSize: 64 * 1024, streamChecksum: false })],
      ['256 KiB blocks', lz4.encode(data, { blockMaxSize: 256 * 1024 })],
    ];

    it.each(variants)('round-trips a frame with %s', (_label, frame) => {
      expect(decompressLz4Frame(frame, data.length).equals(data)).toBe(true);
    });

    it('stores incompressible 64 KiB blocks uncompressed (high bit of the block size set)', () => {
      const frame = variants[0]?.[1] as Buffer;
      expect(frame.readUInt32LE(7)).toBe(0x8001_0000); // stored flag + 65,536 bytes
    });

    it.each(variants)('rejects a frame with %s truncated anywhere as corrupt_lz4', (_label, frame) => {
      const cuts = [7, 8, 11, 12, 1_000, 65_546, 65_547, 65_550, frame.length - 5, frame.length - 4, frame.length - 1];
      for (const length of cuts) {
        expect({ length, reason: reasonOf(() => decompressLz4Frame(frame.subarray(0, length), data.length)) }).toEqual({ length, reason: 'corrupt_lz4' });
      }
    });

    it('rejects a frame that declares a preset dictionary as corrupt_lz4', () => {
      const frame = Buffer.from(variants[0]?.[1] as Buffer);
      frame[4] = (frame[4] as number) | 0x01;
      const err = rejection(() => decompressLz4Frame(frame, data.length));
      expect(err.reason).toBe('corrupt_lz4');
      expect(err.message).toBe('body is not a valid LZ4 frame: dictionary ids are not supported');
    });

    it('names the structural problem in the message', () => {
      const frame = variants[0]?.[1] as Buffer;
      expect(rejection(() => decompressLz4Frame(frame.subarray(0, frame.length - 8), data.length)).message).toBe('body is not a valid LZ4 frame: frame is truncated (end mark missing)');
      expect(rejection(() => decompressLz4Frame(frame.subarray(0, frame.length - 2), data.length)).message).toBe('body is not a valid LZ4 frame: frame is truncated (content checksum missing)');
      expect(rejection(() => decompressLz4Frame(Buffer.concat([frame, Buffer.from([9, 9, 9])]), data.length)).message).toBe('body is not a valid LZ4 frame: 3 byte(s) after the end of the frame');
    });
  });

  it('accepts a decompressed size equal to the limit and rejects one byte more as too_large', () => {
    const data = Buffer.from('x'.repeat(1000));
    const frame = compressLz4Frame(data);
    expect(decompressLz4Frame(frame, 1000)).toHaveLength(1000);
    const err = rejection(() => decompressLz4Frame(frame, 999));
    expect(err.reason).toBe('too_large');
    expect(err.message).toBe('decompressed body is 1000 bytes, more than the limit of 999');
  });

  describe('corrupt input is a corrupt_lz4 rejection', () => {
    const data = Buffer.from(JSON.stringify({ spans: [makeSpan()] }));
    const frame = compressLz4Frame(data);

    it('an empty body and a body shorter than a frame header', () => {
      expect(reasonOf(() => decompressLz4Frame(Buffer.alloc(0), 1 << 20))).toBe('corrupt_lz4');
      expect(reasonOf(() => decompressLz4Frame(LZ4_MAGIC, 1 << 20))).toBe('corrupt_lz4');
    });

    it('a body without the magic number (plain JSON, gzip, a wrong magic byte)', () => {
      const expected = 'body is not an LZ4 frame (magic number 0x184D2204 missing)';
      expect(rejection(() => decompressLz4Frame(data, 1 << 20)).message).toBe(expected);
      expect(rejection(() => decompressLz4Frame(Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3]), 1 << 20)).message).toBe(expected);
      for (let i = 0; i < 4; i++) {
        const wrong = Buffer.from(frame);
        wrong[i] = (wrong[i] as number) ^ 0x01;
        const err = rejection(() => decompressLz4Frame(wrong, 1 << 20));
        expect({ i, reason: err.reason, message: err.message }).toEqual({ i, reason: 'corrupt_lz4', message: expected });
      }
    });

    it('a frame truncated at any length', () => {
      for (let length = 0; length < frame.length; length++) {
        expect({ length, reason: reasonOf(() => decompressLz4Frame(frame.subarray(0, length), 1 << 20)) }).toEqual({ length, reason: 'corrupt_lz4' });
      }
    });

    it('a frame with any one byte flipped', () => {
      for (let i = 0; i < frame.length; i++) {
        const flipped = Buffer.from(frame);
        flipped[i] = (flipped[i] as number) ^ 0xff;
        expect({ i, reason: reasonOf(() => decompressLz4Frame(flipped, 1 << 20)) }).toEqual({ i, reason: 'corrupt_lz4' });
      }
    });

    it('a frame followed by trailing bytes', () => {
      for (const tail of [Buffer.from([0]), Buffer.from([1, 2]), Buffer.from('garbage!')]) {
        expect(reasonOf(() => decompressLz4Frame(Buffer.concat([frame, tail]), 1 << 20))).toBe('corrupt_lz4');
      }
    });

    it('a frame followed by a skippable frame or a second frame (without hanging)', () => {
      const skippable = Buffer.alloc(12);
      skippable.writeUInt32LE(0x184d2a50, 0);
      skippable.writeUInt32LE(4, 4);
      expect(reasonOf(() => decompressLz4Frame(Buffer.concat([frame, skippable]), 1 << 20))).toBe('corrupt_lz4');
      expect(reasonOf(() => decompressLz4Frame(Buffer.concat([frame, frame]), 1 << 20))).toBe('corrupt_lz4');
    });

    it('a frame whose data block was replaced with random bytes', () => {
      const broken = Buffer.from(frame);
      const noise = pseudoRandomText(broken.length - 20, 99);
      noise.copy(broken, 11);
      expect(reasonOf(() => decompressLz4Frame(broken, 1 << 20))).toBe('corrupt_lz4');
    });
  });
});

describe('decodeNativeBatch', () => {
  const trace = fixedThreeServiceTrace();

  it('round-trips spans through encodeNativeBatch (lz4)', () => {
    const body = encodeNativeBatch(trace);
    expect(body.subarray(0, 4)).toEqual(LZ4_MAGIC);
    expect(decodeNativeBatch(body, 'lz4')).toEqual(trace);
  });

  it('round-trips a batch of two traces and keeps the span order', () => {
    const other = fixedThreeServiceTrace({ traceId: TRACE_B, paymentError: true });
    const mixed = [trace[0], other[0], trace[1], other[1]] as Span[];
    expect(decodeNativeBatch(encodeNativeBatch(mixed), 'lz4')).toEqual(mixed);
  });

  it('round-trips a batch of exactly maxSpansPerBatch spans', () => {
    const spans = Array.from({ length: 10_000 }, (_, i) => makeSpan({ spanId: spanIdOf(i + 1), startTimeUs: 1_768_472_400_000_000 + i, tags: { i: String(i) } }));
    const decoded = decodeNativeBatch(encodeNativeBatch(spans), 'lz4');
    expect(decoded).toHaveLength(10_000);
    expect(decoded[9_999]).toEqual(spans[9_999]);
    expect(decoded).toEqual(spans);
  });

  it('matches the encoding name case-insensitively and ignores surrounding spaces', () => {
    const body = encodeNativeBatch(trace);
    expect(decodeNativeBatch(body, 'LZ4')).toEqual(trace);
    expect(decodeNativeBatch(body, ' lz4 ')).toEqual(trace);
  });

  it('normalises spans while decoding (upper-case ids, numeric tags)', () => {
    const body = compressLz4Frame(json({ spans: [rawSpan({ traceId: TRACE_A.toUpperCase(), tags: { 'http.status_code': 200, cached: false } })] }));
    expect(decodeNativeBatch(body, 'lz4')).toEqual([
      { traceId: TRACE_A, spanId: spanIdOf(1), service: 'svc', operation: 'op', kind: 'internal', startTimeUs: 1_768_472_400_000_000, durationUs: 10, error: false, tags: { 'http.status_code': '200', cached: 'false' } },
    ]);
  });

  it.each([
    ['no Content-Encoding', undefined],
    ['identity', 'identity'],
    ['IDENTITY', 'IDENTITY'],
    ['an empty header', ''],
    ['a blank header', '  '],
  ])('reads plain JSON with %s', (_label, encoding) => {
    expect(decodeNativeBatch(json({ spans: trace }), encoding)).toEqual(trace);
  });

  it.each(['gzip', 'br', 'deflate', 'lz4, gzip', 'x-lz4'])('rejects Content-Encoding %s as unsupported_encoding', (encoding) => {
    const err = rejection(() => decodeNativeBatch(encodeNativeBatch(trace), encoding));
    expect(err.reason).toBe('unsupported_encoding');
    expect(err.message).toBe(`Content-Encoding "${encoding}" is not supported; use lz4 or none`);
  });

  it('rejects a plain JSON body declared as lz4 as corrupt_lz4', () => {
    expect(reasonOf(() => decodeNativeBatch(json({ spans: trace }), 'lz4'))).toBe('corrupt_lz4');
  });

  it('rejects a truncated lz4 batch as corrupt_lz4', () => {
    const body = encodeNativeBatch(trace);
    expect(reasonOf(() => decodeNativeBatch(body.subarray(0, body.length - 1), 'lz4'))).toBe('corrupt_lz4');
    expect(reasonOf(() => decodeNativeBatch(body.subarray(0, body.length - 8), 'lz4'))).toBe('corrupt_lz4');
    expect(reasonOf(() => decodeNativeBatch(body.subarray(0, 20), 'lz4'))).toBe('corrupt_lz4');
  });

  it('rejects an lz4 body sent as identity as invalid_json', () => {
    expect(reasonOf(() => decodeNativeBatch(encodeNativeBatch(trace), undefined))).toBe('invalid_json');
  });

  it('rejects lz4 that does not hold JSON as invalid_json', () => {
    const err = rejection(() => decodeNativeBatch(compressLz4Frame(Buffer.from('spans: [1, 2]')), 'lz4'));
    expect(err.reason).toBe('invalid_json');
    expect(err.message).toMatch(/^body is not valid JSON: /);
    expect(err.violations).toEqual([]);
  });

  it('applies maxDecompressedBytes to the lz4 body and rejects a larger one as too_large', () => {
    const body = encodeNativeBatch(trace);
    const size = Buffer.byteLength(JSON.stringify({ spans: trace }));
    expect(decodeNativeBatch(body, 'lz4', { ...DEFAULT_BATCH_LIMITS, maxDecompressedBytes: size })).toEqual(trace);
    const err = rejection(() => decodeNativeBatch(body, 'lz4', { ...DEFAULT_BATCH_LIMITS, maxDecompressedBytes: size - 1 }));
    expect(err.reason).toBe('too_large');
    expect(err.message).toBe(`decompressed body is ${size} bytes, more than the limit of ${size - 1}`);
  });

  it('rejects a highly compressible body that expands past the limit (compression bomb) as too_large', () => {
    const bomb = compressLz4Frame(Buffer.alloc(8 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(reasonOf(() => decodeNativeBatch(bomb, 'lz4', { ...DEFAULT_BATCH_LIMITS, maxDecompressedBytes: 1024 * 1024 }))).toBe('too_large');
  });

  it('applies the batch limits to span validation', () => {
    const limits: BatchLimits = { ...DEFAULT_BATCH_LIMITS, maxNameLength: 3 };
    const err = rejection(() => decodeNativeBatch(encodeNativeBatch(trace), 'lz4', limits));
    expect(err.reason).toBe('invalid_span');
    expect(err.violations[0]).toEqual({ path: 'spans[0].service', message: 'longer than 3 characters' });
  });
});

describe('parseSpanBatch', () => {
  it('accepts a string or a Buffer', () => {
    const body = JSON.stringify({ spans: [rawSpan()] });
    expect(parseSpanBatch(body)).toEqual(parseSpanBatch(Buffer.from(body)));
    expect(parseSpanBatch(body)).toEqual([makeSpan({ service: 'svc', operation: 'op', startTimeUs: 1_768_472_400_000_000, durationUs: 10 })]);
  });

  it('decodes UTF-8 names', () => {
    expect(parseSpanBatch(Buffer.from(JSON.stringify({ spans: [rawSpan({ operation: 'GET /café/☕' })] }), 'utf8'))[0]?.operation).toBe('GET /café/☕');
  });

  it.each([
    ['not JSON', 'spans=1'],
    ['truncated JSON', '{"spans":[{"traceId":'],
    ['an empty body', ''],
    ['JSON with a trailing comma', '{"spans":[],}'],
  ])('rejects %s as invalid_json', (_label, body) => {
    const err = rejection(() => parseSpanBatch(body));
    expect(err.reason).toBe('invalid_json');
    expect(err.message).toMatch(/^body is not valid JSON: .+/);
  });

  it.each([
    ['an object without spans', {}],
    ['spans as an object', { spans: { 0: rawSpan() } }],
    ['spans as a string', { spans: '[]' }],
    ['spans null', { spans: null }],
    ['a bare array of spans', [rawSpan()]],
    ['null', null],
    ['a number', 5],
    ['a string', 'spans'],
  ])('rejects %s as invalid_batch', (_label, value) => {
    const err = rejection(() => parseSpanBatch(json(value)));
    expect(err.reason).toBe('invalid_batch');
    expect(err.message).toBe('body must be a JSON object with a "spans" array');
  });

  it('rejects an empty spans array as invalid_batch', () => {
    const err = rejection(() => parseSpanBatch(json({ spans: [] })));
    expect(err.reason).toBe('invalid_batch');
    expect(err.message).toBe('"spans" is empty');
  });

  it('rejects a span without traceId as invalid_span naming spans[i].traceId', () => {
    const spans = [rawSpan({ spanId: spanIdOf(1) }), rawSpan({ spanId: spanIdOf(2) }), rawSpan({ spanId: spanIdOf(3), traceId: undefined })];
    const err = rejection(() => parseSpanBatch(json({ spans })));
    expect(err.reason).toBe('invalid_span');
    expect(err.violations).toEqual([{ path: 'spans[2].traceId', message: 'required: 16 or 32 hex characters' }]);
    expect(err.message).toBe('1 invalid field(s); first: spans[2].traceId: required: 16 or 32 hex characters');
  });

  it('is all-or-nothing and lists the violations of every span in order', () => {
    const spans = [rawSpan({ durationUs: -1 }), rawSpan(), rawSpan({ traceId: 'zz', kind: 'rpc' }), 'not a span'];
    const err = rejection(() => parseSpanBatch(json({ spans })));
    expect(err.reason).toBe('invalid_span');
    expect(err.violations).toEqual([
      { path: 'spans[0].durationUs', message: 'must be an integer of microseconds between 0 and 7 days' },
      { path: 'spans[2].traceId', message: 'must be 16 or 32 hex characters' },
      { path: 'spans[2].kind', message: 'must be one of server, client, producer, consumer, internal' },
      { path: 'spans[3]', message: 'must be a JSON object' },
    ]);
    expect(err.message).toBe('4 invalid field(s); first: spans[0].durationUs: must be an integer of microseconds between 0 and 7 days');
  });

  it(`reports at most MAX_REPORTED_VIOLATIONS (${MAX_REPORTED_VIOLATIONS}) violations but counts them all`, () => {
    expect(MAX_REPORTED_VIOLATIONS).toBe(50);
    const spans = Array.from({ length: 60 }, () => rawSpan({ traceId: undefined }));
    const err = rejection(() => parseSpanBatch(json({ spans })));
    expect(err.violations).toHaveLength(50);
    expect(err.violations[49]).toEqual({ path: 'spans[49].traceId', message: 'required: 16 or 32 hex characters' });
    expect(err.message).toBe('60 invalid field(s); first: spans[0].traceId: required: 16 or 32 hex characters');
  });

  it('accepts exactly maxSpansPerBatch spans and rejects one more as too_large', () => {
    const limits: BatchLimits = { ...DEFAULT_BATCH_LIMITS, maxSpansPerBatch: 3 };
    const spans = (count: number) => Array.from({ length: count }, (_, i) => rawSpan({ spanId: spanIdOf(i + 1) }));
    expect(parseSpanBatch(json({ spans: spans(3) }), limits)).toHaveLength(3);
    const err = rejection(() => parseSpanBatch(json({ spans: spans(4) }), limits));
    expect(err.reason).toBe('too_large');
    expect(err.message).toBe('batch has 4 spans, more than the limit of 3');
  });

  it('checks the default span count limit (10,000) before validating any span', () => {
    const err = rejection(() => parseSpanBatch(json({ spans: Array.from({ length: 10_001 }, () => ({})) })));
    expect(err.reason).toBe('too_large');
    expect(err.message).toBe('batch has 10001 spans, more than the limit of 10000');
  });
});

describe('groupByTrace', () => {
  it('groups spans by traceId in first-seen order, keeping span order inside each group', () => {
    const a = fixedThreeServiceTrace({ traceId: TRACE_A });
    const b = fixedThreeServiceTrace({ traceId: TRACE_B });
    const input = [b[2], a[0], b[0], a[1], b[1]] as Span[];
    const groups = groupByTrace(input);
    expect([...groups.keys()]).toEqual([TRACE_B, TRACE_A]);
    expect(groups.get(TRACE_B)?.map((s) => s.spanId)).toEqual([FIXED_IDS.orderServer, FIXED_IDS.gatewayServer, FIXED_IDS.gatewayClient]);
    expect(groups.get(TRACE_A)?.map((s) => s.spanId)).toEqual([FIXED_IDS.gatewayServer, FIXED_IDS.gatewayClient]);
  });

  it('accepts any iterable and returns an empty map for no spans', () => {
    expect(groupByTrace([]).size).toBe(0);
    const spans = new Set(fixedThreeServiceTrace());
    expect(groupByTrace(spans).get(TRACE_A)).toHaveLength(5);
  });
});

describe('decompression bomb', () => {
  it('refuses a small frame that would inflate past the limit, from its block sizes, before decoding', () => {
    // 64 MiB of zeros compresses to about 250 KiB.
    const bomb = compressLz4Frame(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    let caught: unknown;
    try {
      decompressLz4Frame(bomb, 1024 * 1024);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BatchRejection);
    expect((caught as BatchRejection).reason).toBe('too_large');
    expect((caught as BatchRejection).message).toMatch(/may decompress to \d+ bytes, more than the limit of 1048576/);
  });

  it('still decodes an honest frame just under the limit', () => {
    const data = Buffer.alloc(3 * 1024 * 1024, 'a');
    expect(decompressLz4Frame(compressLz4Frame(data), 3 * 1024 * 1024).equals(data)).toBe(true);
  });
});
