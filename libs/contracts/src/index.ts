export * from './kafka/topics';
export * from './kafka/span-message.schema';
export * from './kafka/dead-letter.schema';
export * from './elasticsearch/indices';
export * from './redis/redis-keys';
export * from './otlp/otlp-proto';
export * from './native/native-proto';
export * from './native/span-ingest.codec';
