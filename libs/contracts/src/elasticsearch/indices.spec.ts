import { Span, mergeTraceSummary } from '@skein/domain';
import { DEFAULT_INDEX_PREFIX, dailyIndexName, indexDay, indexPattern, indexTemplates } from './indices';
import spansTemplateJson from './spans-index-template.json';
import tracesTemplateJson from './traces-index-template.json';

const us = (ms: number) => ms * 1000;

describe('indexDay', () => {
  it('is the UTC day of a time in microseconds', () => {
    expect(indexDay(us(Date.UTC(2026, 10, 21, 12, 0)))).toBe('2026-11-21');
  });

  it('changes exactly at UTC midnight, to the microsecond', () => {
    const midnight = us(Date.UTC(2026, 10, 22));
    expect(indexDay(midnight - 1)).toBe('2026-11-21');
    expect(indexDay(midnight)).toBe('2026-11-22');
    expect(indexDay(midnight + 1)).toBe('2026-11-22');
    expect(indexDay(midnight - 999)).toBe('2026-11-21');
  });

  it('handles month, year and leap-day boundaries', () => {
    expect(indexDay(us(Date.UTC(2026, 11, 31, 23, 59, 59, 999)) + 999)).toBe('2026-12-31');
    expect(indexDay(us(Date.UTC(2027, 0, 1)))).toBe('2027-01-01');
    expect(indexDay(us(Date.UTC(2028, 1, 29, 23, 0)))).toBe('2028-02-29');
    expect(indexDay(us(Date.UTC(2028, 2, 1)))).toBe('2028-03-01');
  });

  it('does not depend on the local time zone', () => {
    // 23:30 UTC is already the next day east of UTC and still the same day west of it: the UTC day wins.
    expect(indexDay(us(Date.UTC(2026, 5, 30, 23, 30)))).toBe('2026-06-30');
    expect(indexDay(us(Date.UTC(2026, 6, 1, 0, 30)))).toBe('2026-07-01');
  });
});

describe('dailyIndexName / indexPattern', () => {
  it('names the daily index of each kind', () => {
    const t = us(Date.UTC(2026, 10, 21, 23, 59, 59, 999)) + 999;
    expect(DEFAULT_INDEX_PREFIX).toBe('skein');
    expect(dailyIndexName('skein', 'spans', t)).toBe('skein-spans-2026-11-21');
    expect(dailyIndexName('skein', 'traces', t)).toBe('skein-traces-2026-11-21');
    expect(dailyIndexName('skein', 'spans', t + 1)).toBe('skein-spans-2026-11-22');
    expect(dailyIndexName('it-42', 'traces', t + 1)).toBe('it-42-traces-2026-11-22');
  });

  it('matches every daily index of a kind, and only that kind', () => {
    expect(indexPattern('skein', 'spans')).toBe('skein-spans-*');
    expect(indexPattern('it-42', 'traces')).toBe('it-42-traces-*');
    const asRegExp = (pattern: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\-]/g, '\\$&').replace('*', '.*')}$`);
    expect(asRegExp(indexPattern('skein', 'spans')).test(dailyIndexName('skein', 'spans', us(Date.UTC(2026, 0, 1))))).toBe(true);
    expect(asRegExp(indexPattern('skein', 'spans')).test(dailyIndexName('skein', 'traces', us(Date.UTC(2026, 0, 1))))).toBe(false);
  });
});

describe('indexTemplates', () => {
  it('names one template per kind after the prefix and substitutes the prefix in the index patterns', () => {
    const templates = indexTemplates('acme');
    expect(Object.keys(templates).sort()).toEqual(['acme-spans', 'acme-trace-days', 'acme-traces']);
    expect(templates['acme-trace-days']?.index_patterns).toEqual(['acme-trace-days-*']);
    expect(templates['acme-spans']?.index_patterns).toEqual(['acme-spans-*']);
    expect(templates['acme-traces']?.index_patterns).toEqual(['acme-traces-*']);
    expect(JSON.stringify(templates)).not.toContain('{{prefix}}');
  });

  it('matches the indices that dailyIndexName creates', () => {
    const templates = indexTemplates(DEFAULT_INDEX_PREFIX);
    expect(templates['skein-spans']?.index_patterns).toEqual([indexPattern('skein', 'spans')]);
    expect(templates['skein-traces']?.index_patterns).toEqual([indexPattern('skein', 'traces')]);
  });

  it('keeps everything but the index patterns as in the JSON files', () => {
    const templates = indexTemplates('acme');
    expect({ ...templates['acme-spans'], index_patterns: spansTemplateJson.index_patterns }).toEqual(spansTemplateJson);
    expect({ ...templates['acme-traces'], index_patterns: tracesTemplateJson.index_patterns }).toEqual(tracesTemplateJson);
  });

  it('does not modify the shared JSON, so prefixes do not leak between calls', () => {
    indexTemplates('first');
    const second = indexTemplates('second');
    expect(second['second-spans']?.index_patterns).toEqual(['second-spans-*']);
    expect(spansTemplateJson.index_patterns).toEqual(['{{prefix}}-spans-*']);
    expect(tracesTemplateJson.index_patterns).toEqual(['{{prefix}}-traces-*']);
  });

  it('maps every field of a span document (the mapping is strict)', () => {
    const span: Required<Span> = {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: '00f067aa0ba902b7',
      parentSpanId: '53995c3f42cd8ad8',
      rpcId: '0.1',
      service: 's',
      operation: 'o',
      kind: 'client',
      startTimeUs: us(Date.UTC(2026, 0, 1)),
      durationUs: 1,
      error: false,
      remoteService: 'r',
      host: 'h',
      tags: {},
      app: 'a',
      statusMessage: 'm',
      resource: {},
      scope: { name: 'n' },
      events: [],
      links: [],
    };
    const mapped = Object.keys(indexTemplates('skein')['skein-spans']?.template.mappings.properties ?? {});
    expect(Object.keys(span).filter((field) => !mapped.includes(field))).toEqual([]);
    expect(spansTemplateJson.template.mappings.dynamic).toBe('strict');
  });

  it('maps every field of a trace summary document (the mapping is strict)', () => {
    const span: Span = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: '00f067aa0ba902b7', service: 's', operation: 'o', kind: 'server', startTimeUs: us(Date.UTC(2026, 0, 1)), durationUs: 1, error: false, tags: {} };
    const { summary } = mergeTraceSummary(undefined, [span]);
    const mapped = Object.keys(indexTemplates('skein')['skein-traces']?.template.mappings.properties ?? {});
    expect(Object.keys(summary).filter((field) => !mapped.includes(field))).toEqual([]);
    expect(mapped).toContain('spans');
    expect(tracesTemplateJson.template.mappings.dynamic).toBe('strict');
  });
});
