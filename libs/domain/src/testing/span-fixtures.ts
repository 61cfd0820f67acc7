import { Span } from '../span/span.model';

/**
 * Test-only builders for the domain specs (not exported from the library). Unlike `threeServiceTrace()` from
 * `@skein/testing` (random ids, start time from the clock), ids and times here are fixed, so assertions can
 * name exact values.
 */

/** T0_US: 2026-01-15T10:20:00.000Z in microseconds since the epoch, the start of a minute. */
export const T0_US = Date.UTC(2026, 0, 15, 10, 20, 0) * 1000;

/** TRACE_A / TRACE_B: fixed 32-hex trace ids. */
export const TRACE_A = '0af7651916cd43dd8448eb211c80319c';
export const TRACE_B = '4bf92f3577b34da6a3ce929d0e0e4736';

/** spanIdOf: a 16-hex span id from a small number (`1` → `0000000000000001`). */
export function spanIdOf(n: number): string {
  return n.toString(16).padStart(16, '0');
}

/** makeSpan: a valid internal root span of TRACE_A at T0_US, with overrides applied. */
export function makeSpan(overrides: Partial<Span> = {}): Span {
  return {
    traceId: TRACE_A,
    spanId: spanIdOf(1),
    service: 'svc',
    operation: 'op',
    kind: 'internal',
    startTimeUs: T0_US,
    durationUs: 1_000,
    error: false,
    tags: {},
    ...overrides,
  };
}

/** FIXED_IDS: the span ids of {@link fixedThreeServiceTrace}, by role. */
export const FIXED_IDS = {
  gatewayServer: spanIdOf(0xa1),
  gatewayClient: spanIdOf(0xa2),
  orderServer: spanIdOf(0xb1),
  orderClient: spanIdOf(0xb2),
  paymentServer: spanIdOf(0xc1),
};

/**
 * fixedThreeServiceTrace: the shape of `threeServiceTrace()` from `@skein/testing` (api-gateway → order-service →
 * payment-service with client spans between) with fixed ids and start time, for exact assertions.
 */
export function fixedThreeServiceTrace(options: { startTimeUs?: number; orderLatencyUs?: number; paymentError?: boolean; traceId?: string } = {}): Span[] {
  const start = options.startTimeUs ?? T0_US;
  const orderLatency = options.orderLatencyUs ?? 20_000;
  const paymentError = options.paymentError ?? false;
  const base = { traceId: options.traceId ?? TRACE_A, error: false, tags: {} as Record<string, string> };
  const ids = FIXED_IDS;
  return [
    { ...base, spanId: ids.gatewayServer, service: 'api-gateway', operation: 'POST /checkout', kind: 'server', startTimeUs: start, durationUs: orderLatency + 10_000, tags: { 'http.method': 'POST', 'http.status_code': '200' } },
    { ...base, spanId: ids.gatewayClient, parentSpanId: ids.gatewayServer, service: 'api-gateway', operation: 'POST /orders', kind: 'client', remoteService: 'order-service', startTimeUs: start + 2_000, durationUs: orderLatency + 4_000 },
    { ...base, spanId: ids.orderServer, parentSpanId: ids.gatewayClient, service: 'order-service', operation: 'POST /orders', kind: 'server', startTimeUs: start + 3_000, durationUs: orderLatency, tags: { 'http.status_code': '200' } },
    { ...base, spanId: ids.orderClient, parentSpanId: ids.orderServer, service: 'order-service', operation: 'charge', kind: 'client', remoteService: 'payment-service', startTimeUs: start + 5_000, durationUs: 8_000, error: paymentError },
    { ...base, spanId: ids.paymentServer, parentSpanId: ids.orderClient, service: 'payment-service', operation: 'charge', kind: 'server', startTimeUs: start + 6_000, durationUs: 6_000, error: paymentError },
  ];
}

/** mulberry32: a small seeded PRNG returning floats in [0, 1); deterministic test data without Math.random. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
