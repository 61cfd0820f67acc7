#!/usr/bin/env bash
# Local infrastructure for Skein development and tests, without Docker:
#   Apache Kafka (KRaft, one combined broker+controller), Elasticsearch 8.x (single node), Redis.
# Kafka and Elasticsearch come from Maven Central (via `mvn`), Redis from Debian (`apt-get`).
# See deploy/local/README.md.  Usage: deploy/local/infra.sh {up|down|status|env|start SVC|stop SVC|fetch}
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/../.." && pwd -P)"

CACHE_DIR="${INFRA_CACHE_DIR:-$REPO_ROOT/.cache/infra}"   # downloads (safe to share/persist)
RUN_DIR="${INFRA_RUN_DIR:-$REPO_ROOT/.cache/infra/run}"   # pids, ports, logs, data
KAFKA_VERSION="${INFRA_KAFKA_VERSION:-3.9.2}"
ES_VERSION="${INFRA_ES_VERSION:-8.19.21}"
TIMEOUT="${INFRA_TIMEOUT:-180}"
STOP_TIMEOUT="${INFRA_STOP_TIMEOUT:-30}"
ES_USER="${INFRA_ES_USER:-skein-es}"
ES_JAVA_OPTS_DEFAULT="${INFRA_ES_JAVA_OPTS:--Xms512m -Xmx1g}"
KAFKA_HEAP_OPTS="${INFRA_KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}"
SCALA_VERSION=2.13
SLF4J_VERSION=1.7.36
RELOAD4J_VERSION=1.2.25
ANTRUN_VERSION=3.1.0

KAFKA_LIBS="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"
ES_DIST="$CACHE_DIR/elasticsearch-$ES_VERSION"
PORTS_FILE="$RUN_DIR/ports.env"
ALL_SERVICES=(kafka elasticsearch redis)

log() { printf '[infra] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() {
  cat <<EOF
Usage: ${0##*/} COMMAND
  up                 fetch (cached), start Kafka, Elasticsearch and Redis, wait until ready
  down               stop everything 'up' started and delete the run state (data included)
  status             one line per service: running/starting/stopped and address
  env                print 'export SKEIN_...' lines for running services
                     (use: eval "\$(${0##*/} env)")
  stop SERVICE       stop one service (kafka|elasticsearch|redis), keep its data and port
  start SERVICE      start one service again on the same port with the same data
  fetch              only download/cache everything
Env: INFRA_TIMEOUT (s, default 180), INFRA_STOP_TIMEOUT (default 30), INFRA_CACHE_DIR,
     INFRA_RUN_DIR, INFRA_KAFKA_VERSION, INFRA_ES_VERSION, INFRA_KAFKA_PORT,
     INFRA_KAFKA_CONTROLLER_PORT, INFRA_ES_PORT, INFRA_ES_TRANSPORT_PORT, INFRA_REDIS_PORT,
     INFRA_ES_JAVA_OPTS, INFRA_KAFKA_HEAP_OPTS, INFRA_ES_USER, INFRA_MVN_ARGS
EOF
}

# ---------------------------------------------------------------- helpers

java_bin() {
  local j
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then j="$JAVA_HOME/bin/java"
  else j="$(command -v java || true)"; fi
  [[ -n $j ]] || die "java (17+) not found on PATH; install a JDK/JRE 17 (e.g. apt-get install openjdk-17-jre-headless)"
  readlink -f "$j"
}
java_home() { local j; j="$(java_bin)"; dirname "$(dirname "$j")"; }

lock() {
  mkdir -p "$(dirname "$RUN_DIR")"
  exec 9>"$RUN_DIR.lock"
  flock -w 1800 9 || die "could not acquire $RUN_DIR.lock (another infra.sh running?)"
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

pick_ports() { # N -> N distinct free ports below the ephemeral range
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1]); out = []
while len(out) < n:
    p = random.randint(20000, 32000)
    if p in out:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    out.append(p)
print(" ".join(map(str, out)))
PY
  else
    local out=() p
    while (( ${#out[@]} < $1 )); do
      p=$(( 20000 + RANDOM % 12000 ))
      [[ " ${out[*]} " == *" $p "* ]] && continue
      port_open "$p" && continue
      out+=("$p")
    done
    echo "${out[*]}"
  fi
}

ensure_ports() {
  mkdir -p "$RUN_DIR"
  if [[ ! -s $PORTS_FILE ]]; then
    local free
    read -r -a free <<<"$(pick_ports 5)"
    cat >"$PORTS_FILE.tmp" <<EOF
KAFKA_PORT=${INFRA_KAFKA_PORT:-${free[0]}}
KAFKA_CONTROLLER_PORT=${INFRA_KAFKA_CONTROLLER_PORT:-${free[1]}}
ES_PORT=${INFRA_ES_PORT:-${free[2]}}
ES_TRANSPORT_PORT=${INFRA_ES_TRANSPORT_PORT:-${free[3]}}
REDIS_PORT=${INFRA_REDIS_PORT:-${free[4]}}
EOF
    mv -f "$PORTS_FILE.tmp" "$PORTS_FILE"
  fi
  load_ports
}

load_ports() {
  [[ -s $PORTS_FILE ]] || return 1
  # shellcheck source=/dev/null
  . "$PORTS_FILE"
}

# pid alive (not a zombie) and, if given, its command line contains MARKER
proc_alive() {
  local pid=$1 marker=${2:-} state
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/stat ]] || return 1
  state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $state && $state != Z && $state != X ]] || return 1
  if [[ -n $marker ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
  fi
}

read_pid() { [[ -s $1 ]] && tr -dc '0-9' <"$1"; }

es_run_dir() { if [[ -s $RUN_DIR/es-run-dir ]]; then cat "$RUN_DIR/es-run-dir"; else echo "$RUN_DIR/elasticsearch"; fi; }

svc_pidfile() {
  case $1 in
    kafka) echo "$RUN_DIR/kafka/kafka.pid" ;;
    elasticsearch) echo "$(es_run_dir)/es.pid" ;;
    redis) echo "$RUN_DIR/redis/redis.pid" ;;
  esac
}
svc_marker() {
  case $1 in
    kafka) echo "$RUN_DIR/kafka/server.properties" ;;
    elasticsearch) echo "-Djava.io.tmpdir=$(es_run_dir)/tmp" ;;
    redis) echo "127.0.0.1:${REDIS_PORT:-x}" ;;
  esac
}
svc_port() {
  case $1 in
    kafka) echo "${KAFKA_PORT:-}" ;; elasticsearch) echo "${ES_PORT:-}" ;; redis) echo "${REDIS_PORT:-}" ;;
  esac
}
svc_addr() {
  case $1 in
    kafka) echo "127.0.0.1:${KAFKA_PORT:-?}" ;;
    elasticsearch) echo "http://127.0.0.1:${ES_PORT:-?}" ;;
    redis) echo "redis://127.0.0.1:${REDIS_PORT:-?}" ;;
  esac
}
svc_logs() {
  case $1 in
    kafka) echo "$RUN_DIR/kafka/kafka.log" ;;
    elasticsearch) local d; d=$(es_run_dir); echo "$d/launcher.log $d/logs/skein-local.log" ;;
    redis) echo "$RUN_DIR/redis/redis.log" ;;
  esac
}

svc_pid() { # prints the pid of the service's own process if it is alive
  local pid marker f
  marker=$(svc_marker "$1")
  if pid=$(read_pid "$(svc_pidfile "$1")" 2>/dev/null) && proc_alive "$pid" "$marker"; then
    echo "$pid"; return 0
  fi
  # Pid file missing or stale (ES and Redis delete theirs on exit): look for the process by
  # its unique command-line marker (run-dir path, or Redis' "127.0.0.1:<port>" title).
  [[ $1 != redis || -n ${REDIS_PORT:-} ]] || return 1
  # shellcheck disable=SC2013  # /proc paths have no spaces
  for f in $(grep -laF -- "$marker" /proc/[0-9]*/cmdline 2>/dev/null); do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    [[ $pid != "$$" && $pid != "${BASHPID:-}" ]] || continue
    case $1 in
      redis) grep -qa '^redis-server' "$f" 2>/dev/null || continue ;;
      *) grep -qa 'java' "$f" 2>/dev/null || continue ;;
    esac
    proc_alive "$pid" "$marker" || continue
    echo "$pid"; return 0
  done
  return 1
}

# process (or, for ES, its launcher) still alive
svc_alive() {
  svc_pid "$1" >/dev/null && return 0
  [[ $1 == elasticsearch ]] && es_launcher_pid >/dev/null && return 0
  return 1
}

http_code() {
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" 2>/dev/null || true
  else
    python3 -c 'import sys,urllib.request as u
try: print(u.urlopen(sys.argv[1], timeout=5).status)
except Exception as e: print(getattr(e, "code", 0))' "$1" 2>/dev/null || true
  fi
}

svc_ready() {
  local port; port=$(svc_port "$1"); [[ -n $port ]] || return 1
  case $1 in
    kafka)
      port_open "$port" && grep -q 'Kafka Server started' "$RUN_DIR/kafka/kafka.log" 2>/dev/null ;;
    elasticsearch)
      [[ $(http_code "http://127.0.0.1:$port/_cluster/health?wait_for_status=yellow&timeout=2s") == 200 ]] ;;
    redis)
      [[ $(timeout 3 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]] ;;
  esac
}

svc_running() { svc_pid "$1" >/dev/null && port_open "$(svc_port "$1")"; }

show_logs() { # SERVICE [FILE...]: first error lines + last 40 lines of each log
  local f files
  if (( $# > 1 )); then files=("${@:2}"); else read -r -a files <<<"$(svc_logs "$1")"; fi
  for f in "${files[@]}"; do
    [[ -s $f ]] || continue
    {
      if grep -qE '(\[| )(ERROR|FATAL)(\]| )' "$f"; then
        echo "----- first error lines of $f -----"
        grep -m 8 -E '(\[| )(ERROR|FATAL)(\]| )' "$f" | cut -c1-400
      fi
      echo "----- last 40 lines of $f -----"
      tail -n 40 "$f"
      echo "-----"
    } >&2
  done
}

# ---------------------------------------------------------------- fetch

# mvn_resolve NAME DEPENDENCIES_XML LISTFILE: resolve DEPENDENCIES (and their runtime
# dependencies) with mvn from its default central repository into the local Maven repository
# and write the absolute paths of the resolved files to LISTFILE, one per line.
# maven-antrun-plugin is used for the listing because it is much lighter than
# maven-dependency-plugin (15 vs ~220 files to download on a fresh machine: ~30 s less).
# Extra mvn arguments: INFRA_MVN_ARGS (e.g. -Dmaven.repo.local=/some/dir).
mvn_resolve() {
  local name=$1 deps=$2 list=$3 dir="$CACHE_DIR/mvn/$1"
  command -v mvn >/dev/null 2>&1 || { log "ERROR: mvn not found (needed to fetch $name from Maven Central)"; return 1; }
  mkdir -p "$dir" || return 1
  cat >"$dir/pom.xml" <<EOF || return 1
<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by deploy/local/infra.sh: runtime artifacts of the local Skein infrastructure -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.skein.local</groupId>
  <artifactId>skein-local-$name</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$deps
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-antrun-plugin</artifactId>
        <version>$ANTRUN_VERSION</version>
        <configuration>
          <target>
            <dependencyfilesets scopes="compile,runtime"/>
            <pathconvert property="infra.deps" refid="maven.project.dependencies" pathsep="&#10;"/>
            <echo file="\${infra.list}" message="\${infra.deps}&#10;"/>
          </target>
        </configuration>
      </plugin>
    </plugins>
  </build>
</project>
EOF
  rm -f "$list"
  # shellcheck disable=SC2086
  if ! nice -n "${MVN_NICE:-0}" mvn -B -ntp ${INFRA_MVN_ARGS:-} -f "$dir/pom.xml" \
        "org.apache.maven.plugins:maven-antrun-plugin:$ANTRUN_VERSION:run" -Dinfra.list="$list" \
        >"$dir/mvn.log" 2>&1 </dev/null || [[ ! -s $list ]]; then
    tail -n 40 "$dir/mvn.log" >&2
    log "ERROR: mvn failed to fetch $name (log: $dir/mvn.log)"
    return 1
  fi
}

fetch_kafka() { # Kafka broker + tools jars (without the Connect runtime) -> $KAFKA_LIBS
  [[ -f $KAFKA_LIBS/.complete ]] && return 0
  local t0=$SECONDS stage="$CACHE_DIR/kafka-$KAFKA_VERSION/libs.tmp.$$" list="$CACHE_DIR/mvn/kafka.list" f
  log "fetching Kafka $KAFKA_VERSION jars with mvn"
  # niced: on 2 cores this leaves the CPU to the Elasticsearch fetch/start, the critical path
  local MVN_NICE=10
  local k="<groupId>org.apache.kafka</groupId>"
  mvn_resolve kafka "
    <dependency>$k<artifactId>kafka_$SCALA_VERSION</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency>$k<artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version>
      <exclusions>
        <exclusion>$k<artifactId>connect-runtime</artifactId></exclusion>
        <exclusion><groupId>com.fasterxml.jackson.jaxrs</groupId><artifactId>jackson-jaxrs-json-provider</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>$SLF4J_VERSION</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>$RELOAD4J_VERSION</version></dependency>" \
    "$list" || return 1
  rm -rf "$stage"; mkdir -p "$stage" || return 1
  while IFS= read -r f; do
    [[ -n $f ]] || continue
    cp -f "$f" "$stage/" || { log "ERROR: cannot copy $f"; rm -rf "$stage"; return 1; }
  done <"$list"
  ls "$stage"/kafka_"$SCALA_VERSION"-*.jar >/dev/null 2>&1 || { log "ERROR: kafka jar missing after mvn"; return 1; }
  rm -rf "$KAFKA_LIBS"
  # shellcheck disable=SC2015
  mv "$stage" "$KAFKA_LIBS" && chmod -R a+rX "$CACHE_DIR/kafka-$KAFKA_VERSION" \
    && touch "$KAFKA_LIBS/.complete" || { log "ERROR: could not install Kafka jars into $KAFKA_LIBS"; return 1; }
  log "Kafka $KAFKA_VERSION fetched in $(( SECONDS - t0 ))s ($(( $(wc -l <"$list") )) jars)"
}

fetch_es() { # Elasticsearch integ-test-zip -> extracted into $ES_DIST
  [[ -f $ES_DIST/.complete ]] && return 0
  local t0=$SECONDS x="$CACHE_DIR/es-extract.$$" list="$CACHE_DIR/mvn/elasticsearch.list" zip
  log "fetching Elasticsearch $ES_VERSION with mvn"
  mvn_resolve elasticsearch "
    <dependency><groupId>org.elasticsearch.distribution.integ-test-zip</groupId><artifactId>elasticsearch</artifactId><version>$ES_VERSION</version><type>zip</type></dependency>" \
    "$list" || return 1
  zip=$(grep -m1 "elasticsearch-$ES_VERSION.zip\$" "$list" || true)
  [[ -f $zip ]] || { log "ERROR: Elasticsearch zip missing after mvn (see $list)"; return 1; }
  rm -rf "$x" "$ES_DIST"; mkdir -p "$x" || return 1
  if command -v unzip >/dev/null 2>&1; then
    unzip -q "$zip" -d "$x" || { log "ERROR: unzip $zip failed"; rm -rf "$x"; return 1; }
  else # keep the unix permissions stored in the zip
    python3 - "$zip" "$x" <<'PY' || { log "ERROR: extracting $zip failed"; rm -rf "$x"; return 1; }
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for i in z.infolist():
        path = z.extract(i, sys.argv[2])
        mode = (i.external_attr >> 16) & 0o777
        if mode:
            os.chmod(path, mode)
PY
  fi
  # shellcheck disable=SC2015
  mv "$x/elasticsearch-$ES_VERSION" "$ES_DIST" && chmod -R a+rX "$ES_DIST" && chmod a+rx "$CACHE_DIR" \
    && touch "$ES_DIST/.complete" || { log "ERROR: could not install Elasticsearch into $ES_DIST"; return 1; }
  rm -rf "$x"
  log "Elasticsearch $ES_VERSION fetched in $(( SECONDS - t0 ))s"
}

fetch_jvm() { # both, in parallel (two mvn processes sharing the local repository)
  local rc=0 p
  fetch_es & p=$!
  fetch_kafka || rc=1
  wait "$p" || rc=1
  return "$rc"
}

ensure_redis() {
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && return 0
  (( EUID == 0 )) || die "redis-server not installed and not root: run 'apt-get install redis-server'"
  command -v apt-get >/dev/null 2>&1 || die "redis-server not installed and apt-get not available"
  mkdir -p "$CACHE_DIR"
  local alog="$CACHE_DIR/apt.log" t0=$SECONDS
  local apt=(nice -n 10 apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0 -y -qq)
  log "installing redis-server with apt-get (log: $alog)"
  export DEBIAN_FRONTEND=noninteractive
  # Try with the current package lists first; refresh them only if that fails.
  if ! "${apt[@]}" install --no-install-recommends redis-server >"$alog" 2>&1 </dev/null; then
    if ! { "${apt[@]}" update && "${apt[@]}" install --no-install-recommends redis-server; } >>"$alog" 2>&1 </dev/null; then
      tail -n 40 "$alog" >&2
      die "apt-get install redis-server failed (see $alog)"
    fi
  fi
  hash -r
  command -v redis-server >/dev/null 2>&1 || die "redis-server still not on PATH after apt-get install"
  log "redis-server installed in $(( SECONDS - t0 ))s"
}

# ---------------------------------------------------------------- kafka

kafka_write_config() {
  local d="$RUN_DIR/kafka"
  mkdir -p "$d/data" || return 1
  cat >"$d/server.properties" <<EOF || return 1
# generated by deploy/local/infra.sh
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$d/data
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
num.network.threads=2
num.io.threads=4
EOF
  cat >"$d/log4j.properties" <<'EOF'
# generated by deploy/local/infra.sh
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.authorizer.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.kafka.log=WARN
log4j.logger.org.apache.kafka.storage.internals=WARN
log4j.logger.kafka.cluster.Partition=WARN
log4j.logger.kafka.server.ReplicaFetcherManager=WARN
log4j.logger.kafka.server.ReplicaAlterLogDirsManager=WARN
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.org.apache.kafka.common.utils.AppInfoParser=WARN
log4j.logger.org.apache.kafka.common.config.AbstractConfig=WARN
log4j.logger.kafka.server.KafkaConfig=WARN
log4j.logger.org.apache.kafka.common.metrics=WARN
log4j.logger.org.apache.kafka.image=WARN
log4j.logger.org.apache.kafka.metadata=WARN
log4j.logger.org.apache.kafka.snapshot=WARN
log4j.logger.org.apache.kafka.raft=WARN
log4j.logger.kafka.raft=WARN
log4j.logger.org.apache.zookeeper=WARN
EOF
}

kafka_start() {
  local d="$RUN_DIR/kafka" java cid
  java="$(java_bin)"
  kafka_write_config || { log "ERROR: kafka: could not write config in $d"; return 1; }
  if [[ ! -s $d/data/meta.properties ]]; then
    if [[ ! -s $d/cluster.id ]]; then
      # Kafka cluster id: 16 random bytes, URL-safe base64 without padding, not starting with '-'
      while :; do
        cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        [[ $cid != -* ]] && break
      done
      echo "$cid" >"$d/cluster.id"
    fi
    cid=$(cat "$d/cluster.id")
    if ! "$java" -Xmx256m -Dlog4j.configuration="file:$d/log4j.properties" -cp "$KAFKA_LIBS/*" \
         kafka.tools.StorageTool format -t "$cid" -c "$d/server.properties" --ignore-formatted \
         >"$d/format.log" 2>&1 </dev/null 9>&-; then
      log "ERROR: kafka: storage format failed"; show_logs kafka "$d/format.log"; return 1
    fi
  fi
  [[ -f $d/kafka.log ]] && mv -f "$d/kafka.log" "$d/kafka.log.prev"
  rm -f "$d/kafka.pid"
  # shellcheck disable=SC2016,SC2086
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$d/kafka.pid" \
    "$java" $KAFKA_HEAP_OPTS -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$d/log4j.properties" -Dkafka.logs.dir="$d" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$d/server.properties" \
    </dev/null >"$d/kafka.log" 2>&1 9>&- &
  local _; for _ in $(seq 50); do [[ -s $d/kafka.pid ]] && break; sleep 0.1; done
}

# ---------------------------------------------------------------- elasticsearch

# Decide where ES lives: it must run as a non-root user who can read the install and
# write its run dir. If that user cannot traverse the repo path, use a copy under /var/tmp.
es_prepare_paths() {
  ES_HOME="$ES_DIST"
  ES_RUN="$RUN_DIR/elasticsearch"
  if (( EUID == 0 )); then
    if ! id -u "$ES_USER" >/dev/null 2>&1; then
      useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$ES_USER" 2>/dev/null || id -u "$ES_USER" >/dev/null 2>&1 \
        || die "could not create system user $ES_USER"
    fi
    mkdir -p "$RUN_DIR"; chmod a+rx "$RUN_DIR"
    local base
    base="/var/tmp/skein-infra-$(printf %s "$RUN_DIR" | cksum | cut -d' ' -f1)"
    if ! runuser -u "$ES_USER" -- test -x "$ES_DIST/bin/elasticsearch" 2>/dev/null; then
      log "elasticsearch: $ES_USER cannot read $ES_DIST; using a copy in $base"
      mkdir -p "$base" && chmod 755 "$base" || return 1
      if [[ ! -f $base/elasticsearch-$ES_VERSION/.complete ]]; then
        rm -rf "$base/elasticsearch-$ES_VERSION"
        cp -a "$ES_DIST" "$base/elasticsearch-$ES_VERSION" || return 1
      fi
      ES_HOME="$base/elasticsearch-$ES_VERSION"
    fi
    if ! runuser -u "$ES_USER" -- test -x "$RUN_DIR" 2>/dev/null; then
      log "elasticsearch: $ES_USER cannot reach $RUN_DIR; keeping its data/logs in $base/run"
      mkdir -p "$base/run" && chmod 755 "$base" "$base/run" || return 1
      ES_RUN="$base/run/elasticsearch"
    fi
  fi
  echo "$ES_RUN" >"$RUN_DIR/es-run-dir"
}

es_start() {
  es_prepare_paths || { log "ERROR: elasticsearch: cannot prepare its directories"; return 1; }
  local d="$ES_RUN" es_java_home=""
  mkdir -p "$d/config" "$d/data" "$d/logs" "$d/tmp" || return 1
  if [[ ! -f $d/config/jvm.options ]]; then
    cp -a "$ES_HOME/config/." "$d/config/" || return 1
    sed -i -e "s#file=gc.log#file=$d/logs/gc.log#" \
           -e "s#-XX:ErrorFile=hs_err_pid%p.log#-XX:ErrorFile=$d/logs/hs_err_pid%p.log#" "$d/config/jvm.options"
    mkdir -p "$d/config/jvm.options.d"
    echo "-XX:HeapDumpPath=$d/logs" >"$d/config/jvm.options.d/skein.options"
  fi
  cat >"$d/config/elasticsearch.yml" <<EOF || return 1
# generated by deploy/local/infra.sh
cluster.name: skein-local
node.name: skein-local-1
discovery.type: single-node
network.host: 127.0.0.1
http.port: $ES_PORT
transport.port: $ES_TRANSPORT_PORT
path.data: $d/data
path.logs: $d/logs
action.destructive_requires_name: false
cluster.routing.allocation.disk.threshold_enabled: false
# The 8.x integ-test-zip ships x-pack-core/x-pack-security; without this the launcher
# auto-configures TLS + auth on first start and plain http:// stops working.
xpack.security.enabled: false
EOF
  [[ -d $ES_HOME/jdk ]] || es_java_home="$(java_home)"
  [[ -f $d/launcher.log ]] && mv -f "$d/launcher.log" "$d/launcher.log.prev"
  rm -f "$d/es.pid" "$d/launcher.pid"
  local envs=(env -i "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "HOME=$d"
              "LANG=C.UTF-8" "ES_PATH_CONF=$d/config" "ES_TMPDIR=$d/tmp" "ES_JAVA_OPTS=$ES_JAVA_OPTS_DEFAULT")
  [[ -n $es_java_home ]] && envs+=("ES_JAVA_HOME=$es_java_home")
  local asuser=()
  if (( EUID == 0 )); then
    chown -R "$ES_USER:" "$d" || return 1
    asuser=(runuser -u "$ES_USER" --)
  fi
  # -d: the launcher exits once the server is up; the server writes its own pid to es.pid
  ( cd "$d" && exec setsid "${asuser[@]}" "${envs[@]}" "$ES_HOME/bin/elasticsearch" -d -p "$d/es.pid" ) \
    </dev/null >"$d/launcher.log" 2>&1 9>&- &
  echo $! >"$d/launcher.pid"
}

# ---------------------------------------------------------------- redis

redis_start() {
  local d="$RUN_DIR/redis"
  mkdir -p "$d/data"
  rm -f "$d/redis.pid"
  [[ -f $d/redis.log ]] && mv -f "$d/redis.log" "$d/redis.log.prev"
  if ! redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --pidfile "$d/redis.pid" \
       --dir "$d/data" --save '' --appendonly no --logfile "$d/redis.log" </dev/null 9>&-; then
    log "ERROR: redis: redis-server failed to launch"; show_logs redis; return 1
  fi
  local _; for _ in $(seq 50); do [[ -s $d/redis.pid ]] && break; sleep 0.1; done
}

# ---------------------------------------------------------------- lifecycle

svc_start() {
  case $1 in kafka) kafka_start ;; elasticsearch) es_start ;; redis) redis_start ;; esac
}

wait_ready() { # SERVICE START_SECONDS
  local svc=$1 t0=$2 deadline=$(( SECONDS + TIMEOUT )) grace=$(( SECONDS + 5 ))
  while (( SECONDS < deadline )); do
    if svc_ready "$svc"; then
      log "$svc ready at $(svc_addr "$svc") (pid $(svc_pid "$svc" || echo '?'), $(( SECONDS - t0 ))s)"
      return 0
    fi
    if ! svc_alive "$svc" && (( SECONDS >= grace )); then
      log "ERROR: $svc exited during startup"
      show_logs "$svc"
      return 1
    fi
    sleep 0.5
  done
  log "ERROR: $svc not ready after ${TIMEOUT}s (INFRA_TIMEOUT)"
  show_logs "$svc"
  stop_services "$svc" || true
  return 1
}

start_and_wait() { # SERVICE: start unless already running/starting, then wait for readiness
  local svc=$1 t0=$SECONDS
  if svc_running "$svc"; then
    if svc_ready "$svc"; then log "$svc already running at $(svc_addr "$svc")"; return 0; fi
  elif svc_alive "$svc"; then
    log "$svc is starting (pid $(svc_pid "$svc" || echo '?')); waiting"
  else
    log "starting $svc on $(svc_addr "$svc")"
    svc_start "$svc" || return 1
  fi
  wait_ready "$svc" "$t0"
}

es_launcher_pid() { # the runuser/CLI launcher of ES, while it is alive
  local l
  l=$(read_pid "$(es_run_dir)/launcher.pid" 2>/dev/null) || return 1
  proc_alive "$l" "ES_PATH_CONF=$(es_run_dir)/config" || return 1
  echo "$l"
}

stop_services() { # SERVICE... : SIGTERM, wait STOP_TIMEOUT, then SIGKILL
  local svc pid pids names left deadline _
  # Several rounds: a launcher killed mid-start may still spawn/leave a server process.
  for _ in 1 2 3; do
    pids=() names=()
    for svc in "$@"; do
      if pid=$(svc_pid "$svc"); then pids+=("$pid"); names+=("$svc"); fi
      if [[ $svc == elasticsearch ]] && pid=$(es_launcher_pid); then pids+=("$pid"); names+=("$svc-launcher"); fi
    done
    (( ${#pids[@]} )) || break
    log "stopping ${names[*]} (pid ${pids[*]})"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    deadline=$(( SECONDS + STOP_TIMEOUT ))
    while :; do
      left=()
      for pid in "${pids[@]}"; do proc_alive "$pid" && left+=("$pid"); done
      (( ${#left[@]} )) || break
      if (( SECONDS >= deadline )); then
        log "still running after ${STOP_TIMEOUT}s, sending SIGKILL to ${left[*]}"
        kill -KILL "${left[@]}" 2>/dev/null || true
        for _ in $(seq 100); do
          left=(); for pid in "${pids[@]}"; do proc_alive "$pid" && left+=("$pid"); done
          (( ${#left[@]} )) || break; sleep 0.1
        done
        (( ${#left[@]} )) && { log "ERROR: could not kill ${left[*]}"; return 1; }
        break
      fi
      sleep 0.2
    done
    sleep 0.5
  done
  for svc in "$@"; do
    rm -f "$(svc_pidfile "$svc")"
    if [[ $svc == elasticsearch ]]; then rm -f "$(es_run_dir)/launcher.pid"; fi
  done
  return 0
}

# ---------------------------------------------------------------- commands

cmd_fetch() {
  lock
  local rc=0 p
  mkdir -p "$CACHE_DIR"; chmod a+rx "$CACHE_DIR"
  ensure_redis & p=$!
  fetch_jvm || rc=1
  wait "$p" || rc=1
  (( rc == 0 )) && log "cache ready: $CACHE_DIR"
  return "$rc"
}

cmd_up() {
  lock
  ensure_ports
  local t0=$SECONDS rc=0 jobs=() svc need=()
  for svc in "${ALL_SERVICES[@]}"; do
    if svc_running "$svc" && svc_ready "$svc"; then log "$svc already running at $(svc_addr "$svc")"
    else need+=("$svc"); fi
  done
  if [[ " ${need[*]} " == *" redis "* ]]; then
    ( ensure_redis && start_and_wait redis ) & jobs+=($!)
  fi
  if [[ " ${need[*]} " == *" elasticsearch "* ]]; then
    ( fetch_es && start_and_wait elasticsearch ) & jobs+=($!)
  fi
  if [[ " ${need[*]} " == *" kafka "* ]]; then
    ( fetch_kafka && start_and_wait kafka ) & jobs+=($!)
  fi
  local p; for p in "${jobs[@]}"; do wait "$p" || rc=1; done
  if (( rc != 0 )); then
    log "ERROR: up failed after $(( SECONDS - t0 ))s (services that did start are left running; run '$0 down' to clean up)"
    return 1
  fi
  log "all services ready in $(( SECONDS - t0 ))s"
  cmd_status >&2
}

cmd_down() {
  lock
  load_ports || true
  stop_services "${ALL_SERVICES[@]}"
  local esd; esd=$(es_run_dir)
  if [[ $esd != "$RUN_DIR"/* ]]; then # fallback location under /var/tmp
    rm -rf "$esd"; rmdir "$(dirname "$esd")" "$(dirname "$(dirname "$esd")")" 2>/dev/null || true
  fi
  rm -rf "$RUN_DIR"
  log "down: stopped and removed $RUN_DIR"
}

cmd_status() {
  load_ports || true
  local svc state pid extra
  for svc in "${ALL_SERVICES[@]}"; do
    extra=""
    if pid=$(svc_pid "$svc"); then
      if port_open "$(svc_port "$svc")"; then state=running; else state=starting; fi
      extra=" pid=$pid"
    elif svc_alive "$svc"; then state=starting
    else state=stopped; fi
    [[ $svc == kafka ]] && extra+=" controller=127.0.0.1:${KAFKA_CONTROLLER_PORT:-?}"
    printf '%-14s %-9s %s%s\n' "$svc" "$state" "$(svc_addr "$svc")" "$extra"
  done
}

cmd_env() {
  load_ports || { echo "# infra: not initialised (run: $0 up)"; return 0; }
  if svc_running kafka; then echo "export SKEIN_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"; else echo "# kafka: stopped"; fi
  if svc_running elasticsearch; then echo "export SKEIN_ES_URL=http://127.0.0.1:$ES_PORT"; else echo "# elasticsearch: stopped"; fi
  if svc_running redis; then echo "export SKEIN_REDIS_URL=redis://127.0.0.1:$REDIS_PORT"; else echo "# redis: stopped"; fi
}

check_svc() {
  case ${1:-} in kafka|elasticsearch|redis) ;; *) usage >&2; die "unknown service '${1:-}' (kafka|elasticsearch|redis)" ;; esac
}

cmd_stop() { check_svc "${1:-}"; lock; load_ports || true; stop_services "$1"; log "$1 stopped (data kept)"; }

cmd_start() {
  check_svc "${1:-}"; lock; ensure_ports
  case $1 in redis) ensure_redis ;; kafka) fetch_kafka ;; elasticsearch) fetch_es ;; esac
  start_and_wait "$1"
}

main() {
  local cmd=${1:-}; shift || true
  case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    stop) cmd_stop "$@" ;;
    start) cmd_start "$@" ;;
    fetch) cmd_fetch ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
