#!/usr/bin/env bash
# start-embedded.sh: `npm start`. Installs dependencies on a fresh clone, then runs Skein embedded:
# every service in one process on in-memory adapters (apps/embedded).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ]; then npm ci --no-audit --no-fund; fi
exec bash tools/start-service.sh embedded
