import { createHash } from 'node:crypto';
import { SpanKind } from '../../span/span.model';
import { SpanViolation, validateSpan } from '../../span/span.validation';
import { DecodedSpans } from '../decoded-spans';
import { BatchLimits, BatchRejection, DEFAULT_BATCH_LIMITS, MAX_REPORTED_VIOLATIONS } from '../span-batch.codec';

/** ZipkinV2Kind: the `kind` of a Zipkin v2 span; absent means a local (in-process) span. */
export type ZipkinV2Kind = 'CLIENT' | 'SERVER' | 'PRODUCER' | 'CONSUMER';

/** ZipkinV2Endpoint: a Zipkin v2 endpoint; `serviceName` is lower-case, `port` 1-65535. */
export interface ZipkinV2Endpoint {
  serviceName?: string;
  ipv4?: string;
  ipv6?: string;
  port?: number;
}

/** ZipkinV2Annotation: a Zipkin v2 annotation; `timestamp` in microseconds since the epoch. */
export interface ZipkinV2Annotation {
  timestamp: number;
  value: string;
}

/**
 * ZipkinV2Span: one span of the Zipkin v2 JSON model (`POST /api/v2/spans`, `GET /api/v2/trace/{id}`).
 * Ids are lower-hex (traceId 16 or 32 characters, id and parentId 16); `timestamp` and `duration` are microseconds.
 */
export interface ZipkinV2Span {
  traceId: string;
  parentId?: string;
  id: string;
  name?: string;
  kind?: ZipkinV2Kind;
  timestamp?: number;
  duration?: number;
  localEndpoint?: ZipkinV2Endpoint;
  remoteEndpoint?: ZipkinV2Endpoint;
  annotations?: ZipkinV2Annotation[];
  tags?: Record<string, string>;
  debug?: boolean;
  shared?: boolean;
}

/**
 * ZIPKIN_TAG: the tags the Zipkin codec reserves to keep what the Skein span model has no field for, so
 * {@link encodeZipkinV2} can give back the span Zipkin clients sent. The decoder drops these keys from incoming
 * tags: only it may set them.
 */
export const ZIPKIN_TAG = {
  /** sharedSpanId: the client's span id that a shared server half reused (see {@link sharedServerSpanId}). */
  sharedSpanId: 'zipkin.shared_span_id',
  /** debug: `true` when the span was sent with `debug: true` (forced sampling). */
  debug: 'zipkin.debug',
  /** localPort: localEndpoint.port. */
  localPort: 'zipkin.local_endpoint.port',
  /** localIpv6: localEndpoint.ipv6 when the span also had an ipv4 (which went to `host`). */
  localIpv6: 'zipkin.local_endpoint.ipv6',
  /** remoteIpv4: remoteEndpoint.ipv4. */
  remoteIpv4: 'zipkin.remote_endpoint.ipv4',
  /** remoteIpv6: remoteEndpoint.ipv6. */
  remoteIpv6: 'zipkin.remote_endpoint.ipv6',
  /** remotePort: remoteEndpoint.port. */
  remotePort: 'zipkin.remote_endpoint.port',
} as const;

const RESERVED_TAGS: ReadonlySet<string> = new Set(Object.values(ZIPKIN_TAG));

const KINDS: Readonly<Record<string, SpanKind>> = { CLIENT: 'client', SERVER: 'server', PRODUCER: 'producer', CONSUMER: 'consumer' };
const HEX = /^[0-9a-f]+$/;
const ALL_ZEROS = /^0+$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const IPV6 = /^[0-9a-f:.]{2,45}$/;
// The Skein field validateSpan names in a violation → the Zipkin field the client sent it in.
const ZIPKIN_FIELDS: Readonly<Record<string, string>> = {
  spanId: 'id',
  parentSpanId: 'parentId',
  service: 'localEndpoint.serviceName',
  operation: 'name',
  startTimeUs: 'timestamp',
  durationUs: 'duration',
  remoteService: 'remoteEndpoint.serviceName',
  statusMessage: 'tags.error',
};

/**
 * sharedServerSpanId: the Skein spanId of the server half of a Zipkin shared span: the first 16 hex characters of
 * sha256(`traceId:id:server`), so every replay of the span gets the same id.
 */
export function sharedServerSpanId(traceId: string, id: string): string {
  return createHash('sha256').update(`${traceId}:${id}:server`).digest('hex').slice(0, 16);
}

/** isIpv4: a dotted-quad IPv4 address. */
export function isIpv4(value: string): boolean {
  return IPV4.test(value);
}

/** isIpv6: a lower-case IPv6 address (loose check: hex digits, colons and an optional embedded IPv4). */
export function isIpv6(value: string): boolean {
  return value.includes(':') && IPV6.test(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isAbsent(value: unknown): value is undefined | null {
  return value === undefined || value === null;
}

type IdResult = { ok: true; id: string | undefined } | { ok: false; message: string };

/**
 * Zipkin normalises ids rather than refusing them: upper case is lowered, short ids are padded left with zeros and a
 * 128-bit trace id whose high half is zero is the 64-bit id. Doing the same keeps one trace under one id whichever
 * client formatted it. An all-zero parentId means "no parent"; an all-zero traceId or id is invalid.
 */
function readId(value: unknown, width: 16 | 32, zeroMeansAbsent: boolean): IdResult {
  const what = width === 32 ? '16 or 32 hex characters' : '16 hex characters';
  if (isAbsent(value)) return { ok: false, message: `required: ${what}` };
  const hex = typeof value === 'string' ? value.toLowerCase() : '';
  if (!HEX.test(hex) || hex.length > width) return { ok: false, message: `must be ${what}` };
  if (ALL_ZEROS.test(hex)) return zeroMeansAbsent ? { ok: true, id: undefined } : { ok: false, message: 'must not be all zeros' };
  if (hex.length <= 16) return { ok: true, id: hex.padStart(16, '0') };
  const padded = hex.padStart(32, '0');
  return { ok: true, id: padded.startsWith('0000000000000000') ? padded.slice(16) : padded };
}

interface ReadEndpoint {
  serviceName?: string;
  ipv4?: string;
  ipv6?: string;
  port?: string;
}

/**
 * Zipkin ignores an address or port it cannot parse instead of refusing the span; so does this. A serviceName
 * of the wrong type is refused, since it names the service the span is aggregated under.
 */
function readEndpoint(raw: unknown, field: string, fail: (field: string, message: string) => void): ReadEndpoint | undefined {
  if (isAbsent(raw)) return undefined;
  if (!isRecord(raw)) {
    fail(field, 'must be an object {serviceName, ipv4, ipv6, port}');
    return undefined;
  }
  const out: ReadEndpoint = {};
  const serviceName = raw['serviceName'];
  if (typeof serviceName === 'string') {
    if (serviceName !== '') out.serviceName = serviceName.toLowerCase();
  } else if (!isAbsent(serviceName)) fail(`${field}.serviceName`, 'must be a string');
  const ipv4 = raw['ipv4'];
  if (typeof ipv4 === 'string' && isIpv4(ipv4)) out.ipv4 = ipv4;
  const ipv6 = typeof raw['ipv6'] === 'string' ? raw['ipv6'].toLowerCase() : '';
  if (isIpv6(ipv6)) out.ipv6 = ipv6;
  const port = raw['port'];
  if (typeof port === 'number' && Number.isInteger(port) && port > 0 && port <= 0xffff) out.port = String(port);
  return out;
}

/** One array element read into the shape validateSpan checks, plus what the batch-wide shared-span pass needs. */
interface PreparedSpan {
  path: string;
  /** candidate: the Skein-shaped span for validateSpan; undefined when the element is not even an object. */
  candidate?: Record<string, unknown>;
  violations: SpanViolation[];
  hostField: string;
  traceId?: string;
  id?: string;
  kind?: SpanKind;
  shared: boolean;
}

function prepare(raw: unknown, path: string): PreparedSpan {
  const violations: SpanViolation[] = [];
  const prepared: PreparedSpan = { path, violations, hostField: 'localEndpoint.ipv4', shared: false };
  if (!isRecord(raw)) {
    violations.push({ path, message: 'must be a JSON object (a Zipkin v2 span)' });
    return prepared;
  }
  const fail = (field: string, message: string) => violations.push({ path: `${path}.${field}`, message });
  const candidate: Record<string, unknown> = {};
  prepared.candidate = candidate;

  const traceId = readId(raw['traceId'], 32, false);
  if (traceId.ok) {
    prepared.traceId = traceId.id;
    candidate['traceId'] = traceId.id;
  } else fail('traceId', traceId.message);
  const id = readId(raw['id'], 16, false);
  if (id.ok) {
    prepared.id = id.id;
    candidate['spanId'] = id.id;
  } else fail('id', id.message);
  if (!isAbsent(raw['parentId'])) {
    const parentId = readId(raw['parentId'], 16, true);
    if (!parentId.ok) fail('parentId', parentId.message);
    // Zipkin drops a parentId equal to the span's own id ("undoing circular dependency") instead of refusing it.
    else if (parentId.id !== prepared.id) candidate['parentSpanId'] = parentId.id;
  }

  const kind = raw['kind'];
  if (isAbsent(kind)) prepared.kind = 'internal';
  else if (typeof kind === 'string' && Object.prototype.hasOwnProperty.call(KINDS, kind)) prepared.kind = KINDS[kind];
  else fail('kind', 'must be one of CLIENT, SERVER, PRODUCER, CONSUMER, or absent for a local span');
  candidate['kind'] = prepared.kind;

  const name = raw['name'];
  candidate['operation'] = isAbsent(name) || name === '' ? 'unknown' : name;

  // Zipkin treats a zero or negative timestamp as absent. Zipkin itself stores a span without one and merges it
  // with the fragment that has it; Skein stores whole spans, and one without a start cannot be placed in time.
  const timestamp = raw['timestamp'];
  if (isAbsent(timestamp) || (typeof timestamp === 'number' && timestamp <= 0)) {
    fail('timestamp', 'required: microseconds since the epoch (a span without one, such as a late update of a span already reported, cannot be placed in time)');
  } else candidate['startTimeUs'] = timestamp;
  const duration = raw['duration'];
  candidate['durationUs'] = isAbsent(duration) || (typeof duration === 'number' && duration <= 0) ? 0 : duration;

  const extraTags: Record<string, string> = {};
  const local = readEndpoint(raw['localEndpoint'], 'localEndpoint', fail);
  const remote = readEndpoint(raw['remoteEndpoint'], 'remoteEndpoint', fail);
  candidate['service'] = local?.serviceName ?? 'unknown';
  if (local?.ipv4 !== undefined) {
    candidate['host'] = local.ipv4;
    if (local.ipv6 !== undefined) extraTags[ZIPKIN_TAG.localIpv6] = local.ipv6;
  } else if (local?.ipv6 !== undefined) {
    candidate['host'] = local.ipv6;
    prepared.hostField = 'localEndpoint.ipv6';
  }
  if (local?.port !== undefined) extraTags[ZIPKIN_TAG.localPort] = local.port;
  if (remote?.serviceName !== undefined) candidate['remoteService'] = remote.serviceName;
  if (remote?.ipv4 !== undefined) extraTags[ZIPKIN_TAG.remoteIpv4] = remote.ipv4;
  if (remote?.ipv6 !== undefined) extraTags[ZIPKIN_TAG.remoteIpv6] = remote.ipv6;
  if (remote?.port !== undefined) extraTags[ZIPKIN_TAG.remotePort] = remote.port;
  if (raw['debug'] === true) extraTags[ZIPKIN_TAG.debug] = 'true';
  prepared.shared = raw['shared'] === true;

  // The Zipkin convention for a failed span is an `error` tag whose value is the message ('' or 'true' when
  // there is none). The tag is kept, so the span reads the same through Skein's Zipkin API.
  const tags = raw['tags'];
  if (isRecord(tags)) {
    const userTags = Object.entries(tags).filter(([key]) => !RESERVED_TAGS.has(key));
    // Object.fromEntries defines keys (a `__proto__` tag stays a tag, it does not reach the prototype).
    candidate['tags'] = Object.fromEntries([...userTags, ...Object.entries(extraTags)]);
    const error = Object.prototype.hasOwnProperty.call(tags, 'error') ? tags['error'] : undefined;
    if (!isAbsent(error)) {
      candidate['error'] = true;
      // validateSpan stringifies number and boolean tag values; the message must be read from the same text.
      const text = typeof error === 'string' || typeof error === 'number' || typeof error === 'boolean' ? String(error) : '';
      if (text !== '' && text !== 'true') candidate['statusMessage'] = text;
    }
  } else candidate['tags'] = isAbsent(tags) ? extraTags : tags;

  // An empty list is no list (Zipkin does not write one), so a span reads the same after a round trip.
  const annotations = raw['annotations'];
  if (Array.isArray(annotations)) {
    if (annotations.length > 0) candidate['events'] = annotations.map((entry: unknown) => (isRecord(entry) ? { timeUs: entry['timestamp'], name: entry['value'] } : entry));
  } else candidate['events'] = annotations;
  return prepared;
}

/** Renames the Skein field in a validateSpan violation to the Zipkin field the client sent. */
function zipkinPath(spanPath: string, hostField: string, violationPath: string): string {
  const prefix = `${spanPath}.`;
  if (!violationPath.startsWith(prefix)) return violationPath;
  const rest = violationPath.slice(prefix.length);
  const event = /^events(\[\d+\])?(\.timeUs|\.name)?(.*)$/.exec(rest);
  if (event) {
    const field = event[2] === '.timeUs' ? '.timestamp' : event[2] === '.name' ? '.value' : '';
    return `${prefix}annotations${event[1] ?? ''}${field}${event[3]}`;
  }
  const head = /^[^.[]*/.exec(rest)?.[0] ?? rest;
  const mapped = head === 'host' ? hostField : (ZIPKIN_FIELDS[head] ?? head);
  return `${prefix}${mapped}${rest.slice(head.length)}`;
}

/**
 * decodeZipkinV2: the body of `POST /api/v2/spans` (a JSON array of Zipkin v2 spans, already gunzipped) → Skein
 * spans, each checked by validateSpan; per-span problems are listed in `rejected` under `spans[i].<zipkin field>`
 * (capped at MAX_REPORTED_VIOLATIONS; `rejectedSpans` counts them all). An empty array is valid, as in Zipkin.
 *
 * Mapping: service = localEndpoint.serviceName lower-cased ('unknown' when missing), operation = name ('unknown'
 * when missing or empty), kind = lower-cased kind (absent → internal), startTimeUs/durationUs = timestamp/duration
 * (missing duration → 0), host = localEndpoint ipv4 or ipv6, remoteService = remoteEndpoint.serviceName,
 * annotations → events, error = an `error` tag is present, statusMessage = its value unless '' or 'true'.
 * Endpoint addresses, ports and `debug` go to the {@link ZIPKIN_TAG} tags.
 *
 * Shared spans: in the B3 single-host model a server joins the client's span, reporting its half with the client's
 * id and `shared: true`; Zipkin keeps both halves under one id and draws the server half as the client's child.
 * Skein stores a span under traceId+spanId, so the server half would overwrite the client half. Instead it gets
 * the id {@link sharedServerSpanId} (deterministic, so a replay overwrites itself) and the client's id as its parent
 * (the tree stays client → server; the client's own parent is on the client half), and the client's id is kept in
 * the `zipkin.shared_span_id` tag for encodeZipkinV2. As in Zipkin, `shared` on a CLIENT span is ignored, and a
 * SERVER span with the id of a CLIENT span of the same trace in the same body is shared even without the flag
 * (instrumentation that forgets it).
 *
 * Throws a BatchRejection when the body as a whole is unusable: larger than `maxDecompressedBytes` or holding more
 * than `maxSpansPerBatch` spans ('too_large'), not JSON ('invalid_json'), not an array ('invalid_batch').
 */
export function decodeZipkinV2(body: Buffer, limits: BatchLimits = DEFAULT_BATCH_LIMITS): DecodedSpans {
  if (body.length > limits.maxDecompressedBytes) {
    throw new BatchRejection('too_large', `body is ${body.length} bytes, more than the limit of ${limits.maxDecompressedBytes}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new BatchRejection('invalid_json', `body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!Array.isArray(value)) throw new BatchRejection('invalid_batch', 'body must be a JSON array of Zipkin v2 spans');
  if (value.length > limits.maxSpansPerBatch) {
    throw new BatchRejection('too_large', `batch has ${value.length} spans, more than the limit of ${limits.maxSpansPerBatch}`);
  }

  const prepared = value.map((raw: unknown, index) => prepare(raw, `spans[${index}]`));
  const clientHalves = new Set<string>();
  for (const p of prepared) if (p.kind === 'client' && p.traceId && p.id) clientHalves.add(`${p.traceId}/${p.id}`);

  const result: DecodedSpans = { spans: [], rejected: [], rejectedSpans: 0 };
  for (const p of prepared) {
    const candidate = p.candidate;
    if (candidate === undefined) {
      result.rejectedSpans += 1;
      if (result.rejected.length < MAX_REPORTED_VIOLATIONS) result.rejected.push(...p.violations);
      continue;
    }
    if (p.traceId !== undefined && p.id !== undefined && p.kind !== 'client') {
      const shared = p.shared || (p.kind === 'server' && clientHalves.has(`${p.traceId}/${p.id}`));
      if (shared) {
        candidate['spanId'] = sharedServerSpanId(p.traceId, p.id);
        candidate['parentSpanId'] = p.id;
        const tags = candidate['tags'];
        if (isRecord(tags)) candidate['tags'] = { ...tags, [ZIPKIN_TAG.sharedSpanId]: p.id };
      }
    }
    const violations = p.violations;
    const checked = validateSpan(candidate, p.path, limits);
    if (!checked.ok) {
      const seen = new Set(violations.map((v) => v.path));
      for (const v of checked.violations) {
        const path = zipkinPath(p.path, p.hostField, v.path);
        if (!seen.has(path)) {
          seen.add(path);
          violations.push({ path, message: v.message });
        }
      }
    }
    if (violations.length > 0) {
      result.rejectedSpans += 1;
      const room = MAX_REPORTED_VIOLATIONS - result.rejected.length;
      if (room > 0) result.rejected.push(...violations.slice(0, room));
    } else if (checked.ok) result.spans.push(checked.span);
  }
  return result;
}
