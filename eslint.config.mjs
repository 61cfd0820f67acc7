// ESLint flat config. The Nx module-boundary rule is the architecture check: each project's
// `type:` and `scope:` tags (project.json) decide what it may import. No wildcard constraints.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const clientLibraries = ['@nestjs/*', 'kafkajs', 'ioredis', '@elastic/*', 'express', 'pino', 'prom-client'];

const depConstraints = [
  // Domain: plain TypeScript, no I/O, no framework, no client libraries.
  { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:domain'], bannedExternalImports: clientLibraries },
  { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: ['type:domain'], bannedExternalImports: clientLibraries },
  { sourceTag: 'type:adapter', onlyDependOnLibsWithTags: ['type:domain', 'type:contracts'], bannedExternalImports: ['@nestjs/*'] },
  { sourceTag: 'type:service-kit', onlyDependOnLibsWithTags: ['type:domain', 'type:contracts'], bannedExternalImports: ['kafkajs', 'ioredis', '@elastic/*'] },
  // Features see ports only; which adapter backs a port is the app's decision.
  { sourceTag: 'type:feature', onlyDependOnLibsWithTags: ['type:domain', 'type:contracts', 'type:service-kit'], bannedExternalImports: ['kafkajs', 'ioredis', '@elastic/*'] },
  { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:domain', 'type:contracts'], bannedExternalImports: ['@nestjs/*', 'kafkajs', 'ioredis', '@elastic/*'] },
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:feature', 'type:service-kit', 'type:adapter', 'type:contracts', 'type:domain'] },
  // Integration tests may run a feature in process against real Kafka/ES/Redis (never an app: apps run as processes).
  { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:domain', 'type:contracts', 'type:adapter', 'type:feature', 'type:testing'] },
  // Scopes: a service's code stays in its service; shared libraries serve all.
  { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
  { sourceTag: 'scope:ingest', onlyDependOnLibsWithTags: ['scope:ingest', 'scope:shared'] },
  { sourceTag: 'scope:assembler', onlyDependOnLibsWithTags: ['scope:assembler', 'scope:shared'] },
  { sourceTag: 'scope:metrics', onlyDependOnLibsWithTags: ['scope:metrics', 'scope:shared'] },
  { sourceTag: 'scope:sla', onlyDependOnLibsWithTags: ['scope:sla', 'scope:shared'] },
  { sourceTag: 'scope:query', onlyDependOnLibsWithTags: ['scope:query', 'scope:shared'] },
  { sourceTag: 'scope:embedded', onlyDependOnLibsWithTags: ['scope:ingest', 'scope:assembler', 'scope:metrics', 'scope:sla', 'scope:query', 'scope:shared'] },
];

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '.cache/**', '.nx/**', 'coverage/**'] },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': ['error', { enforceBuildableLibDependency: false, allow: [], depConstraints }],
    },
  },
  {
    // Tests assert on values they just checked; non-null assertions keep them readable.
    files: ['**/*.spec.ts', '**/*.int-spec.ts', 'test/**/*.ts', 'libs/testing/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Specs run the shared contract suites and drive features through the in-memory adapters; production code
      // never imports libs/testing, and features never import an adapter.
      '@nx/enforce-module-boundaries': ['error', { enforceBuildableLibDependency: false, allow: ['@skein/testing', '@skein/adapter-memory'], depConstraints }],
    },
  },
];
