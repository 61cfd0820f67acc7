export * from './sla-rules.config';
export * from './webhook-notifier';
export * from './sla-checker.service';
export * from './sla-checker.module';
