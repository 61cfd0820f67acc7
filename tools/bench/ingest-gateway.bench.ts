/*
 * ingest-gateway.bench.ts: end-to-end throughput of one ingest-gateway process writing to the local Kafka.
 *
 *   eval "$(bash deploy/local/infra.sh env)"     # Kafka and Redis on 127.0.0.1 (infra.sh up)
 *   node -r ./tools/register.js tools/bench/ingest-gateway.bench.ts \
 *     [--seconds 20] [--warmup 3] [--concurrency 8] [--protocol native|otlp|both] [--profile] [--json <file>]
 *
 * For each protocol it starts its own gateway (`apps/ingest-gateway/src/main.ts`, SKEIN_LOG_LEVEL=warn) with a
 * unique topic prefix (`bench-<time>-<protocol>`, 6 partitions) and Redis key prefix, against Kafka and Redis on
 * 127.0.0.1 only. It pre-builds a pool of request bodies (default 10 traces x 50 spans = 500 spans each, ~10
 * realistic http/db/messaging attributes per span; OTLP bodies carry the usual resource attributes), warms up,
 * then keeps `--concurrency` keep-alive requests in flight for `--seconds`, recording each request's latency and
 * sampling the gateway's RSS and CPU every 500 ms. It stops by itself (time, request count and a hard deadline),
 * stops the gateway, checks the messages that reached Kafka, deletes the bench topic and prints a human summary
 * and a JSON summary.
 *
 *   native: POST /api/v1/spans, `{"spans":[…]}` as an LZ4 frame (encodeNativeBatch, what the SDKs send)
 *   otlp:   POST /v1/traces on the OTLP port, application/x-protobuf serialized by @opentelemetry/otlp-transformer
 *
 * --profile adds `--cpu-prof` to the gateway's node arguments and summarises the profile (self time per function
 * and per package/module, inclusive time of the ingest path's main functions) after the gateway exits.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SPANS_TOPIC, topicName } from '@skein/contracts';
import { Span, encodeNativeBatch } from '@skein/domain';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { FrameMatcher, ProfileSummary, freePort, machineCpu, percentile, printProfile, processCpuSeconds, sleep, summariseProfile } from './bench-support';
import * as lz4 from 'lz4';

const ROOT = join(__dirname, '..', '..');

// ------------------------------------------------------------------------------------------------ options

type Protocol = 'native' | 'otlp';

interface Options {
  seconds: number;
  warmup: number;
  concurrency: number;
  protocols: Protocol[];
  profile: boolean;
  tracesPerRequest: number;
  spansPerTrace: number;
  pool: number;
  maxRequests: number;
  json?: string;
  /** lz4BlockKb: LZ4 frame block size of the native bodies; undefined = encodeNativeBatch's (the lz4 package default, 4 MiB). */
  lz4BlockKb?: number;
  /** gatewayEntry: a compiled (JavaScript) build of the gateway's main to run instead of the TypeScript sources through tools/register.js. */
  gatewayEntry?: string;
  /** nodeArgs: extra node arguments of the gateway process (e.g. --max-semi-space-size=16). */
  nodeArgs: string[];
  /** waitQuiet: seconds to wait, before each protocol, for the machine to be under 10% busy (0 = do not wait). */
  waitQuiet: number;
  /** summarise: only summarise this existing .cpuprofile and exit. */
  summarise?: string;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { seconds: 20, warmup: 3, concurrency: 8, protocols: ['native', 'otlp'], profile: false, tracesPerRequest: 10, spansPerTrace: 50, pool: 24, maxRequests: 2_000_000, waitQuiet: 0, nodeArgs: [] };
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
      case '--seconds':
        options.seconds = number('seconds', value(), 1, 600);
        break;
      case '--warmup':
        options.warmup = number('warmup', value(), 0, 60);
        break;
      case '--concurrency':
        options.concurrency = Math.floor(number('concurrency', value(), 1, 256));
        break;
      case '--protocol': {
        const p = value();
        if (p === 'both') options.protocols = ['native', 'otlp'];
        else if (p === 'native' || p === 'otlp') options.protocols = [p];
        else throw new Error(`--protocol must be native, otlp or both, got ${String(p)}`);
        break;
      }
      case '--profile':
        options.profile = true;
        break;
      case '--traces':
        options.tracesPerRequest = Math.floor(number('traces', value(), 1, 1000));
        break;
      case '--spans-per-trace':
        options.spansPerTrace = Math.floor(number('spans-per-trace', value(), 2, 1000));
        break;
      case '--pool':
        options.pool = Math.floor(number('pool', value(), 1, 1000));
        break;
      case '--max-requests':
        options.maxRequests = Math.floor(number('max-requests', value(), 1, 100_000_000));
        break;
      case '--json':
        options.json = value();
        break;
      case '--native-lz4-block-kb': {
        const kb = Math.floor(number('native-lz4-block-kb', value(), 64, 4096));
        if (![64, 256, 1024, 4096].includes(kb)) throw new Error('--native-lz4-block-kb must be 64, 256, 1024 or 4096 (the LZ4 frame block sizes)');
        options.lz4BlockKb = kb;
        break;
      }
      case '--node-arg': {
        const arg = value();
        if (arg === undefined || !arg.startsWith('--')) throw new Error('--node-arg needs a node option, e.g. --node-arg=--max-semi-space-size=16');
        options.nodeArgs.push(arg);
        break;
      }
      case '--gateway-entry':
        options.gatewayEntry = value();
        break;
      case '--wait-quiet':
        options.waitQuiet = number('wait-quiet', value(), 0, 3600);
        break;
      case '--summarise-profile':
        options.summarise = value();
        break;
      case '--help':
      case '-h':
        process.stdout.write(
          'usage: node -r ./tools/register.js tools/bench/ingest-gateway.bench.ts [--seconds 20] [--warmup 3] [--concurrency 8]\n' +
            '         [--protocol native|otlp|both] [--profile] [--traces 10] [--spans-per-trace 50] [--pool 24] [--max-requests N] [--wait-quiet S] [--json file]\n' +
            '         [--native-lz4-block-kb 64|256|1024|4096] [--node-arg=--some-node-option ...] [--gateway-entry compiled/main.js]\n' +
            '       ... --summarise-profile <file.cpuprofile>   (only print the summary of an existing gateway profile)\n',
        );
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default:
        throw new Error(`unknown argument ${arg} (see --help)`);
    }
  }
  if (options.tracesPerRequest * options.spansPerTrace > 10_000) throw new Error('more than 10,000 spans per request: the gateway refuses such batches by default');
  return options;
}

// ------------------------------------------------------------------------------------------------ realistic bodies

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const pick = <T>(items: readonly T[], n: number): T => items[n % items.length] as T;

const SERVICES = ['api-gateway', 'checkout-service', 'cart-service', 'payment-service', 'inventory-service', 'user-service', 'pricing-service', 'shipping-service'];
const ROUTES = ['/api/checkout', '/api/cart/{id}', '/api/orders/{id}', '/api/users/{id}/profile', '/api/search', '/api/payments'];
const TABLES = ['orders', 'order_items', 'users', 'inventory', 'payments', 'prices'];
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'okhttp/4.12.0',
];

/**
 * nativeTrace: one trace of `spans` spans over several services: an entry HTTP server span, then per hop a client
 * call and the callee's server span, with DB, cache and messaging spans under them; ~10 tags per span, 2% errors.
 */
function nativeTrace(spans: number, startUs: number, seq: number): Span[] {
  const traceId = hex(16);
  const out: Span[] = [];
  const root: Span = {
    traceId,
    spanId: hex(8),
    rpcId: '0',
    service: 'api-gateway',
    operation: `POST ${pick(ROUTES, seq)}`,
    kind: 'server',
    startTimeUs: startUs,
    durationUs: 180_000 + (seq % 50) * 1_000,
    error: false,
    host: `api-gateway-7d9f8c6b5-${hex(3)}`,
    tags: {
      'http.request.method': 'POST',
      'http.route': pick(ROUTES, seq),
      'url.path': pick(ROUTES, seq).replace('{id}', String(100_000 + seq)),
      'url.scheme': 'https',
      'http.response.status_code': '200',
      'user_agent.original': pick(USER_AGENTS, seq),
      'client.address': `10.${seq % 250}.${(seq * 7) % 250}.${(seq * 13) % 250}`,
      'server.port': '8080',
      'network.protocol.version': '1.1',
      'http.request.body.size': String(400 + (seq % 900)),
    },
  };
  out.push(root);
  let parent = root;
  for (let i = 1; i < spans; i++) {
    const offset = i * 2_000;
    const service = pick(SERVICES, 1 + Math.floor(i / 8));
    const host = `${service}-5c7b9d8f4-${(seq + i) % 97}`;
    const shape = i % 8;
    let span: Span;
    if (shape === 0) {
      // a hop to the next service: the caller's client span ...
      const callee = pick(SERVICES, 1 + Math.floor((i + 1) / 8));
      span = {
        traceId, spanId: hex(8), parentSpanId: parent.spanId, service: parent.service, operation: `POST /internal/${callee}`, kind: 'client',
        startTimeUs: startUs + offset, durationUs: 40_000, error: false, host: parent.host, remoteService: callee,
        tags: { 'http.request.method': 'POST', 'url.full': `http://${callee}.shop.svc.cluster.local:8080/internal/${callee}`, 'server.address': `${callee}.shop.svc.cluster.local`, 'server.port': '8080', 'http.response.status_code': '200', 'network.peer.address': `10.2.${i}.${seq % 250}`, 'network.protocol.version': '1.1', 'http.request.resend_count': '0', 'peer.service': callee, 'thread.name': 'http-nio-8080-exec-3' },
      };
    } else if (shape === 1) {
      // ... and the callee's server span, the parent of what follows
      span = {
        traceId, spanId: hex(8), parentSpanId: parent.spanId, service, operation: `POST /internal/${service}`, kind: 'server',
        startTimeUs: startUs + offset + 300, durationUs: 38_000, error: false, host,
        tags: { 'http.request.method': 'POST', 'http.route': `/internal/${service}`, 'url.path': `/internal/${service}`, 'url.scheme': 'http', 'http.response.status_code': '200', 'server.port': '8080', 'client.address': `10.2.${i}.${seq % 250}`, 'network.protocol.version': '1.1', 'user_agent.original': 'okhttp/4.12.0', 'http.request.body.size': String(200 + i) },
      };
    } else if (shape <= 4) {
      const table = pick(TABLES, i + seq);
      const failed = (seq + i) % 50 === 0;
      span = {
        traceId, spanId: hex(8), parentSpanId: parent.spanId, service, operation: `SELECT shop.${table}`, kind: 'client',
        startTimeUs: startUs + offset + 500, durationUs: 800 + ((i * 37) % 4_000), error: failed, host, remoteService: 'postgres',
        statusMessage: failed ? 'canceling statement due to statement timeout' : undefined,
        tags: { 'db.system.name': 'postgresql', 'db.namespace': 'shop', 'db.operation.name': 'SELECT', 'db.collection.name': table, 'db.query.text': `SELECT id, status, total, updated_at FROM ${table} WHERE customer_id = $1 AND status = $2 ORDER BY updated_at DESC LIMIT 20`, 'server.address': 'pg-primary.shop.svc.cluster.local', 'server.port': '5432', 'db.response.returned_rows': String((i * 3) % 20), 'db.client.connection.pool.name': 'shop-pool', 'thread.name': 'pool-2-thread-7' },
      };
    } else if (shape <= 6) {
      span = {
        traceId, spanId: hex(8), parentSpanId: parent.spanId, service, operation: shape === 5 ? 'GET' : 'SETEX', kind: 'client',
        startTimeUs: startUs + offset + 700, durationUs: 150 + ((i * 11) % 600), error: false, host, remoteService: 'redis',
        tags: { 'db.system.name': 'redis', 'db.operation.name': shape === 5 ? 'GET' : 'SETEX', 'db.query.text': `${shape === 5 ? 'GET' : 'SETEX'} session:${hex(6)}`, 'db.namespace': '0', 'server.address': 'redis-master.shop.svc.cluster.local', 'server.port': '6379', 'network.peer.address': '10.3.0.12', 'network.peer.port': '6379', 'cache.hit': String(i % 3 !== 0), 'thread.name': 'lettuce-nioEventLoop-4-1' },
      };
    } else {
      span = {
        traceId, spanId: hex(8), parentSpanId: parent.spanId, service, operation: 'order-events publish', kind: 'producer',
        startTimeUs: startUs + offset + 900, durationUs: 1_200, error: false, host, remoteService: 'kafka',
        tags: { 'messaging.system': 'kafka', 'messaging.operation.type': 'publish', 'messaging.destination.name': 'order-events', 'messaging.kafka.message.key': `order-${100_000 + seq}`, 'messaging.destination.partition.id': String(i % 12), 'messaging.message.body.size': '742', 'server.address': 'kafka-0.kafka.svc.cluster.local', 'server.port': '9092', 'messaging.client.id': `${service}-producer-1`, 'thread.name': 'kafka-producer-network-thread' },
      };
    }
    if (span.statusMessage === undefined) delete span.statusMessage;
    out.push(span);
    if (shape === 1) parent = span;
  }
  return out;
}

export function nativeBodies(options: Pick<Options, 'pool' | 'tracesPerRequest' | 'spansPerTrace' | 'lz4BlockKb'>): Buffer[] {
  const bodies: Buffer[] = [];
  const startUs = Date.now() * 1000;
  for (let b = 0; b < options.pool; b++) {
    const spans: Span[] = [];
    for (let t = 0; t < options.tracesPerRequest; t++) spans.push(...nativeTrace(options.spansPerTrace, startUs + (b * options.tracesPerRequest + t) * 1_000, b * options.tracesPerRequest + t));
    // encodeNativeBatch is what the SDKs send; --native-lz4-block-kb makes the same frame with smaller blocks.
    bodies.push(options.lz4BlockKb === undefined ? encodeNativeBatch(spans) : lz4.encode(Buffer.from(JSON.stringify({ spans })), { blockMaxSize: options.lz4BlockKb * 1024 }));
  }
  return bodies;
}

/** otlpRequestSpans: what one service's OpenTelemetry JS SDK exports: `traces` traces of `spansPerTrace` spans. */
function otlpRequestSpans(service: string, traces: number, spansPerTrace: number, seq: number): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': service,
      'service.version': '2.14.0',
      'service.namespace': 'shop',
      'service.instance.id': `${hex(4)}-${hex(2)}-${hex(2)}-${hex(2)}-${hex(6)}`,
      'host.name': `ip-10-1-${seq % 250}-${(seq * 7) % 250}.ec2.internal`,
      'host.arch': 'amd64',
      'k8s.pod.name': `${service}-7d9f8c6b5-${hex(3)}`,
      'k8s.namespace.name': 'shop',
      'k8s.node.name': `ip-10-1-${seq % 250}-1.ec2.internal`,
      'deployment.environment.name': 'production',
      'cloud.provider': 'aws',
      'cloud.region': 'eu-west-1',
      'telemetry.sdk.language': 'nodejs',
      'telemetry.sdk.name': 'opentelemetry',
      'telemetry.sdk.version': '2.12.1',
      'process.pid': 4242 + seq,
      'process.runtime.name': 'nodejs',
      'process.runtime.version': '20.19.0',
    }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const httpTracer = provider.getTracer('@opentelemetry/instrumentation-http', '0.57.1');
  const pgTracer = provider.getTracer('@opentelemetry/instrumentation-pg', '0.50.0');
  const redisTracer = provider.getTracer('@opentelemetry/instrumentation-ioredis', '0.47.0');
  const t0 = Math.floor(Date.now() / 1000);
  for (let t = 0; t < traces; t++) {
    const route = pick(ROUTES, seq + t);
    const root = httpTracer.startSpan(`POST ${route}`, {
      kind: SpanKind.SERVER,
      startTime: [t0, t * 1_000_000],
      attributes: { 'http.request.method': 'POST', 'http.route': route, 'url.path': route.replace('{id}', String(100_000 + t)), 'url.scheme': 'https', 'http.response.status_code': 200, 'user_agent.original': pick(USER_AGENTS, t), 'client.address': `10.0.${seq % 250}.${t}`, 'server.port': 8080, 'network.protocol.version': '1.1', 'http.request.body.size': 512 + t },
    });
    const ctx = trace.setSpan(ROOT_CONTEXT, root);
    for (let s = 1; s < spansPerTrace; s++) {
      const start: [number, number] = [t0, t * 1_000_000 + s * 10_000];
      const end: [number, number] = [t0, t * 1_000_000 + s * 10_000 + 4_000 + ((s * 37) % 3_000)];
      const shape = s % 5;
      if (shape === 0) {
        const callee = pick(SERVICES, s + t);
        const child = httpTracer.startSpan('POST', {
          kind: SpanKind.CLIENT,
          startTime: start,
          attributes: { 'http.request.method': 'POST', 'url.full': `http://${callee}.shop.svc.cluster.local:8080/internal/${callee}`, 'server.address': `${callee}.shop.svc.cluster.local`, 'server.port': 8080, 'http.response.status_code': 200, 'network.peer.address': `10.2.${s}.${t}`, 'network.protocol.version': '1.1', 'http.request.resend_count': 0, 'peer.service': callee, 'http.request.body.size': 220 },
        }, ctx);
        child.end(end);
      } else if (shape <= 3) {
        const table = pick(TABLES, s + t);
        const child = pgTracer.startSpan(`SELECT shop.${table}`, {
          kind: SpanKind.CLIENT,
          startTime: start,
          attributes: { 'db.system.name': 'postgresql', 'db.namespace': 'shop', 'db.operation.name': 'SELECT', 'db.collection.name': table, 'db.query.text': `SELECT id, status, total, updated_at FROM ${table} WHERE customer_id = $1 AND status = $2 ORDER BY updated_at DESC LIMIT 20`, 'server.address': 'pg-primary.shop.svc.cluster.local', 'server.port': 5432, 'peer.service': 'postgres', 'db.response.returned_rows': s % 20, 'db.client.connection.pool.name': 'shop-pool' },
        }, ctx);
        if ((s + t + seq) % 50 === 0) {
          child.recordException(new Error('canceling statement due to statement timeout'));
          child.setStatus({ code: SpanStatusCode.ERROR, message: 'canceling statement due to statement timeout' });
        }
        child.end(end);
      } else {
        const child = redisTracer.startSpan('get', {
          kind: SpanKind.CLIENT,
          startTime: start,
          attributes: { 'db.system.name': 'redis', 'db.operation.name': 'GET', 'db.query.text': `GET session:${hex(6)}`, 'db.namespace': '0', 'server.address': 'redis-master.shop.svc.cluster.local', 'server.port': 6379, 'network.peer.address': '10.3.0.12', 'network.peer.port': 6379, 'peer.service': 'redis', 'cache.hit': s % 3 !== 0 },
        }, ctx);
        child.end(end);
      }
    }
    root.end([t0, t * 1_000_000 + 900_000]);
  }
  return exporter.getFinishedSpans();
}

export function otlpBodies(options: Pick<Options, 'pool' | 'tracesPerRequest' | 'spansPerTrace'>): Buffer[] {
  const bodies: Buffer[] = [];
  for (let b = 0; b < options.pool; b++) {
    const spans = otlpRequestSpans(pick(SERVICES, b), options.tracesPerRequest, options.spansPerTrace, b);
    bodies.push(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array));
  }
  return bodies;
}

// ------------------------------------------------------------------------------------------------ infrastructure

/** localInfra: Kafka brokers and Redis URL from the environment (or `infra.sh env`), on 127.0.0.1 only. */
function localInfra(): { brokers: string; redisUrl: string } {
  let brokers = process.env['SKEIN_KAFKA_BROKERS'];
  let redisUrl = process.env['SKEIN_REDIS_URL'];
  if (brokers === undefined || redisUrl === undefined) {
    const text = execFileSync('bash', [join(ROOT, 'deploy', 'local', 'infra.sh'), 'env'], { encoding: 'utf8', timeout: 30_000 });
    brokers ??= /SKEIN_KAFKA_BROKERS=(\S+)/.exec(text)?.[1];
    redisUrl ??= /SKEIN_REDIS_URL=(\S+)/.exec(text)?.[1];
  }
  if (brokers === undefined || redisUrl === undefined) throw new Error('Kafka/Redis not found: run `bash deploy/local/infra.sh up` and `eval "$(bash deploy/local/infra.sh env)"`');
  const local = (host: string) => host === '127.0.0.1' || host === 'localhost';
  for (const broker of brokers.split(',')) {
    if (!local(broker.trim().split(':')[0] ?? '')) throw new Error(`refusing to benchmark against a non-local broker: ${broker}`);
  }
  if (!local(new URL(redisUrl).hostname)) throw new Error(`refusing to benchmark against a non-local Redis: ${redisUrl}`);
  return { brokers, redisUrl };
}



interface Gateway {
  child: ChildProcess;
  pid: number;
  apiUrl: string;
  otlpUrl: string;
  apiKey: string;
  topic: string;
  profileDir?: string;
  output(): string;
  stop(): Promise<number | string | null>;
}

async function startGateway(protocol: Protocol, infra: { brokers: string; redisUrl: string }, profile: boolean, extraNodeArgs: string[], entry?: string): Promise<Gateway> {
  const prefix = `bench-${Date.now()}-${protocol}`;
  const apiKey = hex(16);
  const [httpPort, otlpPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
  const profileDir = profile ? mkdtempSync(join(tmpdir(), `skein-bench-prof-${protocol}-`)) : undefined;
  const flags = [...extraNodeArgs, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  // From the sources the gateway starts as a user starts it: tools/start-service.sh adds its own node flags (the
  // heap growing factor) and execs node, so the pid is node's. A compiled entry gets node and the flags given.
  const [command, args] = entry === undefined ? ['bash', [join(ROOT, 'tools', 'start-service.sh'), 'ingest-gateway', ...flags]] : [process.execPath, [...flags, entry]];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      SKEIN_KAFKA_BROKERS: infra.brokers,
      SKEIN_REDIS_URL: infra.redisUrl,
      SKEIN_REDIS_KEY_PREFIX: prefix,
      SKEIN_TOPIC_PREFIX: prefix,
      SKEIN_SPANS_PARTITIONS: '6',
      SKEIN_API_KEYS: `bench:${apiKey}`,
      SKEIN_ADMIN_TOKEN: hex(16),
      SKEIN_HTTP_HOST: '127.0.0.1',
      SKEIN_HTTP_PORT: String(httpPort),
      SKEIN_OTLP_HTTP_PORT: String(otlpPort),
      // OTLP/gRPC is not measured here, but its default port (4317) must not collide with another gateway's.
      SKEIN_OTLP_GRPC_PORT: String(grpcPort),
      SKEIN_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const gateway: Gateway = {
    child,
    pid: child.pid as number,
    apiUrl: `http://127.0.0.1:${httpPort}`,
    otlpUrl: `http://127.0.0.1:${otlpPort}`,
    apiKey,
    topic: topicName(SPANS_TOPIC, prefix),
    profileDir,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(20_000).then(() => 'timeout' as const)]);
      if (code !== 'timeout') return code;
      child.kill('SIGKILL');
      return exited;
    },
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`gateway exited before it was ready:\n${output.slice(-4000)}`);
    const ready = await fetch(`${gateway.apiUrl}/readyz`).then((r) => r.ok, () => false);
    if (ready) return gateway;
    if (Date.now() > deadline) {
      await gateway.stop();
      throw new Error(`gateway not ready within 90 s:\n${output.slice(-4000)}`);
    }
    await sleep(250);
  }
}

/** kafkaCleanup: counts the messages in the bench topic, then deletes it. */
async function kafkaCountAndDelete(brokers: string, topic: string): Promise<number | undefined> {
  const kafka = new Kafka({ brokers: brokers.split(','), clientId: 'skein-bench', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    let messages: number | undefined;
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      messages = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
    } catch {
      messages = undefined;
    }
    if ((await admin.listTopics()).includes(topic)) await admin.deleteTopics({ topics: [topic], timeout: 30_000 });
    return messages;
  } finally {
    await admin.disconnect();
  }
}

// ------------------------------------------------------------------------------------------------ sampling




/** rssMb: resident set size of a process, from `ps -o rss=` (KiB). */
function rssMb(pid: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const ps = spawn('ps', ['-o', 'rss=', '-p', String(pid)], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    ps.stdout.on('data', (c: Buffer) => (out += c.toString()));
    ps.on('error', () => resolve(undefined));
    ps.on('close', () => {
      const kib = Number(out.trim());
      resolve(out.trim() !== '' && Number.isFinite(kib) ? kib / 1024 : undefined);
    });
  });
}

/** produceSeconds: sum and count of the gateway's skein_ingest_produce_seconds histogram (time waiting for Kafka). */
async function produceSeconds(url: string): Promise<{ sum: number; count: number } | undefined> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const sum = /^skein_ingest_produce_seconds_sum(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1];
    const count = /^skein_ingest_produce_seconds_count(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1];
    return sum !== undefined && count !== undefined ? { sum: Number(sum), count: Number(count) } : undefined;
  } catch {
    return undefined;
  }
}

/** memoryBreakdown: the gateway's V8 heap and external memory from its /metrics (prom-client default metrics), MB. */
async function memoryBreakdown(url: string, pid: number): Promise<Record<string, number> | undefined> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const mb = (pattern: RegExp) => {
      const value = pattern.exec(text)?.[1];
      return value === undefined ? NaN : Math.round(Number(value) / 2 ** 20);
    };
    return {
      rss: Math.round((await rssMb(pid)) ?? NaN),
      heapTotal: mb(/^nodejs_heap_size_total_bytes(?:\{[^}]*\})? (\S+)$/m),
      heapUsed: mb(/^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/m),
      newSpace: mb(/^nodejs_heap_space_size_total_bytes\{space="new"[^}]*\} (\S+)$/m),
      oldSpace: mb(/^nodejs_heap_space_size_total_bytes\{space="old"[^}]*\} (\S+)$/m),
      codeSpace: mb(/^nodejs_heap_space_size_total_bytes\{space="code"[^}]*\} (\S+)$/m),
      largeObjectSpace: mb(/^nodejs_heap_space_size_total_bytes\{space="large_object"[^}]*\} (\S+)$/m),
      external: mb(/^nodejs_external_memory_bytes(?:\{[^}]*\})? (\S+)$/m),
    };
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------------ load

interface Phase {
  requests: number;
  okRequests: number;
  spans: number;
  latenciesMs: number[];
  errors: Record<string, number>;
  bytesSent: number;
  partial: number;
  elapsedMs: number;
}

interface Target {
  url: URL;
  headers: Record<string, string>;
  bodies: Buffer[];
  spansPerBody: number;
  /** acceptedSpans: spans the answer reports as accepted (undefined = all of them). */
  acceptedSpans(status: number, body: Buffer): number;
}

function send(agent: Agent, target: Target, body: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { agent, method: 'POST', hostname: target.url.hostname, port: target.url.port, path: target.url.pathname, headers: { ...target.headers, 'Content-Length': String(body.length) }, timeout: 30_000 },
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

/** runPhase: `concurrency` loops sending bodies back to back until `durationMs` passed or `maxRequests` were started. */
async function runPhase(agent: Agent, target: Target, concurrency: number, durationMs: number, maxRequests: number, record: boolean): Promise<Phase> {
  const phase: Phase = { requests: 0, okRequests: 0, spans: 0, latenciesMs: [], errors: {}, bytesSent: 0, partial: 0, elapsedMs: 0 };
  const start = performance.now();
  const deadline = start + durationMs;
  let next = 0;
  const worker = async () => {
    while (performance.now() < deadline && phase.requests < maxRequests) {
      const body = target.bodies[next++ % target.bodies.length] as Buffer;
      phase.requests++;
      const t0 = performance.now();
      try {
        const res = await send(agent, target, body);
        const ms = performance.now() - t0;
        if (record) phase.latenciesMs.push(ms);
        phase.bytesSent += body.length;
        if (res.status >= 200 && res.status < 300) {
          phase.okRequests++;
          const accepted = target.acceptedSpans(res.status, res.body);
          if (accepted < target.spansPerBody) phase.partial++;
          phase.spans += accepted;
        } else {
          phase.errors[String(res.status)] = (phase.errors[String(res.status)] ?? 0) + 1;
          if (res.status === 503 || res.status === 429) await sleep(50);
        }
      } catch (err) {
        const key = `network: ${(err as Error).message}`;
        phase.errors[key] = (phase.errors[key] ?? 0) + 1;
        await sleep(100);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  phase.elapsedMs = performance.now() - start;
  return phase;
}

/**
 * otlpRejectedSpans: `partial_success.rejected_spans` of an ExportTraceServiceResponse (empty body = 0); the
 * error message goes to `onMessage`.
 */
function otlpRejectedSpans(body: Buffer, onMessage: (message: string) => void): number {
  if (body.length === 0) return 0;
  const varint = (at: { pos: number }): number => {
    let value = 0;
    for (let shift = 0; at.pos < body.length; shift += 7) {
      const byte = body[at.pos++] as number;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) break;
    }
    return value;
  };
  const at = { pos: 0 };
  let rejected = 0;
  while (at.pos < body.length) {
    const key = varint(at);
    if (key !== 0x0a) break; // field 1 partial_success (len)
    const end = varint(at) + at.pos;
    while (at.pos < end) {
      const inner = varint(at);
      if (inner === 0x08) rejected = varint(at);
      else if (inner === 0x12) {
        const length = varint(at);
        onMessage(body.subarray(at.pos, at.pos + length).toString('utf8'));
        at.pos += length;
      } else return rejected;
    }
  }
  return rejected;
}


// ------------------------------------------------------------------------------------------------ profile summary


/** INCLUSIVE: functions of the ingest path whose inclusive time is reported (name → how to recognise its frame). */
const INCLUSIVE: FrameMatcher[] = [
  ['IngestService.run (after the body is read)', (f) => f.functionName === 'run' && f.url.includes('ingest.service')],
  ['parseSpanBatch (JSON.parse + validateSpan)', (f) => f.functionName === 'parseSpanBatch'],
  ['decodeOtlpTraces (read + map + validateSpan)', (f) => f.functionName === 'decodeOtlpTraces'],
  ['validateSpan', (f) => f.functionName === 'validateSpan'],
  ['span-validation attributes() (tags/resource copy)', (f) => f.functionName === 'attributes' && f.url.includes('span.validation')],
  ['encodeSpanMessages (JSON.stringify per trace)', (f) => f.functionName === 'encodeSpanMessages'],
  ['PolicyCache.resolve (sampling policy per span)', (f) => f.functionName === 'resolve' && f.url.includes('policy-cache')],
  ['lz4Codec.compress (Kafka record batch LZ4)', (f) => f.functionName === 'compress' && f.url.includes('kafka-lz4')],
  ['kafkajs crc32C', (f) => f.functionName === 'crc32C' || (f.url.includes('crc32C') && f.url.includes('kafkajs'))],
];

/**
 * STAGES: every busy sample goes to one stage of the request's path: of the stages whose frames are on its stack,
 * the first listed here (the most specific work) wins; so the stages add up to 100% of the busy time.
 */
const STAGES: FrameMatcher[] = [
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['startup (module load, SWC transpile)', (f) => f.url.startsWith('node:internal/modules') || f.url.includes('node_modules/@swc') || f.url.includes('node_modules/pirates')],
  ['body decompression (lz4 / gzip)', (f) => f.functionName === 'decodeContentEncoding' || f.functionName === 'decompressLz4Frame'],
  ['native JSON.parse + validation', (f) => f.functionName === 'parseSpanBatch'],
  ['OTLP protobuf wire decode', (f) => f.functionName === 'readOtlpProtobufRequest'],
  ['OTLP mapping + validation', (f) => f.functionName === 'mapOtlpTraceRequest'],
  ['sampling policy per span', (f) => (f.functionName === 'resolve' && /policy-cache|sampling-policy/.test(f.url)) || f.functionName === 'decideSpan'],
  ['Kafka message encode (JSON.stringify)', (f) => f.functionName === 'encodeSpanMessages'],
  ['kafkajs produce (record batches, LZ4, CRC, socket)', (f) => f.url.includes('node_modules/kafkajs') || f.url.includes('kafka-lz4') || f.url.includes('kafka-message-bus')],
  ['request body read', (f) => f.functionName === 'readRawBody'],
  ['decode pool hand-off (postMessage, reply to Buffers)', (f) => f.url.includes('decode-pool') || f.url.includes('decode-worker') || f.url.startsWith('node:internal/worker')],
  ['prom-client', (f) => f.url.includes('node_modules/prom-client')],
  ['ioredis / policy refresh', (f) => f.url.includes('node_modules/ioredis') || f.url.includes('adapter-redis')],
  ['HTTP server (node http, express, Nest)', (f) => /node_modules\/(@nestjs|express|router|finalhandler|body-parser|send|on-finished|raw-body|etag|content-type|path-to-regexp)\//.test(f.url) || /^node:(_http|net|internal\/(streams|stream_base_commons|http))/.test(f.url) || f.functionName === 'writev' || f.functionName === 'writeBuffer' || f.functionName === 'writeUtf8String'],
  ['other ingest code', (f) => f.url.includes('/libs/') || f.url.includes('/apps/')],
];


// ------------------------------------------------------------------------------------------------ main

interface Result {
  protocol: Protocol;
  endpoint: string;
  spansPerRequest: number;
  bodyBytesMean: number;
  concurrency: number;
  seconds: number;
  requests: number;
  okRequests: number;
  spansPerSecond: number;
  requestsPerSecond: number;
  mbPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  rssMb: { max: number; mean: number; startup: number };
  /** cpu: cores used during the measurement; otherCores = the rest of the machine (Kafka, Elasticsearch, Redis, anything else running). */
  cpu: { gatewayCores: number; benchClientCores: number; otherCores: number | undefined; machineBusyPct: number | undefined; backgroundBusyPctBefore: number | undefined };
  /** memoryAtStartMb: the same as memoryAtEndMb, idle, right after the gateway became ready. */
  memoryAtStartMb: Record<string, number> | undefined;
  /** memoryAtEndMb: RSS, V8 heap (total, used, per space) and external memory right after the measurement, MB. */
  memoryAtEndMb: Record<string, number> | undefined;
  kafkaProduceMeanMs: number | undefined;
  errors: Record<string, number>;
  partialAnswers: number;
  firstPartialMessage: string | undefined;
  kafkaMessages: number | undefined;
  expectedKafkaMessages: number;
  topic: string;
  gatewayExit: number | string | null;
  profile?: ProfileSummary;
  /** workerProfiles: the decode workers' profiles (SKEIN_INGEST_DECODE_WORKERS), one per thread. */
  workerProfiles?: ProfileSummary[];
}

async function benchmark(protocol: Protocol, options: Options, infra: { brokers: string; redisUrl: string }): Promise<Result> {
  const spansPerBody = options.tracesPerRequest * options.spansPerTrace;
  process.stdout.write(`[${protocol}] building ${options.pool} bodies of ${options.tracesPerRequest} traces x ${options.spansPerTrace} spans ...\n`);
  const bodies = protocol === 'native' ? nativeBodies(options) : otlpBodies(options);
  // What the machine is doing before the gateway starts: other work here skews the figures.
  const busyOver2s = async () => {
    const before = machineCpu();
    await sleep(2_000);
    const after = machineCpu();
    return before && after ? (100 * (after.busy - before.busy)) / (after.total - before.total) : undefined;
  };
  let background = await busyOver2s();
  const quietDeadline = Date.now() + options.waitQuiet * 1000;
  while (background !== undefined && background > 10 && Date.now() < quietDeadline) {
    process.stdout.write(`[${protocol}] machine ${background.toFixed(0)}% busy; waiting for it to be quiet ...\n`);
    background = await busyOver2s();
  }
  if (background !== undefined && background > 10) process.stdout.write(`[${protocol}] warning: the machine is already ${background.toFixed(0)}% busy before the gateway starts; figures will be low\n`);
  const gateway = await startGateway(protocol, infra, options.profile, options.nodeArgs, options.gatewayEntry);
  process.stdout.write(`[${protocol}] gateway pid ${gateway.pid} ready (${gateway.apiUrl}, OTLP ${gateway.otlpUrl}), topic ${gateway.topic}\n`);
  const rssSamples: number[] = [];
  let phaseRss: number[] | undefined;
  const startupRss = (await rssMb(gateway.pid)) ?? NaN;
  const memoryAtStart = await memoryBreakdown(gateway.apiUrl, gateway.pid);
  const sampler = setInterval(() => {
    void rssMb(gateway.pid).then((mb) => {
      if (mb === undefined) return;
      rssSamples.push(mb);
      phaseRss?.push(mb);
    });
  }, 500);
  let stopped = false;
  let firstPartial: string | undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency, maxFreeSockets: options.concurrency });
  try {
    const target: Target =
      protocol === 'native'
        ? {
            url: new URL('/api/v1/spans', gateway.apiUrl),
            headers: { Authorization: `Bearer ${gateway.apiKey}`, 'Content-Type': 'application/json', 'Content-Encoding': 'lz4' },
            bodies,
            spansPerBody,
            acceptedSpans: (_status, body) => (JSON.parse(body.toString('utf8')) as { accepted: number }).accepted,
          }
        : {
            url: new URL('/v1/traces', gateway.otlpUrl),
            headers: { Authorization: `Bearer ${gateway.apiKey}`, 'Content-Type': 'application/x-protobuf' },
            bodies,
            spansPerBody,
            acceptedSpans: (_status, body) => spansPerBody - otlpRejectedSpans(body, (message) => (firstPartial ??= message)),
          };
    let warmOk = 0;
    if (options.warmup > 0) {
      const warm = await runPhase(agent, target, options.concurrency, options.warmup * 1000, options.maxRequests, false);
      process.stdout.write(`[${protocol}] warm-up ${options.warmup} s: ${warm.okRequests}/${warm.requests} ok, ${Math.round(warm.spans / (warm.elapsedMs / 1000))} spans/s\n`);
      warmOk = warm.okRequests;
      if (warm.okRequests === 0) throw new Error(`no request succeeded during warm-up: ${JSON.stringify(warm.errors)}\n${gateway.output().slice(-3000)}`);
    }
    const produceBefore = await produceSeconds(gateway.apiUrl);
    const cpuBefore = processCpuSeconds(gateway.pid);
    const clientBefore = process.cpuUsage();
    const machineBefore = machineCpu();
    phaseRss = [];
    process.stdout.write(`[${protocol}] measuring ${options.seconds} s with ${options.concurrency} concurrent requests ...\n`);
    const phase = await runPhase(agent, target, options.concurrency, options.seconds * 1000, options.maxRequests, true);
    const measuredRss = phaseRss;
    phaseRss = undefined;
    const cpuAfter = processCpuSeconds(gateway.pid);
    const clientAfter = process.cpuUsage(clientBefore);
    const machineAfter = machineCpu();
    const produceAfter = await produceSeconds(gateway.apiUrl);
    const memoryAtEnd = await memoryBreakdown(gateway.apiUrl, gateway.pid);
    clearInterval(sampler);
    stopped = true;
    const seconds = phase.elapsedMs / 1000;
    const machineBusyPct = machineBefore && machineAfter ? (100 * (machineAfter.busy - machineBefore.busy)) / (machineAfter.total - machineBefore.total) : undefined;
    const sorted = [...phase.latenciesMs].sort((a, b) => a - b);
    const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
    const gatewayExit = await gateway.stop();
    let kafkaMessages: number | undefined;
    try {
      kafkaMessages = await kafkaCountAndDelete(infra.brokers, gateway.topic);
    } catch (err) {
      process.stdout.write(`[${protocol}] could not count/delete topic ${gateway.topic}: ${(err as Error).message}\n`);
    }
    let profile: ProfileSummary | undefined;
    let workerProfiles: ProfileSummary[] | undefined;
    if (gateway.profileDir !== undefined) {
      // One file per thread, CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: thread 0 is the main thread.
      const files = existsSync(gateway.profileDir) ? readdirSync(gateway.profileDir).filter((f) => f.endsWith('.cpuprofile')) : [];
      const threadOf = (f: string) => Number(f.split('.').at(-3));
      if (files.length === 0) process.stdout.write(`[${protocol}] no .cpuprofile written in ${gateway.profileDir} (gateway exit ${String(gatewayExit)})\n`);
      else {
        const main = files.find((f) => threadOf(f) === 0) ?? (files[0] as string);
        profile = summariseProfile(join(gateway.profileDir, main), STAGES, INCLUSIVE);
        const workers = files.filter((f) => f !== main).sort((a, b) => threadOf(a) - threadOf(b));
        if (workers.length > 0) workerProfiles = workers.map((f) => summariseProfile(join(gateway.profileDir as string, f), STAGES, INCLUSIVE));
      }
    }
    return {
      protocol,
      endpoint: target.url.pathname,
      spansPerRequest: spansPerBody,
      bodyBytesMean: Math.round(bodies.reduce((s, b) => s + b.length, 0) / bodies.length),
      concurrency: options.concurrency,
      seconds: round(seconds, 2),
      requests: phase.requests,
      okRequests: phase.okRequests,
      spansPerSecond: Math.round(phase.spans / seconds),
      requestsPerSecond: round(phase.okRequests / seconds),
      mbPerSecond: round(phase.bytesSent / seconds / 1e6, 2),
      latencyMs: { p50: round(percentile(sorted, 50)), p90: round(percentile(sorted, 90)), p99: round(percentile(sorted, 99)), max: round(sorted[sorted.length - 1] ?? NaN), mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length) },
      rssMb: { max: round(Math.max(...rssSamples)), mean: round(measuredRss.reduce((a, b) => a + b, 0) / measuredRss.length), startup: round(startupRss) },
      cpu: {
        gatewayCores: cpuBefore !== undefined && cpuAfter !== undefined ? round((cpuAfter - cpuBefore) / seconds, 2) : NaN,
        benchClientCores: round((clientAfter.user + clientAfter.system) / 1e6 / seconds, 2),
        machineBusyPct: machineBusyPct === undefined ? undefined : round(machineBusyPct),
        otherCores: machineBusyPct === undefined || cpuBefore === undefined || cpuAfter === undefined ? undefined : round(Math.max(0, (machineBusyPct / 100) * cpus().length - (cpuAfter - cpuBefore) / seconds - (clientAfter.user + clientAfter.system) / 1e6 / seconds), 2),
        backgroundBusyPctBefore: background === undefined ? undefined : round(background),
      },
      memoryAtStartMb: memoryAtStart,
      memoryAtEndMb: memoryAtEnd,
      kafkaProduceMeanMs: produceBefore && produceAfter && produceAfter.count > produceBefore.count ? round((1000 * (produceAfter.sum - produceBefore.sum)) / (produceAfter.count - produceBefore.count), 2) : undefined,
      errors: phase.errors,
      partialAnswers: phase.partial,
      firstPartialMessage: firstPartial,
      kafkaMessages,
      expectedKafkaMessages: (warmOk + phase.okRequests) * options.tracesPerRequest,
      topic: gateway.topic,
      gatewayExit,
      profile,
      workerProfiles,
    };
  } finally {
    if (!stopped) clearInterval(sampler);
    agent.destroy();
    if (gateway.child.exitCode === null && gateway.child.signalCode === null) {
      await gateway.stop();
      await kafkaCountAndDelete(infra.brokers, gateway.topic).catch(() => undefined);
    }
  }
}

function printResult(r: Result): void {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const lines = [
    `== ${r.protocol} (${r.endpoint}), ${r.spansPerRequest} spans/request, mean body ${n(r.bodyBytesMean)} bytes, concurrency ${r.concurrency}, ${r.seconds} s`,
    `   spans/s          ${n(r.spansPerSecond)}`,
    `   requests/s       ${r.requestsPerSecond}  (${r.okRequests} ok of ${r.requests}; ${r.mbPerSecond} MB/s of request bodies)`,
    `   latency ms       p50 ${r.latencyMs.p50}  p90 ${r.latencyMs.p90}  p99 ${r.latencyMs.p99}  max ${r.latencyMs.max}  (mean ${r.latencyMs.mean}; Kafka produce mean ${r.kafkaProduceMeanMs ?? '?'})`,
    `   gateway RSS MB   max ${r.rssMb.max}  mean ${r.rssMb.mean} (idle after start ${r.rssMb.startup})`,
    `   memory MB        idle: ${r.memoryAtStartMb === undefined ? '?' : Object.entries(r.memoryAtStartMb).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `                    end:  ${r.memoryAtEndMb === undefined ? '?' : Object.entries(r.memoryAtEndMb).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `   CPU              gateway ${r.cpu.gatewayCores} cores, bench client ${r.cpu.benchClientCores}, rest of machine ${r.cpu.otherCores ?? '?'}; machine ${r.cpu.machineBusyPct ?? '?'}% busy of ${cpus().length} CPUs (${r.cpu.backgroundBusyPctBefore ?? '?'}% before the gateway started)`,
    `   errors           ${Object.keys(r.errors).length === 0 ? 'none' : JSON.stringify(r.errors)}${r.partialAnswers > 0 ? `; ${r.partialAnswers} partial answers, e.g. ${JSON.stringify(r.firstPartialMessage ?? '')}` : ''}`,
    `   Kafka            ${r.kafkaMessages ?? '?'} messages (expected ${r.expectedKafkaMessages}: one per trace, warm-up included) in ${r.topic} (deleted); gateway exit ${String(r.gatewayExit)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (r.profile) printProfile(r.profile);
  for (const [i, p] of (r.workerProfiles ?? []).entries()) {
    const n = (x: number) => Math.round(x).toLocaleString('en-US');
    const lines = [`   decode worker ${i + 1}  ${p.file}: ${n(p.busyMs)} ms busy of ${n(p.totalMs)} ms; busy time by stage:`];
    for (const st of p.stages) lines.push(`     ${String(st.pctOfBusy).padStart(5)}%  ${st.stage}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}


async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.summarise !== undefined) {
    printProfile(summariseProfile(options.summarise, STAGES, INCLUSIVE));
    return;
  }
  const infra = localInfra();
  // Hard deadline: body building, gateway start, warm-up, measurement, shutdown and clean-up per protocol.
  const hardDeadlineMs = options.protocols.length * (options.warmup + options.seconds + options.waitQuiet + 240) * 1000;
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: hard deadline of ${hardDeadlineMs / 1000} s passed; exiting\n`);
    process.exit(2);
  }, hardDeadlineMs);
  watchdog.unref();
  const results: Result[] = [];
  for (const protocol of options.protocols) {
    const result = await benchmark(protocol, options, infra);
    printResult(result);
    results.push(result);
  }
  const summary = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version },
    options: { ...options, json: undefined },
    results,
  };
  const json = JSON.stringify(summary, null, 2);
  if (options.json) writeFileSync(options.json, `${json}\n`);
  process.stdout.write(`${json}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
