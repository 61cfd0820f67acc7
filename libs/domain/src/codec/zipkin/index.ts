export * from './zipkin-v2.decoder';
export * from './zipkin-v2.encoder';
