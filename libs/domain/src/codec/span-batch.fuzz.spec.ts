import fc from 'fast-check';
import { validateSpan } from '../span/span.validation';
import { BatchLimits, BatchRejection, DEFAULT_BATCH_LIMITS, compressLz4Frame, decodeNativeBatch } from './span-batch.codec';

/**
 * Property tests of the native decoder (lz4 frame → JSON → spans) on untrusted input: it returns valid spans or
 * throws a BatchRejection (answered 4xx), never anything else, and never hangs. SKEIN_FUZZ_RUNS sets the runs
 * per property (default 2,000; the full run is `SKEIN_FUZZ_RUNS=100000 npx jest span-batch.fuzz --selectProjects unit`).
 */
const RUNS = Number.parseInt(process.env['SKEIN_FUZZ_RUNS'] ?? '', 10) || 2_000;
const TIMEOUT_MS = 60_000 + RUNS * 20;
const LIMITS: BatchLimits = { ...DEFAULT_BATCH_LIMITS, maxSpansPerBatch: 16, maxTags: 8, maxNameLength: 64, maxTagValueLength: 128, maxDecompressedBytes: 256 * 1024 };

function decodeChecked(body: Buffer, encoding: string): void {
  const started = Date.now();
  try {
    const spans = decodeNativeBatch(body, encoding, LIMITS);
    spans.forEach((span, i) => expect(validateSpan(span, `spans[${i}]`, LIMITS)).toEqual({ ok: true, span }));
  } catch (err) {
    if (!(err instanceof BatchRejection)) throw err;
  }
  // A single decode of a small body taking half a second would be a hang in the making.
  expect(Date.now() - started).toBeLessThan(500);
}

const validSpan = fc.record({
  traceId: fc.stringMatching(/^[0-9a-f]{32}$/),
  spanId: fc.stringMatching(/^[0-9a-f]{16}$/),
  service: fc.string({ minLength: 1, maxLength: 20 }),
  operation: fc.string({ minLength: 1, maxLength: 20 }),
  kind: fc.constantFrom('server', 'client', 'producer', 'consumer', 'internal'),
  startTimeUs: fc.integer({ min: 946_684_800_000_000, max: 4_102_444_800_000_000 }),
  durationUs: fc.integer({ min: 0, max: 1_000_000 }),
  error: fc.boolean(),
  tags: fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 4 }),
});
const validBody = fc.array(validSpan, { minLength: 1, maxLength: 8 }).map((spans) => Buffer.from(JSON.stringify({ spans })));

describe('native batch decoder under hostile input (fast-check)', () => {
  it(
    'random bytes, as lz4 and as plain JSON',
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 512 }), fc.constantFrom('lz4', 'identity'), (bytes, encoding) => decodeChecked(Buffer.from(bytes), encoding)),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'random lz4 frame headers followed by random blocks',
    () => {
      const frame = fc.tuple(fc.uint8Array({ minLength: 3, maxLength: 3 }), fc.uint8Array({ maxLength: 256 })).map(([header, rest]) => Buffer.concat([Buffer.from([0x04, 0x22, 0x4d, 0x18]), Buffer.from(header), Buffer.from(rest)]));
      fc.assert(fc.property(frame, (body) => decodeChecked(body, 'lz4')), { numRuns: RUNS });
    },
    TIMEOUT_MS,
  );

  it(
    'valid batches with bytes flipped, cut or inserted after compression',
    () => {
      const mutated = fc
        .tuple(validBody, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'cut', 'insert'))
        .map(([json, at, byte, how]) => {
          const frame = compressLz4Frame(json);
          const i = at % frame.length;
          if (how === 'cut') return frame.subarray(0, i);
          if (how === 'insert') return Buffer.concat([frame.subarray(0, i), Buffer.from([byte]), frame.subarray(i)]);
          const copy = Buffer.from(frame);
          copy[i] = (copy[i] as number) ^ (byte || 1);
          return copy;
        });
      fc.assert(fc.property(mutated, (body) => decodeChecked(body, 'lz4')), { numRuns: RUNS });
    },
    TIMEOUT_MS,
  );

  it(
    'random JSON values and valid batches with fields replaced by random JSON',
    () => {
      const replaced = fc.tuple(fc.array(validSpan, { minLength: 1, maxLength: 4 }), fc.constantFrom('traceId', 'spanId', 'service', 'startTimeUs', 'durationUs', 'tags', 'kind', 'error'), fc.jsonValue()).map(([spans, field, value]) =>
        Buffer.from(JSON.stringify({ spans: spans.map((span, i) => (i === 0 ? { ...span, [field]: value } : span)) })),
      );
      fc.assert(fc.property(fc.oneof(fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))), replaced), (body) => decodeChecked(body, 'identity')), { numRuns: RUNS });
    },
    TIMEOUT_MS,
  );

  it(
    'valid batches always decode',
    () => {
      fc.assert(
        fc.property(validBody, (json) => {
          expect(decodeNativeBatch(compressLz4Frame(json), 'lz4', LIMITS).length).toBe((JSON.parse(json.toString()) as { spans: unknown[] }).spans.length);
        }),
        { numRuns: Math.min(RUNS, 300) },
      );
    },
    TIMEOUT_MS,
  );
});
