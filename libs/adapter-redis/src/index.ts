export * from './redis-metric-store.adapter';
export * from './redis-sla-state-store.adapter';
export * from './redis-policy-store.adapter';
