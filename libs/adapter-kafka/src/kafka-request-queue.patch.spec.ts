import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KAFKAJS_VERSION_PATCHED, patchKafkaRequestQueue } from './kafka-request-queue.patch';

/** The queue's surface these tests drive (kafkajs' internal RequestQueue, untyped). */
interface Queue {
  pending: unknown[];
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  push(request: { entry: Entry; expectResponse: boolean; sendRequest: () => void }): void;
  fulfillRequest(answer: { correlationId: number; payload: unknown; size: number }): void;
  maybeThrottle(ms: number): void;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
  destroy(): void;
}
interface Entry {
  correlationId: number;
  apiName: string;
  apiKey: number;
  apiVersion: number;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}
type QueueClass = { new (options: Record<string, unknown>): Queue; prototype: Queue };

// Before the patch: jest gives this file its own module registry, so this is kafkajs' original method.
const RequestQueue = require('kafkajs/src/network/requestQueue') as QueueClass;
const original = RequestQueue.prototype.scheduleCheckPendingRequests;

const silent = { debug: () => undefined, warn: () => undefined, error: () => undefined, info: () => undefined };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const queues: Queue[] = [];

function queue(maxInFlightRequests: number): Queue {
  const made = new RequestQueue({ maxInFlightRequests, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 'spec', broker: 'localhost:9092', logger: silent });
  queues.push(made);
  return made;
}

function request(correlationId: number, sent: number[]): { entry: Entry; expectResponse: boolean; sendRequest: () => void } {
  const entry: Entry = { correlationId, apiName: 'Fetch', apiKey: 1, apiVersion: 11, resolve: () => undefined, reject: () => undefined };
  return { entry, expectResponse: true, sendRequest: () => sent.push(correlationId) };
}

afterAll(() => {
  for (const made of queues) made.destroy();
});

describe('kafkajs request queue patch', () => {
  it('kafkajs 2.2.4 itself re-arms a check timer on an empty queue (the bug the patch removes)', () => {
    const idle = queue(1);
    original.call(idle);
    expect(idle.throttleCheckTimeoutId).not.toBeNull();
  });

  it('after the patch an empty queue arms no timer, however often it is checked', () => {
    patchKafkaRequestQueue();
    const idle = queue(1);
    idle.checkPendingRequests();
    idle.scheduleCheckPendingRequests();
    expect(idle.throttleCheckTimeoutId).toBeNull();
  });

  it('is idempotent and installs itself on the class kafkajs uses', () => {
    const prototype = patchKafkaRequestQueue();
    expect(patchKafkaRequestQueue()).toBe(prototype);
    expect(prototype).toBe(RequestQueue.prototype);
    expect(RequestQueue.prototype.scheduleCheckPendingRequests).not.toBe(original);
  });

  it('a request held by the in-flight limit is sent as soon as an answer frees a slot', () => {
    patchKafkaRequestQueue();
    const sent: number[] = [];
    const limited = queue(1);
    limited.push(request(1, sent));
    limited.push(request(2, sent));
    expect(sent).toEqual([1]);
    expect(limited.pending).toHaveLength(1);
    // Something is queued, so a check is scheduled (kafkajs' 10 ms poll) as before the patch.
    expect(limited.throttleCheckTimeoutId).not.toBeNull();
    limited.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
    expect(sent).toEqual([1, 2]);
    expect(limited.pending).toHaveLength(0);
  });

  it('a request held by a broker throttle is sent when the throttle ends, with no answer to wake the queue', async () => {
    patchKafkaRequestQueue();
    const sent: number[] = [];
    const throttled = queue(5);
    throttled.maybeThrottle(60);
    throttled.push(request(7, sent));
    expect(sent).toEqual([]);
    await sleep(30);
    expect(sent).toEqual([]);
    await sleep(150);
    expect(sent).toEqual([7]);
    expect(throttled.throttleCheckTimeoutId).toBeNull();
  });

  it('is written for the kafkajs version package.json pins', () => {
    const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(manifest.dependencies['kafkajs']).toBe(KAFKAJS_VERSION_PATCHED);
  });
});
