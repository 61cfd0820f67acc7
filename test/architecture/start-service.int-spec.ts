import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * tools/start-service.sh refuses a bad value of the variables that choose a service's node flags before it starts
 * anything, naming the variable (the flags themselves, as each service runs, are checked in test/e2e).
 */
describe('tools/start-service.sh', () => {
  const script = join(__dirname, '..', '..', 'tools', 'start-service.sh');
  const start = (app: string, env: Record<string, string>) => spawnSync('bash', [script, app], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 10_000 });

  it.each([
    ['span-assembler', { SKEIN_ASSEMBLER_SEMI_SPACE_MB: '0' }, 'SKEIN_ASSEMBLER_SEMI_SPACE_MB must be a whole number of MiB from 1 to 1024'],
    ['span-assembler', { SKEIN_ASSEMBLER_SINGLE_THREADED_GC: 'yes' }, "SKEIN_ASSEMBLER_SINGLE_THREADED_GC must be 1 (V8's GC on the main thread only) or 0, got 'yes'"],
    ['ingest-gateway', { SKEIN_GATEWAY_HEAP_GROWING_PERCENT: '-5' }, 'SKEIN_GATEWAY_HEAP_GROWING_PERCENT must be a whole number from 0 to 1000'],
    ['no-such-app', {}, "no service named 'no-such-app'"],
  ])('%s with %j exits 2 and says what is wrong', (app, env, message) => {
    const result = start(app, env);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
  });
});
