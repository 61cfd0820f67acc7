import 'reflect-metadata';
import { Server, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { DynamicModule, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'pino';
import { Registry } from 'prom-client';
import { listenAddress, runUntilSignal } from './lifecycle';
import { PinoNestLogger } from './logger';
import { ObservabilityModule, ReadinessCheck } from './observability.module';

/** ServiceDefinition: what one Skein process runs: its feature modules, readiness checks and HTTP address. */
export interface ServiceDefinition {
  name: string;
  logger: Logger;
  registry: Registry;
  modules: DynamicModule[];
  readiness: ReadinessCheck[];
  host: string;
  port: number;
  /** extraPorts: more ports serving the same routes (e.g. OTLP/HTTP's customary 4318); 0 = any free port. */
  extraPorts?: number[];
  /** onClose: releases adapters (clients, connections) after the consumers have stopped. */
  onClose?: () => Promise<void>;
}

/**
 * startService: creates the Nest app (raw bodies: endpoints read their own), serves /healthz, /readyz and
 * /metrics, listens, and shuts down gracefully on SIGTERM/SIGINT. Returns the base URL.
 */
export async function startService(definition: ServiceDefinition): Promise<string> {
  // (extra servers share the Express instance, so every route and /healthz, /metrics answer on them too)
  @Module({ imports: [...definition.modules, ObservabilityModule.register({ registry: definition.registry, readiness: definition.readiness })] })
  class ServiceModule {}
  const app = await NestFactory.create(ServiceModule, { bodyParser: false, logger: new PinoNestLogger(definition.logger), abortOnError: false });
  await app.listen(definition.port, definition.host);
  const url = listenAddress(app);
  const extraServers = await Promise.all(
    (definition.extraPorts ?? []).map(
      (port) =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer(app.getHttpAdapter().getInstance());
          server.once('error', reject);
          server.listen(port, definition.host, () => resolve(server));
        }),
    ),
  );
  const extraUrls = extraServers.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const onClose = async () => {
    await Promise.all(extraServers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    await definition.onClose?.();
  };
  runUntilSignal(app, definition.logger, onClose);
  definition.logger.info({ url, extraUrls }, `${definition.name} listening`);
  return url;
}

/** exitOnStartupError: logs why a service could not start (e.g. a ConfigError naming the variable) and exits 1. */
export function exitOnStartupError(service: string): (err: unknown) => never {
  return (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${JSON.stringify({ level: 'fatal', service, msg: `cannot start: ${message}` })}\n`);
    process.exit(1);
  };
}
