import { BatchLimits, BatchRejection, BatchRejectionReason, BusMessage, PolicyIndex, PolicySet, SpanViolation } from '@skein/domain';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { PolicyResolver, PrepareRequest, PreparedBatch, prepareBatch } from './ingest-prepare';

/** PolicySource: where the pool reads the policy set to give its workers (a PolicyCache). */
export interface PolicySource extends PolicyResolver {
  current(): PolicySet;
}

/** DecodeTask: what goes to a worker: the request, and the policy set when it changed since that worker's last task. */
interface DecodeTask {
  id: number;
  request: PrepareRequest;
  policy?: PolicySet | null;
}

/** DecodeReply: a worker's answer: the prepared batch with every message value in one transferred buffer, or why not. */
type DecodeReply =
  | { id: number; ok: true; batch: Omit<PreparedBatch, 'messages'>; keys: string[]; ends: number[]; values: ArrayBuffer }
  | { id: number; ok: false; rejection?: { reason: BatchRejectionReason; message: string; violations: SpanViolation[] }; error?: string };

/** DecodePoolOptions: pool size, queue bound, limits, and the policy the workers apply. */
export interface DecodePoolOptions {
  /** workers: threads decoding requests, >= 1. */
  workers: number;
  /** maxQueued: requests waiting for or inside the workers beyond which submit() refuses (backpressure); default 16 per worker. */
  maxQueued?: number;
  limits: BatchLimits;
  /** policy: the live sampling policy; absent = every span is kept as a trace. */
  policy?: PolicySource;
  /** onError: a worker died (it is replaced; its requests fail). */
  onError?: (error: Error) => void;
  /** execArgv: node options of the workers; default the process's own (so a TypeScript require hook carries over). */
  execArgv?: string[];
}

/** DecodePoolFull: every worker is busy and the queue is at its bound; the request should get 503. */
export class DecodePoolFull extends Error {
  constructor(readonly queued: number) {
    super(`${queued} requests are already waiting to be decoded; retry shortly`);
    this.name = 'DecodePoolFull';
  }
}

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (batch: PreparedBatch) => void; reject: (err: Error) => void }>;
  /** policySent: the set this worker holds (undefined = none sent yet). */
  policySent: PolicySet | null | undefined;
}

/**
 * DecodePool: runs prepareBatch (decompress, parse, validate, route, encode) on worker threads, so one gateway
 * process uses more than one core: the main thread keeps HTTP, authentication, rate limits and the Kafka
 * producer. Requests go to the worker with the fewest in flight; the number waiting is bounded (DecodePoolFull).
 * A worker receives the policy set whenever it changed since its previous task, so decisions match the main
 * thread's PolicyCache. Message values come back in one transferred buffer (no copy).
 */
export class DecodePool {
  private readonly slots: Slot[] = [];
  private readonly maxQueued: number;
  private nextId = 1;
  private queued = 0;
  private closed = false;

  constructor(private readonly options: DecodePoolOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new RangeError(`workers must be an integer >= 1, got ${options.workers}`);
    this.maxQueued = options.maxQueued ?? 16 * options.workers;
    for (let i = 0; i < options.workers; i++) this.slots.push(this.spawn());
  }

  /** submit: the prepared batch of `request`; rejects with the worker's BatchRejection, DecodePoolFull, or an Error. */
  submit(request: PrepareRequest): Promise<PreparedBatch> {
    if (this.closed) return Promise.reject(new Error('DecodePool: the pool is closed'));
    if (this.queued >= this.maxQueued) return Promise.reject(new DecodePoolFull(this.queued));
    let slot = this.slots[0] as Slot;
    for (const candidate of this.slots) if (candidate.pending.size < slot.pending.size) slot = candidate;
    const id = this.nextId++;
    const task: DecodeTask = { id, request };
    const current = this.options.policy === undefined ? null : this.options.policy.current();
    if (slot.policySent !== current) {
      task.policy = current;
      slot.policySent = current;
    }
    this.queued++;
    return new Promise<PreparedBatch>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage(task);
    }).finally(() => {
      this.queued--;
    });
  }

  /** close: stops every worker; requests still inside fail. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private spawn(): Slot {
    // Under tools/register.js (TypeScript sources) the worker loads this module's .ts sibling through the same
    // hook, which workers inherit with the process's execArgv; a compiled build has decode-worker.js beside this file.
    const entry = join(__dirname, `decode-worker${__filename.endsWith('.ts') ? '.ts' : '.js'}`);
    const worker = new Worker(`require(${JSON.stringify(entry)})`, { eval: true, workerData: { limits: this.options.limits }, execArgv: this.options.execArgv });
    // Workers must not keep a process alive that is otherwise shutting down.
    worker.unref();
    const slot: Slot = { worker, pending: new Map(), policySent: undefined };
    worker.on('message', (reply: DecodeReply) => {
      const waiting = slot.pending.get(reply.id);
      if (waiting === undefined) return;
      slot.pending.delete(reply.id);
      if (reply.ok) waiting.resolve({ ...reply.batch, messages: messagesOf(reply.keys, reply.ends, reply.values) });
      else if (reply.rejection !== undefined) waiting.reject(new BatchRejection(reply.rejection.reason, reply.rejection.message, reply.rejection.violations));
      else waiting.reject(new Error(`decode worker failed: ${reply.error ?? 'unknown error'}`));
    });
    const replace = (error: Error) => {
      for (const waiting of slot.pending.values()) waiting.reject(new Error(`decode worker failed: ${error.message}`));
      slot.pending.clear();
      const index = this.slots.indexOf(slot);
      if (index < 0 || this.closed) return;
      this.options.onError?.(error);
      this.slots[index] = this.spawn();
    };
    worker.on('error', replace);
    worker.on('exit', (code) => {
      if (this.slots.includes(slot)) replace(new Error(`decode worker exited with code ${code}`));
    });
    return slot;
  }
}

function messagesOf(keys: string[], ends: number[], values: ArrayBuffer): BusMessage[] {
  const messages: BusMessage[] = [];
  let start = 0;
  for (let i = 0; i < keys.length; i++) {
    const end = ends[i] as number;
    messages.push({ key: keys[i] as string, value: Buffer.from(values, start, end - start) });
    start = end;
  }
  return messages;
}

/** handleDecodeTask: the worker side of one task (exported for decode-worker.ts and the tests); `state` keeps the policy between tasks. */
export function handleDecodeTask(task: DecodeTask, limits: BatchLimits, state: { policy: PolicyIndex | undefined }): { reply: DecodeReply; transfer: ArrayBuffer[] } {
  if (task.policy !== undefined) state.policy = task.policy === null ? undefined : new PolicyIndex(task.policy);
  try {
    const { messages, ...batch } = prepareBatch(task.request, limits, state.policy);
    let total = 0;
    for (const message of messages) total += message.value.length;
    // One buffer of its own (not Node's shared pool), so it can be transferred instead of copied.
    const values = new ArrayBuffer(total);
    const bytes = new Uint8Array(values);
    const keys: string[] = [];
    const ends: number[] = [];
    let at = 0;
    for (const message of messages) {
      bytes.set(message.value, at);
      at += message.value.length;
      keys.push(message.key);
      ends.push(at);
    }
    return { reply: { id: task.id, ok: true, batch, keys, ends, values }, transfer: [values] };
  } catch (err) {
    if (err instanceof BatchRejection) return { reply: { id: task.id, ok: false, rejection: { reason: err.reason, message: err.message, violations: err.violations } }, transfer: [] };
    return { reply: { id: task.id, ok: false, error: err instanceof Error ? err.message : String(err) }, transfer: [] };
  }
}
