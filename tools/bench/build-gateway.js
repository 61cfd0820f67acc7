#!/usr/bin/env node
/*
 * build-gateway.js: compiles the TypeScript sources of apps/ and libs/ (specs left out) to plain CommonJS in
 * <out-dir> with @swc/core (already a dependency of tools/register.js), path aliases rewritten to relative
 * requires and non-TypeScript files (.json, .proto) copied beside them. For the benchmark only: it measures the
 * gateway without the runtime transpiler (tools/register.js), whose compiler and cache stay resident.
 *
 *   node tools/bench/build-gateway.js /tmp/skein-build
 *   node -r ./tools/register.js tools/bench/ingest-gateway.bench.ts --gateway-entry /tmp/skein-build/apps/ingest-gateway/src/main.js
 *
 * Dependencies are still resolved from the repository's node_modules (the output is linked to it).
 */
'use strict';
const { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } = require('node:fs');
const { dirname, join, relative, resolve } = require('node:path');
const swc = require('@swc/core');

const ROOT = resolve(__dirname, '..', '..');
const tsconfig = require(join(ROOT, 'tsconfig.base.json'));

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

function main() {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: node tools/bench/build-gateway.js <out-dir>\n');
    process.exit(2);
  }
  const outDir = resolve(out);
  if (outDir === ROOT || !relative(ROOT, outDir).startsWith('..')) throw new Error('the output directory must be outside the repository');
  rmSync(outDir, { recursive: true, force: true });
  let compiled = 0;
  let copied = 0;
  for (const top of ['apps', 'libs']) {
    for (const file of files(join(ROOT, top))) {
      const target = join(outDir, relative(ROOT, file));
      if (/\.(spec|int-spec|fuzz\.spec)\.ts$/.test(file)) continue;
      mkdirSync(dirname(target), { recursive: true });
      if (file.endsWith('.d.ts')) continue;
      if (!file.endsWith('.ts')) {
        copyFileSync(file, target);
        copied++;
        continue;
      }
      const { code } = swc.transformFileSync(file, {
        swcrc: false,
        sourceMaps: false,
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
          baseUrl: ROOT,
          paths: tsconfig.compilerOptions.paths,
        },
        module: { type: 'commonjs' },
      });
      writeFileSync(target.replace(/\.ts$/, '.js'), code);
      compiled++;
    }
  }
  // Packages resolve from the repository's node_modules, as for the sources.
  if (!existsSync(join(outDir, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(outDir, 'node_modules'), 'dir');
  process.stdout.write(`compiled ${compiled} files, copied ${copied} to ${outDir}; gateway entry: ${join(outDir, 'apps', 'ingest-gateway', 'src', 'main.js')}\n`);
}

main();
