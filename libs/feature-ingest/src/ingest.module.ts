import { DynamicModule, Inject, Injectable, Module, OnApplicationBootstrap, OnApplicationShutdown, Provider } from '@nestjs/common';
import { ApiKeyRegistry } from '@skein/domain';
import { IngestController } from './ingest.controller';
import { INGEST_HTTP_CONTEXT, IngestHttpContext } from './ingest-http';
import { IngestOptions, IngestService } from './ingest.service';
import { OtlpHttpController } from './otlp-http.controller';
import { POLICY_ADMIN, PolicyAdminOptions, PolicyController } from './policy.controller';
import { OtlpGrpcServer } from './otlp-grpc.server';
import { ZipkinIngestController } from './zipkin-ingest.controller';

const OTLP_GRPC_SERVER = Symbol('OTLP_GRPC_SERVER');
const OTLP_GRPC_LISTENING = Symbol('OTLP_GRPC_LISTENING');

@Injectable()
class OtlpGrpcLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(OTLP_GRPC_SERVER) private readonly server: OtlpGrpcServer,
    @Inject(OTLP_GRPC_LISTENING) private readonly listening: (port: number) => void,
  ) {}
  async onApplicationBootstrap(): Promise<void> {
    this.listening(await this.server.start());
  }
  onApplicationShutdown(): Promise<void> {
    return this.server.stop();
  }
}

const INGEST_SERVICE = Symbol('INGEST_SERVICE');

@Injectable()
class IngestServiceLifecycle implements OnApplicationShutdown {
  constructor(@Inject(INGEST_SERVICE) private readonly ingest: IngestService) {}
  onApplicationShutdown(): Promise<void> {
    return this.ingest.close();
  }
}

/** IngestModuleOptions: the ingest service's options, plus API keys and the policy admin API. */
export interface IngestModuleOptions extends IngestOptions {
  apiKeys?: ApiKeyRegistry;
  /** policyAdmin: enables the sampling endpoints and the policy admin API; its cache is refreshed while the app runs. */
  policyAdmin?: PolicyAdminOptions;
  /** otlpGrpc: serve OTLP/gRPC TraceService/Export on host:port (4317 customary; 0 = any); `listening` gets the bound port. */
  otlpGrpc?: { host: string; port: number; listening: (port: number) => void };
}

@Injectable()
class PolicyRefreshLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(POLICY_ADMIN) private readonly admin: PolicyAdminOptions) {}
  async onApplicationBootstrap(): Promise<void> {
    await this.admin.cache.start();
  }
  onApplicationShutdown(): Promise<void> {
    return this.admin.cache.stop();
  }
}

/** IngestModule: every ingest HTTP endpoint (native, OTLP/HTTP, Zipkin v2, sampling policy) over a MessageBus. */
@Module({})
export class IngestModule {
  static register(options: IngestModuleOptions): DynamicModule {
    const ingest = new IngestService({ ...options, policy: options.policy ?? options.policyAdmin?.cache });
    const context: IngestHttpContext = { ingest, maxBodyBytes: options.maxBodyBytes, apiKeys: options.apiKeys };
    const providers: Provider[] = [{ provide: INGEST_HTTP_CONTEXT, useValue: context }, { provide: INGEST_SERVICE, useValue: ingest }, IngestServiceLifecycle];
    const controllers: DynamicModule['controllers'] = [IngestController, OtlpHttpController, ZipkinIngestController];
    if (options.policyAdmin !== undefined) {
      providers.push({ provide: POLICY_ADMIN, useValue: options.policyAdmin }, PolicyRefreshLifecycle);
      controllers.push(PolicyController);
    }
    if (options.otlpGrpc !== undefined) {
      const server = new OtlpGrpcServer({ ingest, apiKeys: options.apiKeys, host: options.otlpGrpc.host, port: options.otlpGrpc.port, maxMessageBytes: options.maxBodyBytes });
      providers.push({ provide: OTLP_GRPC_SERVER, useValue: server }, { provide: OTLP_GRPC_LISTENING, useValue: options.otlpGrpc.listening }, OtlpGrpcLifecycle);
    }
    return { module: IngestModule, controllers, providers, exports: [INGEST_HTTP_CONTEXT] };
  }
}
