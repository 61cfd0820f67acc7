#!/usr/bin/env bash
# run-all.sh: every test Skein has, from a fresh clone: install, type check, lint, unit tests, then integration
# tests against real Kafka, Elasticsearch and Redis. When SKEIN_KAFKA_BROKERS, SKEIN_ES_URL and SKEIN_REDIS_URL
# are all set, those are used; otherwise deploy/local/infra.sh starts local ones and stops them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI="${CI:-}"

step() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

step "install dependencies"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# npm runs install scripts only for packages in package.json "allowScripts": make sure the native lz4 really built.
node -e "require('lz4/lib/binding')" 2>/dev/null || { echo "lz4's native binding is missing: rebuilding"; npm rebuild lz4; node -e "require('lz4/lib/binding')"; }

step "type check"
npx tsc -p tsconfig.base.json --noEmit

step "lint (module boundaries included)"
# The boundary rule reads the Nx project graph: build it first, or the rule has nothing to check against.
NX_DAEMON=false npx nx show projects >/dev/null
npx eslint . --max-warnings 0

step "unit tests"
results="$(mktemp -d)"
npx jest --selectProjects unit --ci --json --outputFile="$results/unit.json"

started_infra=0
if [ -z "${SKEIN_KAFKA_BROKERS:-}" ] || [ -z "${SKEIN_ES_URL:-}" ] || [ -z "${SKEIN_REDIS_URL:-}" ]; then
  step "start local Kafka, Elasticsearch and Redis"
  bash deploy/local/infra.sh up
  started_infra=1
  trap 'bash deploy/local/infra.sh down >/dev/null 2>&1 || true' EXIT
  eval "$(bash deploy/local/infra.sh env)"
fi
echo "Kafka ${SKEIN_KAFKA_BROKERS}, Elasticsearch ${SKEIN_ES_URL}, Redis ${SKEIN_REDIS_URL}"

step "integration tests"
npx jest --selectProjects integration --ci --maxWorkers=2 --testPathIgnorePatterns '\.serial\.int-spec\.ts$' --json --outputFile="$results/integration.json"

# Fault tests stop and restart the shared Kafka or Elasticsearch: alone, after the rest, and only on
# infrastructure this script started itself (SKEIN_INFRA_MANAGED=1), never on one the user pointed us at.
step "fault-injection tests (serial)"
SKEIN_INFRA_MANAGED="$started_infra" npx jest --selectProjects integration --ci --runInBand --passWithNoTests --testPathPattern '\.serial\.int-spec\.ts$' --json --outputFile="$results/serial.json"

# One plain closing line for every tier together.
node -e '
  const files = process.argv.slice(1).map((f) => require(f));
  const sum = (k) => files.reduce((n, r) => n + r[k], 0);
  console.log(`\nall tests: ${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed`);
' "$results/unit.json" "$results/integration.json" "$results/serial.json"
