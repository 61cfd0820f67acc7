import assert from 'node:assert/strict';
import fc from 'fast-check';
import { validateSpan } from '../../span/span.validation';
import { DecodedSpans } from '../decoded-spans';
import { BatchLimits, BatchRejection, BatchRejectionReason, DEFAULT_BATCH_LIMITS, MAX_REPORTED_VIOLATIONS } from '../span-batch.codec';
import { decodeZipkinV2 } from './zipkin-v2.decoder';
import { encodeZipkinV2 } from './zipkin-v2.encoder';

/**
 * Property tests of the Zipkin v2 decoder on untrusted input: it returns DecodedSpans or throws a BatchRejection,
 * never anything else, and whatever it accepts is a valid span. SKEIN_FUZZ_RUNS sets the runs per property
 * (default 2,000); failures print a seed and path to replay with fc.assert's `seed`/`path` options.
 */
const RUNS = Number.parseInt(process.env['SKEIN_FUZZ_RUNS'] ?? '', 10) || 2_000;
// Generous: the limit only exists to stop a hung run, and 100,000 runs take a while on a slow machine.
const TIMEOUT_MS = 60_000 + RUNS * 20;

// Small limits, so random input reaches the limit checks too.
const LIMITS: BatchLimits = { ...DEFAULT_BATCH_LIMITS, maxSpansPerBatch: 16, maxTags: 8, maxEvents: 8, maxNameLength: 64, maxTagValueLength: 128, maxDecompressedBytes: 64 * 1024 };
const WHOLE_BODY_REASONS: readonly BatchRejectionReason[] = ['invalid_json', 'invalid_batch', 'too_large'];

/** decodeChecked: decodes `body` and checks every invariant of the outcome; throws on any other exception. */
function decodeChecked(body: Buffer): DecodedSpans | BatchRejection {
  let result: DecodedSpans;
  try {
    result = decodeZipkinV2(body, LIMITS);
  } catch (err) {
    if (!(err instanceof BatchRejection)) throw err;
    assert.ok(WHOLE_BODY_REASONS.includes(err.reason), `unexpected reason ${err.reason}`);
    return err;
  }
  assert.ok(Array.isArray(result.spans) && Array.isArray(result.rejected));
  assert.ok(result.rejected.length <= MAX_REPORTED_VIOLATIONS);
  assert.equal(result.rejected.length > 0, result.rejectedSpans > 0);
  for (const v of result.rejected) {
    assert.match(v.path, /^spans\[\d+\]/);
    assert.ok(typeof v.message === 'string' && v.message.length > 0);
  }
  result.spans.forEach((span, i) => assert.deepEqual(validateSpan(span, `spans[${i}]`, LIMITS), { ok: true, span }));
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    assert.fail('decoded a body that is not JSON');
  }
  assert.ok(Array.isArray(parsed), 'decoded a body that is not an array');
  assert.equal(result.spans.length + result.rejectedSpans, parsed.length, 'every element is either a span or rejected');
  return result;
}

const nonZeroHex = (length: number) => fc.stringMatching(new RegExp(`^[0-9a-fA-F]{${length}}$`)).filter((s) => !/^0+$/.test(s));
const micros = fc.integer({ min: 946_684_800_000_000, max: 4_102_444_800_000_000 });
const text = (maxLength: number) => fc.oneof(fc.string({ maxLength }), fc.string({ maxLength, unit: 'grapheme' }));
const endpoint = fc.record(
  { serviceName: text(20), ipv4: fc.ipV4(), ipv6: fc.ipV6(), port: fc.integer({ min: 0, max: 65_535 }) },
  { requiredKeys: [] },
);

/** zipkinSpan: a well-formed Zipkin v2 span as clients send it, ids in any of the accepted spellings. */
const zipkinSpan = fc.record(
  {
    traceId: fc.oneof(nonZeroHex(16), nonZeroHex(32), nonZeroHex(7), nonZeroHex(20)),
    id: fc.oneof({ weight: 4, arbitrary: nonZeroHex(16) }, fc.constantFrom('0000000000000001', '00000000000000aa'), nonZeroHex(5)),
    parentId: nonZeroHex(16),
    name: text(30),
    kind: fc.constantFrom('CLIENT', 'SERVER', 'PRODUCER', 'CONSUMER'),
    timestamp: micros,
    duration: fc.integer({ min: 0, max: 7 * 24 * 3600 * 1_000_000 }),
    localEndpoint: endpoint,
    remoteEndpoint: endpoint,
    annotations: fc.array(fc.record({ timestamp: micros, value: text(20) }), { maxLength: 4 }),
    tags: fc.dictionary(fc.oneof(text(12), fc.constantFrom('error', 'zipkin.shared_span_id', 'zipkin.debug', '__proto__')), fc.oneof(text(20), fc.integer(), fc.boolean()), { maxKeys: 5 }),
    debug: fc.boolean(),
    shared: fc.boolean(),
  },
  { requiredKeys: ['traceId', 'id', 'timestamp'] },
);
// Few trace and span ids, so client/server twins (shared spans) are common.
const zipkinBatch = fc
  .tuple(fc.array(zipkinSpan, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 8 }))
  .map(([spans, twins]) =>
    spans.map((span, i) => {
      const twin = spans[(twins[i] ?? i) % spans.length]!;
      return twins[i] === undefined ? span : { ...span, traceId: twin.traceId, id: twin.id, parentId: twin.parentId };
    }),
  );

const FIELDS = ['traceId', 'id', 'parentId', 'name', 'kind', 'timestamp', 'duration', 'localEndpoint', 'localEndpoint.serviceName', 'localEndpoint.ipv4', 'localEndpoint.ipv6', 'localEndpoint.port', 'remoteEndpoint', 'remoteEndpoint.serviceName', 'remoteEndpoint.port', 'annotations', 'annotations.0', 'annotations.0.timestamp', 'annotations.0.value', 'tags', 'tags.error', 'tags.k', 'debug', 'shared', '__proto__', 'constructor'];
const DELETE = Symbol('delete');
const fieldMutation = fc.record({ span: fc.nat(), path: fc.constantFrom(...FIELDS), value: fc.oneof(fc.jsonValue(), fc.constant<typeof DELETE>(DELETE)) });
const byteMutation = fc.record({ at: fc.nat(), op: fc.constantFrom('flip', 'truncate', 'insert', 'delete'), byte: fc.integer({ min: 0, max: 255 }) });

/** mutate: sets or deletes one (possibly nested) field of one span; own properties, so `__proto__` stays data. */
function mutate(spans: unknown[], m: { span: number; path: string; value: unknown }): void {
  const keys = m.path.split('.');
  let target: unknown = spans[m.span % spans.length];
  for (const key of keys.slice(0, -1)) {
    if (typeof target !== 'object' || target === null) return;
    target = (target as Record<string, unknown>)[key];
  }
  if (typeof target !== 'object' || target === null) return;
  const last = keys[keys.length - 1]!;
  if (m.value === DELETE) delete (target as Record<string, unknown>)[last];
  else Object.defineProperty(target, last, { value: m.value, enumerable: true, writable: true, configurable: true });
}

function mutateBytes(body: Buffer, mutations: { at: number; op: string; byte: number }[]): Buffer {
  let bytes = Buffer.from(body);
  for (const { at, op, byte } of mutations) {
    const i = bytes.length === 0 ? 0 : at % bytes.length;
    if (op === 'flip') bytes[i] = byte;
    else if (op === 'truncate') bytes = bytes.subarray(0, i);
    else if (op === 'insert') bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i)]);
    else bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
  }
  return bytes;
}

describe(`decodeZipkinV2 fuzz (${RUNS} runs per property)`, () => {
  it(
    'random bytes',
    () => {
      const jsonish = fc.string({ unit: fc.constantFrom(...'[]{}",:0123456789abcdefABCDEF-.eE+ truefalsn\\u'.split('')), maxLength: 200 });
      fc.assert(
        fc.property(fc.oneof(fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)), jsonish.map((s) => Buffer.from(s))), (body) => {
          decodeChecked(body);
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'random JSON values, and arrays of objects with Zipkin field names',
    () => {
      const zipkinish = fc.dictionary(fc.constantFrom(...FIELDS.filter((f) => !f.includes('.')), 'x'), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 10 });
      const value = fc.oneof(fc.jsonValue(), fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 20 }), fc.array(zipkinish, { maxLength: 20 }));
      fc.assert(
        fc.property(value, (v) => {
          decodeChecked(Buffer.from(JSON.stringify(v)));
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'mutations of valid payloads (fields, then bytes)',
    () => {
      fc.assert(
        fc.property(zipkinBatch, fc.array(fieldMutation, { maxLength: 4 }), fc.array(byteMutation, { maxLength: 3 }), (spans, fields, bytes) => {
          const copy = structuredClone(spans) as unknown[];
          fields.forEach((m) => mutate(copy, m));
          decodeChecked(mutateBytes(Buffer.from(JSON.stringify(copy)), bytes));
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'whatever is decoded survives encode → decode unchanged',
    () => {
      fc.assert(
        fc.property(zipkinBatch, fc.array(fieldMutation, { maxLength: 2 }), (spans, fields) => {
          const copy = structuredClone(spans) as unknown[];
          fields.forEach((m) => mutate(copy, m));
          const first = decodeChecked(Buffer.from(JSON.stringify(copy)));
          if (first instanceof BatchRejection) return;
          const second = decodeChecked(Buffer.from(JSON.stringify(encodeZipkinV2(first.spans))));
          assert.ok(!(second instanceof BatchRejection));
          assert.deepEqual(second.rejected, []);
          assert.deepEqual(second.spans, first.spans);
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );
});
