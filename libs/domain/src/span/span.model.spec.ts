import { makeSpan, spanIdOf } from '../testing/span-fixtures';
import { MICROS_PER_MS, SPAN_KINDS, isEntrySpan, spanDocumentId, spanEndUs } from './span.model';

describe('span model helpers', () => {
  it('lists every span kind', () => {
    expect(SPAN_KINDS).toEqual(['server', 'client', 'producer', 'consumer', 'internal']);
    expect(MICROS_PER_MS).toBe(1000);
  });

  it('spanEndUs adds the duration to the start', () => {
    expect(spanEndUs(makeSpan({ startTimeUs: 1_768_472_400_000_000, durationUs: 1_234 }))).toBe(1_768_472_400_001_234);
    expect(spanEndUs(makeSpan({ startTimeUs: 1_768_472_400_000_000, durationUs: 0 }))).toBe(1_768_472_400_000_000);
  });

  it('spanDocumentId joins traceId and spanId, stable for a replayed span', () => {
    expect(spanDocumentId({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: '00f067aa0ba902b7' })).toBe('0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7');
    expect(spanDocumentId(makeSpan())).toBe(spanDocumentId(makeSpan({ durationUs: 5, operation: 'other' })));
    expect(spanDocumentId(makeSpan({ spanId: spanIdOf(2) }))).not.toBe(spanDocumentId(makeSpan()));
  });

  it.each([
    ['server', true, true],
    ['consumer', true, true],
    ['client', true, false],
    ['producer', true, false],
    ['internal', true, false],
    ['client', false, true],
    ['internal', false, true],
  ] as const)('isEntrySpan(%s, has parent: %s) is %s', (kind, hasParent, expected) => {
    const span = makeSpan({ kind });
    if (hasParent) span.parentSpanId = spanIdOf(9);
    expect(isEntrySpan(span)).toBe(expected);
  });
});
