/** BulkItem: one document of a bulk request: its action, target and JSON source (serialized once, reused by retries). */
export interface BulkItem {
  action: 'index' | 'create';
  index: string;
  id: string;
  /** source: the document as a JSON object text. */
  source: string;
  /** extraMembers: JSON members written into `source` before its closing brace (`"startTime":"…"`), if any. */
  extraMembers?: string;
}

/** INITIAL_BYTES_PER_ITEM: the first guess of a document's size in a bulk body, bytes (the body grows when it is short). */
const INITIAL_BYTES_PER_ITEM = 1024;

/**
 * bulkBody: the NDJSON body of a bulk request, written straight into one buffer. Joining the lines into a string
 * first cost more than serializing the spans (the joined string is flattened, then encoded to UTF-8 again by the
 * HTTP client); a span's `startTime` is written over the closing brace of its JSON instead of copying the span.
 */
export function bulkBody(items: readonly BulkItem[]): Buffer {
  const writer = new BodyWriter(items.length * INITIAL_BYTES_PER_ITEM);
  const indexJson = new Map<string, string>();
  for (const item of items) {
    let index = indexJson.get(item.index);
    if (index === undefined) {
      index = JSON.stringify(item.index);
      indexJson.set(item.index, index);
    }
    writer.write(`{"${item.action}":{"_index":${index},"_id":${JSON.stringify(item.id)}}}\n`);
    writer.write(item.source);
    if (item.extraMembers !== undefined) {
      writer.unwrite(1); // the source's closing brace
      writer.write(`,${item.extraMembers}}`);
    }
    writer.write('\n');
  }
  return writer.bytes();
}

/** BodyWriter: a growable UTF-8 buffer. */
class BodyWriter {
  private buffer: Buffer;
  private length = 0;

  constructor(initialBytes: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(initialBytes, 256));
  }

  write(text: string): void {
    // A UTF-16 code unit is at most 3 UTF-8 bytes, so this much room always takes the whole text.
    const worst = text.length * 3;
    if (this.length + worst > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + worst));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.length += this.buffer.write(text, this.length, 'utf8');
  }

  unwrite(bytes: number): void {
    this.length -= bytes;
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}

let cachedDayMs = Number.NaN;
let cachedDayPrefix = '';

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/**
 * isoFromUs: epoch microseconds → ISO 8601 UTC with milliseconds, as `Date.prototype.toISOString` writes it.
 * The date part is cached for the last day seen: every span document gets one, and a Date per span showed up
 * in the assembler's profile.
 */
export function isoFromUs(timeUs: number): string {
  const ms = Math.floor(timeUs / 1000);
  const dayMs = Math.floor(ms / 86_400_000) * 86_400_000;
  if (dayMs !== cachedDayMs) {
    const iso = new Date(dayMs).toISOString();
    cachedDayPrefix = iso.slice(0, iso.indexOf('T') + 1);
    cachedDayMs = dayMs;
  }
  let rest = ms - dayMs;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  return `${cachedDayPrefix}${pad2(hours)}:${pad2(minutes)}:${pad2(seconds)}.${pad3(rest - seconds * 1000)}Z`;
}
