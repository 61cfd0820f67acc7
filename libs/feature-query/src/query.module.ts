import { DynamicModule, Module } from '@nestjs/common';
import { MetricStore, TraceStore } from '@skein/domain';
import { QUERY_SERVICE, QueryController } from './query.controller';
import { QueryService } from './query.service';

/** QueryModule: the read API over a trace store and a metric store. */
@Module({})
export class QueryModule {
  static register(options: { traces: TraceStore; metrics: MetricStore }): DynamicModule {
    return { module: QueryModule, controllers: [QueryController], providers: [{ provide: QUERY_SERVICE, useValue: new QueryService(options.traces, options.metrics) }] };
  }
}
