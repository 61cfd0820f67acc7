import { Span, spanEndUs } from '../span/span.model';

/** TreeSpan: the fields of a span that building its trace tree reads (a whole {@link Span}, or a summary's compact span). */
export type TreeSpan = Pick<Span, 'traceId' | 'spanId' | 'parentSpanId' | 'startTimeUs' | 'rpcId'>;

/** SpanTreeNode: a span as it is given, with its children ordered by start time. */
export interface SpanTreeNode<T extends TreeSpan> {
  span: T;
  /** orphan: the span names a parent that is not in the trace (lost, late or sampled away). */
  orphan: boolean;
  depth: number;
  children: SpanTreeNode<T>[];
}

/** SpanTree: the forest of one trace's spans: normally one root; orphans become extra roots, after the real one. */
export interface SpanTree<T extends TreeSpan> {
  traceId: string;
  roots: SpanTreeNode<T>[];
  spanCount: number;
  orphanCount: number;
  maxDepth: number;
}

/** TraceNode: a span with its children, ordered by start time; `rpcId` is always set on assembled nodes. */
export interface TraceNode<T extends TreeSpan = Span> extends SpanTreeNode<T & { rpcId: string }> {
  children: TraceNode<T>[];
}

/** AssembledTrace: the forest of one trace with RpcIds: normally one root; orphans become extra roots. */
export interface AssembledTrace<T extends TreeSpan = Span> extends SpanTree<T & { rpcId: string }> {
  roots: TraceNode<T>[];
}

function byStart(a: SpanTreeNode<TreeSpan>, b: SpanTreeNode<TreeSpan>): number {
  // spanIds are lowercase hex, so code-unit order is their order (localeCompare would be slower, same result).
  return a.span.startTimeUs - b.span.startTimeUs || (a.span.spanId < b.span.spanId ? -1 : a.span.spanId > b.span.spanId ? 1 : 0);
}

const NO_SPAN_IDS: ReadonlySet<string> = new Set();

/**
 * buildSpanTree: the span tree of one trace from parent ids, holding the given span objects themselves (no
 * copies: the span-assembler builds one per trace summary). Duplicate spanIds keep the first span; a parent cycle
 * is broken by treating the spans on it as orphans. Linear in the number of spans and without recursion, so a very
 * deep call chain cannot overflow the stack.
 */
export function buildSpanTree<T extends TreeSpan>(spans: readonly T[]): SpanTree<T> {
  const nodes = new Map<string, SpanTreeNode<T>>();
  for (const span of spans) {
    if (!nodes.has(span.spanId)) nodes.set(span.spanId, { span, orphan: false, depth: 0, children: [] });
  }
  const traceId = spans[0]?.traceId ?? '';
  const tree = linkSpanTree(traceId, nodes, NO_SPAN_IDS);
  // The spans on a parent cycle (and below it) are reachable from no root; only then is the cycle looked for.
  if (tree.spanCount === nodes.size) return tree;
  for (const node of nodes.values()) {
    node.children = [];
    node.orphan = false;
    node.depth = 0;
  }
  return linkSpanTree(traceId, nodes, parentCycleMembers(nodes));
}

/**
 * linkSpanTree: attaches every node to its parent (the spans in `onCycle`, and those whose parent is missing,
 * become roots), orders roots and children by start, and walks the tree for depths. `spanCount` is the number of
 * nodes reached from the roots: less than the nodes when a parent cycle was not broken.
 */
function linkSpanTree<T extends TreeSpan>(traceId: string, nodes: Map<string, SpanTreeNode<T>>, onCycle: ReadonlySet<string>): SpanTree<T> {
  const roots: SpanTreeNode<T>[] = [];
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
  let spanCount = 0;
  const pending: SpanTreeNode<T>[] = [];
  for (let index = roots.length - 1; index >= 0; index--) pending.push(roots[index] as SpanTreeNode<T>);
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    spanCount++;
    if (node.orphan) orphanCount++;
    if (node.depth > maxDepth) maxDepth = node.depth;
    const children = node.children;
    if (children.length > 1) children.sort(byStart);
    for (let index = children.length - 1; index >= 0; index--) {
      const child = children[index] as SpanTreeNode<T>;
      child.depth = node.depth + 1;
      pending.push(child);
    }
  }
  return { traceId, roots, spanCount, orphanCount, maxDepth };
}

/**
 * assembleTrace: builds the span tree of one trace from parent ids ({@link buildSpanTree}, on copies of the
 * spans), and gives every span an EagleEye-style RpcId: the root is `0`, its children `0.1`, `0.2`, … by start
 * time. An RpcId sent by the SDK is kept. Orphans get `?<n>` RpcIds (their true position is unknown) and extra
 * parentless roots `0~<n>`.
 */
export function assembleTrace<T extends TreeSpan>(spans: T[]): AssembledTrace<T> {
  const tree = buildSpanTree(spans.map((span): T & { rpcId: string } => ({ ...span, rpcId: span.rpcId ?? '' }))) as AssembledTrace<T>;
  const pending = tree.roots.map((root, index) => ({ node: root, rpcId: root.orphan ? `?${index}` : index === 0 ? '0' : `0~${index}` })).reverse();
  // Depth-first with an explicit stack: a node's RpcId is final before its children are numbered from it.
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { node, rpcId } = next;
    if (node.span.rpcId === '') node.span.rpcId = rpcId;
    for (let index = node.children.length - 1; index >= 0; index--) {
      pending.push({ node: node.children[index] as TraceNode<T>, rpcId: `${node.span.rpcId}.${index + 1}` });
    }
  }
  return tree;
}

/**
 * parentCycleMembers: the spanIds that lie on a cycle of parent ids (following parents from the span leads back
 * to it). A span merely below a cycle is not on it: its parent is present, so it stays attached.
 */
function parentCycleMembers(nodes: Map<string, SpanTreeNode<TreeSpan>>): Set<string> {
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
