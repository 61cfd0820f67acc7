import 'reflect-metadata';
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
  /** onClose: releases adapters (clients, connections) after the consumers have stopped. */
  onClose?: () => Promise<void>;
}

/**
 * startService: creates the Nest app (raw bodies: endpoints read their own), serves /healthz, /readyz and
 * /metrics, listens, and shuts down gracefully on SIGTERM/SIGINT. Returns the base URL.
 */
export async function startService(definition: ServiceDefinition): Promise<string> {
  @Module({ imports: [...definition.modules, ObservabilityModule.register({ registry: definition.registry, readiness: definition.readiness })] })
  class ServiceModule {}
  const app = await NestFactory.create(ServiceModule, { bodyParser: false, logger: new PinoNestLogger(definition.logger), abortOnError: false });
  await app.listen(definition.port, definition.host);
  const url = listenAddress(app);
  runUntilSignal(app, definition.logger, definition.onClose);
  definition.logger.info({ url }, `${definition.name} listening`);
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
