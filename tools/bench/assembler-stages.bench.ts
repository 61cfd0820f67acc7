/**
 * assembler-stages.bench: CPU per span of each in-process step of span-assembler, on the assembler bench's
 * traces, without Kafka or Elasticsearch: message decode, span documents (NDJSON bulk body: spans serialized,
 * or their JSON text taken from the messages as writeSpans does),
 * open-trace buffer, summary merge; and all of them together as the assembler runs them in steady state
 * ("whole pipeline": batches of 100 messages decoded, their span documents and bulk body built, their traces
 * held open for `--window` traces and then summarised, summary documents and their bulk body built), with the
 * garbage collector's share. Single-threaded, bounded (a fixed number of rounds), prints µs per span.
 *
 *   node -r ./tools/register.js tools/bench/assembler-stages.bench.ts [--traces 3000] [--rounds 5] [--window 2000]
 */
import { BulkItem, SpanBulkBuilder, bulkBody, spanBulkDocuments, summaryDocumentSource } from '@skein/adapter-elasticsearch';
import { decodeSpanMessage, encodeSpanMessages } from '@skein/contracts';
import { HeldSpans, OpenTraceBuffer, Span, SpanJson, StringInterner, decodeNativeBatch, holdSpans, mergeCompactSpans, spanDocumentId } from '@skein/domain';
import { PerformanceObserver } from 'node:perf_hooks';
import { nativeBodies } from './ingest-gateway.bench';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isFinite(value) || value < 1) throw new Error(`--${name} must be a positive number`);
  return Math.floor(value);
}

const traces = arg('traces', 3000);
const rounds = arg('rounds', 5);
// window: traces held open at once in the whole-pipeline stage (the assembler holds ~5 s of traffic: ~2,000 traces at 20k spans/s).
const window = arg('window', 2000);
const bodies = nativeBodies({ pool: Math.ceil(traces / 10), tracesPerRequest: 10, spansPerTrace: 50, lz4BlockKb: undefined });
const values = bodies.flatMap((body) => encodeSpanMessages(decodeNativeBatch(body, 'lz4')).map((m) => m.value));
const spanCount = values.reduce((n, v) => n + (decodeSpanMessage(v) as { message: { spans: Span[] } }).message.spans.length, 0);

const MESSAGES_PER_BATCH = 100;
const SUMMARIES_PER_BULK = 500;
const iso = (us: number) => new Date(Math.floor(us / 1000)).toISOString();
const stages: Record<string, () => unknown> = {
  'decode (JSON.parse + validateSpan)': () => values.map((v) => decodeSpanMessage(v)),
};
const decodedMessages = values.map((v) => decodeSpanMessage(v) as Extract<ReturnType<typeof decodeSpanMessage>, { ok: true }>);
const decoded = decodedMessages.map((m) => m.message.spans);
const all = decoded.flat();
const allJson = decodedMessages.flatMap((m) => m.json);
// 5,000 spans per bulk, as the assembler's batches.
const bulks: Span[][] = [];
const bulkJson: (SpanJson | undefined)[][] = [];
for (let i = 0; i < all.length; i += 5000) {
  bulks.push(all.slice(i, i + 5000));
  bulkJson.push(allJson.slice(i, i + 5000));
}
/** spanBulkBody: the span bulk body as ElasticsearchTraceStore.writeSpans builds it (the message's span JSON where given). */
function spanBulkBody(spans: Span[], json: readonly (SpanJson | undefined)[]): Buffer {
  return spanBulkDocuments('skein', spans, json).documents.bytes();
}
stages['bulk body, the ES client\'s way ({...span, startTime}, JSON.stringify per line, joined)'] = () =>
  bulks.map((spans) => {
    const lines: string[] = [];
    for (const span of spans) lines.push(JSON.stringify({ index: { _index: 'skein-spans-2026-11-22', _id: spanDocumentId(span) } }), JSON.stringify({ ...span, startTime: iso(span.startTimeUs) }));
    return Buffer.from(`${lines.join('\n')}\n`);
  });
stages['bulk body, ElasticsearchTraceStore, spans serialized (spanBulkDocuments)'] = () => bulks.map((spans) => spanBulkBody(spans, []));
stages['bulk body, ElasticsearchTraceStore, span JSON from the messages'] = () => bulks.map((spans, i) => spanBulkBody(spans, bulkJson[i] as (SpanJson | undefined)[]));
stages['open-trace buffer add'] = () => {
  const buffer = new OpenTraceBuffer({ idleMs: 5000, maxOpenTraces: 1e6, maxSpansPerTrace: 10_000, maxOpenSpans: 1e7 });
  decoded.forEach((spans, offset) => buffer.add(0, offset, holdSpans(spans), 0));
  return buffer;
};
// As the assembler merges: the compact spans and distinct tags an open trace holds, no previous summary.
const open = stages['open-trace buffer add']() as OpenTraceBuffer;
const openTraces = open.take(open.due(0, Number.MAX_SAFE_INTEGER, true));
stages['summary merge (mergeCompactSpans of open traces)'] = () => openTraces.map((trace) => mergeCompactSpans(undefined, trace.spans, { tags: trace.tags, truncated: trace.truncated }));

const states = openTraces.map((trace) => mergeCompactSpans(undefined, trace.spans, { tags: trace.tags, truncated: trace.truncated }));
const summaryBulk = (part: typeof states) => bulkBody(part.map((state): BulkItem => ({ action: 'index', index: 'skein-traces-2026-11-22', id: state.summary.traceId, source: summaryDocumentSource(state) })));
stages['summary documents (summaryDocumentSource + bulkBody, 500 per bulk)'] = () => {
  for (let i = 0; i < states.length; i += SUMMARIES_PER_BULK) summaryBulk(states.slice(i, i + SUMMARIES_PER_BULK));
};

// The whole pipeline, in the order span-assembler runs it (SpanAssemblerService.handleBatch, spanWriter, flushOnce).
stages['whole pipeline (decode, documents, buffer, summaries; steady state)'] = () => {
  const buffer = new OpenTraceBuffer({ idleMs: Math.ceil(window / MESSAGES_PER_BATCH), maxOpenTraces: 1e6, maxSpansPerTrace: 10_000, maxOpenSpans: 1e7 });
  const strings = new StringInterner();
  let bytes = 0;
  const flush = (nowMs: number, all: boolean) => {
    for (;;) {
      const due = buffer.take(buffer.due(nowMs, SUMMARIES_PER_BULK, all));
      if (due.length === 0) return;
      bytes += summaryBulk(due.map((trace) => mergeCompactSpans(undefined, trace.spans, { tags: trace.tags, truncated: trace.truncated }))).length;
      buffer.summarised(due);
    }
  };
  for (let first = 0, batch = 0; first < values.length; first += MESSAGES_PER_BATCH, batch++) {
    const perRecord: { offset: number; held: HeldSpans }[] = [];
    // As ElasticsearchTraceStore.spanWriter: each record's spans go into the bulk body as they are decoded.
    const builder = new SpanBulkBuilder('skein', 1000);
    for (let offset = first; offset < Math.min(first + MESSAGES_PER_BATCH, values.length); offset++) {
      const decoded = decodeSpanMessage(values[offset] as Buffer);
      if (!decoded.ok) throw new Error('bench message did not decode');
      const { spans } = decoded.message;
      for (let i = 0; i < spans.length; i++) builder.add(spans[i] as Span, decoded.json[i]);
      perRecord.push({ offset, held: holdSpans(spans, strings) });
    }
    bytes += builder.finish().documents.bytes().length;
    for (const { offset, held } of perRecord) buffer.add(0, offset, held, batch);
    buffer.handled(0, first + MESSAGES_PER_BATCH);
    flush(batch, false);
  }
  flush(Number.MAX_SAFE_INTEGER, true);
  return bytes;
};

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
}).observe({ entryTypes: ['gc'] });

async function main(): Promise<void> {
  process.stdout.write(`${values.length} messages, ${spanCount} spans, ${rounds} rounds (best round shown)\n`);
  for (const [name, run] of Object.entries(stages)) {
    let best = Infinity;
    let bestGcMs = 0;
    for (let r = 0; r < rounds; r++) {
      const gcBefore = gcMs;
      const t0 = process.hrtime.bigint();
      run();
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      // GC entries are delivered asynchronously; those of this round arrive before the next round's await ends.
      await new Promise((resolve) => setImmediate(resolve));
      if (us < best) {
        best = us;
        bestGcMs = gcMs - gcBefore;
      }
    }
    const gcShare = best > 0 ? ` (GC ${((bestGcMs * 1000) / spanCount).toFixed(2)} µs/span)` : '';
    process.stdout.write(`${(best / spanCount).toFixed(2).padStart(7)} µs/span  ${name}${gcShare}\n`);
  }
}

void main();
