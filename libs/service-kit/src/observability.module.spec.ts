import { Registry } from 'prom-client';
import { createMetricsRegistry, registerLagGauge } from './observability.module';

async function gaugeValue(registry: Registry, name: string): Promise<number | undefined> {
  const { values } = await (registry.getSingleMetric(name) as NonNullable<ReturnType<Registry['getSingleMetric']>>).get();
  return values[0]?.value;
}

describe('registerLagGauge', () => {
  it('reads the lag at scrape time', async () => {
    const registry = new Registry();
    let lag = 7;
    registerLagGauge(registry, 'test_lag', 'lag', () => Promise.resolve(lag));
    expect(await gaugeValue(registry, 'test_lag')).toBe(7);
    lag = 0;
    expect(await gaugeValue(registry, 'test_lag')).toBe(0);
    expect(await registry.metrics()).toContain('# HELP test_lag lag\n# TYPE test_lag gauge\ntest_lag 0\n');
  });

  it('reports -1 when the lag cannot be read', async () => {
    const registry = new Registry();
    registerLagGauge(registry, 'test_lag', 'lag', () => Promise.reject(new Error('broker down')));
    expect(await gaugeValue(registry, 'test_lag')).toBe(-1);
  });

  it('reads 0 before the consumer has started (no lag function result yet)', async () => {
    const registry = new Registry();
    const consumer: { lag?: () => Promise<number> } = {};
    registerLagGauge(registry, 'test_lag', 'lag', () => consumer.lag?.());
    expect(await gaugeValue(registry, 'test_lag')).toBe(0);
    consumer.lag = () => Promise.resolve(12);
    expect(await gaugeValue(registry, 'test_lag')).toBe(12);
  });
});

describe('createMetricsRegistry', () => {
  it('returns a fresh registry with Node.js process metrics each time', async () => {
    const a = createMetricsRegistry();
    const b = createMetricsRegistry();
    expect(a).not.toBe(b);
    expect(a.getSingleMetric('process_resident_memory_bytes')).toBeDefined();
    expect(a.getSingleMetric('nodejs_eventloop_lag_seconds')).toBeDefined();
    expect(await a.metrics()).toContain('process_resident_memory_bytes');
  });
});
