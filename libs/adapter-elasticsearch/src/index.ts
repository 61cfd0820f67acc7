export * from './elasticsearch-trace-store.adapter';
