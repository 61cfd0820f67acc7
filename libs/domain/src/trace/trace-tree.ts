import { Span, spanEndUs } from '../span/span.model';

/** TreeSpan: the fields of a span that building its trace tree reads (a whole {@link Span}, or a summary's compact span). */
export type TreeSpan = Pick<Span, 'traceId' | 'spanId' | 'parentSpanId' | 'startTimeUs' | 'rpcId'>;

/** TraceNode: a span with its children, ordered by start time; `rpcId` is always set on assembled nodes. */
export interface TraceNode<T extends TreeSpan = Span> {
  span: T & { rpcId: string };
  /** orphan: the span names a parent that is not in the trace (lost, late or sampled away). */
  orphan: boolean;
  depth: number;
  children: TraceNode<T>[];
}

/** AssembledTrace: the forest of one trace: normally one root; orphans become extra roots. */
export interface AssembledTrace<T extends TreeSpan = Span> {
  traceId: string;
  roots: TraceNode<T>[];
  spanCount: number;
  orphanCount: number;
  maxDepth: number;
}

function byStart(a: TraceNode<TreeSpan>, b: TraceNode<TreeSpan>): number {
  // spanIds are lowercase hex, so code-unit order is their order (localeCompare would be slower, same result).
  return a.span.startTimeUs - b.span.startTimeUs || (a.span.spanId < b.span.spanId ? -1 : a.span.spanId > b.span.spanId ? 1 : 0);
}

/**
 * assembleTrace: builds the span tree of one trace from parent ids, and gives every span an EagleEye-style
 * RpcId: the root is `0`, its children `0.1`, `0.2`, … by start time. An RpcId sent by the SDK is kept.
 * Duplicate spanIds keep the first span; a parent cycle is broken by treating the spans on it as orphans.
 * Linear in the number of spans and without recursion, so a very deep call chain cannot overflow the stack.
 */
export function assembleTrace<T extends TreeSpan>(spans: T[]): AssembledTrace<T> {
  const nodes = new Map<string, TraceNode<T>>();
  for (const span of spans) {
    if (!nodes.has(span.spanId)) nodes.set(span.spanId, { span: { ...span, rpcId: span.rpcId ?? '' }, orphan: false, depth: 0, children: [] });
  }
  const onCycle = parentCycleMembers(nodes);
  const roots: TraceNode<T>[] = [];
  for (const node of nodes.values()) {
    const parentId = node.span.parentSpanId;
    const parent = parentId === undefined ? undefined : nodes.get(parentId);
    if (parent === undefined || onCycle.has(node.span.spanId)) {
      node.orphan = parentId !== undefined;
      roots.push(node);
    } else parent.children.push(node);
  }
  roots.sort((a, b) => Number(a.orphan) - Number(b.orphan) || byStart(a, b));
  let maxDepth = 0;
  let orphanCount = 0;
  // Orphans get `?` RpcIds: their true position in the tree is unknown.
  const pending = roots.map((root, index) => ({ node: root, depth: 0, rpcId: root.orphan ? `?${index}` : index === 0 ? '0' : `0~${index}` })).reverse();
  // Depth-first with an explicit stack: a node's RpcId is final before its children are numbered from it.
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { node, depth, rpcId } = next;
    node.depth = depth;
    if (node.span.rpcId === '') node.span.rpcId = rpcId;
    if (node.orphan) orphanCount++;
    maxDepth = Math.max(maxDepth, depth);
    node.children.sort(byStart);
    for (let index = node.children.length - 1; index >= 0; index--) {
      pending.push({ node: node.children[index] as TraceNode<T>, depth: depth + 1, rpcId: `${node.span.rpcId}.${index + 1}` });
    }
  }
  return { traceId: spans[0]?.traceId ?? '', roots, spanCount: nodes.size, orphanCount, maxDepth };
}

/**
 * parentCycleMembers: the spanIds that lie on a cycle of parent ids (following parents from the span leads back
 * to it). A span merely below a cycle is not on it: its parent is present, so it stays attached.
 */
function parentCycleMembers(nodes: Map<string, TraceNode<TreeSpan>>): Set<string> {
  const members = new Set<string>();
  // 1: on the walk in progress; 2: walked before (its ancestors are known).
  const state = new Map<string, 1 | 2>();
  for (const start of nodes.keys()) {
    const path: string[] = [];
    let id: string | undefined = start;
    while (id !== undefined && state.get(id) === undefined && nodes.has(id)) {
      state.set(id, 1);
      path.push(id);
      id = nodes.get(id)?.span.parentSpanId;
    }
    if (id !== undefined && state.get(id) === 1) path.slice(path.indexOf(id)).forEach((member) => members.add(member));
    for (const member of path) state.set(member, 2);
  }
  return members;
}

/** flattenTrace: the assembled spans in depth-first (waterfall) order. */
export function flattenTrace<T extends TreeSpan>(trace: AssembledTrace<T>): TraceNode<T>[] {
  const out: TraceNode<T>[] = [];
  const pending = [...trace.roots].reverse();
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    out.push(node);
    for (let index = node.children.length - 1; index >= 0; index--) pending.push(node.children[index] as TraceNode<T>);
  }
  return out;
}

/** traceWindowUs: earliest start and latest end over the spans, microseconds since the epoch. */
export function traceWindowUs(spans: Pick<Span, 'startTimeUs' | 'durationUs'>[]): { startUs: number; endUs: number } {
  let startUs = Number.POSITIVE_INFINITY;
  let endUs = Number.NEGATIVE_INFINITY;
  for (const span of spans) {
    startUs = Math.min(startUs, span.startTimeUs);
    endUs = Math.max(endUs, spanEndUs(span));
  }
  return { startUs, endUs };
}
