import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * The architecture rules of eslint.config.mjs, checked on purpose-written imports: if the Nx project graph or
 * the boundary rule silently stopped working, lint would pass everything and this test would fail.
 */
describe('module boundaries (@nx/enforce-module-boundaries)', () => {
  const root = join(__dirname, '..', '..');

  beforeAll(() => {
    // The rule reads the Nx project graph; make sure it exists, as test/run-all.sh does before linting.
    execFileSync(process.execPath, [join(root, 'node_modules', 'nx', 'bin', 'nx.js'), 'show', 'projects'], { cwd: root, env: { ...process.env, NX_DAEMON: 'false' }, stdio: 'ignore' });
  });

  // ESLint runs as its own process (its ESM config cannot load inside jest), linting the probe from stdin.
  const violations = async (file: string, code: string) => {
    let output: string;
    try {
      output = execFileSync(process.execPath, [join(root, 'node_modules', 'eslint', 'bin', 'eslint.js'), '--stdin', '--stdin-filename', file, '--format', 'json'], { cwd: root, input: code, encoding: 'utf8' });
    } catch (err) {
      // exit code 1 = lint errors found; the JSON report is still on stdout
      output = (err as { stdout: string }).stdout;
    }
    const [result] = JSON.parse(output) as { messages: { ruleId: string | null; message: string }[] }[];
    return (result?.messages ?? []).filter((m) => m.ruleId === '@nx/enforce-module-boundaries').map((m) => m.message);
  };

  it.each([
    ['domain imports kafkajs', 'libs/domain/src/probe.ts', "import { Kafka } from 'kafkajs';\nexport const x = Kafka;\n", /type:domain.*not allowed to import "kafkajs"/],
    ['domain imports NestJS', 'libs/domain/src/probe.ts', "import { Injectable } from '@nestjs/common';\nexport const x = Injectable;\n", /not allowed to import "@nestjs\/common"/],
    ['domain imports contracts', 'libs/domain/src/probe.ts', "import { SPANS_TOPIC } from '@skein/contracts';\nexport const x = SPANS_TOPIC;\n", /type:domain" can only depend on libs tagged with "type:domain"/],
    ['feature imports ioredis', 'libs/feature-ingest/src/probe.ts', "import Redis from 'ioredis';\nexport const x = Redis;\n", /not allowed to import "ioredis"/],
    ['feature imports an adapter', 'libs/feature-ingest/src/probe.ts', "import { KafkaMessageBus } from '@skein/adapter-kafka';\nexport const x = KafkaMessageBus;\n", /type:feature" can only depend on/],
    ['feature imports the feature of another service', 'libs/feature-ingest/src/probe.ts', "import { QueryModule } from '@skein/feature-query';\nexport const x = QueryModule;\n", /can only depend on/],
    ['adapter imports NestJS', 'libs/adapter-kafka/src/probe.ts', "import { Module } from '@nestjs/common';\nexport const x = Module;\n", /not allowed to import "@nestjs\/common"/],
    ['app imports another app', 'apps/query-api/src/probe.ts', "import { x } from '../../ingest-gateway/src/ingest-gateway.config';\nexport const y = x;\n", /./],
  ])('rejects: %s', async (_name, file, code, expected) => {
    const found = await violations(file, code);
    expect(found.length).toBeGreaterThan(0);
    expect(found.join('\n')).toMatch(expected);
  });

  it('accepts the allowed direction: a feature importing domain, contracts and service-kit', async () => {
    const code = "import { Span } from '@skein/domain';\nimport { SPANS_TOPIC } from '@skein/contracts';\nimport { loadConfig } from '@skein/service-kit';\nexport const x: [Span | undefined, string, unknown] = [undefined, SPANS_TOPIC, loadConfig];\n";
    expect(await violations('libs/feature-ingest/src/probe.ts', code)).toEqual([]);
  });
});
