import { threeServiceTrace } from '@skein/testing';
import { Span } from '../span/span.model';
import { FIXED_IDS, T0_US, TRACE_A, fixedThreeServiceTrace, makeSpan, spanIdOf } from '../testing/span-fixtures';
import { correctClockSkew } from './clock-skew';
import { MAX_SUMMARY_SPANS, SummarySpan, TraceSummary, TraceSummaryState, compactSpan, mergeCompactSpans, mergeTraceSummary, summaryTag } from './trace-summary';

function span(id: number, parent: number | undefined, offsetUs: number, overrides: Partial<Span> = {}): Span {
  const value = makeSpan({ spanId: spanIdOf(id), startTimeUs: T0_US + offsetUs, operation: `op-${id}`, ...overrides });
  if (parent !== undefined) value.parentSpanId = spanIdOf(parent);
  return value;
}

function mergeAll(batches: SummarySpan[][]): TraceSummaryState {
  let state: TraceSummaryState | undefined;
  for (const batch of batches) state = mergeTraceSummary(state, batch);
  if (state === undefined) throw new Error('no batches');
  return state;
}

/** stored: the state as it comes back from a document store (JSON round trip). */
function stored(state: TraceSummaryState): TraceSummaryState {
  return JSON.parse(JSON.stringify(state)) as TraceSummaryState;
}

const THREE_SERVICE_SUMMARY: TraceSummary = {
  traceId: TRACE_A,
  startTimeUs: T0_US,
  durationUs: 30_000,
  rootService: 'api-gateway',
  rootOperation: 'POST /checkout',
  spanCount: 5,
  errorCount: 0,
  services: ['api-gateway', 'order-service', 'payment-service'],
  operations: ['api-gateway:POST /checkout', 'api-gateway:POST /orders', 'order-service:POST /orders', 'order-service:charge', 'payment-service:charge'],
  maxDepth: 4,
  orphanCount: 0,
  truncated: false,
  skewAdjusted: false,
  flags: [],
  tags: ['http.method=POST', 'http.status_code=200'],
};

describe('mergeTraceSummary', () => {
  const trace = fixedThreeServiceTrace();

  it('summarises the three-service trace', () => {
    expect(mergeTraceSummary(undefined, trace).summary).toEqual(THREE_SERVICE_SUMMARY);
  });

  it('summarises the shared threeServiceTrace() fixture with a slow, failing payment', () => {
    const { traceId, spans } = threeServiceTrace({ startTimeUs: T0_US, orderLatencyUs: 50_000, paymentError: true });
    const once = mergeTraceSummary(undefined, spans);
    expect(once.summary).toEqual({ ...THREE_SERVICE_SUMMARY, traceId, durationUs: 60_000, errorCount: 2 });
    expect(mergeTraceSummary(once, [...spans].reverse())).toEqual(once);
  });

  it('keeps compact spans only: no tags, rpcId or remoteService; the host is kept (clock-skew correction needs it)', () => {
    const withExtras = trace.map((s) => ({ ...s, rpcId: '0', host: 'h1' }));
    const { spans } = mergeTraceSummary(undefined, withExtras);
    expect(spans).toHaveLength(5);
    expect(spans[1]).toEqual({
      traceId: TRACE_A,
      spanId: FIXED_IDS.gatewayClient,
      parentSpanId: FIXED_IDS.gatewayServer,
      service: 'api-gateway',
      operation: 'POST /orders',
      startTimeUs: T0_US + 2_000,
      durationUs: 24_000,
      error: false,
      kind: 'client',
      host: 'h1',
    });
    expect(Object.keys(spans[0] as SummarySpan).sort()).toEqual(['durationUs', 'error', 'host', 'kind', 'operation', 'service', 'spanId', 'startTimeUs', 'traceId']);
  });

  it('flags skew between two hosts of one service, as the trace view corrects it', () => {
    // One service calling itself on another instance whose clock is 5 ms behind: only the hosts differ.
    const client = span(1, undefined, 0, { service: 'orders', kind: 'client', durationUs: 10_000, host: 'orders-1' });
    const server = span(2, 1, -5_000, { service: 'orders', kind: 'server', durationUs: 4_000, host: 'orders-2' });
    expect(correctClockSkew([client, server]).adjusted).toBe(true);
    const { summary } = mergeTraceSummary(undefined, [client, server]);
    expect(summary.skewAdjusted).toBe(true);
    expect(summary.flags).toContain('skew_adjusted');
    expect(summary.durationUs).toBe(10_000);
  });

  describe('idempotence under replay (at-least-once delivery)', () => {
    it('gives an identical state when the same spans are merged twice', () => {
      const once = mergeTraceSummary(undefined, trace);
      const twice = mergeTraceSummary(once, trace);
      expect(twice).toEqual(once);
      expect(twice.summary).toEqual(THREE_SERVICE_SUMMARY);
    });

    it('gives an identical state when an earlier batch is redelivered after later ones', () => {
      const first = trace.slice(0, 2);
      const second = trace.slice(2);
      const expected = mergeAll([first, second]);
      expect(mergeAll([first, second, first])).toEqual(expected);
      expect(mergeAll([first, second, second, first, second])).toEqual(expected);
      expect(expected.summary).toEqual(THREE_SERVICE_SUMMARY);
    });

    it('is idempotent on a state read back from storage (JSON round trip)', () => {
      const state = stored(mergeTraceSummary(undefined, trace));
      expect(mergeTraceSummary(state, trace)).toEqual(state);
      expect(stored(mergeTraceSummary(state, trace))).toEqual(state);
    });

    it('gives the same summary whatever order the batches arrive in', () => {
      const batches = [trace.slice(3), trace.slice(0, 1), trace.slice(1, 3)];
      expect(mergeAll(batches).summary).toEqual(THREE_SERVICE_SUMMARY);
      expect(mergeAll([...batches].reverse()).summary).toEqual(THREE_SERVICE_SUMMARY);
    });

    it('keeps the first version of a span id and ignores a later, different one', () => {
      const state = mergeTraceSummary(undefined, trace);
      const changed = { ...(trace[4] as Span), error: true, durationUs: 999_999 };
      expect(mergeTraceSummary(state, [changed])).toEqual(state);
    });

    it('does not modify the previous state', () => {
      const state = mergeTraceSummary(undefined, trace.slice(0, 3));
      const before = stored(state);
      mergeTraceSummary(state, trace.slice(3));
      expect(state).toEqual(before);
    });
  });

  describe('late spans', () => {
    it('fills in the root service and operation when the root arrives last', () => {
      const early = mergeTraceSummary(undefined, trace.slice(1));
      expect(early.summary).toEqual({
        ...THREE_SERVICE_SUMMARY,
        startTimeUs: T0_US + 2_000,
        durationUs: 24_000,
        rootService: '',
        rootOperation: '',
        spanCount: 4,
        services: ['api-gateway', 'order-service', 'payment-service'],
        operations: ['api-gateway:POST /orders', 'order-service:POST /orders', 'order-service:charge', 'payment-service:charge'],
        maxDepth: 3,
        orphanCount: 1,
        flags: ['orphans'],
        tags: ['http.status_code=200'],
      });
      expect(mergeTraceSummary(early, trace.slice(0, 1)).summary).toEqual(THREE_SERVICE_SUMMARY);
    });

    it('extends the duration and the span count when a span ends after the others', () => {
      const state = mergeTraceSummary(undefined, trace);
      const late = span(0xd1, 0xc1, 50_000, { service: 'payment-service', operation: 'audit', durationUs: 20_000 });
      expect(late.parentSpanId).toBe(FIXED_IDS.paymentServer);
      const next = mergeTraceSummary(state, [late]);
      expect(next.summary).toEqual({
        ...THREE_SERVICE_SUMMARY,
        durationUs: 70_000,
        spanCount: 6,
        operations: [...THREE_SERVICE_SUMMARY.operations, 'payment-service:audit'].sort(),
        maxDepth: 5,
      });
    });

    it('moves the start earlier when a span started before every known one', () => {
      const state = mergeTraceSummary(undefined, [span(2, 1, 100, { durationUs: 50 })]);
      expect(state.summary.startTimeUs).toBe(T0_US + 100);
      expect(state.summary.durationUs).toBe(50);
      const next = mergeTraceSummary(state, [span(1, undefined, 0, { durationUs: 400 })]);
      expect(next.summary.startTimeUs).toBe(T0_US);
      expect(next.summary.durationUs).toBe(400);
    });
  });

  describe('root', () => {
    it('takes the earliest parentless span as the root, never an orphan', () => {
      const spans = [span(9, 8, 0, { service: 'orphan-svc', operation: 'lost' }), span(2, undefined, 20, { service: 'late-root' }), span(1, undefined, 10, { service: 'early-root', operation: 'GET /' })];
      const { summary } = mergeTraceSummary(undefined, spans);
      expect(summary.rootService).toBe('early-root');
      expect(summary.rootOperation).toBe('GET /');
      expect(summary.orphanCount).toBe(1);
    });
  });

  describe('counts', () => {
    it('counts error spans', () => {
      expect(mergeTraceSummary(undefined, fixedThreeServiceTrace({ paymentError: true })).summary.errorCount).toBe(2);
      expect(mergeTraceSummary(undefined, [span(1, undefined, 0, { error: true })]).summary.errorCount).toBe(1);
    });

    it('lists services and service:operation pairs once each, sorted', () => {
      const spans = [
        span(1, undefined, 0, { service: 'web', operation: 'GET /b' }),
        span(2, 1, 1, { service: 'api', operation: 'z' }),
        span(3, 1, 2, { service: 'web', operation: 'GET /a' }),
        span(4, 1, 3, { service: 'api', operation: 'z' }),
        span(5, 1, 4, { service: 'Zeta', operation: 'a' }),
      ];
      const { summary } = mergeTraceSummary(undefined, spans);
      expect(summary.services).toEqual(['Zeta', 'api', 'web']);
      expect(summary.operations).toEqual(['Zeta:a', 'api:z', 'web:GET /a', 'web:GET /b']);
      expect(summary.spanCount).toBe(5);
    });
  });

  describe('truncation', () => {
    const root = span(1, undefined, 0);
    const children = (from: number, count: number) => Array.from({ length: count }, (_, i) => span(from + i, 1, 1 + i, { error: true }));

    it(`keeps at most MAX_SUMMARY_SPANS (${MAX_SUMMARY_SPANS}) spans and marks the summary truncated`, () => {
      expect(MAX_SUMMARY_SPANS).toBe(10_000);
      const full = mergeTraceSummary(undefined, [root, ...children(2, MAX_SUMMARY_SPANS - 1)]);
      expect(full.summary.spanCount).toBe(10_000);
      expect(full.summary.truncated).toBe(false);

      const over = mergeTraceSummary(full, children(20_000, 3));
      expect(over.spans).toHaveLength(10_000);
      expect(over.summary.spanCount).toBe(10_000);
      expect(over.summary.errorCount).toBe(9_999);
      expect(over.summary.truncated).toBe(true);
      expect(over.spans.some((s) => s.spanId === spanIdOf(20_000))).toBe(false);
    });

    it('keeps the first MAX_SUMMARY_SPANS spans of one oversized batch', () => {
      const state = mergeTraceSummary(undefined, [root, ...children(2, MAX_SUMMARY_SPANS)]);
      expect(state.summary.spanCount).toBe(10_000);
      expect(state.summary.truncated).toBe(true);
      expect(state.spans[9_999]?.spanId).toBe(spanIdOf(10_000));
    });

    it('does not mark a full summary truncated when only known spans are replayed', () => {
      const batch = [root, ...children(2, MAX_SUMMARY_SPANS - 1)];
      const full = mergeTraceSummary(undefined, batch);
      expect(mergeTraceSummary(full, batch.slice(0, 100)).summary.truncated).toBe(false);
    });

    it('stays truncated on later merges, also after a storage round trip', () => {
      const over = mergeTraceSummary(undefined, [root, ...children(2, MAX_SUMMARY_SPANS)]);
      const again = mergeTraceSummary(stored(over), [root]);
      expect(again.summary.truncated).toBe(true);
      expect(again).toEqual(stored(over));
    });
  });

  describe('mergeCompactSpans', () => {
    it('gives the state mergeTraceSummary gives, keeping the given compact spans themselves', () => {
      const spans = fixedThreeServiceTrace().map((s, i) => ({ ...s, tags: { 'http.status_code': String(200 + i), env: 'prod' } }));
      const compact = spans.map(compactSpan);
      const tags = spans.flatMap((s) => Object.entries(s.tags).map(([key, value]) => summaryTag(key, value)));
      const previous = mergeTraceSummary(undefined, [span(99, undefined, -5)]);
      const fromCompact = mergeCompactSpans(stored(previous), compact, { tags });
      expect(fromCompact).toEqual(mergeTraceSummary(stored(previous), spans));
      expect(compact.every((c) => fromCompact.spans.includes(c))).toBe(true);
    });

    it('ignores tags carried by the spans themselves (they come in extra.tags)', () => {
      const withTags = { ...compactSpan(span(1, undefined, 0)), tags: { env: 'prod' } };
      expect(mergeCompactSpans(undefined, [withTags]).summary.tags).toEqual([]);
    });
  });
});
