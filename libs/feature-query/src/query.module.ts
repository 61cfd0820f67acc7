import { DynamicModule, Module } from '@nestjs/common';
import { MetricStore, TraceStore } from '@skein/domain';
import { QUERY_SERVICE, QueryController } from './query.controller';
import { QueryService } from './query.service';
import { ZipkinReadController } from './zipkin-read.controller';

/** QueryModule: the read API over a trace store and a metric store: Skein's own (`/api/…`) and Zipkin's v2 read API (`/api/v2/…`). */
@Module({})
export class QueryModule {
  static register(options: { traces: TraceStore; metrics: MetricStore }): DynamicModule {
    return {
      module: QueryModule,
      controllers: [QueryController, ZipkinReadController],
      providers: [{ provide: QUERY_SERVICE, useValue: new QueryService(options.traces, options.metrics) }],
    };
  }
}
