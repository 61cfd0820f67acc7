/** BulkItem: one document of a bulk request: its action, target and JSON source (serialized once, reused by retries). */
export interface BulkItem {
  action: 'index' | 'create';
  index: string;
  id: string;
  /** source: the document: JSON object text, or its UTF-8 bytes (see {@link DocumentWriter}). */
  source: string | Buffer;
  /** sourceStart / sourceEnd: with bytes, the document is `source[sourceStart, sourceEnd)` (a range of a shared buffer). */
  sourceStart?: number;
  sourceEnd?: number;
}

/** INITIAL_BYTES_PER_ITEM: the first guess of a document's size in a {@link DocumentWriter}, bytes (it grows when short). */
const INITIAL_BYTES_PER_ITEM = 1024;

/** ACTION_LINE_BYTES: an action line's bytes besides its index name and id (`{"create":{"_index":"","_id":""}}` and newlines). */
const ACTION_LINE_BYTES = 40;

/**
 * bulkBody: the NDJSON body of a bulk request, written straight into one buffer. Joining the lines into a string
 * first cost more than serializing the spans (the joined string is flattened, then encoded to UTF-8 again by the
 * HTTP client).
 */
export function bulkBody(items: readonly BulkItem[]): Buffer {
  // Sized for the documents (exact for ASCII text): summaries are ~12 KB each, and growing by doubling copied
  // the body several times.
  let bytes = 0;
  for (const item of items) bytes += ACTION_LINE_BYTES + item.id.length + item.index.length + (typeof item.source === 'string' ? item.source.length : (item.sourceEnd ?? item.source.length) - (item.sourceStart ?? 0));
  const writer = new Utf8Writer(bytes);
  const indexJson = new Map<string, string>();
  for (const item of items) {
    let index = indexJson.get(item.index);
    if (index === undefined) {
      index = JSON.stringify(item.index);
      indexJson.set(item.index, index);
    }
    writeActionLine(writer, item.action, index, item.id);
    if (typeof item.source === 'string') writer.write(item.source);
    else writer.writeBytes(item.source, item.sourceStart ?? 0, item.sourceEnd ?? item.source.length);
    writer.write('\n');
  }
  return writer.bytes();
}

/** writeActionLine: a bulk action line (`indexJson` is the index name as a JSON string, ASCII); returns the offset of the index name's closing quote. */
function writeActionLine(writer: Utf8Writer, action: BulkItem['action'], indexJson: string, id: string): number {
  // One write per line: every Buffer#write is a call into C++, and a span costs three of them at most.
  const indexEnd = writer.length + action.length + 14 + indexJson.length - 1; // 14: `{"` and `":{"_index":`
  writer.write(`{"${action}":{"_index":${indexJson},"_id":${JSON.stringify(id)}}}\n`);
  return indexEnd;
}

/** BODY_POOL_FREE_BUFFERS: free body buffers a {@link BodyBufferPool} keeps by default (span bulks in flight at once, plus one). */
export const BODY_POOL_FREE_BUFFERS = 4;

/** BODY_POOL_MAX_BYTES: the largest buffer a {@link BodyBufferPool} keeps by default, bytes (64 MiB; larger ones are let go). */
export const BODY_POOL_MAX_BYTES = 64 * 1024 * 1024;

/**
 * BodyBufferPool: bulk body buffers used again once their request is over. A span bulk is ~7-10 MB: a fresh
 * buffer per bulk cost page faults on every first write, and V8 counts each as new external memory, which
 * started young-generation collections of its own ("external memory pressure"). Holds at most `maxFree`
 * buffers (default {@link BODY_POOL_FREE_BUFFERS}) of at most `maxBytes` (default {@link BODY_POOL_MAX_BYTES}).
 * A buffer given back must not be read or written by its former owner any more: the next `take` hands it out.
 */
export class BodyBufferPool {
  private readonly free: Buffer[] = [];

  constructor(readonly maxFree = BODY_POOL_FREE_BUFFERS, readonly maxBytes = BODY_POOL_MAX_BYTES) {}

  /** size: free buffers held. */
  get size(): number {
    return this.free.length;
  }

  /** take: the smallest free buffer of at least `minBytes`, or a new one of `minBytes` (at least 256 bytes). */
  take(minBytes: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const length = (this.free[i] as Buffer).length;
      if (length >= minBytes && (best < 0 || length < (this.free[best] as Buffer).length)) best = i;
    }
    if (best >= 0) return this.free.splice(best, 1)[0] as Buffer;
    return Buffer.allocUnsafe(Math.max(minBytes, 256));
  }

  /** give: takes back a buffer (the whole allocation, not a view); a full pool keeps the larger ones. */
  give(buffer: Buffer): void {
    if (buffer.length > this.maxBytes || this.maxFree === 0 || this.free.includes(buffer)) return;
    if (this.free.length < this.maxFree) {
      this.free.push(buffer);
      return;
    }
    let smallest = 0;
    for (let i = 1; i < this.free.length; i++) if ((this.free[i] as Buffer).length < (this.free[smallest] as Buffer).length) smallest = i;
    if ((this.free[smallest] as Buffer).length < buffer.length) this.free[smallest] = buffer;
  }
}

/** FRESH_BUFFERS: a pool that keeps nothing: every take is a new buffer, every give is left to the GC. */
const FRESH_BUFFERS = new BodyBufferPool(0);

/** Utf8Writer: a growable buffer of UTF-8 text, its buffers from `pool` (default: fresh ones). */
class Utf8Writer {
  private buffer: Buffer;
  /** length: bytes written so far. */
  length = 0;

  constructor(initialBytes: number, private readonly pool = FRESH_BUFFERS) {
    this.buffer = pool.take(initialBytes);
  }

  write(text: string): void {
    // A UTF-16 code unit is at most 3 UTF-8 bytes, so this much room always takes the whole text.
    this.reserve(text.length * 3);
    this.length += this.buffer.write(text, this.length, 'utf8');
  }

  /** writeBytes: appends `bytes[start, end)`. */
  writeBytes(bytes: Uint8Array, start: number, end: number): void {
    this.reserve(end - start);
    // Buffer#copy needs no view of the range (a view per span was measurable); other byte arrays get one.
    if (Buffer.isBuffer(bytes)) bytes.copy(this.buffer, this.length, start, end);
    else this.buffer.set(bytes.subarray(start, end), this.length);
    this.length += end - start;
  }

  /** overwrite: replaces the bytes at `at` with ASCII `text`, within what is written. */
  overwrite(at: number, text: string): void {
    if (at < 0 || at + text.length > this.length) throw new RangeError(`overwrite at ${at} of ${text.length} bytes is outside the ${this.length} written`);
    this.buffer.write(text, at, 'latin1');
  }

  /** unwrite: drops the last `bytes` bytes written (ASCII ones: a closing brace). */
  unwrite(bytes: number): void {
    this.length -= bytes;
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  /** release: gives the buffer back to the pool; the writer and every view of its bytes are not used after. */
  release(): void {
    this.pool.give(this.buffer);
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const size = Math.max(this.buffer.length * 2, this.length + bytes);
    const grown = this.pool.take(size);
    this.buffer.copy(grown, 0, 0, this.length);
    this.pool.give(this.buffer);
    this.buffer = grown;
  }
}

/**
 * DocumentWriter: JSON documents serialized one after another into one off-heap buffer, each optionally with
 * extra members written over its closing brace (a span plus its `startTime`). The span-assembler serializes a
 * batch's spans before the store's round trips, so what waits for Elasticsearch is bytes outside the JS heap, not
 * thousands of span objects and strings that the garbage collector would copy and promote.
 *
 * With {@link action} before each document, the buffer is a whole bulk request body (action line, document,
 * newline per item), written once: copying every span document a second time into a separate body was 3.6% of
 * span-assembler's profile.
 */
export class DocumentWriter {
  private readonly writer: Utf8Writer;
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  /** indexEnds: per document with an action line, the byte offset of its index name's closing quote. */
  private readonly indexEnds: number[] = [];
  private bulkItems = false;

  private released = false;

  /**
   * expectedBytes: the first buffer's size, bytes (default `expectedDocuments` × 1 KiB; it grows as needed).
   * pool: where buffers come from and go back to ({@link release}); none = fresh ones, left to the GC.
   */
  constructor(expectedDocuments: number, expectedBytes = expectedDocuments * INITIAL_BYTES_PER_ITEM, pool?: BodyBufferPool) {
    this.writer = new Utf8Writer(expectedBytes, pool);
  }

  /**
   * release: gives the buffer back to the pool once nothing reads the documents any more (their request and its
   * retries are over). Any {@link bytes} taken before must not be used after; a second release does nothing.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.writer.release();
  }

  /**
   * action: writes the bulk action line of the next document (then add it with {@link add} or {@link addBytes}).
   * Either every document of the writer gets one or none does.
   */
  action(action: BulkItem['action'], indexJson: string, id: string): void {
    this.assertHeld();
    this.bulkItems = true;
    this.indexEnds.push(writeActionLine(this.writer, action, indexJson, id));
  }

  /**
   * replaceIndexEnd: overwrites the end of document `position`'s index name with `text`, as many ASCII
   * characters (the day of a daily index, once the trace's day is known).
   */
  replaceIndexEnd(position: number, text: string): void {
    const end = this.indexEnds[position];
    if (end === undefined) throw new Error(`document ${position} has no action line`);
    this.assertHeld();
    this.writer.overwrite(end - text.length, text);
  }

  /** add: appends one document (a JSON object text) and, if given, `extraMembers` (`"a":1,"b":2`) inside it; returns its position. */
  add(json: string, extraMembers?: string): number {
    this.assertHeld();
    this.starts.push(this.writer.length);
    this.writer.write(json);
    return this.close(extraMembers);
  }

  /**
   * addBytes: as {@link add}, for a document already encoded: `bytes[start, end)`, a JSON object text (non-empty:
   * at least one member, and its last byte the closing brace).
   */
  addBytes(bytes: Uint8Array, start: number, end: number, extraMembers?: string): number {
    this.assertHeld();
    this.starts.push(this.writer.length);
    this.writer.writeBytes(bytes, start, end);
    return this.close(extraMembers);
  }

  private close(extraMembers: string | undefined): number {
    const newline = this.bulkItems ? '\n' : '';
    if (extraMembers !== undefined) {
      this.writer.unwrite(1); // the closing brace
      this.writer.write(`,${extraMembers}}${newline}`);
    } else if (this.bulkItems) this.writer.write(newline);
    this.ends.push(this.writer.length - newline.length);
    return this.ends.length - 1;
  }

  /**
   * bytes: the buffer holding every document, document `i` at `[start(i), end(i))` (with action lines: the bulk
   * body). Take it once every document is added (the buffer is replaced while it grows). Ranges instead of a view
   * per document: a Buffer view per span was 2% of span-assembler's CPU.
   */
  bytes(): Buffer {
    this.assertHeld();
    return this.writer.bytes();
  }

  private assertHeld(): void {
    // Writing into a buffer given back would change another request's body.
    if (this.released) throw new Error('DocumentWriter: used after its buffer was released');
  }

  /** start: where document `position` begins in {@link bytes}. */
  start(position: number): number {
    return this.starts[position] as number;
  }

  /** end: where document `position` ends in {@link bytes} (exclusive). */
  end(position: number): number {
    return this.ends[position] as number;
  }
}

let cachedDayMs = Number.NaN;
let cachedDayPrefix = '';
let cachedSecondMs = Number.NaN;
let cachedSecondPrefix = '';

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);
/** MILLIS: `.000Z` … `.999Z`, the end of an ISO time for each millisecond of a second. */
const MILLIS = Array.from({ length: 1000 }, (_, ms) => `.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`);

/**
 * isoFromUs: epoch microseconds → ISO 8601 UTC with milliseconds, as `Date.prototype.toISOString` writes it.
 * Everything up to the second is cached for the last second seen (and the date part for the last day): every
 * span document gets one, spans of a batch mostly share their second, and a Date per span showed up in the
 * assembler's profile.
 */
export function isoFromUs(timeUs: number): string {
  const ms = Math.floor(timeUs / 1000);
  const secondMs = ms - (((ms % 1000) + 1000) % 1000);
  if (secondMs !== cachedSecondMs) {
    const dayMs = Math.floor(ms / 86_400_000) * 86_400_000;
    if (dayMs !== cachedDayMs) {
      const iso = new Date(dayMs).toISOString();
      cachedDayPrefix = iso.slice(0, iso.indexOf('T') + 1);
      cachedDayMs = dayMs;
    }
    let rest = secondMs - dayMs;
    const hours = Math.floor(rest / 3_600_000);
    rest -= hours * 3_600_000;
    const minutes = Math.floor(rest / 60_000);
    rest -= minutes * 60_000;
    cachedSecondPrefix = `${cachedDayPrefix}${pad2(hours)}:${pad2(minutes)}:${pad2(Math.floor(rest / 1000))}`;
    cachedSecondMs = secondMs;
  }
  return cachedSecondPrefix + (MILLIS[ms - secondMs] as string);
}
