export * from './ingest.service';
export * from './ingest-http';
export * from './body-encoding';
export * from './ingest.controller';
export * from './otlp-http.controller';
export * from './zipkin-ingest.controller';
export * from './policy.controller';
export * from './ingest.module';
