import fc from 'fast-check';
import { BodyBufferPool, DocumentWriter, bulkBody, isoFromUs } from './bulk-body';

describe('bulkBody', () => {
  it('writes one action line and one document line per item, newline-terminated', () => {
    const body = bulkBody([
      { action: 'create', index: 'skein-trace-days-2026-11', id: 'abc', source: '{"day":"2026-11-22"}' },
      { action: 'index', index: 'skein-spans-2026-11-22', id: 'abc-01', source: Buffer.from('{"spanId":"01","tags":{"a":"é ✓"},"startTime":"2026-11-22T00:00:00.000Z"}') },
    ]).toString('utf8');
    expect(body.split('\n')).toEqual([
      '{"create":{"_index":"skein-trace-days-2026-11","_id":"abc"}}',
      '{"day":"2026-11-22"}',
      '{"index":{"_index":"skein-spans-2026-11-22","_id":"abc-01"}}',
      '{"spanId":"01","tags":{"a":"é ✓"},"startTime":"2026-11-22T00:00:00.000Z"}',
      '',
    ]);
  });

  it('grows past its first guess and keeps every document whole (multi-byte text included)', () => {
    const big = 'ж'.repeat(5000);
    const items = Array.from({ length: 40 }, (_, i) => ({ action: 'index' as const, index: 'i', id: String(i), source: JSON.stringify({ i, big }) }));
    const lines = bulkBody(items).toString('utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(80);
    lines.filter((_, n) => n % 2 === 1).forEach((line, i) => expect(JSON.parse(line)).toEqual({ i, big }));
  });

  it('escapes index names and ids as JSON strings', () => {
    const [action] = bulkBody([{ action: 'index', index: 'a"b', id: 'c\\d', source: '{}' }]).toString('utf8').split('\n');
    expect(JSON.parse(action as string)).toEqual({ index: { _index: 'a"b', _id: 'c\\d' } });
  });
});

describe('DocumentWriter', () => {
  it('gives each document its own bytes, extra members written inside its braces, across growth', () => {
    const writer = new DocumentWriter(1);
    const docs = Array.from({ length: 30 }, (_, i) => ({ i, text: 'ü'.repeat(i * 200) }));
    docs.forEach((doc, i) => expect(writer.add(JSON.stringify(doc), i % 2 === 0 ? `"startTime":"t${i}","n":${i}` : undefined)).toBe(i));
    const bytes = writer.bytes();
    expect(writer.end(29)).toBe(bytes.length);
    docs.forEach((doc, i) => expect(JSON.parse(bytes.toString('utf8', writer.start(i), writer.end(i)))).toEqual(i % 2 === 0 ? { ...doc, startTime: `t${i}`, n: i } : doc));
  });

  it('takes documents already encoded (a range of a Buffer or of another byte array), with extra members, beside serialized ones', () => {
    const writer = new DocumentWriter(1);
    const message = Buffer.from('head\n{"a":"é ✓","n":1}\n{"b":[1,2]}');
    const first = { start: 5, end: 5 + Buffer.byteLength('{"a":"é ✓","n":1}') };
    expect(writer.addBytes(message, first.start, first.end, '"startTime":"t0"')).toBe(0);
    expect(writer.add('{"c":3}', '"startTime":"t1"')).toBe(1);
    expect(writer.addBytes(new Uint8Array(message), first.end + 1, message.length)).toBe(2);
    const bytes = writer.bytes();
    expect([0, 1, 2].map((i) => JSON.parse(bytes.toString('utf8', writer.start(i), writer.end(i))) as unknown)).toEqual([
      { a: 'é ✓', n: 1, startTime: 't0' },
      { c: 3, startTime: 't1' },
      { b: [1, 2] },
    ]);
  });

  it('documents written as bytes go into a bulk body unchanged', () => {
    const writer = new DocumentWriter(2);
    writer.add('{"a":"é"}', '"startTime":"x"');
    writer.add('{"b":2}');
    const source = writer.bytes();
    const item = (position: number) => ({ action: 'index' as const, index: 'i', id: String(position), source, sourceStart: writer.start(position), sourceEnd: writer.end(position) });
    expect(bulkBody([item(1), item(0)]).toString('utf8')).toBe('{"index":{"_index":"i","_id":"1"}}\n{"b":2}\n{"index":{"_index":"i","_id":"0"}}\n{"a":"é","startTime":"x"}\n');
  });
});

describe('DocumentWriter with action lines (a whole bulk body)', () => {
  it('writes action line, document and newline per item, ranges still naming each document', () => {
    const writer = new DocumentWriter(1);
    const message = Buffer.from('{"a":"é ✓"}');
    writer.action('index', JSON.stringify('skein-spans-2026-11-22'), 't-1');
    writer.addBytes(message, 0, message.length, '"startTime":"t0"');
    writer.action('create', JSON.stringify('skein-spans-2026-11-23'), 'a"b');
    writer.add('{"b":2}');
    const bytes = writer.bytes();
    expect(bytes.toString('utf8')).toBe(
      '{"index":{"_index":"skein-spans-2026-11-22","_id":"t-1"}}\n{"a":"é ✓","startTime":"t0"}\n{"create":{"_index":"skein-spans-2026-11-23","_id":"a\\"b"}}\n{"b":2}\n',
    );
    expect(bytes.toString('utf8', writer.start(1), writer.end(1))).toBe('{"b":2}');
    expect(bytes.toString('utf8', writer.start(0), writer.end(0))).toBe('{"a":"é ✓","startTime":"t0"}');
  });

  it('moves a document to another day by rewriting the end of its index name in place, across growth', () => {
    const writer = new DocumentWriter(1);
    const big = JSON.stringify({ text: 'ж'.repeat(3000) });
    for (let i = 0; i < 5; i++) {
      writer.action('index', JSON.stringify('p-spans-2026-11-22'), String(i));
      writer.add(big);
    }
    writer.replaceIndexEnd(3, '2026-11-21');
    const lines = writer.bytes().toString('utf8').trimEnd().split('\n');
    expect(lines.filter((_, n) => n % 2 === 0).map((line) => (JSON.parse(line) as { index: { _index: string } }).index._index)).toEqual([
      'p-spans-2026-11-22',
      'p-spans-2026-11-22',
      'p-spans-2026-11-22',
      'p-spans-2026-11-21',
      'p-spans-2026-11-22',
    ]);
    expect(lines.filter((_, n) => n % 2 === 1).every((line) => line === big)).toBe(true);
    expect(() => new DocumentWriter(1).replaceIndexEnd(0, 'x')).toThrow('document 0 has no action line');
  });
});

describe('BodyBufferPool', () => {
  it('hands out the smallest free buffer that is large enough, and a new one when none is', () => {
    const pool = new BodyBufferPool(4, 1 << 20);
    const small = Buffer.alloc(1000);
    const large = Buffer.alloc(5000);
    pool.give(large);
    pool.give(small);
    expect(pool.size).toBe(2);
    expect(pool.take(800)).toBe(small);
    expect(pool.take(800)).toBe(large);
    const fresh = pool.take(800);
    expect(fresh).not.toBe(small);
    expect(fresh).not.toBe(large);
    expect(fresh.length).toBe(800);
    pool.give(small);
    expect(pool.take(2000).length).toBe(2000); // the free one is too small: a new buffer, the small one stays
    expect(pool.size).toBe(1);
  });

  it('keeps at most maxFree buffers (the larger ones), none above maxBytes, and each only once', () => {
    const pool = new BodyBufferPool(2, 10_000);
    const sizes = [3000, 1000, 2000];
    const buffers = sizes.map((n) => Buffer.alloc(n));
    for (const buffer of buffers) pool.give(buffer);
    expect(pool.size).toBe(2);
    expect(pool.take(1)).toBe(buffers[2]); // 2000 and 3000 kept, 1000 let go
    expect(pool.take(1)).toBe(buffers[0]);
    pool.give(Buffer.alloc(20_000));
    expect(pool.size).toBe(0);
    pool.give(buffers[0] as Buffer);
    pool.give(buffers[0] as Buffer);
    expect(pool.size).toBe(1);
    const none = new BodyBufferPool(0);
    none.give(Buffer.alloc(10));
    expect(none.size).toBe(0);
  });
});

describe('DocumentWriter with a BodyBufferPool', () => {
  it('writes into a buffer from the pool, gives back the one it outgrew, and its own on release', () => {
    const pool = new BodyBufferPool(4, 1 << 20);
    const first = Buffer.alloc(4096, 0x78);
    pool.give(first);
    const writer = new DocumentWriter(1, 300, pool);
    expect(pool.size).toBe(0);
    const doc = JSON.stringify({ text: 'a'.repeat(1000) }); // room is reserved for 3 bytes a character
    writer.action('index', '"p-spans-2026-11-22"', 'x');
    writer.add(doc);
    expect(writer.bytes().buffer).toBe(first.buffer);
    writer.action('index', '"p-spans-2026-11-22"', 'y');
    writer.add(doc); // 1,060 + 3 × 1,011 > 4,096 bytes: a larger buffer, and the first goes back
    expect(pool.size).toBe(1);
    const body = writer.bytes();
    expect(body.buffer).not.toBe(first.buffer);
    expect(body.toString('utf8').split('\n')[3]).toBe(doc);
    writer.release();
    writer.release();
    expect(pool.size).toBe(2);
    expect(pool.take(1)).toBe(first);
  });

  it('refuses to be written or read once released, so a buffer handed to the next request is never changed', () => {
    const pool = new BodyBufferPool();
    const writer = new DocumentWriter(1, 1000, pool);
    writer.action('index', '"p"', 'x');
    writer.add('{"a":1}');
    writer.release();
    const reused = pool.take(1000);
    reused.fill(0x20);
    expect(() => writer.add('{"b":2}')).toThrow('used after its buffer was released');
    expect(() => writer.addBytes(Buffer.from('{"b":2}'), 0, 7)).toThrow('used after its buffer was released');
    expect(() => writer.action('index', '"p"', 'y')).toThrow('used after its buffer was released');
    expect(() => writer.replaceIndexEnd(0, 'q')).toThrow('used after its buffer was released');
    expect(() => writer.bytes()).toThrow('used after its buffer was released');
    expect(reused.every((byte) => byte === 0x20)).toBe(true);
  });

  it('without a pool, release only ends the writer', () => {
    const writer = new DocumentWriter(2);
    writer.add('{"a":1}');
    writer.release();
    expect(() => writer.bytes()).toThrow('used after its buffer was released');
  });
});

describe('isoFromUs', () => {
  it('writes what Date.prototype.toISOString writes, for any microsecond from 1970 to 2200', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 7_258_118_400_000_000 }), (us) => {
        expect(isoFromUs(us)).toBe(new Date(Math.floor(us / 1000)).toISOString());
      }),
      { numRuns: 5000 },
    );
  });

  it('is right across day and second boundaries in both directions (the cached parts are replaced)', () => {
    const midnight = Date.UTC(2026, 10, 22) * 1000;
    for (const us of [midnight - 1, midnight, midnight + 1, midnight - 1, midnight + 86_400_000_000 - 1, midnight + 999_999, midnight + 1_000_000, midnight + 999_999, midnight + 61_000_000, midnight + 1_000]) {
      expect(isoFromUs(us)).toBe(new Date(Math.floor(us / 1000)).toISOString());
    }
  });
});
