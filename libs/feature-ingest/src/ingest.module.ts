import { DynamicModule, Module } from '@nestjs/common';
import { INGEST_SERVICE, IngestController } from './ingest.controller';
import { IngestOptions, IngestService } from './ingest.service';

/** IngestModule: the ingest gateway's HTTP endpoints over a {@link MessageBus}. */
@Module({})
export class IngestModule {
  static register(options: IngestOptions): DynamicModule {
    return {
      module: IngestModule,
      controllers: [IngestController],
      providers: [
        { provide: INGEST_SERVICE, useValue: new IngestService(options) },
        { provide: 'INGEST_MAX_BODY_BYTES', useValue: options.maxBodyBytes },
      ],
    };
  }
}
