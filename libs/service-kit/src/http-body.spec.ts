import { IncomingMessage, Server, createServer, request } from 'node:http';
import { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { HttpException } from '@nestjs/common';
import { readRawBody } from './http-body';

const LIMIT = 1_000;

/** fakeRequest: a Readable of `chunks` with request headers, as readRawBody sees an IncomingMessage. */
function fakeRequest(chunks: Buffer[], headers: Record<string, string> = {}): IncomingMessage & { chunksRead: () => number } {
  let read = 0;
  const stream = Readable.from(
    (function* () {
      for (const chunk of chunks) {
        read++;
        yield chunk;
      }
    })(),
    { objectMode: false },
  );
  return Object.assign(stream, { headers, chunksRead: () => read }) as unknown as IncomingMessage & { chunksRead: () => number };
}

async function refusal(promise: Promise<unknown>): Promise<{ status: number; body: unknown }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpException);
  return { status: (err as HttpException).getStatus(), body: (err as HttpException).getResponse() };
}

describe('readRawBody (streams)', () => {
  it('returns the whole body, byte for byte', async () => {
    const chunks = [Buffer.from([0, 1, 2]), Buffer.from('héllo'), Buffer.alloc(991, 7)];
    const body = await readRawBody(fakeRequest(chunks), LIMIT);
    expect(body).toEqual(Buffer.concat(chunks));
    expect(body.length).toBe(1_000);
  });

  it('accepts a body of exactly the limit', async () => {
    expect((await readRawBody(fakeRequest([Buffer.alloc(600), Buffer.alloc(400)]), LIMIT)).length).toBe(LIMIT);
  });

  it('returns an empty buffer for an empty body', async () => {
    expect(await readRawBody(fakeRequest([]), LIMIT)).toEqual(Buffer.alloc(0));
  });

  it('refuses with 413 as soon as the streamed body passes the limit, without reading the rest', async () => {
    const req = fakeRequest([Buffer.alloc(600), Buffer.alloc(401), Buffer.alloc(10_000), Buffer.alloc(10_000)]);
    expect(await refusal(readRawBody(req, LIMIT))).toEqual({ status: 413, body: { error: 'too_large', message: 'body is over the limit of 1000 bytes' } });
    expect(req.chunksRead()).toBe(2);
  });

  it('refuses with 413 before reading when Content-Length declares more than the limit', async () => {
    const req = fakeRequest([Buffer.alloc(10)], { 'content-length': '1001' });
    expect(await refusal(readRawBody(req, LIMIT))).toEqual({ status: 413, body: { error: 'too_large', message: 'body of 1001 bytes is over the limit of 1000' } });
    expect(req.chunksRead()).toBe(0);
  });
});

describe('readRawBody (node:http server)', () => {
  let server: Server;
  let url: URL;
  const results: Array<{ length: number } | { status: number }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      readRawBody(req, LIMIT).then(
        (body) => {
          results.push({ length: body.length });
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ length: body.length }));
        },
        (err: unknown) => {
          const status = err instanceof HttpException ? err.getStatus() : 500;
          results.push({ status });
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(err instanceof HttpException ? err.getResponse() : {}));
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/spans`);
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    results.length = 0;
  });

  /** post: sends `chunks` (chunked transfer encoding unless contentLength is given) and returns status and body. */
  function post(chunks: Buffer[], contentLength?: number): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = contentLength === undefined ? {} : { 'content-length': contentLength };
      const req = request(url, { method: 'POST', headers, agent: false }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (chunk: Buffer) => parts.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
      });
      req.on('error', reject);
      const write = (i: number) => {
        if (i === chunks.length) {
          req.end();
          return;
        }
        // The server may answer 413 before the whole body is sent; stop writing then.
        if (req.destroyed) return;
        req.write(chunks[i], () => setTimeout(() => write(i + 1), 5));
      };
      write(0);
    });
  }

  it('reads a chunked body under the limit', async () => {
    expect(await post([Buffer.alloc(500), Buffer.alloc(500)])).toEqual({ status: 200, body: '{"length":1000}' });
  });

  it('answers 413 to a chunked body over the limit (the response still reaches the client)', async () => {
    const answer = await post([Buffer.alloc(600), Buffer.alloc(600), Buffer.alloc(600)]);
    expect(answer).toEqual({ status: 413, body: JSON.stringify({ error: 'too_large', message: 'body is over the limit of 1000 bytes' }) });
    expect(results).toEqual([{ status: 413 }]);
  });

  it('answers 413 to a declared Content-Length over the limit', async () => {
    const answer = await post([Buffer.alloc(1_500)], 1_500);
    expect(answer).toEqual({ status: 413, body: JSON.stringify({ error: 'too_large', message: 'body of 1500 bytes is over the limit of 1000' }) });
  });

  it('keeps serving after refusing a body', async () => {
    await post([Buffer.alloc(2_000)]);
    expect(await post([Buffer.from('{"spans":[]}')])).toEqual({ status: 200, body: '{"length":12}' });
  });
});
