import { INestApplication } from '@nestjs/common';
import { Logger } from 'pino';

/**
 * runUntilSignal: closes the Nest app on SIGTERM/SIGINT (consumers stop, flush and commit in their
 * onApplicationShutdown hooks), then releases the adapters (`onClose`) and exits. A second signal, or `graceMs` (default 30 s), forces the exit.
 */
export function runUntilSignal(app: INestApplication, logger: Logger, onClose?: () => Promise<void>, graceMs = 30_000): void {
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    closing = true;
    logger.info({ signal }, 'shutting down: stop consuming, flush, commit');
    const timer = setTimeout(() => {
      logger.error({ graceMs }, 'graceful shutdown timed out: exiting');
      process.exit(1);
    }, graceMs);
    timer.unref();
    app
      .close()
      .then(() => onClose?.())
      .then(() => {
        logger.info('shut down cleanly');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** listenAddress: the `http://127.0.0.1:<port>` a started Nest app listens on (port 0 resolves to the real one). */
export function listenAddress(app: INestApplication): string {
  const address = app.getHttpServer().address() as { port: number } | string | null;
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return `http://127.0.0.1:${port}`;
}
