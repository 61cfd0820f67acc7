import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MemoryMetricStore, MemoryTraceStore } from '@skein/adapter-memory';
import { mergeTraceSummary } from '@skein/domain';
import { threeServiceTrace } from '@skein/testing';
import { QueryModule } from './query.module';

// Through real HTTP: the routes, how Express hands repeated and bracketed parameters over, and the JSON bodies.
describe('QueryModule over HTTP', () => {
  let app: INestApplication;
  let url: string;
  const trace = threeServiceTrace({ startTimeUs: (Date.now() - 10 * 60_000) * 1000, paymentError: true });

  beforeAll(async () => {
    const traces = new MemoryTraceStore();
    await traces.writeSpans(trace.spans);
    await traces.saveSummaryStates([mergeTraceSummary(undefined, trace.spans)]);
    app = await NestFactory.create(QueryModule.register({ traces, metrics: new MemoryMetricStore() }), { logger: false });
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });

  afterAll(async () => {
    await app.close();
  });

  async function get(path: string): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${url}${path}`);
    return { status: res.status, body: await res.json() };
  }

  it('serves the trace tree in both clocks, and 400 for a bad clock', async () => {
    expect(await get(`/api/traces/${trace.traceId}?clock=raw`)).toMatchObject({ status: 200, body: { traceId: trace.traceId, clock: 'raw', spanCount: 5 } });
    expect(await get(`/api/traces/${trace.traceId}?clock=local`)).toEqual({ status: 400, body: { error: 'invalid_parameter', message: 'clock: must be one of adjusted, raw, got "local"' } });
  });

  it('searches with repeated tag parameters and a query string', async () => {
    const search = async (query: string): Promise<unknown> => ((await get(`/api/traces?${query}`)).body as { traces: { traceId: string }[] }).traces.map((t) => t.traceId);
    expect(await search('tag=http.method%3DPOST&tag=http.status_code%3D200&errors=true')).toEqual([trace.traceId]);
    expect(await search('tag=http.method%3DPOST&tag=http.status_code%3D404')).toEqual([]);
    expect(await search(`q=${encodeURIComponent('service:payment-service AND duration>=30ms')}&minDuration=1ms&sort=longest`)).toEqual([trace.traceId]);
    expect(await get('/api/traces?sort=random')).toEqual({ status: 400, body: { error: 'invalid_parameter', message: 'sort: must be one of newest, oldest, longest, shortest, most_spans, fewest_spans, got "random"' } });
    expect(await get('/api/traces?service=a&service=b')).toEqual({ status: 400, body: { error: 'invalid_parameter', message: 'service: must be given once, as a plain value' } });
    const bad = await get(`/api/traces?q=${encodeURIComponent('service:(')}`);
    expect(bad).toMatchObject({ status: 400, body: { error: 'invalid_query', position: expect.any(Number) } });
  });

  it('lists names from the trace store', async () => {
    expect(await get('/api/services')).toEqual({ status: 200, body: { services: ['api-gateway', 'order-service', 'payment-service'] } });
    expect(await get('/api/services/payment-service/operations?lookback=3600000')).toEqual({ status: 200, body: { operations: ['charge'] } });
    expect(await get('/api/metrics/services')).toEqual({ status: 200, body: { services: [] } });
  });

  it('serves the Zipkin v2 read API as Zipkin tools expect', async () => {
    expect(await get('/api/v2/services')).toEqual({ status: 200, body: ['api-gateway', 'order-service', 'payment-service'] });
    expect(await get('/api/v2/spans?serviceName=order-service')).toEqual({ status: 200, body: ['POST /orders', 'charge'] });
    const traces = await get(`/api/v2/traces?serviceName=payment-service&annotationQuery=${encodeURIComponent('error and http.method=POST')}&minDuration=1000&limit=5`);
    expect(traces.status).toBe(200);
    expect((traces.body as { traceId: string; id: string }[][]).map((spans) => spans.map((s) => s.id).sort())).toEqual([Object.values(trace.ids).sort()]);
    const one = await get(`/api/v2/trace/${trace.traceId}`);
    expect(one.status).toBe(200);
    expect(one.body).toEqual((traces.body as unknown[][])[0]);
    expect((await get('/api/v2/trace/0af7651916cd43dd8448eb211c80319c')).status).toBe(404);
    expect(await get('/api/v2/autocompleteKeys')).toEqual({ status: 200, body: [] });
  });
});
