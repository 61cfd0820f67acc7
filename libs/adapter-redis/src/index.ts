export * from './redis-metric-store.adapter';
export * from './redis-sla-state-store.adapter';
