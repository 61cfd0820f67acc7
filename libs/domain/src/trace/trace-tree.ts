import { Span, spanEndUs } from '../span/span.model';

/** TraceNode: a span with its children, ordered by start time; `rpcId` is always set on assembled nodes. */
export interface TraceNode {
  span: Span & { rpcId: string };
  /** orphan: the span names a parent that is not in the trace (lost, late or sampled away). */
  orphan: boolean;
  depth: number;
  children: TraceNode[];
}

/** AssembledTrace: the forest of one trace: normally one root; orphans become extra roots. */
export interface AssembledTrace {
  traceId: string;
  roots: TraceNode[];
  spanCount: number;
  orphanCount: number;
  maxDepth: number;
}

function byStart(a: TraceNode, b: TraceNode): number {
  return a.span.startTimeUs - b.span.startTimeUs || a.span.spanId.localeCompare(b.span.spanId);
}

/**
 * assembleTrace: builds the span tree of one trace from parent ids, and gives every span an EagleEye-style
 * RpcId: the root is `0`, its children `0.1`, `0.2`, … by start time. An RpcId sent by the SDK is kept.
 * Duplicate spanIds keep the first span; a parent cycle is broken by treating the span as an orphan.
 */
export function assembleTrace(spans: Span[]): AssembledTrace {
  const nodes = new Map<string, TraceNode>();
  for (const span of spans) {
    if (!nodes.has(span.spanId)) nodes.set(span.spanId, { span: { ...span, rpcId: span.rpcId ?? '' }, orphan: false, depth: 0, children: [] });
  }
  const roots: TraceNode[] = [];
  for (const node of nodes.values()) {
    const parentId = node.span.parentSpanId;
    const parent = parentId === undefined ? undefined : nodes.get(parentId);
    if (parent === undefined || createsCycle(nodes, node, parent)) {
      node.orphan = parentId !== undefined;
      roots.push(node);
    } else parent.children.push(node);
  }
  roots.sort((a, b) => Number(a.orphan) - Number(b.orphan) || byStart(a, b));
  let maxDepth = 0;
  let orphanCount = 0;
  const visit = (node: TraceNode, depth: number, rpcId: string) => {
    node.depth = depth;
    if (node.span.rpcId === '') node.span.rpcId = rpcId;
    if (node.orphan) orphanCount++;
    maxDepth = Math.max(maxDepth, depth);
    node.children.sort(byStart);
    node.children.forEach((child, index) => visit(child, depth + 1, `${node.span.rpcId}.${index + 1}`));
  };
  // Orphans get `?` RpcIds: their true position in the tree is unknown.
  roots.forEach((root, index) => visit(root, 0, root.orphan ? `?${index}` : index === 0 ? '0' : `0~${index}`));
  return { traceId: spans[0]?.traceId ?? '', roots, spanCount: nodes.size, orphanCount, maxDepth };
}

function createsCycle(nodes: Map<string, TraceNode>, node: TraceNode, parent: TraceNode): boolean {
  const seen = new Set<string>([node.span.spanId]);
  let current: TraceNode | undefined = parent;
  while (current !== undefined) {
    if (seen.has(current.span.spanId)) return true;
    seen.add(current.span.spanId);
    const next: string | undefined = current.span.parentSpanId;
    current = next === undefined ? undefined : nodes.get(next);
  }
  return false;
}

/** flattenTrace: the assembled spans in depth-first (waterfall) order. */
export function flattenTrace(trace: AssembledTrace): TraceNode[] {
  const out: TraceNode[] = [];
  const walk = (node: TraceNode) => {
    out.push(node);
    node.children.forEach(walk);
  };
  trace.roots.forEach(walk);
  return out;
}

/** traceWindowUs: earliest start and latest end over the spans, microseconds since the epoch. */
export function traceWindowUs(spans: Span[]): { startUs: number; endUs: number } {
  let startUs = Number.POSITIVE_INFINITY;
  let endUs = Number.NEGATIVE_INFINITY;
  for (const span of spans) {
    startUs = Math.min(startUs, span.startTimeUs);
    endUs = Math.max(endUs, spanEndUs(span));
  }
  return { startUs, endUs };
}
