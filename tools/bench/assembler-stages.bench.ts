/**
 * assembler-stages.bench: CPU per span of each in-process step of span-assembler, on the assembler bench's
 * traces, without Kafka or Elasticsearch: message decode, span document serialization (NDJSON bulk body),
 * open-trace buffer, summary merge. Single-threaded, bounded (a fixed number of rounds), prints µs per span.
 *
 *   node -r ./tools/register.js tools/bench/assembler-stages.bench.ts [--traces 3000] [--rounds 5]
 */
import { DocumentWriter, bulkBody, isoFromUs } from '@skein/adapter-elasticsearch';
import { decodeSpanMessage, encodeSpanMessages } from '@skein/contracts';
import { OpenTraceBuffer, Span, decodeNativeBatch, mergeTraceSummary, spanDocumentId } from '@skein/domain';
import { nativeBodies } from './ingest-gateway.bench';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isFinite(value) || value < 1) throw new Error(`--${name} must be a positive number`);
  return Math.floor(value);
}

const traces = arg('traces', 3000);
const rounds = arg('rounds', 5);
const bodies = nativeBodies({ pool: Math.ceil(traces / 10), tracesPerRequest: 10, spansPerTrace: 50, lz4BlockKb: undefined });
const values = bodies.flatMap((body) => encodeSpanMessages(decodeNativeBatch(body, 'lz4')).map((m) => m.value));
const spanCount = values.reduce((n, v) => n + (decodeSpanMessage(v) as { message: { spans: Span[] } }).message.spans.length, 0);

const iso = (us: number) => new Date(Math.floor(us / 1000)).toISOString();
const stages: Record<string, () => unknown> = {
  'decode (JSON.parse + validateSpan)': () => values.map((v) => decodeSpanMessage(v)),
};
const decoded = values.map((v) => (decodeSpanMessage(v) as { message: { spans: Span[] } }).message.spans);
const all = decoded.flat();
// 5,000 spans per bulk, as the assembler's batches.
const bulks: Span[][] = [];
for (let i = 0; i < all.length; i += 5000) bulks.push(all.slice(i, i + 5000));
stages['bulk body, the ES client\'s way ({...span, startTime}, JSON.stringify per line, joined)'] = () =>
  bulks.map((spans) => {
    const lines: string[] = [];
    for (const span of spans) lines.push(JSON.stringify({ index: { _index: 'skein-spans-2026-11-22', _id: spanDocumentId(span) } }), JSON.stringify({ ...span, startTime: iso(span.startTimeUs) }));
    return Buffer.from(`${lines.join('\n')}\n`);
  });
stages['bulk body, ElasticsearchTraceStore (DocumentWriter + bulkBody)'] = () =>
  bulks.map((spans) => {
    const documents = new DocumentWriter(spans.length);
    for (const span of spans) documents.add(JSON.stringify(span), `"startTime":"${isoFromUs(span.startTimeUs)}"`);
    const sources = documents.documents();
    return bulkBody(spans.map((span, i) => ({ action: 'index', index: 'skein-spans-2026-11-22', id: spanDocumentId(span), source: sources[i] as Buffer })));
  });
stages['open-trace buffer add'] = () => {
  const buffer = new OpenTraceBuffer({ idleMs: 5000, maxOpenTraces: 1e6, maxSpansPerTrace: 10_000, maxOpenSpans: 1e7 });
  decoded.forEach((spans, offset) => buffer.add(0, offset, spans, 0));
  return buffer;
};
// As the assembler merges: the compact spans and distinct tags an open trace holds, no previous summary.
const open = stages['open-trace buffer add']() as OpenTraceBuffer;
const openTraces = open.take(open.due(0, Number.MAX_SAFE_INTEGER, true));
stages['summary merge (mergeTraceSummary of open traces)'] = () => openTraces.map((trace) => mergeTraceSummary(undefined, trace.spans, { tags: trace.tags, truncated: trace.truncated }));

process.stdout.write(`${values.length} messages, ${spanCount} spans, ${rounds} rounds (best round shown)\n`);
for (const [name, run] of Object.entries(stages)) {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    run();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1000);
  }
  process.stdout.write(`${(best / spanCount).toFixed(2).padStart(7)} µs/span  ${name}\n`);
}
