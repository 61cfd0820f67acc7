export * from './query.service';
export * from './query.controller';
export * from './query.module';
