import { PartitionOffset } from '../ports/message-bus.port';
import { Span } from '../span/span.model';
import { MAX_SUMMARY_TAGS, MAX_SUMMARY_TAG_VALUE, SummarySpan, compactSpan, summaryTag } from './trace-summary';

/** OpenTraceLimits: how long a trace stays open and how much the assembler may hold in memory. */
export interface OpenTraceLimits {
  /** idleMs: a trace is summarised once no span of it arrived for this long, milliseconds (default 5000). */
  idleMs: number;
  /** maxOpenTraces: most traces held at once; when reached, consuming pauses until some are summarised (default 50 000). */
  maxOpenTraces: number;
  /** maxSpansPerTrace: most spans held per open trace; further ones are stored but the summary is marked truncated (default 10 000). */
  maxSpansPerTrace: number;
  /** maxOpenSpans: most spans held over all open traces (the memory bound); when reached, consuming pauses as for maxOpenTraces (default 500 000). */
  maxOpenSpans: number;
}

/** DEFAULT_OPEN_TRACE_LIMITS: the defaults of {@link OpenTraceLimits}. */
export const DEFAULT_OPEN_TRACE_LIMITS: OpenTraceLimits = { idleMs: 5_000, maxOpenTraces: 50_000, maxSpansPerTrace: 10_000, maxOpenSpans: 500_000 };

/**
 * TraceTagSet: the distinct `key=value` tags of an open trace, in arrival order. It holds key and value apart
 * (a map of value sets) and builds the `key=value` strings only when the summary is written: the assembler
 * sees every tag of every span, most of them repeats, and a string per tag per span was 8% of its CPU.
 */
export class TraceTagSet implements Iterable<string> {
  /** byKey: key → its values; built on the first add or has (a copy made by {@link from} is mostly only read). */
  private byKey: Map<string, Set<string>> | undefined;

  constructor(
    private readonly keys: string[] = [],
    private readonly values: string[] = [],
  ) {}

  /** size: distinct tags held. */
  get size(): number {
    return this.keys.length;
  }

  /** add: adds the tag unless it is held (values compare on their first {@link MAX_SUMMARY_TAG_VALUE} characters); false when it was. */
  add(key: string, value: string): boolean {
    const kept = value.length > MAX_SUMMARY_TAG_VALUE ? value.slice(0, MAX_SUMMARY_TAG_VALUE) : value;
    const byKey = this.index();
    let values = byKey.get(key);
    if (values === undefined) {
      values = new Set();
      byKey.set(key, values);
    } else if (values.has(kept)) return false;
    values.add(kept);
    this.keys.push(key);
    this.values.push(kept);
    return true;
  }

  /** has: whether the tag is held. */
  has(key: string, value: string): boolean {
    return this.index().get(key)?.has(value.length > MAX_SUMMARY_TAG_VALUE ? value.slice(0, MAX_SUMMARY_TAG_VALUE) : value) ?? false;
  }

  /** pairs: the held tags as parallel key and value lists, in arrival order (the set's own lists: do not change them). */
  pairs(): { keys: readonly string[]; values: readonly string[] } {
    return { keys: this.keys, values: this.values };
  }

  /**
   * from: a new set with the tags added after the first `count` (what arrived after a snapshot of that size).
   * The held pairs are distinct already: the copy takes the lists as they are and indexes them only when it is
   * added to. A snapshot of an open trace waits for the summary's write, and its index would only be garbage
   * promoted by the collector.
   */
  from(count: number): TraceTagSet {
    return new TraceTagSet(this.keys.slice(count), this.values.slice(count));
  }

  private index(): Map<string, Set<string>> {
    if (this.byKey !== undefined) return this.byKey;
    const byKey = new Map<string, Set<string>>();
    for (let i = 0; i < this.keys.length; i++) {
      const key = this.keys[i] as string;
      const values = byKey.get(key);
      if (values === undefined) byKey.set(key, new Set([this.values[i] as string]));
      else values.add(this.values[i] as string);
    }
    this.byKey = byKey;
    return byKey;
  }

  /** [Symbol.iterator]: the tags as {@link summaryTag} strings, in arrival order. */
  *[Symbol.iterator](): Iterator<string> {
    for (let i = 0; i < this.keys.length; i++) yield summaryTag(this.keys[i] as string, this.values[i] as string);
  }
}

/**
 * StringInterner: one string object per distinct value (service, operation and host names repeat across spans,
 * but JSON.parse makes a new string for each). At most `maxStrings` (default 10 000) are kept; when full it
 * starts over, so a high-cardinality name costs a map entry, never unbounded memory.
 */
export class StringInterner {
  private strings = new Map<string, string>();

  constructor(private readonly maxStrings = 10_000) {}

  /** size: strings kept. */
  get size(): number {
    return this.strings.size;
  }

  /** intern: the kept string equal to `value` (kept from now on when it is new). */
  intern(value: string): string {
    const kept = this.strings.get(value);
    if (kept !== undefined) return kept;
    if (this.strings.size >= this.maxStrings) this.strings = new Map();
    this.strings.set(value, value);
    return value;
  }
}

/** HeldTraceTags: the distinct tags of one trace among some spans. */
export interface HeldTraceTags {
  traceId: string;
  tags: TraceTagSet;
}

/**
 * HeldSpans: what the open-trace buffer keeps of some spans (one topic record's): their compact form, and per
 * trace their distinct tags. Made before the spans are stored, so that while the store works the whole spans
 * and their tag objects are garbage (they die young) and only this much survives; a trace first seen in the
 * record then keeps its tag set as it is.
 */
export interface HeldSpans {
  spans: SummarySpan[];
  tags: HeldTraceTags[];
}

/**
 * holdSpans: the {@link HeldSpans} of `spans`. The spans of one trace share one trace id string, and service,
 * operation and host go through `strings` when given: an open span is held for the idle period (seconds, so
 * promoted to the old generation), and these strings were most of its size.
 */
export function holdSpans(spans: readonly Span[], strings?: StringInterner): HeldSpans {
  const held: SummarySpan[] = [];
  const byTrace = new Map<string, TraceTagSet>();
  let traceId = '';
  let traceTags: TraceTagSet | undefined;
  for (const span of spans) {
    if (traceTags === undefined || span.traceId !== traceId) {
      traceId = span.traceId;
      traceTags = byTrace.get(traceId);
      if (traceTags === undefined) {
        traceTags = new TraceTagSet();
        byTrace.set(traceId, traceTags);
      }
    }
    const compact = compactSpan(span);
    compact.traceId = traceId;
    if (strings !== undefined) {
      compact.service = strings.intern(compact.service);
      compact.operation = strings.intern(compact.operation);
      if (compact.host !== undefined) compact.host = strings.intern(compact.host);
    }
    held.push(compact);
    const spanTags = span.tags;
    for (const key in spanTags) traceTags.add(key, spanTags[key] as string);
  }
  const tags: HeldTraceTags[] = [];
  for (const [id, set] of byTrace) if (set.size > 0) tags.push({ traceId: id, tags: set });
  return { spans: held, tags };
}

/** OpenTrace: the spans of one trace received since its summary was last written. */
export interface OpenTrace {
  traceId: string;
  /** earliestStartUs: the earliest start among the held spans, µs (locates the trace's stored summary). */
  earliestStartUs: number;
  /** spans: compact spans, at most `maxSpansPerTrace`. */
  spans: SummarySpan[];
  /** tags: the distinct tags of the held spans (at most {@link MAX_SUMMARY_TAGS}). */
  tags: TraceTagSet;
  /** truncated: spans or tags beyond the limits arrived (they are stored; the summary does not count them). */
  truncated: boolean;
  /** lastSeenMs: when its latest span arrived (the idle clock). */
  lastSeenMs: number;
  /** offsets: the partition offsets of the records its spans came from (released once the summary is durable). */
  offsets: PartitionOffset[];
}

/**
 * OpenTraceBuffer: the span-assembler's memory between "spans stored" and "summary written". It holds open
 * traces until they are idle, and knows per partition which offsets may be committed: everything before the
 * oldest record whose trace still waits for its summary. Pure bookkeeping: the caller does the I/O.
 */
export class OpenTraceBuffer {
  private readonly traces = new Map<string, OpenTrace>();
  /** pending: per partition, offset → number of open traces waiting on that record. */
  private readonly pending = new Map<number, Map<number, number>>();
  /** handledUpTo: per partition, the offset after the last record handled. */
  private readonly handledUpTo = new Map<number, number>();
  /** reported: per partition, the last offset reported by {@link commitOffsets}. */
  private readonly reported = new Map<number, number>();
  private heldSpans = 0;

  constructor(readonly limits: OpenTraceLimits = DEFAULT_OPEN_TRACE_LIMITS) {}

  /** size: open traces. */
  get size(): number {
    return this.traces.size;
  }

  /** spanCount: spans held over all open traces. */
  get spanCount(): number {
    return this.heldSpans;
  }

  /** full: no more traces or spans may be held (the consumer should wait for summaries to be written). */
  isFull(): boolean {
    return this.traces.size >= this.limits.maxOpenTraces || this.heldSpans >= this.limits.maxOpenSpans;
  }

  /**
   * add: the stored spans of one record (partition, offset), as {@link holdSpans} made them; they keep their trace
   * open until it is idle. The span objects are held as given: whatever they carry stays in memory until the
   * summary is written. Tags count into their trace's tag set (a trace without a span here is ignored); the
   * first tag set of a trace becomes its own (the caller must not use it afterwards).
   */
  add(partition: number, offset: number, held: HeldSpans, nowMs: number): void {
    for (const span of held.spans) {
      let trace = this.traces.get(span.traceId);
      if (trace === undefined) {
        trace = { traceId: span.traceId, earliestStartUs: span.startTimeUs, spans: [], tags: new TraceTagSet(), truncated: false, lastSeenMs: nowMs, offsets: [] };
        this.traces.set(span.traceId, trace);
      }
      trace.lastSeenMs = nowMs;
      if (span.startTimeUs < trace.earliestStartUs) trace.earliestStartUs = span.startTimeUs;
      if (trace.spans.length < this.limits.maxSpansPerTrace) {
        trace.spans.push(span);
        this.heldSpans++;
      } else trace.truncated = true;
      // The spans of one record mostly share a trace: only its first span of this record registers the offset.
      const last = trace.offsets[trace.offsets.length - 1];
      if (last !== undefined && last.partition === partition && last.offset === offset) continue;
      if (!trace.offsets.some((o) => o.partition === partition && o.offset === offset)) {
        trace.offsets.push({ partition, offset });
        const counts = this.pending.get(partition) ?? new Map<number, number>();
        counts.set(offset, (counts.get(offset) ?? 0) + 1);
        this.pending.set(partition, counts);
      }
    }
    for (const { traceId, tags } of held.tags) {
      const trace = this.traces.get(traceId);
      if (trace === undefined) continue;
      // Mostly a trace's spans come in one record: its tag set then becomes the trace's, not copied tag by tag
      // (the record's set waited for the span write: a copy would leave it as promoted garbage).
      if (trace.tags.size === 0 && tags.size <= MAX_SUMMARY_TAGS) {
        trace.tags = tags;
        continue;
      }
      const { keys, values } = tags.pairs();
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        const value = values[i] as string;
        if (trace.tags.size < MAX_SUMMARY_TAGS) trace.tags.add(key, value);
        else if (!trace.tags.has(key, value)) trace.truncated = true;
      }
    }
  }

  /** handled: every record of the partition before `nextOffset` has been processed (its spans added or skipped). */
  handled(partition: number, nextOffset: number): void {
    this.handledUpTo.set(partition, Math.max(this.handledUpTo.get(partition) ?? 0, nextOffset));
  }

  /** watermark: the offset up to which the partition may be committed (its oldest record still waiting, or all handled). */
  watermark(partition: number): number {
    let oldest = Infinity;
    for (const offset of this.pending.get(partition)?.keys() ?? []) oldest = Math.min(oldest, offset);
    return oldest === Infinity ? (this.handledUpTo.get(partition) ?? 0) : oldest;
  }

  /** due: open traces idle for at least `idleMs` (all of them when `all`), longest idle first, at most `max`. */
  due(nowMs: number, max: number, all = false): OpenTrace[] {
    const out: OpenTrace[] = [];
    // Map order is insertion order, not idle order: scan everything (bounded by maxOpenTraces).
    for (const trace of this.traces.values()) if (all || nowMs - trace.lastSeenMs >= this.limits.idleMs) out.push(trace);
    out.sort((a, b) => a.lastSeenMs - b.lastSeenMs);
    return out.slice(0, max);
  }

  /**
   * summarised: the summaries of these traces are durable (or were given up): forget them and release their
   * offsets. A trace that received spans after `snapshot` was taken stays open with only the newer spans.
   */
  summarised(snapshots: OpenTrace[]): void {
    for (const snapshot of snapshots) {
      const trace = this.traces.get(snapshot.traceId);
      if (trace === undefined) continue;
      // Spans and offsets are only ever appended, so what came after the snapshot is the tail.
      const released = trace.offsets.slice(0, snapshot.offsets.length);
      const newerSpans = trace.spans.slice(snapshot.spans.length);
      this.heldSpans -= trace.spans.length - newerSpans.length;
      const newerOffsets = trace.offsets.slice(snapshot.offsets.length);
      for (const { partition, offset } of released) {
        const counts = this.pending.get(partition);
        const left = (counts?.get(offset) ?? 0) - 1;
        if (left > 0) counts?.set(offset, left);
        else counts?.delete(offset);
      }
      if (newerSpans.length === 0 && newerOffsets.length === 0) {
        this.traces.delete(snapshot.traceId);
        continue;
      }
      trace.spans = newerSpans;
      trace.offsets = newerOffsets;
      // Tags are only ever appended too: those beyond the snapshot's arrived after it.
      trace.tags = trace.tags.from(snapshot.tags.size);
      trace.truncated = trace.truncated && !snapshot.truncated;
      trace.earliestStartUs = Math.min(...newerSpans.map((span) => span.startTimeUs), trace.earliestStartUs);
    }
  }

  /** take: a snapshot of the trace as it is now (the caller writes its summary, then calls {@link summarised}). */
  take(traces: OpenTrace[]): OpenTrace[] {
    return traces.map((trace) => ({ ...trace, spans: [...trace.spans], tags: trace.tags.from(0), offsets: [...trace.offsets] }));
  }

  /** commitOffsets: the partitions whose watermark moved since the last call, with their new watermark. */
  commitOffsets(): PartitionOffset[] {
    const out: PartitionOffset[] = [];
    for (const partition of this.handledUpTo.keys()) {
      const offset = this.watermark(partition);
      if (offset > (this.reported.get(partition) ?? -1)) {
        out.push({ partition, offset });
        this.reported.set(partition, offset);
      }
    }
    return out;
  }

  /** isOpen: whether spans of the trace are waiting for its summary. */
  isOpen(traceId: string): boolean {
    return this.traces.has(traceId);
  }
}
