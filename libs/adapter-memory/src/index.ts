export * from './memory-message-bus.adapter';
export * from './memory-trace-store.adapter';
export * from './memory-metric-store.adapter';
export * from './memory-sla-state-store.adapter';
export * from './memory-policy-store.adapter';
