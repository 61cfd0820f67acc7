import { DynamicModule, Inject, Injectable, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SlaCheckerOptions, SlaCheckerService } from './sla-checker.service';

const SLA_CHECKER = Symbol('SLA_CHECKER');

@Injectable()
class SlaCheckerLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(SLA_CHECKER) private readonly checker: SlaCheckerService) {}
  onApplicationBootstrap(): void {
    this.checker.start();
  }
  onApplicationShutdown(): Promise<void> {
    return this.checker.stop();
  }
}

/** SlaCheckerModule: runs the SLA evaluation loop for the lifetime of the Nest app. */
@Module({})
export class SlaCheckerModule {
  static register(options: SlaCheckerOptions): DynamicModule {
    return { module: SlaCheckerModule, providers: [{ provide: SLA_CHECKER, useValue: new SlaCheckerService(options) }, SlaCheckerLifecycle] };
  }
}
