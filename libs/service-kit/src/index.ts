export * from './config';
export * from './logger';
export * from './observability.module';
export * from './http-body';
export * from './lifecycle';
export * from './config-shapes';
export * from './bootstrap';
