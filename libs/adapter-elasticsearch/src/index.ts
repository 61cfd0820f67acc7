export * from './elasticsearch-trace-store.adapter';
export * from './elasticsearch-trace-query';
