import { threeServiceTrace } from '@skein/testing';
import { Span } from '../span/span.model';
import { FIXED_IDS, T0_US, TRACE_A, fixedThreeServiceTrace, makeSpan, mulberry32, spanIdOf } from '../testing/span-fixtures';
import { AssembledTrace, TraceNode, assembleTrace, buildSpanTree, flattenTrace, traceWindowUs } from './trace-tree';

/** span: span `id` of TRACE_A, child of `parent` (none: a root), starting `offsetUs` after T0. */
function span(id: number, parent: number | undefined, offsetUs: number, overrides: Partial<Span> = {}): Span {
  const value = makeSpan({ spanId: spanIdOf(id), startTimeUs: T0_US + offsetUs, operation: `op-${id}`, ...overrides });
  if (parent !== undefined) value.parentSpanId = spanIdOf(parent);
  return value;
}

/** shape: the tree as nested [spanId, rpcId, depth, orphan, children] tuples (ids as numbers), for exact comparison. */
type Shape = [number, string, number, boolean, Shape[]];
function shape(node: TraceNode): Shape {
  return [parseInt(node.span.spanId, 16), node.span.rpcId, node.depth, node.orphan, node.children.map(shape)];
}
function shapes(trace: AssembledTrace): Shape[] {
  return trace.roots.map(shape);
}

function rpcIdsById(trace: AssembledTrace): Record<string, string> {
  return Object.fromEntries(flattenTrace(trace).map((node) => [node.span.spanId, node.span.rpcId]));
}

function shuffled<T>(items: T[], seed: number): T[] {
  const next = mulberry32(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('assembleTrace', () => {
  describe('the three-service trace', () => {
    const spans = fixedThreeServiceTrace();
    const trace = assembleTrace(spans);

    it('has one root, the gateway server span, and no orphans', () => {
      expect(trace.traceId).toBe(TRACE_A);
      expect(trace.roots).toHaveLength(1);
      expect(trace.roots[0]?.span.spanId).toBe(FIXED_IDS.gatewayServer);
      expect(trace.spanCount).toBe(5);
      expect(trace.orphanCount).toBe(0);
      expect(trace.maxDepth).toBe(4);
    });

    it('nests every span under its parent and numbers RpcIds down the call chain', () => {
      expect(shapes(trace)).toEqual([[0xa1, '0', 0, false, [[0xa2, '0.1', 1, false, [[0xb1, '0.1.1', 2, false, [[0xb2, '0.1.1.1', 3, false, [[0xc1, '0.1.1.1.1', 4, false, []]]]]]]]]]]);
    });

    it('keeps every span field and adds the rpcId', () => {
      const paymentServer = flattenTrace(trace)[4];
      expect(paymentServer?.span).toEqual({ ...spans[4], rpcId: '0.1.1.1.1' });
    });

    it('does not modify the input spans', () => {
      expect(spans.every((s) => !('rpcId' in s))).toBe(true);
    });

    it('builds the same tree whatever the order the spans arrive in', () => {
      for (const seed of [1, 2, 3, 4, 5]) {
        expect(shapes(assembleTrace(shuffled(spans, seed)))).toEqual(shapes(trace));
      }
    });
  });

  it('assembles the shared threeServiceTrace() fixture (random ids) into the same chain', () => {
    const { traceId, spans, ids } = threeServiceTrace({ startTimeUs: T0_US });
    const trace = assembleTrace([...spans].reverse());
    expect(trace.traceId).toBe(traceId);
    expect(rpcIdsById(trace)).toEqual({
      [ids.gatewayServer]: '0',
      [ids.gatewayClient]: '0.1',
      [ids.orderServer]: '0.1.1',
      [ids.orderClient]: '0.1.1.1',
      [ids.paymentServer]: '0.1.1.1.1',
    });
    expect(flattenTrace(trace).map((n) => n.span.spanId)).toEqual([ids.gatewayServer, ids.gatewayClient, ids.orderServer, ids.orderClient, ids.paymentServer]);
    expect({ spanCount: trace.spanCount, orphanCount: trace.orphanCount, maxDepth: trace.maxDepth }).toEqual({ spanCount: 5, orphanCount: 0, maxDepth: 4 });
  });

  describe('RpcIds', () => {
    it('numbers children 0.1, 0.2, … by start time, not by arrival order', () => {
      // root 1; children 2 (starts at +30), 3 (+10), 4 (+20); 5 is a child of 3.
      const trace = assembleTrace([span(2, 1, 30), span(5, 3, 15), span(1, undefined, 0), span(4, 1, 20), span(3, 1, 10)]);
      expect(shapes(trace)).toEqual([
        [1, '0', 0, false, [
          [3, '0.1', 1, false, [[5, '0.1.1', 2, false, []]]],
          [4, '0.2', 1, false, []],
          [2, '0.3', 1, false, []],
        ]],
      ]);
    });

    it('orders siblings that start at the same microsecond by spanId', () => {
      const trace = assembleTrace([span(1, undefined, 0), span(0xc, 1, 5), span(0xa, 1, 5), span(0xb, 1, 5)]);
      expect(rpcIdsById(trace)).toEqual({ [spanIdOf(1)]: '0', [spanIdOf(0xa)]: '0.1', [spanIdOf(0xb)]: '0.2', [spanIdOf(0xc)]: '0.3' });
    });

    it('numbers past 9 without lexical ordering mistakes', () => {
      const children = Array.from({ length: 12 }, (_, i) => span(100 + i, 1, 100 - i));
      const trace = assembleTrace([span(1, undefined, 0), ...children]);
      const ids = rpcIdsById(trace);
      expect(ids[spanIdOf(111)]).toBe('0.1');
      expect(ids[spanIdOf(101)]).toBe('0.11');
      expect(ids[spanIdOf(100)]).toBe('0.12');
    });

    it('keeps an RpcId sent by the SDK and numbers that span’s children below it', () => {
      const trace = assembleTrace([span(1, undefined, 0), span(2, 1, 10, { rpcId: '0.7' }), span(3, 1, 20), span(4, 2, 12), span(5, 2, 11)]);
      expect(shapes(trace)).toEqual([
        [1, '0', 0, false, [
          [2, '0.7', 1, false, [[5, '0.7.1', 2, false, []], [4, '0.7.2', 2, false, []]]],
          [3, '0.2', 1, false, []],
        ]],
      ]);
    });

    it('keeps an SDK RpcId on the root (a trace entered from upstream)', () => {
      const trace = assembleTrace([span(1, undefined, 0, { rpcId: '0.2.1' }), span(2, 1, 1)]);
      expect(rpcIdsById(trace)).toEqual({ [spanIdOf(1)]: '0.2.1', [spanIdOf(2)]: '0.2.1.1' });
    });

    it('numbers extra parentless roots 0~1, 0~2 after the earliest one', () => {
      const trace = assembleTrace([span(3, undefined, 20), span(1, undefined, 0), span(2, undefined, 10), span(4, 3, 21)]);
      expect(shapes(trace)).toEqual([
        [1, '0', 0, false, []],
        [2, '0~1', 0, false, []],
        [3, '0~2', 0, false, [[4, '0~2.1', 1, false, []]]],
      ]);
      expect(trace.orphanCount).toBe(0);
    });
  });

  describe('orphans', () => {
    it('flags a span whose parent is missing, counts it, and lists it after the real root', () => {
      // 9's parent 8 never arrived; 9 starts before the root but stays after it.
      const trace = assembleTrace([span(1, undefined, 10), span(2, 1, 20), span(9, 8, 0), span(10, 9, 5)]);
      expect(shapes(trace)).toEqual([
        [1, '0', 0, false, [[2, '0.1', 1, false, []]]],
        [9, '?1', 0, true, [[10, '?1.1', 1, false, []]]],
      ]);
      expect(trace.orphanCount).toBe(1);
      expect(trace.spanCount).toBe(4);
      expect(trace.maxDepth).toBe(1);
    });

    it('orders several orphans by start time and counts each', () => {
      const trace = assembleTrace([span(7, 70, 30), span(1, undefined, 0), span(6, 60, 20), span(5, 50, 25)]);
      expect(shapes(trace)).toEqual([
        [1, '0', 0, false, []],
        [6, '?1', 0, true, []],
        [5, '?2', 0, true, []],
        [7, '?3', 0, true, []],
      ]);
      expect(trace.orphanCount).toBe(3);
    });

    it('gives a trace whose root has not arrived only orphan roots', () => {
      const spans = fixedThreeServiceTrace().slice(1);
      const trace = assembleTrace(spans);
      expect(trace.roots).toHaveLength(1);
      expect(trace.orphanCount).toBe(1);
      expect(shapes(trace)).toEqual([[0xa2, '?0', 0, true, [[0xb1, '?0.1', 1, false, [[0xb2, '?0.1.1', 2, false, [[0xc1, '?0.1.1.1', 3, false, []]]]]]]]]);
    });
  });

  describe('duplicate spanIds', () => {
    it('keeps the first span of an id and ignores later ones', () => {
      const first = span(2, 1, 10, { operation: 'first' });
      const second = span(2, 1, 5, { operation: 'second', durationUs: 99 });
      const trace = assembleTrace([span(1, undefined, 0), first, second, span(3, 2, 11)]);
      expect(trace.spanCount).toBe(3);
      expect(flattenTrace(trace).map((n) => n.span.operation)).toEqual(['op-1', 'first', 'op-3']);
      expect(shapes(trace)).toEqual([[1, '0', 0, false, [[2, '0.1', 1, false, [[3, '0.1.1', 2, false, []]]]]]]);
    });

    it('counts a fully replayed trace once', () => {
      const spans = fixedThreeServiceTrace();
      const trace = assembleTrace([...spans, ...spans]);
      expect(trace.spanCount).toBe(5);
      expect(flattenTrace(trace)).toHaveLength(5);
      expect(shapes(trace)).toEqual(shapes(assembleTrace(spans)));
    });
  });

  describe('parent cycles', () => {
    it('breaks a span that names itself as parent by making it an orphan', () => {
      const trace = assembleTrace([span(1, undefined, 0), span(2, 2, 5)]);
      expect(shapes(trace)).toEqual([
        [1, '0', 0, false, []],
        [2, '?1', 0, true, []],
      ]);
      expect(trace.orphanCount).toBe(1);
    });

    it('terminates on a two-span cycle and makes both spans orphan roots', () => {
      const trace = assembleTrace([span(1, 2, 0), span(2, 1, 5)]);
      expect(shapes(trace)).toEqual([
        [1, '?0', 0, true, []],
        [2, '?1', 0, true, []],
      ]);
      expect(trace.spanCount).toBe(2);
      expect(trace.orphanCount).toBe(2);
    });

    it('keeps a span below a cycle member attached to its (present) parent', () => {
      // 2 → 3 → 4 → 2 is a cycle; 5's parent 3 is in the trace, so 5 is not an orphan.
      const trace = assembleTrace([span(1, undefined, 0), span(2, 4, 10), span(3, 2, 20), span(4, 3, 30), span(5, 3, 40), span(6, 5, 41)]);
      expect(shapes(trace)).toEqual([
        [1, '0', 0, false, []],
        [2, '?1', 0, true, []],
        [3, '?2', 0, true, [[5, '?2.1', 1, false, [[6, '?2.1.1', 2, false, []]]]]],
        [4, '?3', 0, true, []],
      ]);
      expect(trace.orphanCount).toBe(3);
      expect(trace.spanCount).toBe(6);
      expect(flattenTrace(trace)).toHaveLength(6);
    });
  });

  describe('depth', () => {
    it('reports the depth of the deepest span (root = 0)', () => {
      const chain = Array.from({ length: 10 }, (_, i) => span(i + 1, i === 0 ? undefined : i, i));
      const trace = assembleTrace(chain);
      expect(trace.maxDepth).toBe(9);
      expect(flattenTrace(trace).map((n) => n.depth)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(flattenTrace(trace)[9]?.span.rpcId).toBe('0.1.1.1.1.1.1.1.1.1');
    });

    it('is 0 for a single span', () => {
      expect(assembleTrace([span(1, undefined, 0)]).maxDepth).toBe(0);
    });

    it('assembles a 10,000-span-deep call chain without overflowing the stack', () => {
      const chain = Array.from({ length: 10_000 }, (_, i) => span(i + 1, i === 0 ? undefined : i, i));
      const started = Date.now();
      const trace = assembleTrace(shuffled(chain, 42));
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(trace.maxDepth).toBe(9_999);
      expect(trace.orphanCount).toBe(0);
      const flat = flattenTrace(trace);
      expect(flat).toHaveLength(10_000);
      expect(flat[9_999]?.span.spanId).toBe(spanIdOf(10_000));
      expect(flat[9_999]?.span.rpcId).toBe(`0${'.1'.repeat(9_999)}`);
    });
  });

  it('returns an empty trace for no spans', () => {
    expect(assembleTrace([])).toEqual({ traceId: '', roots: [], spanCount: 0, orphanCount: 0, maxDepth: 0 });
  });
});

describe('buildSpanTree', () => {
  it('holds the given span objects (no copies, no rpcIds added) in the same tree assembleTrace builds', () => {
    const spans = shuffled(fixedThreeServiceTrace(), 3);
    const tree = buildSpanTree(spans);
    const assembled = assembleTrace(spans);
    const ids = (nodes: { span: Span; children: unknown[] }[]): unknown[] => nodes.map((node) => [node.span.spanId, ids(node.children as never)]);
    expect(ids(tree.roots)).toEqual(ids(assembled.roots));
    expect(flattenTrace(tree as AssembledTrace).every((node) => spans.includes(node.span))).toBe(true);
    expect(spans.every((s) => s.rpcId === undefined)).toBe(true);
    expect([tree.spanCount, tree.orphanCount, tree.maxDepth]).toEqual([assembled.spanCount, assembled.orphanCount, assembled.maxDepth]);
  });

  it('after a parent cycle, gives its spans and those below them depths from their new roots', () => {
    // 2 → 3 → 2 is a cycle below nothing; 4 hangs below 3, 5 below the real root 1.
    const tree = buildSpanTree([span(1, undefined, 0), span(2, 3, 10), span(3, 2, 20), span(4, 3, 30), span(5, 1, 40)]);
    const depths = Object.fromEntries(flattenTrace(tree as AssembledTrace).map((node) => [parseInt(node.span.spanId, 16), node.depth]));
    expect(depths).toEqual({ 1: 0, 5: 1, 2: 0, 3: 0, 4: 1 });
    expect([tree.spanCount, tree.orphanCount, tree.maxDepth]).toEqual([5, 2, 1]);
  });
});

describe('flattenTrace', () => {
  it('lists spans depth-first (waterfall order), roots before orphans', () => {
    const trace = assembleTrace([span(9, 8, 1), span(2, 1, 30), span(5, 3, 15), span(1, undefined, 0), span(4, 1, 20), span(3, 1, 10), span(6, 5, 16)]);
    expect(flattenTrace(trace).map((n) => parseInt(n.span.spanId, 16))).toEqual([1, 3, 5, 6, 4, 2, 9]);
  });

  it('returns the node objects of the tree', () => {
    const trace = assembleTrace(fixedThreeServiceTrace());
    expect(flattenTrace(trace)[0]).toBe(trace.roots[0]);
  });

  it('returns nothing for an empty trace', () => {
    expect(flattenTrace(assembleTrace([]))).toEqual([]);
  });
});

describe('traceWindowUs', () => {
  it('spans from the earliest start to the latest end, which need not be the last span to start', () => {
    const spans = [span(1, undefined, 100, { durationUs: 50 }), span(2, 1, 120, { durationUs: 500 }), span(3, 1, 400, { durationUs: 10 })];
    expect(traceWindowUs(spans)).toEqual({ startUs: T0_US + 100, endUs: T0_US + 620 });
  });

  it('covers the three-service trace', () => {
    expect(traceWindowUs(fixedThreeServiceTrace())).toEqual({ startUs: T0_US, endUs: T0_US + 30_000 });
  });

  it('is an inverted infinite window for no spans', () => {
    expect(traceWindowUs([])).toEqual({ startUs: Number.POSITIVE_INFINITY, endUs: Number.NEGATIVE_INFINITY });
  });
});
