export * from './query.service';
export * from './query.controller';
export * from './query-params';
export * from './zipkin-annotation-query';
export * from './zipkin-read.controller';
export * from './query.module';
