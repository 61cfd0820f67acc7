import { Controller, DynamicModule, Get, Header, HttpCode, HttpException, Inject, Module } from '@nestjs/common';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** ReadinessCheck: one dependency a service needs before it can do its job (Kafka, Elasticsearch, Redis). */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<boolean>;
}

/** ObservabilityOptions: what /readyz checks and which registry /metrics serves. */
export interface ObservabilityOptions {
  registry: Registry;
  readiness: ReadinessCheck[];
}

const OBSERVABILITY_OPTIONS = Symbol('OBSERVABILITY_OPTIONS');

/** createMetricsRegistry: a Prometheus registry with Node.js process metrics (RSS, event loop lag, GC). */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

@Controller()
class ObservabilityController {
  constructor(@Inject(OBSERVABILITY_OPTIONS) private readonly options: ObservabilityOptions) {}

  /** healthz: liveness: the process answers. */
  @Get('healthz')
  healthz(): { status: string } {
    return { status: 'ok' };
  }

  /** readyz: readiness: 200 when every dependency answers, else 503 naming the ones that don't. */
  @Get('readyz')
  @HttpCode(200)
  async readyz(): Promise<{ status: string; checks: Record<string, boolean> }> {
    const results = await Promise.all(
      this.options.readiness.map(async ({ name, check }) => [name, await check().catch(() => false)] as const),
    );
    const checks = Object.fromEntries(results);
    if (results.some(([, ok]) => !ok)) throw new HttpException({ status: 'unavailable', checks }, 503);
    return { status: 'ready', checks };
  }

  /** metrics: Prometheus text exposition. */
  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  metrics(): Promise<string> {
    return this.options.registry.metrics();
  }
}

/** ObservabilityModule: /healthz, /readyz and /metrics for a service. */
@Module({})
export class ObservabilityModule {
  static register(options: ObservabilityOptions): DynamicModule {
    return {
      module: ObservabilityModule,
      controllers: [ObservabilityController],
      providers: [{ provide: OBSERVABILITY_OPTIONS, useValue: options }],
    };
  }
}

/** registerLagGauge: a gauge `<name>` read at scrape time from a consumer's lag (messages not yet committed). */
export function registerLagGauge(registry: Registry, name: string, help: string, lag: () => Promise<number> | undefined): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    async collect() {
      const value = await lag()?.catch(() => -1);
      if (value !== undefined) this.set(value);
    },
  });
}
