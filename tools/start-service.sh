#!/usr/bin/env bash
# start-service.sh: runs one Skein service from the sources, with the Node/V8 flags it is meant to run with.
#
#   bash tools/start-service.sh <app> [node flags...]     e.g. bash tools/start-service.sh span-assembler
#
# <app> is a directory under apps/ (ingest-gateway, span-assembler, metrics-aggregator, sla-checker, query-api,
# embedded); extra node flags (--cpu-prof, --trace-gc, ...) come after the service's own, so they override them
# (for V8 flags the last one given wins). The process is replaced
# (exec), so its pid is the service's. Configuration is by environment variables (docs/configuration.md).
#
# Flags per service (docs/decisions.md, "V8 young generation for span-assembler"):
#   span-assembler  --max-semi-space-size=$SKEIN_ASSEMBLER_SEMI_SPACE_MB (MiB, default 64; Node's own default is 16):
#                   it allocates ~5 KB per span it decodes and holds spans for the idle period; a larger young
#                   generation lets more of that die before it is copied (measured: ~10% less CPU per span,
#                   ~100 MB more RSS).
set -euo pipefail
cd "$(dirname "$0")/.."
app="${1:?usage: tools/start-service.sh <app> [node flags...]}"
shift
if [ ! -f "apps/$app/src/main.ts" ]; then
  echo "start-service.sh: no service named '$app' (expected apps/$app/src/main.ts)" >&2
  exit 2
fi
flags=()
case "$app" in
  span-assembler)
    semi="${SKEIN_ASSEMBLER_SEMI_SPACE_MB:-64}"
    if ! [[ "$semi" =~ ^[0-9]+$ ]] || [ "$semi" -lt 1 ] || [ "$semi" -gt 1024 ]; then
      echo "start-service.sh: SKEIN_ASSEMBLER_SEMI_SPACE_MB must be a whole number of MiB from 1 to 1024, got '$semi'" >&2
      exit 2
    fi
    flags+=("--max-semi-space-size=$semi")
    ;;
esac
exec node "${flags[@]}" "$@" -r ./tools/register.js "apps/$app/src/main.ts"
