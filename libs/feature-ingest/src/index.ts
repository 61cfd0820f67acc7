export * from './ingest.service';
export * from './ingest.controller';
export * from './ingest.module';
