#!/usr/bin/env bash
# idle-cpu.sh: the CPU each Kafka-connected Skein service uses with no traffic at all (ingest-gateway,
# span-assembler, metrics-aggregator), in cores. Each is started from the sources as a user starts it
# (tools/start-service.sh), with its own topic, index and Redis key prefix. Once all three answer /readyz and have
# had 10 s to settle, their CPU time is read from /proc over the window, and then they are stopped.
#
#   eval "$(bash deploy/local/infra.sh env)"   # SKEIN_KAFKA_BROKERS, SKEIN_ES_URL, SKEIN_REDIS_URL
#   bash tools/bench/idle-cpu.sh [window seconds, default 30]
set -euo pipefail
cd "$(dirname "$0")/../.."
window="${1:-30}"
: "${SKEIN_KAFKA_BROKERS:?run: eval \"\$(bash deploy/local/infra.sh env)\"}" "${SKEIN_ES_URL:?}" "${SKEIN_REDIS_URL:?}"
prefix="idle-cpu-$(date +%s)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

declare -A port pid
common=(SKEIN_LOG_LEVEL=warn SKEIN_HTTP_HOST=127.0.0.1 SKEIN_KAFKA_BROKERS="$SKEIN_KAFKA_BROKERS" SKEIN_TOPIC_PREFIX="$prefix" SKEIN_SPANS_PARTITIONS=6)
start() { # start <app> <env...>
  local app=$1; shift
  port[$app]=$(free_port)
  env "${common[@]}" SKEIN_HTTP_PORT="${port[$app]}" "$@" bash tools/start-service.sh "$app" >"/tmp/$prefix-$app.log" 2>&1 &
  pid[$app]=$!
}
stop_all() {
  for app in "${!pid[@]}"; do kill -TERM "${pid[$app]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all EXIT

start ingest-gateway SKEIN_REDIS_URL="$SKEIN_REDIS_URL" SKEIN_REDIS_KEY_PREFIX="$prefix" SKEIN_API_KEYS="idle:$(openssl rand -hex 12)" \
  SKEIN_ADMIN_TOKEN="$(openssl rand -hex 16)" SKEIN_OTLP_HTTP_PORT="$(free_port)" SKEIN_OTLP_GRPC_PORT="$(free_port)"
start span-assembler SKEIN_ES_URL="$SKEIN_ES_URL" SKEIN_ES_INDEX_PREFIX="$prefix"
start metrics-aggregator SKEIN_REDIS_URL="$SKEIN_REDIS_URL" SKEIN_REDIS_KEY_PREFIX="$prefix"

for app in "${!port[@]}"; do
  for _ in $(seq 1 450); do
    curl -fs "http://127.0.0.1:${port[$app]}/readyz" >/dev/null 2>&1 && break
    kill -0 "${pid[$app]}" 2>/dev/null || { echo "$app exited before it was ready:" >&2; tail -20 "/tmp/$prefix-$app.log" >&2; exit 1; }
    sleep 0.2
  done
  curl -fs "http://127.0.0.1:${port[$app]}/readyz" >/dev/null || { echo "$app not ready within 90 s" >&2; exit 1; }
done
sleep 10

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A before
for app in "${!pid[@]}"; do before[$app]=$(ticks "${pid[$app]}"); done
sleep "$window"
hz=$(getconf CLK_TCK)
echo "idle CPU over ${window} s ($(date -u +%FT%TZ), $(nproc) CPUs, node $(node --version)):"
for app in ingest-gateway span-assembler metrics-aggregator; do
  awk -v a="$app" -v t0="${before[$app]}" -v t1="$(ticks "${pid[$app]}")" -v hz="$hz" -v w="$window" 'BEGIN { printf "  %-20s %.3f cores\n", a, (t1 - t0) / hz / w }'
done

stop_all
trap - EXIT
# What the services created for this run: topics, and the assembler's index templates.
node -e '
  const { Kafka, logLevel } = require("kafkajs");
  const admin = new Kafka({ brokers: process.argv[1].split(","), logLevel: logLevel.NOTHING }).admin();
  (async () => { await admin.connect(); const mine = (await admin.listTopics()).filter((t) => t.startsWith(process.argv[2])); if (mine.length) await admin.deleteTopics({ topics: mine }); await admin.disconnect(); })().catch((e) => { console.error(e.message); process.exit(1); });
' "$SKEIN_KAFKA_BROKERS" "$prefix"
curl -fs -X DELETE "$SKEIN_ES_URL/_index_template/$prefix-*" >/dev/null || true
rm -f /tmp/"$prefix"-*.log
