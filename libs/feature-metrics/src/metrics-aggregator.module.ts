import { DynamicModule, Inject, Injectable, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { MetricsAggregatorOptions, MetricsAggregatorService } from './metrics-aggregator.service';

const METRICS_AGGREGATOR = Symbol('METRICS_AGGREGATOR');

@Injectable()
class MetricsAggregatorLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(METRICS_AGGREGATOR) private readonly aggregator: MetricsAggregatorService) {}
  onApplicationBootstrap(): Promise<void> {
    return this.aggregator.start();
  }
  onApplicationShutdown(): Promise<void> {
    return this.aggregator.stop();
  }
}

/** MetricsAggregatorModule: runs the minute-window consumer for the lifetime of the Nest app. */
@Module({})
export class MetricsAggregatorModule {
  static register(options: MetricsAggregatorOptions): DynamicModule {
    return {
      module: MetricsAggregatorModule,
      providers: [{ provide: METRICS_AGGREGATOR, useValue: new MetricsAggregatorService(options) }, MetricsAggregatorLifecycle],
    };
  }
}
