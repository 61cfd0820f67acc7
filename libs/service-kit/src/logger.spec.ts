import { MAX_LOGGED_ANSWER_CHARS, createLogger, serializeError } from './logger';

/** clientError: an error shaped as the Elasticsearch client builds them: `meta` holds the request, body included. */
function clientError(requestBody: Buffer, answer?: unknown): Error {
  return Object.assign(new Error('Response Error'), {
    name: 'ResponseError',
    meta: { statusCode: 429, headers: {}, body: answer, meta: { request: { params: { method: 'POST', path: '/_bulk', body: requestBody } }, attempts: 2 } },
  });
}

describe('serializeError', () => {
  it("cuts an Elasticsearch client error's meta down to status, request line, attempts and the start of the answer", () => {
    const serialized = serializeError(clientError(Buffer.alloc(5_000_000, 0x61), { error: { type: 'es_rejected_execution_exception' } }));
    expect(serialized['meta']).toEqual({ statusCode: 429, method: 'POST', path: '/_bulk', attempts: 2, answer: '{"error":{"type":"es_rejected_execution_exception"}}' });
    expect(serialized['message']).toBe('Response Error');
    expect(JSON.stringify(serialized).length).toBeLessThan(2_000);
  });

  it('keeps at most MAX_LOGGED_ANSWER_CHARS of a long answer, and leaves other errors as pino writes them', () => {
    const answer = 'x'.repeat(MAX_LOGGED_ANSWER_CHARS * 3);
    expect((serializeError(clientError(Buffer.alloc(10), answer))['meta'] as { answer: string }).answer).toBe(`${'x'.repeat(MAX_LOGGED_ANSWER_CHARS)}…`);
    const plain = Object.assign(new Error('boom'), { code: 'ECONNRESET' });
    expect(serializeError(plain)).toMatchObject({ type: 'Error', message: 'boom', code: 'ECONNRESET' });
  });

  it("is the services' logger's serializer for `err`: a failed bulk of megabytes logs a short line", () => {
    const lines: string[] = [];
    const logger = createLogger('span-assembler', 'info', { write: (line: string) => lines.push(line) });
    logger.warn({ err: clientError(Buffer.alloc(8_000_000, 0x7b)) }, 'batch not stored; it will be redelivered');
    expect(lines).toHaveLength(1);
    expect((lines[0] as string).length).toBeLessThan(3_000);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ service: 'span-assembler', err: { meta: { statusCode: 429, path: '/_bulk' } } });
  });
});
