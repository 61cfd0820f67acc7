export * from './otlp-protobuf.reader';
export * from './otlp-json.decoder';
export * from './otlp-span.mapper';
