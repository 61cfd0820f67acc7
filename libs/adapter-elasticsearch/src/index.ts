export * from './elasticsearch-trace-store.adapter';
export * from './elasticsearch-trace-query';
export { BulkItem, DocumentWriter, bulkBody, isoFromUs } from './bulk-body';
