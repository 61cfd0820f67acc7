export * from './metrics-aggregator.service';
export * from './metrics-aggregator.module';
