import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** ServiceProcess: one Skein app running as a child process, as it runs in production. */
export interface ServiceProcess {
  name: string;
  url: string;
  child: ChildProcess;
  /** output: everything the process printed so far (stdout and stderr), for failure messages. */
  output(): string;
  /** kill: sends a signal (default SIGTERM) and waits for the exit; resolves with the exit code or signal. */
  kill(signal?: NodeJS.Signals): Promise<number | string | null>;
}

/**
 * startServiceProcess: runs `apps/<app>/src/main.ts` through tools/start-service.sh with the given environment on a free port, waits for its
 * "listening" log line and, unless `waitReady` is false, for /readyz to answer 200.
 */
export async function startServiceProcess(app: string, env: Record<string, string>, options: { timeoutMs?: number; waitReady?: boolean } = {}): Promise<ServiceProcess> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  // As a user starts it: tools/start-service.sh adds the service's own node flags and execs node (same pid).
  const child = spawn('bash', [join(ROOT, 'tools', 'start-service.sh'), app], {
    cwd: ROOT,
    env: { ...process.env, SKEIN_HTTP_PORT: '0', SKEIN_OTLP_HTTP_PORT: '0', SKEIN_OTLP_GRPC_PORT: '0', SKEIN_HTTP_HOST: '127.0.0.1', SKEIN_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${app} did not start within ${timeoutMs} ms:\n${output.slice(-4000)}`)), timeoutMs);
    const onData = () => {
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*listening/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    };
    child.stdout?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${app} exited (${String(code)}) before listening:\n${output.slice(-4000)}`));
    });
  });
  const service: ServiceProcess = {
    name: app,
    url,
    child,
    output: () => output,
    kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  if (options.waitReady !== false) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) {
        await service.kill('SIGKILL');
        throw new Error(`${app} not ready within ${timeoutMs} ms:\n${output.slice(-4000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  return service;
}
