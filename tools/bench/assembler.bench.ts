/*
 * assembler.bench.ts: trace assembly from Kafka into Elasticsearch (issue 4), three phases in one run.
 *
 *   eval "$(bash deploy/local/infra.sh env)"     # Kafka, Elasticsearch and Redis on 127.0.0.1 (infra.sh up)
 *   node -r ./tools/register.js tools/bench/assembler.bench.ts \
 *     [--traces 9000] [--spans-per-trace 50] [--idle-ms 5000] [--also-idle-ms 1000] [--latency-seconds 30] [--latency-warmup-seconds 30] \
 *     [--phases assembler,ceiling,latency] [--repeat 3] [--no-warmup] [--order alternate|assembler-first] [--profile]
 *     [--wait-quiet 120] [--json <file>]
 *
 * Every phase has its own prefix `bench-asm-<time>-<phase>` for topics, consumer group and indices (Kafka and
 * Elasticsearch on 127.0.0.1 only), and deletes its topics, group, indices and templates when it ends. The
 * traces are the gateway bench's (`nativeBodies` of ingest-gateway.bench.ts: 10 traces x 50 spans per request,
 * ~10 realistic http/db/cache/messaging attributes per span), decoded as the gateway decodes them.
 *
 *   assembler  Pre-fills `<prefix>.skein.spans.v1` (6 partitions) with the spans, one message per trace per
 *              request as the gateway writes them (encodeSpanMessages, KafkaMessageBus: lz4, acks=all), then
 *              starts the real span-assembler (`tools/start-service.sh span-assembler`, SKEIN_LOG_LEVEL=warn) and reads
 *              its /metrics every 250 ms: sustained spans/s = skein_assembler_spans_written_total between 10%
 *              and 90% of the spans (start-up and tail excluded); time until every span and every summary is
 *              stored; the assembler's RSS and CPU; Elasticsearch's and Kafka's CPU; the assembler's bulk size
 *              (documents per shard bulk, from `_stats`). --profile adds --cpu-prof to this assembler.
 *   ceiling    Bulk-loads the same documents straight into Elasticsearch with the same index templates:
 *              per trace its trace-day lookup (`create`), its spans and its summary (mergeTraceSummary, serialized
 *              by the store's summaryDocumentSource; the document shapes of ElasticsearchTraceStore), as pre-serialized NDJSON bulk requests of the
 *              assembler's measured bulk size (--bulk-spans to fix it; with a list such as 5000,10000 each size runs
 *              and the fastest is the pair's ceiling), --ceiling-concurrency (3) at a time.
 *              Run after the assembler phase so its bulk size is known; the machine is let quiet in between.
 *              --repeat N runs the assembler/ceiling pair N times (the machine is shared and noisy) and reports
 *              each ratio and the medians. Every second pair runs the ceiling first (--order alternate), and an
 *              uncounted warm-up pair runs before the first (--no-warmup to skip), so neither JIT warm-up of a
 *              fresh Elasticsearch nor a drift during the run favours one side.
 *   latency    Starts a span-assembler (SKEIN_TRACE_IDLE_MS = --idle-ms) and an ingest-gateway on a fresh
 *              prefix and sends native lz4 requests at --load-fraction (0.5) of the assembler's measured
 *              spans/s (the median over the repeats), open loop: first for --latency-warmup-seconds (30; probes
 *              then are reported apart as the warm-up), then for --latency-seconds, which is what counts. One trace in
 *              --probe-every (20, at most --max-probes in each part) is a probe: from the gateway's 2xx, one `_search` every 100 ms (term traceId on the one span
 *              index, and ids on `<prefix>-traces-*`) for all pending probes finds when all its spans, and its
 *              summary, are searchable. Repeated with --also-idle-ms (0 = not).
 *
 * Bounded: each phase has a time limit (--phase-seconds, default 120), spans and probes are counted, and a hard
 * deadline exits the process. It prints a human summary and a JSON summary (machine, date, options, results).
 */
import { Client } from '@elastic/elasticsearch';
import type { estypes } from '@elastic/elasticsearch';
import { isoFromUs, summaryDocumentSource } from '@skein/adapter-elasticsearch';
import { KafkaMessageBus } from '@skein/adapter-kafka';
import {
  CONSUMER_GROUPS,
  DEAD_LETTER_TOPIC,
  SPANS_TOPIC,
  dayIndexName,
  encodeSpanMessages,
  indexDay,
  indexPattern,
  indexTemplates,
  spansTopicSpec,
  topicName,
  traceDaysIndexName,
  traceDaysPattern,
} from '@skein/contracts';
import { Span, decodeNativeBatch, groupByTrace, mergeTraceSummary, spanDocumentId } from '@skein/domain';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { FrameMatcher, ProfileSummary, freePort, machineCpu, percentile, printProfile, processCpuSeconds, sleep, summariseProfile } from './bench-support';
import { nativeBodies } from './ingest-gateway.bench';

const ROOT = join(__dirname, '..', '..');
const PARTITIONS = 6;

// ------------------------------------------------------------------------------------------------ options

type PhaseName = 'assembler' | 'ceiling' | 'latency';

interface Options {
  traces: number;
  spansPerTrace: number;
  tracesPerRequest: number;
  /**
   * bulkSpans: spans per ceiling bulk request; undefined = the assembler's measured bulk size (1000 if unknown).
   * Several sizes (`--bulk-spans 5000,10000`): the ceiling runs once per size in each pair and the fastest is
   * the ceiling of that pair, so the ratio is taken against the best plain bulk load tried, not one size.
   */
  bulkSpans?: number[];
  ceilingConcurrency: number;
  idleMs: number;
  /** alsoIdleMs: a second latency run with this idle period (0 = none). */
  alsoIdleMs: number;
  latencySeconds: number;
  /**
   * latencyWarmupSeconds: the latency phase first sends the same load for this long (default 30 s) without
   * counting it, so that the fresh assembler's and gateway's JIT, the new day index and Kafka's new partitions
   * are warm; probes sent then are reported apart (`warmup`). 0 counts from the first request.
   */
  latencyWarmupSeconds: number;
  loadFraction: number;
  /** loadSpansPerSecond: the latency phase's load; undefined = loadFraction x the assembler's measured spans/s. */
  loadSpansPerSecond?: number;
  probeEvery: number;
  /** maxProbes: probes in the counted part of a latency phase, and as many again in its warm-up. */
  maxProbes: number;
  phaseSeconds: number;
  /** repeat: how many times the assembler and ceiling phases run (alternating); the latency load uses the median. */
  repeat: number;
  /**
   * warmup: one assembler and one ceiling phase first, printed but not counted (default on). A freshly started
   * Elasticsearch (and Kafka) JVM compiles its hot paths during the first loads: whichever phase runs first would
   * pay for it.
   */
  warmup: boolean;
  /**
   * order: `alternate` (default) runs the pairs assembler→ceiling, ceiling→assembler, … so that a slow drift of
   * the machine (Elasticsearch's segment merges, JIT, page cache) favours neither side; `assembler-first` always
   * runs the assembler first, as before 2026-12-07.
   */
  order: 'alternate' | 'assembler-first';
  phases: PhaseName[];
  profile: boolean;
  waitQuiet: number;
  quietPct: number;
  json?: string;
  summarise?: string;
}

function parseOptions(argv: string[]): Options {
  const options: Options = {
    // 9,000 traces (450,000 spans) keep the assembler busy for ~20 s, four idle periods: most of the measured
    // window then includes writing summaries, as in steady state. With 3,000 traces the window ended before the
    // first summary was due, so it left out the summary work that the ceiling includes.
    traces: 9000,
    spansPerTrace: 50,
    tracesPerRequest: 10,
    ceilingConcurrency: 3,
    idleMs: 5000,
    alsoIdleMs: 1000,
    latencySeconds: 30,
    latencyWarmupSeconds: 30,
    loadFraction: 0.5,
    probeEvery: 20,
    maxProbes: 200,
    phaseSeconds: 120,
    repeat: 1,
    warmup: true,
    order: 'alternate',
    phases: ['assembler', 'ceiling', 'latency'],
    profile: false,
    waitQuiet: 0,
    quietPct: 15,
  };
  const number = (name: string, value: string | undefined, min: number, max: number): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number between ${min} and ${max}, got ${String(value)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.includes('=') ? (arg.split(/=(.*)/s, 2) as [string, string]) : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--traces':
        options.traces = Math.floor(number('traces', value(), 10, 20_000));
        break;
      case '--spans-per-trace':
        options.spansPerTrace = Math.floor(number('spans-per-trace', value(), 2, 1000));
        break;
      case '--traces-per-request':
        options.tracesPerRequest = Math.floor(number('traces-per-request', value(), 1, 100));
        break;
      case '--bulk-spans': {
        const sizes = (value() ?? '').split(',').map((size) => Math.floor(number('bulk-spans', size.trim(), 10, 20_000)));
        options.bulkSpans = sizes;
        break;
      }
      case '--ceiling-concurrency':
        options.ceilingConcurrency = Math.floor(number('ceiling-concurrency', value(), 1, 16));
        break;
      case '--idle-ms':
        options.idleMs = Math.floor(number('idle-ms', value(), 100, 60_000));
        break;
      case '--also-idle-ms':
        options.alsoIdleMs = Math.floor(number('also-idle-ms', value(), 0, 60_000));
        break;
      case '--latency-seconds':
        options.latencySeconds = number('latency-seconds', value(), 5, 120);
        break;
      case '--latency-warmup-seconds':
        options.latencyWarmupSeconds = number('latency-warmup-seconds', value(), 0, 600);
        break;
      case '--load-fraction':
        options.loadFraction = number('load-fraction', value(), 0.05, 1.5);
        break;
      case '--load-spans-per-second':
        options.loadSpansPerSecond = number('load-spans-per-second', value(), 10, 500_000);
        break;
      case '--probe-every':
        options.probeEvery = Math.floor(number('probe-every', value(), 1, 10_000));
        break;
      case '--max-probes':
        options.maxProbes = Math.floor(number('max-probes', value(), 1, 1000));
        break;
      case '--phase-seconds':
        options.phaseSeconds = number('phase-seconds', value(), 10, 300);
        break;
      case '--repeat':
        options.repeat = Math.floor(number('repeat', value(), 1, 9));
        break;
      case '--phases': {
        const list = (value() ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '');
        for (const p of list) if (p !== 'assembler' && p !== 'ceiling' && p !== 'latency') throw new Error(`--phases: unknown phase ${p} (assembler, ceiling, latency)`);
        if (list.length === 0) throw new Error('--phases needs at least one of assembler, ceiling, latency');
        options.phases = list as PhaseName[];
        break;
      }
      case '--profile':
        options.profile = true;
        break;
      case '--no-warmup':
        options.warmup = false;
        break;
      case '--order': {
        const order = value();
        if (order !== 'alternate' && order !== 'assembler-first') throw new Error(`--order must be alternate or assembler-first, got ${order}`);
        options.order = order;
        break;
      }
      case '--wait-quiet':
        options.waitQuiet = number('wait-quiet', value(), 0, 1800);
        break;
      case '--quiet-pct':
        options.quietPct = number('quiet-pct', value(), 1, 100);
        break;
      case '--json':
        options.json = value();
        break;
      case '--summarise-profile':
        options.summarise = value();
        break;
      case '--help':
      case '-h':
        process.stdout.write(
          'usage: node -r ./tools/register.js tools/bench/assembler.bench.ts [--traces 9000] [--spans-per-trace 50] [--traces-per-request 10]\n' +
            '         [--phases assembler,ceiling,latency] [--bulk-spans N[,N...]] [--ceiling-concurrency 3] [--idle-ms 5000] [--also-idle-ms 1000]\n' +
            '         [--latency-seconds 30] [--latency-warmup-seconds 30] [--load-fraction 0.5] [--load-spans-per-second N] [--probe-every 20] [--max-probes 200]\n' +
            '         [--phase-seconds 120] [--repeat 1] [--no-warmup] [--order alternate|assembler-first] [--profile]\n' +
            '         [--wait-quiet S] [--quiet-pct 15] [--json file]\n' +
            '       ... --summarise-profile <file.cpuprofile>   (only print the summary of an existing assembler profile)\n',
        );
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default:
        throw new Error(`unknown argument ${arg} (see --help)`);
    }
  }
  if (options.phases.includes('latency') && !options.phases.includes('assembler') && options.loadSpansPerSecond === undefined) {
    throw new Error('the latency phase without the assembler phase needs --load-spans-per-second');
  }
  return options;
}

// ------------------------------------------------------------------------------------------------ infrastructure

interface Infra {
  brokers: string;
  esUrl: string;
  redisUrl: string;
}

/** localInfra: Kafka, Elasticsearch and Redis from the environment (or `infra.sh env`), on 127.0.0.1 only. */
function localInfra(): Infra {
  let brokers = process.env['SKEIN_KAFKA_BROKERS'];
  let esUrl = process.env['SKEIN_ES_URL'];
  let redisUrl = process.env['SKEIN_REDIS_URL'];
  if (brokers === undefined || esUrl === undefined || redisUrl === undefined) {
    const text = execFileSync('bash', [join(ROOT, 'deploy', 'local', 'infra.sh'), 'env'], { encoding: 'utf8', timeout: 30_000 });
    brokers ??= /SKEIN_KAFKA_BROKERS=(\S+)/.exec(text)?.[1];
    esUrl ??= /SKEIN_ES_URL=(\S+)/.exec(text)?.[1];
    redisUrl ??= /SKEIN_REDIS_URL=(\S+)/.exec(text)?.[1];
  }
  if (brokers === undefined || esUrl === undefined || redisUrl === undefined) {
    throw new Error('Kafka/Elasticsearch/Redis not found: run `bash deploy/local/infra.sh up` and `eval "$(bash deploy/local/infra.sh env)"`');
  }
  const local = (host: string) => host === '127.0.0.1' || host === 'localhost';
  for (const broker of brokers.split(',')) {
    if (!local(broker.trim().split(':')[0] ?? '')) throw new Error(`refusing to benchmark against a non-local broker: ${broker}`);
  }
  if (!local(new URL(esUrl).hostname)) throw new Error(`refusing to benchmark against a non-local Elasticsearch: ${esUrl}`);
  if (!local(new URL(redisUrl).hostname)) throw new Error(`refusing to benchmark against a non-local Redis: ${redisUrl}`);
  return { brokers, esUrl, redisUrl };
}


const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

/** LIVE: the child processes running now, stopped on SIGINT/SIGTERM or the hard deadline. */
const LIVE = new Set<ChildProcess>();

interface Service {
  child: ChildProcess;
  pid: number;
  url: string;
  profileDir?: string;
  output(): string;
  stop(): Promise<number | string | null>;
}

/** startService: one Skein app as a child process via tools/start-service.sh (SKEIN_LOG_LEVEL=warn, 127.0.0.1), ready when /readyz answers 200. */
async function startService(name: string, app: string, env: Record<string, string>, profile: boolean): Promise<Service> {
  const port = await freePort();
  const profileDir = profile ? mkdtempSync(join(tmpdir(), `skein-bench-prof-${name}-`)) : undefined;
  // SKEIN_BENCH_SERVICE_NODE_FLAGS: extra node/V8 flags for the services (experiments: --trace-gc, heap sizes);
  // SKEIN_BENCH_SERVICE_LOG_DIR: where each service's whole output is written (<name>-<pid>.log).
  const extraFlags = (process.env['SKEIN_BENCH_SERVICE_NODE_FLAGS'] ?? '').split(' ').filter((flag) => flag !== '');
  // Started as a user starts it (tools/start-service.sh: the service's own node flags; exec, so the pid is node's).
  const nodeArgs = [...extraFlags, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  const child = spawn('bash', [join(ROOT, 'tools', 'start-service.sh'), app, ...nodeArgs], {
    cwd: ROOT,
    env: { ...process.env, ...env, SKEIN_HTTP_HOST: '127.0.0.1', SKEIN_HTTP_PORT: String(port), SKEIN_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const logDir = process.env['SKEIN_BENCH_SERVICE_LOG_DIR'];
  if (logDir !== undefined && logDir !== '') {
    const log = createWriteStream(join(logDir, `${name}-${child.pid ?? 'unknown'}.log`));
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
  }
  LIVE.add(child);
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => {
      LIVE.delete(child);
      resolve(code ?? signal);
    }),
  );
  const service: Service = {
    child,
    pid: child.pid as number,
    url: `http://127.0.0.1:${port}`,
    profileDir,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(40_000).then(() => 'timeout' as const)]);
      if (code !== 'timeout') return code;
      child.kill('SIGKILL');
      return exited;
    },
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited before it was ready:\n${output.slice(-4000)}`);
    const ready = await fetch(`${service.url}/readyz`).then((r) => r.ok, () => false);
    if (ready) return service;
    if (Date.now() > deadline) {
      await service.stop();
      throw new Error(`${name} not ready within 90 s:\n${output.slice(-4000)}`);
    }
    await sleep(200);
  }
}

function startAssembler(infra: Infra, prefix: string, idleMs: number, profile: boolean): Promise<Service> {
  return startService('span-assembler', 'span-assembler', {
    SKEIN_KAFKA_BROKERS: infra.brokers,
    SKEIN_ES_URL: infra.esUrl,
    SKEIN_TOPIC_PREFIX: prefix,
    SKEIN_ES_INDEX_PREFIX: prefix,
    SKEIN_SPANS_PARTITIONS: String(PARTITIONS),
    SKEIN_TRACE_IDLE_MS: String(idleMs),
  }, profile);
}

async function startGateway(infra: Infra, prefix: string, apiKey: string): Promise<Service> {
  const [otlpPort, grpcPort] = [await freePort(), await freePort()];
  return startService('ingest-gateway', 'ingest-gateway', {
    SKEIN_KAFKA_BROKERS: infra.brokers,
    SKEIN_REDIS_URL: infra.redisUrl,
    SKEIN_REDIS_KEY_PREFIX: prefix,
    SKEIN_TOPIC_PREFIX: prefix,
    SKEIN_SPANS_PARTITIONS: String(PARTITIONS),
    SKEIN_API_KEYS: `bench:${apiKey}`,
    SKEIN_ADMIN_TOKEN: hex(16),
    SKEIN_OTLP_HTTP_PORT: String(otlpPort),
    SKEIN_OTLP_GRPC_PORT: String(grpcPort),
  }, false);
}

/** cleanup: deletes a phase's topics, consumer group, indices and index templates. */
async function cleanup(infra: Infra, es: Client, prefix: string): Promise<string[]> {
  const problems: string[] = [];
  const kafka = new Kafka({ brokers: infra.brokers.split(','), clientId: 'skein-bench', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const topics = [topicName(SPANS_TOPIC, prefix), topicName(DEAD_LETTER_TOPIC, prefix)];
    const existing = new Set(await admin.listTopics());
    const present = topics.filter((t) => existing.has(t));
    if (present.length > 0) await admin.deleteTopics({ topics: present, timeout: 30_000 });
    const group = topicName(CONSUMER_GROUPS.spanAssembler, prefix);
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
    // Right after the assembler left, the coordinator may still report the group non-empty: a few attempts.
    for (let attempt = 1; groups.includes(group); attempt++) {
      try {
        await admin.deleteGroups([group]);
        break;
      } catch (err) {
        const detail = (err as { groups?: { error?: { type?: string } }[] }).groups?.map((g) => g.error?.type).join(', ');
        // Gone already (the coordinator removed the empty group meanwhile): nothing left to delete.
        if (detail === 'GROUP_ID_NOT_FOUND') break;
        if (attempt >= 4) {
          problems.push(`group ${group}: ${(err as Error).message}${detail ? ` (${detail})` : ''}`);
          break;
        }
        await sleep(2_000);
      }
    }
  } catch (err) {
    problems.push(`Kafka clean-up of ${prefix}: ${(err as Error).message}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  try {
    const indices = await es.indices.get({ index: [indexPattern(prefix, 'spans'), indexPattern(prefix, 'traces'), traceDaysPattern(prefix)], ignore_unavailable: true, allow_no_indices: true, features: ['settings'] });
    const names = Object.keys(indices);
    for (let i = 0; i < names.length; i += 50) await es.indices.delete({ index: names.slice(i, i + 50) });
    for (const name of Object.keys(indexTemplates(prefix))) await es.indices.deleteIndexTemplate({ name }, { ignore: [404] });
  } catch (err) {
    problems.push(`Elasticsearch clean-up of ${prefix}: ${(err as Error).message}`);
  }
  return problems;
}

// ------------------------------------------------------------------------------------------------ sampling



/** rssMb: resident set size of a process (/proc/<pid>/status VmRSS). */
function rssMb(pid: number): number | undefined {
  try {
    const kib = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? undefined : Number(kib) / 1024;
  } catch {
    return undefined;
  }
}


/** INFRA_RUN_DIR: where deploy/local/infra.sh keeps the run state of the infrastructure this checkout started. */
const INFRA_RUN_DIR = process.env['INFRA_RUN_DIR'] ?? join(ROOT, '.cache', 'infra', 'run');

/**
 * findPid: the local Elasticsearch or Kafka JVM (read only): its command line has `marker` and refers to this
 * checkout's infra run directory (another checkout's infra.sh may run its own Kafka and Elasticsearch here).
 */
function findPid(marker: string): number | undefined {
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        // `kafka.Kafka` is an argument of its own; Elasticsearch runs as a module: `-m org.elasticsearch.server/<marker>`.
        const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
        if (args.some((arg) => arg === marker || arg.endsWith(`/${marker}`)) && args.some((arg) => arg.includes(`${INFRA_RUN_DIR}/`))) return Number(entry);
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

const ES_MARKER = 'org.elasticsearch.bootstrap.Elasticsearch';
const KAFKA_MARKER = 'kafka.Kafka';

/** CpuMeter: CPU cores used by the assembler, gateway, Elasticsearch, Kafka, this process and the whole machine over a window. */
class CpuMeter {
  private readonly start: { t: number; pids: Map<string, number | undefined>; self: NodeJS.CpuUsage; machine?: { busy: number; total: number; steal: number } };

  constructor(private readonly pids: Record<string, number | undefined>) {
    this.start = { t: performance.now(), pids: this.read(), self: process.cpuUsage(), machine: machineCpu() };
  }

  private read(): Map<string, number | undefined> {
    return new Map(Object.entries(this.pids).map(([name, pid]) => [name, processCpuSeconds(pid)]));
  }

  /** cores: cores used per process since construction, `bench` (this process), `rest` (everything else), machine busy % and the part of it stolen by the hypervisor. */
  cores(): Record<string, number | undefined> {
    const seconds = (performance.now() - this.start.t) / 1000;
    const now = this.read();
    const out: Record<string, number | undefined> = {};
    let known = 0;
    for (const [name, before] of this.start.pids) {
      const after = now.get(name);
      out[name] = before !== undefined && after !== undefined ? round((after - before) / seconds, 2) : undefined;
      known += out[name] ?? 0;
    }
    const self = process.cpuUsage(this.start.self);
    out['bench'] = round((self.user + self.system) / 1e6 / seconds, 2);
    known += out['bench'] ?? 0;
    const machine = machineCpu();
    if (machine && this.start.machine) {
      const busy = (machine.busy - this.start.machine.busy) / (machine.total - this.start.machine.total);
      out['machineBusyPct'] = round(100 * busy);
      out['machineStealPct'] = round((100 * (machine.steal - this.start.machine.steal)) / (machine.total - this.start.machine.total));
      out['rest'] = round(Math.max(0, busy * cpus().length - known), 2);
    }
    return out;
  }
}

/** busyOver2s: how busy the machine is (% of all CPUs) over 2 s. */
async function busyOver2s(): Promise<number | undefined> {
  const before = machineCpu();
  await sleep(2_000);
  const after = machineCpu();
  return before && after ? round((100 * (after.busy - before.busy)) / (after.total - before.total)) : undefined;
}

/** waitQuiet: waits (at most `seconds`) for the machine to be under `pct`% busy; returns the last measurement. */
async function waitQuiet(label: string, seconds: number, pct: number): Promise<{ busyPct: number | undefined; waitedS: number; load1: number }> {
  const started = Date.now();
  let busy = await busyOver2s();
  const deadline = started + seconds * 1000;
  while (busy !== undefined && busy > pct && Date.now() < deadline) {
    process.stdout.write(`[${label}] machine ${busy}% busy (load ${loadavg()[0]?.toFixed(2)}); waiting for it to be quiet ...\n`);
    await sleep(3_000);
    busy = await busyOver2s();
  }
  if (busy !== undefined && busy > pct) process.stdout.write(`[${label}] warning: the machine is ${busy}% busy before the phase; figures will be low\n`);
  return { busyPct: busy, waitedS: round((Date.now() - started) / 1000), load1: round(loadavg()[0] ?? NaN, 2) };
}

/** metricValue: sum of a Prometheus metric's samples (all label sets) in a /metrics text; undefined when absent. */
function metricValue(text: string, name: string): number | undefined {
  let sum: number | undefined;
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm');
  for (let m = re.exec(text); m !== null; m = re.exec(text)) sum = (sum ?? 0) + Number(m[1]);
  return sum;
}

async function scrape(url: string): Promise<string | undefined> {
  try {
    return await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  } catch {
    return undefined;
  }
}


function distribution(values: number[]): { n: number; p50: number; p90: number; p99: number; max: number; mean: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? NaN),
    mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
  };
}

// ------------------------------------------------------------------------------------------------ data

interface Dataset {
  /** requests: the spans of each gateway request (tracesPerRequest whole traces), as the gateway decodes them. */
  requests: Span[][];
  spans: number;
  traces: number;
}

/** dataset: the gateway bench's native request bodies, decoded as the gateway decodes them (validated spans). */
function dataset(traces: number, spansPerTrace: number, tracesPerRequest: number): Dataset & { bodies: Buffer[] } {
  const bodies = nativeBodies({ pool: Math.ceil(traces / tracesPerRequest), tracesPerRequest, spansPerTrace, lz4BlockKb: undefined });
  const requests = bodies.map((body) => decodeNativeBatch(body, 'lz4'));
  const spans = requests.reduce((n, r) => n + r.length, 0);
  return { bodies, requests, spans, traces: requests.reduce((n, r) => n + groupByTrace(r).size, 0) };
}

// ------------------------------------------------------------------------------------------------ phase: assembler

interface AssemblerResult {
  prefix: string;
  spans: number;
  traces: number;
  messages: number;
  prefillSeconds: number;
  startupSeconds: number;
  /** steadySpansPerSecond: spans written between 10% and 90% of the total, per second. */
  steadySpansPerSecond: number;
  /** overallSpansPerSecond: all spans / (last span written − assembler ready). */
  overallSpansPerSecond: number;
  /** secondsToAllSpans / secondsToAllSummaries: from the assembler being ready. */
  secondsToAllSpans: number | undefined;
  secondsToAllSummaries: number | undefined;
  summariesWritten: number;
  completed: boolean;
  rssMb: { max: number; atStart: number; atEnd: number };
  cpuCores: Record<string, number | undefined>;
  /** esBulk: the assembler's shard bulks on the span index (documents per bulk, bytes per bulk). */
  esBulk: { spanBulks: number; docsPerSpanBulk: number; avgBulkKb: number; avgBulkMs: number } | undefined;
  counters: Record<string, number | undefined>;
  stored: { spans: number | undefined; summaries: number | undefined };
  assemblerExit: number | string | null;
  background: { busyPct: number | undefined; waitedS: number; load1: number };
  profile?: ProfileSummary;
}

const COUNTERS = [
  'skein_assembler_spans_received_total',
  'skein_assembler_spans_written_total',
  'skein_assembler_summaries_written_total',
  'skein_assembler_messages_rejected_total',
  'skein_assembler_spans_dropped_total',
  'skein_assembler_spans_dead_lettered_total',
  'skein_assembler_batch_retries_total',
  'skein_assembler_backpressure_waits_total',
  'skein_assembler_summary_failures_total',
];

async function prefill(infra: Infra, topic: string, data: Dataset): Promise<{ messages: number; seconds: number }> {
  const bus = new KafkaMessageBus({ brokers: infra.brokers.split(','), clientId: 'skein-bench' });
  try {
    await bus.ensureTopics([spansTopicSpec(topic, PARTITIONS)]);
    const t0 = performance.now();
    let next = 0;
    let messages = 0;
    // One publish per gateway request (one message per trace), four requests at a time, as a few gateway handlers would.
    const worker = async () => {
      while (next < data.requests.length) {
        const batch = encodeSpanMessages(data.requests[next++] as Span[]);
        messages += batch.length;
        await bus.publish(topic, batch);
      }
    };
    await Promise.all(Array.from({ length: 4 }, () => worker()));
    return { messages, seconds: round((performance.now() - t0) / 1000, 2) };
  } finally {
    await bus.close();
  }
}

/** countDocs: refreshes and counts the documents of a prefix's span and summary indices. */
async function countDocs(es: Client, prefix: string): Promise<{ spans: number | undefined; summaries: number | undefined }> {
  try {
    await es.indices.refresh({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true });
    const spans = await es.count({ index: indexPattern(prefix, 'spans'), ignore_unavailable: true, allow_no_indices: true });
    const summaries = await es.count({ index: indexPattern(prefix, 'traces'), ignore_unavailable: true, allow_no_indices: true });
    return { spans: spans.count, summaries: summaries.count };
  } catch {
    return { spans: undefined, summaries: undefined };
  }
}

/** bulkStats: shard bulk operations and indexed documents of the span indices (`_stats/indexing,bulk`). */
async function bulkStats(es: Client, prefix: string): Promise<AssemblerResult['esBulk']> {
  try {
    const stats = await es.indices.stats({ index: indexPattern(prefix, 'spans'), metric: ['indexing', 'bulk'] });
    const total = stats._all.primaries as (estypes.IndicesStatsIndexStats & { bulk?: { total_operations: number; total_size_in_bytes: number; total_time_in_millis: number } }) | undefined;
    const bulk = total?.bulk;
    const docs = total?.indexing?.index_total;
    if (bulk === undefined || docs === undefined || bulk.total_operations === 0) return undefined;
    return {
      spanBulks: bulk.total_operations,
      docsPerSpanBulk: round(docs / bulk.total_operations),
      avgBulkKb: round(bulk.total_size_in_bytes / bulk.total_operations / 1024),
      avgBulkMs: round(bulk.total_time_in_millis / bulk.total_operations),
    };
  } catch {
    return undefined;
  }
}

async function assemblerPhase(infra: Infra, es: Client, prefix: string, data: Dataset, options: Options): Promise<AssemblerResult> {
  const topic = topicName(SPANS_TOPIC, prefix);
  process.stdout.write(`[assembler] pre-filling ${topic} with ${data.spans} spans of ${data.traces} traces ...\n`);
  const filled = await prefill(infra, topic, data);
  process.stdout.write(`[assembler] ${filled.messages} messages in ${filled.seconds} s\n`);
  const background = await waitQuiet('assembler', options.waitQuiet, options.quietPct);
  const spawnedAt = performance.now();
  const assembler = await startAssembler(infra, prefix, options.idleMs, options.profile);
  const readyAt = performance.now();
  process.stdout.write(`[assembler] span-assembler pid ${assembler.pid} ready in ${round((readyAt - spawnedAt) / 1000, 2)} s (idle ${options.idleMs} ms); consuming the backlog ...\n`);
  const rssStart = rssMb(assembler.pid) ?? NaN;
  let rssMax = rssStart;
  const meter = new CpuMeter({ assembler: assembler.pid, elasticsearch: findPid(ES_MARKER), kafka: findPid(KAFKA_MARKER) });
  const samples: { t: number; written: number; summaries: number }[] = [];
  let lastText = '';
  let allSpansAt: number | undefined;
  let allSummariesAt: number | undefined;
  let cpu: Record<string, number | undefined> = {};
  const deadline = readyAt + options.phaseSeconds * 1000;
  let assemblerExit: number | string | null = null;
  try {
    while (performance.now() < deadline) {
      const text = await scrape(assembler.url);
      const t = performance.now();
      rssMax = Math.max(rssMax, rssMb(assembler.pid) ?? 0);
      if (text !== undefined) {
        lastText = text;
        const written = metricValue(text, 'skein_assembler_spans_written_total') ?? 0;
        const summaries = metricValue(text, 'skein_assembler_summaries_written_total') ?? 0;
        samples.push({ t, written, summaries });
        if (allSpansAt === undefined && written >= data.spans) {
          allSpansAt = t;
          // The spans' CPU window ends here; the summaries that follow are mostly waiting for the idle period.
          cpu = meter.cores();
        }
        if (allSummariesAt === undefined && summaries >= data.traces) allSummariesAt = t;
        if (allSpansAt !== undefined && allSummariesAt !== undefined) break;
      }
      if (assembler.child.exitCode !== null) throw new Error(`span-assembler exited (${assembler.child.exitCode}):\n${assembler.output().slice(-3000)}`);
      await sleep(250);
    }
    if (allSpansAt === undefined) cpu = meter.cores();
    const rssEnd = rssMb(assembler.pid) ?? NaN;
    const esBulk = await bulkStats(es, prefix);
    assemblerExit = await assembler.stop();
    const stored = await countDocs(es, prefix);
    // Steady state: the time the written counter took from 10% to 90% of the spans (linear between samples).
    const crossing = (target: number): number | undefined => {
      for (let i = 1; i < samples.length; i++) {
        const a = samples[i - 1] as (typeof samples)[number];
        const b = samples[i] as (typeof samples)[number];
        if (b.written >= target && a.written < target) return a.t + ((target - a.written) / (b.written - a.written)) * (b.t - a.t);
      }
      return undefined;
    };
    const t10 = crossing(0.1 * data.spans);
    const t90 = crossing(0.9 * data.spans);
    const lastWritten = samples.at(-1)?.written ?? 0;
    const counters: Record<string, number | undefined> = {};
    // A labelled counter never incremented has no sample: 0 when the scrape worked.
    for (const name of COUNTERS) counters[name.replace(/^skein_assembler_/, '')] = metricValue(lastText, name) ?? (lastText === '' ? undefined : 0);
    let profile: ProfileSummary | undefined;
    if (assembler.profileDir !== undefined) {
      const files = existsSync(assembler.profileDir) ? readdirSync(assembler.profileDir).filter((f) => f.endsWith('.cpuprofile')) : [];
      if (files.length > 0) profile = summariseProfile(join(assembler.profileDir, files[0] as string), STAGES);
      else process.stdout.write(`[assembler] no .cpuprofile written in ${assembler.profileDir}\n`);
    }
    return {
      prefix,
      spans: data.spans,
      traces: data.traces,
      messages: filled.messages,
      prefillSeconds: filled.seconds,
      startupSeconds: round((readyAt - spawnedAt) / 1000, 2),
      steadySpansPerSecond: t10 !== undefined && t90 !== undefined ? Math.round((0.8 * data.spans) / ((t90 - t10) / 1000)) : NaN,
      overallSpansPerSecond: Math.round(lastWritten / (((allSpansAt ?? samples.at(-1)?.t ?? readyAt) - readyAt) / 1000)),
      secondsToAllSpans: allSpansAt === undefined ? undefined : round((allSpansAt - readyAt) / 1000, 2),
      secondsToAllSummaries: allSummariesAt === undefined ? undefined : round((allSummariesAt - readyAt) / 1000, 2),
      summariesWritten: samples.at(-1)?.summaries ?? 0,
      completed: allSpansAt !== undefined && allSummariesAt !== undefined,
      rssMb: { max: round(rssMax), atStart: round(rssStart), atEnd: round(rssEnd) },
      cpuCores: cpu,
      esBulk,
      counters,
      stored,
      assemblerExit,
      background,
      profile,
    };
  } finally {
    if (assembler.child.exitCode === null && assembler.child.signalCode === null) await assembler.stop();
  }
}

// ------------------------------------------------------------------------------------------------ phase: ceiling

interface CeilingResult {
  prefix: string;
  spans: number;
  docs: number;
  bulkRequests: number;
  spansPerBulk: number;
  docsPerBulk: number;
  mbPerBulk: number;
  concurrency: number;
  seconds: number;
  spansPerSecond: number;
  docsPerSecond: number;
  mbPerSecond: number;
  bulkLatencyMs: ReturnType<typeof distribution>;
  itemErrors: number;
  firstItemError: string | undefined;
  cpuCores: Record<string, number | undefined>;
  stored: { spans: number | undefined; summaries: number | undefined };
  background: { busyPct: number | undefined; waitedS: number; load1: number };
}

/**
 * ceilingBodies: NDJSON bulk bodies holding, for whole traces, each trace's lookup document (`create`, as
 * placeTraces writes it), its span documents and its summary document, as ElasticsearchTraceStore writes them.
 */
function ceilingBodies(prefix: string, data: Dataset, bulkSpans: number): { bodies: Buffer[]; docs: number; spans: number[] } {
  const bodies: Buffer[] = [];
  const spansPer: number[] = [];
  let lines: string[] = [];
  let spans = 0;
  let docs = 0;
  const flush = () => {
    if (lines.length === 0) return;
    // UTF-8 bytes, as the assembler sends: a string body is encoded per request, and for the 11 MB bodies of
    // 10,000 spans that took the bench client 0.4 cores in some runs, CPU that Elasticsearch then lacked.
    bodies.push(Buffer.from(`${lines.join('\n')}\n`));
    spansPer.push(spans);
    lines = [];
    spans = 0;
  };
  for (const request of data.requests) {
    for (const [traceId, traceSpans] of groupByTrace(request)) {
      const earliest = Math.min(...traceSpans.map((s) => s.startTimeUs));
      const day = indexDay(earliest);
      lines.push(JSON.stringify({ create: { _index: traceDaysIndexName(prefix, day), _id: traceId } }), JSON.stringify({ day }));
      for (const span of traceSpans) {
        lines.push(JSON.stringify({ index: { _index: dayIndexName(prefix, 'spans', day), _id: spanDocumentId(span) } }), JSON.stringify({ ...span, startTime: isoFromUs(span.startTimeUs) }));
      }
      // The store's own serialization of a summary document, so the ceiling writes exactly what the assembler writes.
      lines.push(JSON.stringify({ index: { _index: dayIndexName(prefix, 'traces', day), _id: traceId } }), summaryDocumentSource(mergeTraceSummary(undefined, traceSpans)));
      spans += traceSpans.length;
      docs += traceSpans.length + 2;
      if (spans >= bulkSpans) flush();
    }
  }
  flush();
  return { bodies, docs, spans: spansPer };
}

async function ceilingPhase(infra: Infra, es: Client, prefix: string, data: Dataset, bulkSpans: number, options: Options): Promise<CeilingResult> {
  for (const [name, template] of Object.entries(indexTemplates(prefix))) {
    await es.indices.putIndexTemplate({ name, ...(template as Omit<estypes.IndicesPutIndexTemplateRequest, 'name'>) });
  }
  const built = ceilingBodies(prefix, data, bulkSpans);
  const bytes = built.bodies.reduce((n, b) => n + b.length, 0);
  process.stdout.write(`[ceiling] ${built.bodies.length} bulk requests of ~${bulkSpans} spans (${built.docs} documents, ${round(bytes / 1e6)} MB) into ${prefix}-*, ${options.ceilingConcurrency} at a time\n`);
  const background = await waitQuiet('ceiling', options.waitQuiet, options.quietPct);
  const meter = new CpuMeter({ elasticsearch: findPid(ES_MARKER), kafka: findPid(KAFKA_MARKER) });
  const latencies: number[] = [];
  let itemErrors = 0;
  let firstItemError: string | undefined;
  let next = 0;
  const deadline = performance.now() + options.phaseSeconds * 1000;
  const t0 = performance.now();
  const worker = async () => {
    while (next < built.bodies.length && performance.now() < deadline) {
      const body = built.bodies[next++] as Buffer;
      const started = performance.now();
      // The same answer filter as ElasticsearchTraceStore: only each item's status and error come back.
      const response = await es.transport.request<Partial<estypes.BulkResponse>>(
        { method: 'POST', path: '/_bulk', querystring: { filter_path: 'items.*.status,items.*.error' }, bulkBody: body },
        { requestTimeout: 60_000 },
      );
      latencies.push(performance.now() - started);
      for (const item of response.items ?? []) {
        const result = Object.values(item)[0] as estypes.BulkResponseItem | undefined;
        if (result?.error === undefined) continue;
        itemErrors++;
        firstItemError ??= `${result.status} ${result.error.type}: ${result.error.reason ?? ''}`;
      }
    }
  };
  await Promise.all(Array.from({ length: options.ceilingConcurrency }, () => worker()));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = meter.cores();
  const sentSpans = built.spans.slice(0, next).reduce((a, b) => a + b, 0);
  const sentBodies = built.bodies.slice(0, next);
  const sentBytes = sentBodies.reduce((n, b) => n + b.length, 0);
  const sentDocs = Math.round((built.docs * sentSpans) / data.spans);
  const stored = await countDocs(es, prefix);
  return {
    prefix,
    spans: sentSpans,
    docs: sentDocs,
    bulkRequests: next,
    spansPerBulk: round(sentSpans / next),
    docsPerBulk: round(sentDocs / next),
    mbPerBulk: round(sentBytes / next / 1e6, 2),
    concurrency: options.ceilingConcurrency,
    seconds: round(seconds, 2),
    spansPerSecond: Math.round(sentSpans / seconds),
    docsPerSecond: Math.round(sentDocs / seconds),
    mbPerSecond: round(sentBytes / seconds / 1e6),
    bulkLatencyMs: distribution(latencies),
    itemErrors,
    firstItemError,
    cpuCores: cpu,
    stored,
    background,
  };
}

// ------------------------------------------------------------------------------------------------ phase: latency

interface LatencyResult {
  prefix: string;
  idleMs: number;
  targetSpansPerSecond: number;
  sentSpansPerSecond: number;
  /** seconds: the whole sending time, warm-up included; warmupSeconds: the uncounted part of it. */
  seconds: number;
  warmupSeconds: number;
  requests: number;
  okRequests: number;
  errors: Record<string, number>;
  /** lateStarts: requests sent more than 100 ms after their scheduled time (the load generator fell behind). */
  lateStarts: number;
  gatewayLatencyMs: ReturnType<typeof distribution>;
  probes: number;
  /** ackToSpansSearchableMs: from the gateway's 2xx to every span of the probe trace being found by a search. */
  ackToSpansSearchableMs: ReturnType<typeof distribution>;
  ackToSummarySearchableMs: ReturnType<typeof distribution>;
  /** warmup: the same for the probes sent during the warm-up (not what the target is about). */
  warmup: { probes: number; ackToSpansSearchableMs: ReturnType<typeof distribution>; ackToSummarySearchableMs: ReturnType<typeof distribution> };
  spansNotFound: number;
  summariesNotFound: number;
  pollRequests: number;
  pollMeanMs: number;
  cpuCores: Record<string, number | undefined>;
  assemblerRssMbMax: number;
  /** batches: the assembler's stored batches (span bulks) over the whole phase, from its histograms. */
  batches: { count: number; meanSpans: number; meanStoreMs: number } | undefined;
  counters: Record<string, number | undefined>;
  background: { busyPct: number | undefined; waitedS: number; load1: number };
}

interface Probe {
  traceId: string;
  /** warmup: sent during the uncounted warm-up. */
  warmup: boolean;
  spans: number;
  day: string;
  ackAt?: number;
  spansAt?: number;
  summaryAt?: number;
}

function post(agent: Agent, url: URL, headers: Record<string, string>, body: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { agent, method: 'POST', hostname: url.hostname, port: url.port, path: url.pathname, headers: { ...headers, 'Content-Length': String(body.length) }, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout after 30 s')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * pollOnce: one search for the pending probes' spans (per day: term traceId on that day's one span index, a
 * terms aggregation counting each trace's spans) and one for their summaries (ids on `<prefix>-traces-*`).
 */
async function pollOnce(es: Client, prefix: string, probes: Probe[]): Promise<number> {
  let requests = 0;
  const waitingSpans = probes.filter((p) => p.ackAt !== undefined && p.spansAt === undefined);
  const byDay = new Map<string, Probe[]>();
  for (const p of waitingSpans) byDay.set(p.day, [...(byDay.get(p.day) ?? []), p]);
  for (const [day, group] of byDay) {
    requests++;
    const response = await es.search({
      index: dayIndexName(prefix, 'spans', day),
      ignore_unavailable: true,
      allow_no_indices: true,
      size: 0,
      track_total_hits: false,
      query: { terms: { traceId: group.map((p) => p.traceId) } },
      // `map`: count the few matching documents' values directly. The default (global ordinals) rebuilds an
      // ordinal map over every traceId of the shard after each refresh, i.e. about once a second under load: the
      // observer then costs Elasticsearch more CPU than the searches a user makes.
      aggs: { traces: { terms: { field: 'traceId', size: group.length, execution_hint: 'map' } } },
    });
    const at = performance.now();
    const buckets = (response.aggregations?.['traces'] as estypes.AggregationsStringTermsAggregate | undefined)?.buckets;
    const counts = new Map((Array.isArray(buckets) ? buckets : []).map((b) => [String(b.key), b.doc_count]));
    for (const p of group) if ((counts.get(p.traceId) ?? 0) >= p.spans) p.spansAt = at;
  }
  const waitingSummaries = probes.filter((p) => p.ackAt !== undefined && p.summaryAt === undefined);
  if (waitingSummaries.length > 0) {
    requests++;
    const response = await es.search<{ spanCount: number }>({
      index: indexPattern(prefix, 'traces'),
      ignore_unavailable: true,
      allow_no_indices: true,
      size: waitingSummaries.length,
      track_total_hits: false,
      query: { ids: { values: waitingSummaries.map((p) => p.traceId) } },
      _source: ['spanCount'],
    });
    const at = performance.now();
    const found = new Map(response.hits.hits.map((h) => [h._id, h._source?.spanCount ?? 0]));
    for (const p of waitingSummaries) if ((found.get(p.traceId) ?? -1) >= p.spans) p.summaryAt = at;
  }
  return requests;
}

async function latencyPhase(infra: Infra, es: Client, prefix: string, spansPerSecond: number, idleMs: number, options: Options): Promise<LatencyResult> {
  const spansPerRequest = options.tracesPerRequest * options.spansPerTrace;
  const requestsPerSecond = spansPerSecond / spansPerRequest;
  const warmupCount = Math.round(requestsPerSecond * options.latencyWarmupSeconds);
  const count = Math.max(1, Math.min(20_000, warmupCount + Math.round(requestsPerSecond * options.latencySeconds)));
  process.stdout.write(
    `[latency idle=${idleMs}] building ${count} requests of ${spansPerRequest} spans for ${Math.round(spansPerSecond)} spans/s over ${options.latencyWarmupSeconds} s warm-up + ${options.latencySeconds} s ...\n`,
  );
  const bodies = nativeBodies({ pool: count, tracesPerRequest: options.tracesPerRequest, spansPerTrace: options.spansPerTrace, lz4BlockKb: undefined });
  // Only each request's span count and its probes are kept: the decoded spans of minutes of load would make this
  // process's own GC part of what is measured.
  const spanCounts: number[] = [];
  const probes: Probe[] = [];
  const probesOf: Probe[][] = bodies.map(() => []);
  const taken = { warmup: 0, measured: 0 };
  let traceIndex = 0;
  bodies.forEach((body, r) => {
    const request = decodeNativeBatch(body, 'lz4');
    spanCounts.push(request.length);
    const warmup = r < warmupCount;
    const part = warmup ? 'warmup' : 'measured';
    for (const [traceId, spans] of groupByTrace(request)) {
      if (traceIndex++ % options.probeEvery === 0 && taken[part] < options.maxProbes) {
        taken[part]++;
        const probe: Probe = { traceId, warmup, spans: spans.length, day: indexDay(Math.min(...spans.map((s) => s.startTimeUs))) };
        probes.push(probe);
        (probesOf[r] as Probe[]).push(probe);
      }
    }
  });
  const background = await waitQuiet(`latency idle=${idleMs}`, options.waitQuiet, options.quietPct);
  const assembler = await startAssembler(infra, prefix, idleMs, false);
  const apiKey = hex(16);
  let gateway: Service | undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  try {
    gateway = await startGateway(infra, prefix, apiKey);
    process.stdout.write(`[latency idle=${idleMs}] span-assembler pid ${assembler.pid}, ingest-gateway pid ${gateway.pid}; sending, ${probes.length} probe traces ...\n`);
    const url = new URL('/api/v1/spans', gateway.url);
    const headers = { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json', 'Content-Encoding': 'lz4' };
    const meter = new CpuMeter({ assembler: assembler.pid, gateway: gateway.pid, elasticsearch: findPid(ES_MARKER), kafka: findPid(KAFKA_MARKER) });
    let rssMax = rssMb(assembler.pid) ?? 0;
    const errors: Record<string, number> = {};
    const gatewayLatencies: number[] = [];
    let ok = 0;
    let lateStarts = 0;
    let sentSpans = 0;
    let polling = true;
    let pollRequests = 0;
    let pollMs = 0;
    const poller = (async () => {
      while (polling) {
        const started = performance.now();
        try {
          pollRequests += await pollOnce(es, prefix, probes);
        } catch (err) {
          errors[`poll: ${(err as Error).message.slice(0, 80)}`] = (errors[`poll: ${(err as Error).message.slice(0, 80)}`] ?? 0) + 1;
        }
        pollMs += performance.now() - started;
        rssMax = Math.max(rssMax, rssMb(assembler.pid) ?? 0);
        await sleep(Math.max(0, 100 - (performance.now() - started)));
      }
    })();
    const t0 = performance.now();
    let measuredFrom = t0;
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; i < count; i++) {
      const due = t0 + (i * 1000) / requestsPerSecond;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      else if (wait < -100 && i >= warmupCount) lateStarts++;
      if (i === warmupCount) measuredFrom = performance.now();
      while (inFlight.size >= 32) await Promise.race(inFlight);
      const body = bodies[i] as Buffer;
      const started = performance.now();
      const sent = post(agent, url, headers, body).then(
        (res) => {
          const at = performance.now();
          gatewayLatencies.push(at - started);
          if (res.status >= 200 && res.status < 300) {
            ok++;
            sentSpans += spanCounts[i] as number;
            for (const p of probesOf[i] as Probe[]) p.ackAt = at;
          } else errors[String(res.status)] = (errors[String(res.status)] ?? 0) + 1;
        },
        (err: Error) => {
          errors[`network: ${err.message}`] = (errors[`network: ${err.message}`] ?? 0) + 1;
        },
      );
      const tracked: Promise<void> = sent.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    }
    await Promise.all(inFlight);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = meter.cores();
    // Wait for the last probes: the idle period, the flush, a refresh, and some slack; bounded.
    const waitUntil = performance.now() + idleMs + 30_000;
    while (performance.now() < waitUntil && probes.some((p) => p.ackAt !== undefined && (p.spansAt === undefined || p.summaryAt === undefined))) await sleep(200);
    polling = false;
    await poller;
    const counters: Record<string, number | undefined> = {};
    const text = (await scrape(assembler.url)) ?? '';
    for (const name of COUNTERS) counters[name.replace(/^skein_assembler_/, '')] = metricValue(text, name) ?? (text === '' ? undefined : 0);
    const batchCount = metricValue(text, 'skein_assembler_batch_spans_count') ?? 0;
    const batches =
      batchCount > 0
        ? {
            count: batchCount,
            meanSpans: round((metricValue(text, 'skein_assembler_batch_spans_sum') ?? 0) / batchCount),
            meanStoreMs: round((1000 * (metricValue(text, 'skein_assembler_batch_store_seconds_sum') ?? 0)) / batchCount),
          }
        : undefined;
    const acked = probes.filter((p) => p.ackAt !== undefined && !p.warmup);
    const warmupAcked = probes.filter((p) => p.ackAt !== undefined && p.warmup);
    const searchable = (list: Probe[], at: 'spansAt' | 'summaryAt') => distribution(list.filter((p) => p[at] !== undefined).map((p) => (p[at] as number) - (p.ackAt as number)));
    return {
      prefix,
      idleMs,
      targetSpansPerSecond: Math.round(spansPerSecond),
      sentSpansPerSecond: Math.round(sentSpans / seconds),
      seconds: round(seconds, 2),
      warmupSeconds: round((measuredFrom - t0) / 1000, 2),
      requests: count,
      okRequests: ok,
      errors,
      lateStarts,
      gatewayLatencyMs: distribution(gatewayLatencies),
      probes: acked.length,
      ackToSpansSearchableMs: searchable(acked, 'spansAt'),
      ackToSummarySearchableMs: searchable(acked, 'summaryAt'),
      warmup: { probes: warmupAcked.length, ackToSpansSearchableMs: searchable(warmupAcked, 'spansAt'), ackToSummarySearchableMs: searchable(warmupAcked, 'summaryAt') },
      spansNotFound: acked.filter((p) => p.spansAt === undefined).length,
      summariesNotFound: acked.filter((p) => p.summaryAt === undefined).length,
      pollRequests,
      pollMeanMs: round(pollMs / Math.max(1, pollRequests)),
      cpuCores: cpu,
      assemblerRssMbMax: round(rssMax),
      batches,
      counters,
      background,
    };
  } finally {
    agent.destroy();
    if (gateway !== undefined) await gateway.stop();
    await assembler.stop();
  }
}

// ------------------------------------------------------------------------------------------------ profile summary


/**
 * STAGES: every busy sample goes to one stage of the assembler's path: of the stages whose frames are on its
 * stack, the first listed here (the most specific work) wins; so the stages add up to 100% of the busy time.
 */
const STAGES: FrameMatcher[] = [
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['startup (module load, SWC transpile)', (f) => f.url.startsWith('node:internal/modules') || f.url.includes('node_modules/@swc') || f.url.includes('node_modules/pirates')],
  ['span message decode (JSON.parse + validateSpan)', (f) => f.functionName === 'decodeSpanMessage'],
  ['summary merge (mergeTraceSummary: tree, clock skew)', (f) => f.functionName === 'mergeTraceSummary'],
  ['open-trace buffer (add, due, summarised, watermark)', (f) => f.url.includes('open-traces')],
  ['ES client: bulk serialize (JSON.stringify per doc)', (f) => f.url.includes('@elastic/transport') && /Serializer/.test(f.url)],
  ['ES client: bulk response parse', (f) => f.url.includes('@elastic/transport') && f.functionName === 'deserialize'],
  ['ES client + HTTP (transport, undici, sockets)', (f) => /node_modules\/(@elastic|undici)/.test(f.url) || /^node:(net|internal\/(stream|http|net))/.test(f.url)],
  ['kafkajs fetch (decode record batches, LZ4, CRC)', (f) => f.url.includes('node_modules/kafkajs') || f.url.includes('kafka-lz4') || f.url.includes('node_modules/lz4')],
  ['trace store adapter (documents, day placement)', (f) => f.url.includes('elasticsearch-trace-store')],
  ['prom-client', (f) => f.url.includes('node_modules/prom-client')],
  ['other assembler code', (f) => f.url.includes('/libs/') || f.url.includes('/apps/')],
];



// ------------------------------------------------------------------------------------------------ main

const n = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '?' : Math.round(x).toLocaleString('en-US'));
const cores = (c: Record<string, number | undefined>) =>
  Object.entries(c)
    .filter(([k]) => !k.startsWith('machine'))
    .map(([k, v]) => `${k} ${v ?? '?'}`)
    .join(', ') + `; machine ${c['machineBusyPct'] ?? '?'}% busy of ${cpus().length} CPUs (steal ${c['machineStealPct'] ?? '?'}%)`;
const bg = (b: { busyPct: number | undefined; waitedS: number; load1: number }) => `${b.busyPct ?? '?'}% busy before the phase (load1 ${b.load1}, waited ${b.waitedS} s)`;

function printAssembler(r: AssemblerResult): void {
  const lines = [
    `== span-assembler: ${n(r.spans)} spans / ${n(r.traces)} traces / ${n(r.messages)} messages pre-filled in ${r.prefillSeconds} s; ready in ${r.startupSeconds} s`,
    `   sustained spans/s   ${n(r.steadySpansPerSecond)} (10%..90% of the spans); overall ${n(r.overallSpansPerSecond)}`,
    `   all spans stored    ${r.secondsToAllSpans ?? 'not within the phase limit'} s after ready; all summaries ${r.secondsToAllSummaries ?? 'not within the phase limit'} s (${n(r.summariesWritten)} written)`,
    `   ES bulks (spans)    ${r.esBulk === undefined ? '?' : `${n(r.esBulk.spanBulks)} shard bulks, ${r.esBulk.docsPerSpanBulk} docs, ${r.esBulk.avgBulkKb} KB, ${r.esBulk.avgBulkMs} ms each`}`,
    `   assembler RSS MB    max ${r.rssMb.max} (ready ${r.rssMb.atStart}, end ${r.rssMb.atEnd})`,
    `   CPU cores           ${cores(r.cpuCores)} (until all spans were stored)`,
    `   counters            ${Object.entries(r.counters).map(([k, v]) => `${k} ${v ?? '?'}`).join(', ')}`,
    `   stored              ${r.stored.spans ?? '?'} span docs, ${r.stored.summaries ?? '?'} summaries; assembler exit ${String(r.assemblerExit)}`,
    `   background          ${bg(r.background)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (r.profile) printProfile(r.profile, '(start-up included)');
}

function printCeiling(r: CeilingResult, assembler: AssemblerResult | undefined): void {
  const lines = [
    `== Elasticsearch ceiling (plain bulk, pre-serialized): ${n(r.bulkRequests)} requests of ${r.spansPerBulk} spans / ${r.docsPerBulk} docs (${r.mbPerBulk} MB), ${r.concurrency} concurrent, ${r.seconds} s`,
    `   spans/s             ${n(r.spansPerSecond)}   (docs/s ${n(r.docsPerSecond)}, ${r.mbPerSecond} MB/s)`,
    `   bulk latency ms     p50 ${r.bulkLatencyMs.p50}  p90 ${r.bulkLatencyMs.p90}  p99 ${r.bulkLatencyMs.p99}  max ${r.bulkLatencyMs.max}`,
    `   item errors         ${r.itemErrors}${r.firstItemError ? ` (first: ${r.firstItemError})` : ''}; stored ${r.stored.spans ?? '?'} span docs, ${r.stored.summaries ?? '?'} summaries`,
    `   CPU cores           ${cores(r.cpuCores)}`,
    `   background          ${bg(r.background)}`,
  ];
  if (assembler !== undefined && Number.isFinite(assembler.steadySpansPerSecond)) lines.push(`   assembler / ceiling ${round((100 * assembler.steadySpansPerSecond) / r.spansPerSecond)}% (target >= 70%)`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

function printLatency(r: LatencyResult): void {
  const d = (x: ReturnType<typeof distribution>) => `p50 ${n(x.p50)}  p90 ${n(x.p90)}  p99 ${n(x.p99)}  max ${n(x.max)}  (n ${x.n})`;
  const lines = [
    `== latency at ${n(r.sentSpansPerSecond)} spans/s (target ${n(r.targetSpansPerSecond)}), idle ${r.idleMs} ms, ${r.seconds} s (first ${r.warmupSeconds} s warm-up, not counted), ${r.okRequests}/${r.requests} requests ok${r.lateStarts > 0 ? `, ${r.lateStarts} sent late` : ''}`,
    `   ack → spans searchable ms    ${d(r.ackToSpansSearchableMs)}${r.spansNotFound > 0 ? `; ${r.spansNotFound} never found` : ''}`,
    `   ack → summary searchable ms  ${d(r.ackToSummarySearchableMs)}${r.summariesNotFound > 0 ? `; ${r.summariesNotFound} never found` : ''}`,
    `   warm-up: spans ms            ${d(r.warmup.ackToSpansSearchableMs)}; summary ms ${d(r.warmup.ackToSummarySearchableMs)}`,
    `   gateway request ms           ${d(r.gatewayLatencyMs)}`,
    `   polling                      ${r.pollRequests} searches, mean ${r.pollMeanMs} ms per search`,
    `   CPU cores                    ${cores(r.cpuCores)}; assembler RSS max ${r.assemblerRssMbMax} MB`,
    `   span bulks                   ${r.batches === undefined ? '?' : `${n(r.batches.count)}, mean ${n(r.batches.meanSpans)} spans, mean ${n(r.batches.meanStoreMs)} ms to durable`}`,
    `   errors                       ${Object.keys(r.errors).length === 0 ? 'none' : JSON.stringify(r.errors)}`,
    `   counters                     ${Object.entries(r.counters).map(([k, v]) => `${k} ${v ?? '?'}`).join(', ')}`,
    `   background                   ${bg(r.background)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const options = parseOptions(process.argv.slice(2));
  if (options.summarise !== undefined) {
    printProfile(summariseProfile(options.summarise, STAGES), '(start-up included)');
    return;
  }
  const infra = localInfra();
  // Hard deadline: data, start-ups, every phase's limit, quiet waits, shutdowns and clean-up.
  const latencyRuns = options.phases.includes('latency') ? (options.alsoIdleMs > 0 ? 2 : 1) : 0;
  const throughputPhases = options.phases.filter((p) => p !== 'latency').length * (options.repeat + (options.warmup ? 1 : 0));
  const hardDeadlineMs = (throughputPhases * (options.phaseSeconds + options.waitQuiet + 120) + latencyRuns * (options.latencyWarmupSeconds + options.latencySeconds + options.waitQuiet + 150) + 120) * 1000;
  const es = new Client({ node: infra.esUrl, requestTimeout: 60_000 });
  const cleanupProblems: string[] = [];
  const base = `bench-asm-${Date.now()}`;
  const prefixes: string[] = [];
  const cleaned = new Set<string>();
  const clean = async (prefix: string) => {
    cleanupProblems.push(...(await cleanup(infra, es, prefix)));
    cleaned.add(prefix);
  };
  // Interrupted (signal or hard deadline): stop the child processes, delete what the phases created (at most 30 s), exit.
  let aborting = false;
  const abort = (why: string, code: number) => {
    if (aborting) return;
    aborting = true;
    process.stderr.write(`bench: ${why}; stopping child processes and cleaning up ${prefixes.join(', ') || 'nothing'}\n`);
    setTimeout(() => process.exit(code), 40_000).unref();
    void (async () => {
      // SIGTERM first, so an assembler leaves its consumer group (which can then be deleted); SIGKILL after 5 s.
      for (const child of LIVE) child.kill('SIGTERM');
      for (let i = 0; i < 50 && LIVE.size > 0; i++) await sleep(100);
      for (const child of LIVE) child.kill('SIGKILL');
      await Promise.allSettled(prefixes.map((prefix) => cleanup(infra, es, prefix)));
      process.exit(code);
    })();
  };
  const watchdog = setTimeout(() => abort(`hard deadline of ${hardDeadlineMs / 1000} s passed`, 2), hardDeadlineMs);
  watchdog.unref();
  process.once('SIGINT', () => abort('SIGINT', 130));
  process.once('SIGTERM', () => abort('SIGTERM', 143));
  const results: {
    assembler: AssemblerResult[];
    ceiling: CeilingResult[];
    /** ceilingTried: every ceiling phase with its bulk size (warm-up pair included); with several --bulk-spans, the fastest of a pair is its `ceiling`. */
    ceilingTried: { run: number; bulkSpans: number; spansPerSecond: number }[];
    ratioToCeilingPct: number[];
    latency: LatencyResult[];
  } = { assembler: [], ceiling: [], ceilingTried: [], ratioToCeilingPct: [], latency: [] };
  try {
    process.stdout.write(`building ${options.traces} traces x ${options.spansPerTrace} spans (${options.tracesPerRequest} traces per request) ...\n`);
    const data = options.phases.includes('assembler') || options.phases.includes('ceiling') ? dataset(options.traces, options.spansPerTrace, options.tracesPerRequest) : undefined;
    // --repeat: assembler and ceiling alternate, so both see the same (shared, noisy) machine; the median is reported.
    // Run 0 is the warm-up (not counted); with --order alternate every second pair runs the ceiling first.
    let bulkSize: number | undefined;
    for (let run = options.warmup ? 0 : 1; data !== undefined && run <= options.repeat; run++) {
      const tag = run === 0 ? '-warmup' : options.repeat > 1 ? `-r${run}` : '';
      if (run === 0) process.stdout.write('-- warm-up pair (not counted) --\n');
      const runAssembler = async (): Promise<AssemblerResult> => {
        const prefix = `${base}${tag}-asm`;
        prefixes.push(prefix);
        const result = await assemblerPhase(infra, es, prefix, data, { ...options, profile: options.profile && run === 1 });
        printAssembler(result);
        bulkSize = result.esBulk?.docsPerSpanBulk ?? bulkSize;
        await clean(prefix);
        return result;
      };
      const runCeiling = async (assembler: AssemblerResult | undefined): Promise<CeilingResult> => {
        let best: CeilingResult | undefined;
        // The assembler's measured bulk size (of this pair, or of the last assembler run when the ceiling goes
        // first), or each of --bulk-spans: the fastest is this pair's ceiling.
        const sizes = options.bulkSpans ?? [Math.round(bulkSize ?? 1000)];
        for (const [i, size] of sizes.entries()) {
          const prefix = `${base}${tag}-ceiling${sizes.length > 1 ? `-${i}` : ''}`;
          prefixes.push(prefix);
          const result = await ceilingPhase(infra, es, prefix, data, size, options);
          printCeiling(result, assembler);
          results.ceilingTried.push({ run, bulkSpans: size, spansPerSecond: result.spansPerSecond });
          await clean(prefix);
          if (best === undefined || result.spansPerSecond > best.spansPerSecond) best = result;
        }
        if (sizes.length > 1 && best !== undefined) process.stdout.write(`   ceiling of this pair: ${n(best.spansPerSecond)} spans/s (the fastest of ${sizes.join(', ')} spans per bulk)\n`);
        return best as CeilingResult;
      };
      const wantAssembler = options.phases.includes('assembler');
      const wantCeiling = options.phases.includes('ceiling');
      let assembler: AssemblerResult | undefined;
      let ceiling: CeilingResult | undefined;
      if (options.order === 'alternate' && run % 2 === 0 && bulkSize !== undefined) {
        if (wantCeiling) ceiling = await runCeiling(undefined);
        if (wantAssembler) assembler = await runAssembler();
        if (assembler !== undefined && ceiling !== undefined) process.stdout.write(`   assembler / ceiling ${round((100 * assembler.steadySpansPerSecond) / ceiling.spansPerSecond)}% (target >= 70%; the ceiling ran first)\n`);
      } else {
        if (wantAssembler) assembler = await runAssembler();
        if (wantCeiling) ceiling = await runCeiling(assembler);
      }
      if (run === 0) continue;
      if (assembler !== undefined) results.assembler.push(assembler);
      if (ceiling !== undefined) results.ceiling.push(ceiling);
      if (assembler !== undefined && ceiling !== undefined) results.ratioToCeilingPct.push(round((100 * assembler.steadySpansPerSecond) / ceiling.spansPerSecond));
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
    const medianAssembler = median(results.assembler.map((r) => r.steadySpansPerSecond).filter(Number.isFinite));
    if (options.repeat > 1) {
      const medianCeiling = median(results.ceiling.map((r) => r.spansPerSecond));
      process.stdout.write(`== median of ${options.repeat} runs: assembler ${n(medianAssembler)} spans/s, ceiling ${n(medianCeiling)} spans/s, ratio per run ${results.ratioToCeilingPct.join('%, ')}% (median ${median(results.ratioToCeilingPct) ?? '?'}%)\n`);
    }
    if (options.phases.includes('latency')) {
      const load = options.loadSpansPerSecond ?? options.loadFraction * (medianAssembler ?? NaN);
      if (!Number.isFinite(load) || load <= 0) throw new Error('no load for the latency phase: the assembler phase measured no throughput');
      for (const idleMs of latencyRuns === 2 ? [options.idleMs, options.alsoIdleMs] : [options.idleMs]) {
        const prefix = `${base}-lat${idleMs}`;
        prefixes.push(prefix);
        const r = await latencyPhase(infra, es, prefix, load, idleMs, options);
        printLatency(r);
        results.latency.push(r);
        await clean(prefix);
      }
    }
  } finally {
    // A phase that threw left its prefix behind: clean every prefix again (idempotent).
    for (const prefix of prefixes) if (!cleaned.has(prefix)) await clean(prefix);
    await es.close();
  }
  if (cleanupProblems.length > 0) process.stdout.write(`clean-up problems:\n  ${[...new Set(cleanupProblems)].join('\n  ')}\n`);
  const summary = {
    /** date: when the run ended (what earlier JSON files hold); startedAt: when it began. */
    date: new Date().toISOString(),
    startedAt,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, loadavg: loadavg().map((l) => round(l, 2)) },
    options: { ...options, json: undefined },
    results,
  };
  const json = JSON.stringify(summary, null, 2);
  if (options.json) writeFileSync(options.json, `${json}\n`);
  process.stdout.write(`${json}\n`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
