import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { HttpException } from '@nestjs/common';
import { MemoryMessageBus } from '@skein/adapter-memory';
import { BusBatchHandler, BusMessage, BusSubscription, DEFAULT_BATCH_LIMITS, MessageBus, SubscribeOptions, TopicSpec, encodeNativeBatch } from '@skein/domain';
import { threeServiceTrace } from '@skein/testing';
import { Registry } from 'prom-client';
import { IngestController, RETRY_AFTER_SECONDS } from './ingest.controller';
import { IngestService } from './ingest.service';

const TOPIC = 'skein.spans.v1';

/** request: an IncomingMessage-like stream of `body` with the given headers. */
function request(body: Buffer, headers: Record<string, string> = {}): IncomingMessage {
  return Object.assign(Readable.from([body]), { headers }) as unknown as IncomingMessage;
}

/** ResponseHeaders: the part of ServerResponse the controller touches, recording headers. */
function response(): ServerResponse & { headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  return { headers, setHeader: (name: string, value: string) => (headers[name.toLowerCase()] = value) } as unknown as ServerResponse & { headers: Record<string, string> };
}

async function refusal(promise: Promise<unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpException);
  return { status: (err as HttpException).getStatus(), body: (err as HttpException).getResponse() as Record<string, unknown> };
}

class RejectingBus implements MessageBus {
  async ensureTopics(_topics: TopicSpec[]): Promise<void> {
    // nothing to create
  }
  async publish(_topic: string, _messages: BusMessage[]): Promise<void> {
    throw new Error('no broker acknowledged');
  }
  async subscribe(_options: SubscribeOptions, _handler: BusBatchHandler): Promise<BusSubscription> {
    throw new Error('not used');
  }
  async ready(): Promise<boolean> {
    return false;
  }
  async close(): Promise<void> {
    // nothing to release
  }
}

describe('IngestController', () => {
  let bus: MemoryMessageBus;

  beforeEach(async () => {
    bus = new MemoryMessageBus();
    await bus.ensureTopics([{ topic: TOPIC }]);
  });
  afterEach(() => bus.close());

  function controller(options: { bus?: MessageBus; maxBodyBytes?: number; maxSpansPerBatch?: number } = {}): IngestController {
    const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    const service = new IngestService({ bus: options.bus ?? bus, spansTopic: TOPIC, limits: { ...DEFAULT_BATCH_LIMITS, maxSpansPerBatch: options.maxSpansPerBatch ?? 10_000 }, maxBodyBytes, registry: new Registry() });
    return new IngestController({ ingest: service, maxBodyBytes });
  }

  it('answers the accepted count once the bus acknowledged', async () => {
    const res = response();
    await expect(controller().spans(request(encodeNativeBatch(threeServiceTrace().spans), { 'content-encoding': 'lz4' }), res)).resolves.toMatchObject({ accepted: 5 });
    expect(res.headers).toEqual({});
  });

  it('answers 400 naming the bad span and field', async () => {
    const spans = threeServiceTrace().spans.map((span, i) => (i === 3 ? { ...span, durationUs: -5 } : span));
    expect(await refusal(controller().spans(request(encodeNativeBatch(spans), { 'content-encoding': 'lz4' }), response()))).toEqual({
      status: 400,
      body: {
        error: 'invalid_span',
        message: '1 invalid field(s); first: spans[3].durationUs: must be an integer of microseconds between 0 and 7 days',
        violations: [{ path: 'spans[3].durationUs', message: 'must be an integer of microseconds between 0 and 7 days' }],
      },
    });
  });

  it('answers 400 to a corrupt lz4 body', async () => {
    expect(await refusal(controller().spans(request(Buffer.from('garbage!'), { 'content-encoding': 'lz4' }), response()))).toMatchObject({ status: 400, body: { error: 'corrupt_lz4' } });
  });

  it('answers 413 to too many spans and to a body over the size limit', async () => {
    const body = encodeNativeBatch(threeServiceTrace().spans);
    expect(await refusal(controller({ maxSpansPerBatch: 2 }).spans(request(body, { 'content-encoding': 'lz4' }), response()))).toMatchObject({ status: 413, body: { error: 'too_large' } });
    expect(await refusal(controller({ maxBodyBytes: body.length - 1 }).spans(request(body, { 'content-encoding': 'lz4' }), response()))).toMatchObject({ status: 413, body: { error: 'too_large' } });
  });

  it('answers 415 to an unsupported Content-Encoding', async () => {
    expect(await refusal(controller().spans(request(Buffer.from('{}'), { 'content-encoding': 'br' }), response()))).toMatchObject({ status: 415, body: { error: 'unsupported_encoding' } });
  });

  it('answers 503 with Retry-After when the bus did not acknowledge', async () => {
    const res = response();
    const answer = await refusal(controller({ bus: new RejectingBus() }).spans(request(encodeNativeBatch(threeServiceTrace().spans), { 'content-encoding': 'lz4' }), res));
    expect(answer).toEqual({ status: 503, body: { error: 'unavailable', message: 'the span log (Kafka) did not acknowledge the batch: no broker acknowledged' } });
    expect(res.headers).toEqual({ 'retry-after': String(RETRY_AFTER_SECONDS) });
    expect(RETRY_AFTER_SECONDS).toBe(5);
  });
});
