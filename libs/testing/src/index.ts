export * from './fixtures/trace-fixtures';
export * from './infra-env';
export * from './contracts/message-bus.contract';
export * from './contracts/trace-store.contract';
export * from './contracts/metric-store.contract';
export * from './contracts/sla-state-store.contract';
export * from './contracts/policy-store.contract';
