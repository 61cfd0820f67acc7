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
#                   --single-threaded-gc unless SKEIN_ASSEMBLER_SINGLE_THREADED_GC=0 (default 1): V8's parallel and
#                   concurrent GC threads cost more CPU than they save on a machine whose cores are busy (measured:
#                   6% less CPU per span on average, ~40 MB more RSS; docs/decisions.md, "Single-threaded GC for span-assembler").
#   ingest-gateway  --heap-growing-percent=$SKEIN_GATEWAY_HEAP_GROWING_PERCENT (default 300, i.e. the old generation
#                   may grow to 4x what survived the last full GC; 0 = V8's own adaptive factor): under steady
#                   load V8's adaptive factor kept the limit just above the gateway's small live heap (~37 MB), so
#                   it ran a full GC 4-6 times a second, ~40% of its CPU (docs/decisions.md, "Heap growing factor
#                   for ingest-gateway").
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
    case "${SKEIN_ASSEMBLER_SINGLE_THREADED_GC:-1}" in
      1) flags+=("--single-threaded-gc") ;;
      0) ;;
      *)
        echo "start-service.sh: SKEIN_ASSEMBLER_SINGLE_THREADED_GC must be 1 (V8's GC on the main thread only) or 0, got '${SKEIN_ASSEMBLER_SINGLE_THREADED_GC}'" >&2
        exit 2
        ;;
    esac
    ;;
  ingest-gateway)
    growing="${SKEIN_GATEWAY_HEAP_GROWING_PERCENT:-300}"
    if ! [[ "$growing" =~ ^[0-9]+$ ]] || [ "$growing" -gt 1000 ]; then
      echo "start-service.sh: SKEIN_GATEWAY_HEAP_GROWING_PERCENT must be a whole number from 0 to 1000, got '$growing'" >&2
      exit 2
    fi
    if [ "$growing" -gt 0 ]; then flags+=("--heap-growing-percent=$growing"); fi
    ;;
esac
exec node "${flags[@]}" "$@" -r ./tools/register.js "apps/$app/src/main.ts"
