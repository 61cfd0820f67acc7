import { Span, spanEndUs } from '../span/span.model';
import { SpanTree, SpanTreeNode, TreeSpan, buildSpanTree } from './trace-tree';

/** SkewSpan: the fields of a span that clock-skew correction reads (a whole {@link Span}, or a summary's compact span). */
export type SkewSpan = TreeSpan & Pick<Span, 'kind' | 'service' | 'host' | 'durationUs' | 'events'>;

/**
 * SkewCorrection: the result of {@link correctClockSkew}.
 * - `spans`: the given spans in the given order; a span that moved is a copy with `startTimeUs` (and its events'
 *   `timeUs`) shifted, a span that did not move is the given object itself.
 * - `adjusted`: true when at least one span moved.
 * - `skewUs`: spanId → microseconds added to the raw start (adjusted = raw + skew); only spans that moved are in it,
 *   so `skewUs.get(id) ?? 0` is the shift of any span.
 */
export interface SkewCorrection<T extends SkewSpan> {
  spans: T[];
  adjusted: boolean;
  skewUs: Map<string, number>;
}

/**
 * correctClockSkew: moves server spans into the window of the client span that called them, as Zipkin's
 * CorrectForClockSkew does, because the hosts' clocks disagree (NTP keeps them only within some milliseconds,
 * the problem MTrace describes) and a callee that seems to start before its caller makes a waterfall unreadable.
 *
 * A span is corrected when it is a `server` span whose parent is a `client` span of another process (another
 * service, or the same service on another host) and it starts before the client starts or ends after it ends.
 * It is then centred in the client's window (the network latency split evenly both ways) when it is not longer
 * than the client, else its start is aligned with the client's. The shift moves the span's whole subtree, and
 * hops further down are judged after that shift, against their already moved caller: a hop that was consistent
 * with its caller stays so, one that was not gets its own correction on top.
 *
 * Not corrected: consumer spans (a message is legitimately consumed after its producer span ended, so there is no
 * window to fit into), servers under a non-client parent, spans inside one process (one clock), and orphans (their
 * caller is not there to compare with). Durations never change. Without recursion and linear in the number of
 * spans, so a very deep trace cannot overflow the stack. The given spans are not mutated. `trace`: the tree of
 * these same spans (or of copies of them) when the caller has already built it (built here otherwise).
 */
export function correctClockSkew<T extends SkewSpan>(spans: T[], trace: SpanTree<SkewSpan> = buildSpanTree(spans)): SkewCorrection<T> {
  const skewUs = new Map<string, number>();
  // Each entry carries the shift its parent ended with (the subtree moves with it).
  const pending: { node: SpanTreeNode<SkewSpan>; parent: SpanTreeNode<SkewSpan> | undefined; inheritedUs: number }[] = trace.roots.map((node) => ({ node, parent: undefined, inheritedUs: 0 }));
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { node, parent, inheritedUs } = next;
    const shiftUs = inheritedUs + (parent === undefined ? 0 : correctionUs(node.span, parent.span, inheritedUs));
    if (shiftUs !== 0) skewUs.set(node.span.spanId, shiftUs);
    for (const child of node.children) pending.push({ node: child, parent: node, inheritedUs: shiftUs });
  }
  if (skewUs.size === 0) return { spans: [...spans], adjusted: false, skewUs };
  return { spans: spans.map((span) => shifted(span, skewUs.get(span.spanId) ?? 0)), adjusted: true, skewUs };
}

/**
 * correctionUs: the extra shift of `server` (already moved by `parentShiftUs`, as its parent `client` was) that puts
 * it inside the client's window; 0 when no correction applies.
 */
function correctionUs(server: SkewSpan, client: SkewSpan, parentShiftUs: number): number {
  if (server.kind !== 'server' || client.kind !== 'client' || !otherProcess(server, client)) return 0;
  const clientStart = client.startTimeUs + parentShiftUs;
  const clientEnd = spanEndUs(client) + parentShiftUs;
  const serverStart = server.startTimeUs + parentShiftUs;
  const serverEnd = spanEndUs(server) + parentShiftUs;
  if (serverStart >= clientStart && serverEnd <= clientEnd) return 0;
  // Floor keeps times whole microseconds; half a microsecond of latency is below what anyone can see.
  const latencyUs = server.durationUs <= client.durationUs ? Math.floor((client.durationUs - server.durationUs) / 2) : 0;
  return clientStart + latencyUs - serverStart;
}

/** otherProcess: the two spans were timed by different clocks: another service, or the same service on another known host. */
function otherProcess(a: SkewSpan, b: SkewSpan): boolean {
  if (a.service !== b.service) return true;
  return a.host !== undefined && b.host !== undefined && a.host !== b.host;
}

function shifted<T extends SkewSpan>(span: T, shiftUs: number): T {
  if (shiftUs === 0) return span;
  const out: T = { ...span, startTimeUs: span.startTimeUs + shiftUs };
  if (span.events !== undefined) out.events = span.events.map((event) => ({ ...event, timeUs: event.timeUs + shiftUs }));
  return out;
}
