import { DynamicModule, Inject, Injectable, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SpanAssemblerOptions, SpanAssemblerService } from './span-assembler.service';

const SPAN_ASSEMBLER = Symbol('SPAN_ASSEMBLER');

@Injectable()
class SpanAssemblerLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(SPAN_ASSEMBLER) private readonly assembler: SpanAssemblerService) {}
  onApplicationBootstrap(): Promise<void> {
    return this.assembler.start();
  }
  onApplicationShutdown(): Promise<void> {
    return this.assembler.stop();
  }
}

/** SpanAssemblerModule: runs the span assembler consumer for the lifetime of the Nest app. */
@Module({})
export class SpanAssemblerModule {
  static register(options: SpanAssemblerOptions): DynamicModule {
    return { module: SpanAssemblerModule, providers: [{ provide: SPAN_ASSEMBLER, useValue: new SpanAssemblerService(options) }, SpanAssemblerLifecycle] };
  }
}
