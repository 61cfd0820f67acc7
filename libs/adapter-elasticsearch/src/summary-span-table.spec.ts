import { SummarySpan, compactSpan } from '@skein/domain';
import { threeServiceTrace } from '@skein/testing';
import { SpanTableError, decodeSummarySpans, encodeSpanTable } from './summary-span-table';

const TRACE = 'ab07fab8e5d68a0b2c0ee178971ecb87';

function span(spanId: string, overrides: Partial<SummarySpan> = {}): SummarySpan {
  return { traceId: TRACE, spanId, service: 'checkout', operation: 'POST /pay', startTimeUs: 1_796_672_933_886_300, durationUs: 38_000, error: false, kind: 'server', ...overrides };
}

/** stored: the table as Elasticsearch hands it back (serialized and parsed). */
function stored(spans: SummarySpan[]): unknown {
  return JSON.parse(JSON.stringify(encodeSpanTable(spans)));
}

describe('span table (the compact spans of a summary document)', () => {
  it('round-trips compact spans: parent and host only where set, every kind with and without error, starts before and after the first', () => {
    const spans = [
      span('00000000000000a1', { host: 'checkout-1' }),
      span('00000000000000a2', { parentSpanId: '00000000000000a1', kind: 'client', error: true, startTimeUs: 1_796_672_933_886_301, service: 'payments' }),
      span('00000000000000a3', { parentSpanId: '00000000000000a2', kind: 'producer', startTimeUs: 1_796_672_933_886_000, host: 'payments-"7"' }),
      span('00000000000000a4', { parentSpanId: '00000000000000a3', kind: 'consumer', error: true, durationUs: 0 }),
      span('00000000000000a5', { parentSpanId: '00000000000000ff', kind: 'internal', operation: 'ünïcode ✓ "quoted"\n' }),
    ];
    expect(decodeSummarySpans(TRACE, stored(spans))).toEqual(spans);
  });

  it('round-trips a whole fixture trace, and writes each service, operation and host once', () => {
    const spans = threeServiceTrace().spans.map(compactSpan);
    const table = encodeSpanTable(spans);
    expect(new Set(table.strings).size).toBe(table.strings.length);
    expect(decodeSummarySpans(spans[0]!.traceId, JSON.parse(JSON.stringify(table)))).toEqual(spans);
  });

  it('is a quarter of the size of the span objects it replaces, or less', () => {
    const spans = Array.from({ length: 50 }, (_, i) =>
      span(`00000000000001${i.toString(16).padStart(2, '0')}`, { parentSpanId: '0000000000000100', host: `checkout-${i % 3}`, operation: `GET /items/${i % 5}`, startTimeUs: 1_796_672_933_886_300 + i * 100 }),
    );
    expect(JSON.stringify(encodeSpanTable(spans)).length * 4).toBeLessThanOrEqual(JSON.stringify(spans).length);
  });

  it('encodes no spans as an empty table', () => {
    expect(decodeSummarySpans(TRACE, stored([]))).toEqual([]);
  });

  it('reads the list of span objects written before span tables, as stored', () => {
    const spans = [span('00000000000000a1'), span('00000000000000a2', { parentSpanId: '00000000000000a1' })];
    expect(decodeSummarySpans(TRACE, JSON.parse(JSON.stringify(spans)))).toEqual(spans);
  });

  it.each([
    [undefined, 'is missing (neither a table nor a list of spans)'],
    [{ table: 2, baseUs: 0, strings: [], rows: [] }, 'has version 2, this reader knows 1'],
    [{ table: 1, baseUs: 1.5, strings: [], rows: [] }, 'has no integer baseUs'],
    [{ table: 1, baseUs: 0, strings: [1], rows: [] }, 'has no list of strings'],
    [{ table: 1, baseUs: 0, strings: [] }, 'has no rows'],
    [{ table: 1, baseUs: 0, strings: ['a'], rows: [['00000000000000a1', '', 0, 0, -1, 0, 1]] }, 'row 0: not a list of 8 values'],
    [{ table: 1, baseUs: 0, strings: ['a'], rows: [['00000000000000A1', '', 0, 0, -1, 0, 1, 0]] }, 'row 0: spanId 00000000000000A1 is not 16 lower-case hex characters'],
    [{ table: 1, baseUs: 0, strings: ['a'], rows: [['00000000000000a1', 'x', 0, 0, -1, 0, 1, 0]] }, 'row 0: parentSpanId x is neither empty nor 16 lower-case hex characters'],
    [{ table: 1, baseUs: 0, strings: ['a'], rows: [['00000000000000a1', '', 0, 1, -1, 0, 1, 0]] }, 'row 0: operation 1 is not a position in its 1 strings'],
    [{ table: 1, baseUs: 0, strings: ['a'], rows: [['00000000000000a1', '', 0, 0, 3, 0, 1, 0]] }, 'row 0: host 3 is not a position in its 1 strings'],
    [{ table: 1, baseUs: 0, strings: ['a'], rows: [['00000000000000a1', '', 0, 0, -1, 0, -1, 0]] }, 'row 0: start offset and duration must be integers (µs), the duration not negative'],
    [{ table: 1, baseUs: 0, strings: ['a'], rows: [['00000000000000a1', '', 0, 0, -1, 0, 1, 10]] }, 'row 0: kind code 10 is not 0 to 9'],
  ])('refuses a damaged table, naming the trace and the fault: %j', (table, fault) => {
    expect(() => decodeSummarySpans(TRACE, table)).toThrow(new SpanTableError(`trace summary ${TRACE}: its span table ${fault}`));
  });
});
