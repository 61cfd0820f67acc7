import { HttpException } from '@nestjs/common';
import { IncomingMessage } from 'node:http';

/**
 * readRawBody: reads a request body into one Buffer, refusing with 413 as soon as it passes `maxBytes`
 * (so an oversized upload never grows memory past the limit).
 */
export async function readRawBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new HttpException({ error: 'too_large', message: `body of ${declared} bytes is over the limit of ${maxBytes}` }, 413);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBytes) {
      request.resume();
      throw new HttpException({ error: 'too_large', message: `body is over the limit of ${maxBytes} bytes` }, 413);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size);
}
