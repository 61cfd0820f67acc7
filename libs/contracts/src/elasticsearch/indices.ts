import spansTemplate from './spans-index-template.json';
import tracesTemplate from './traces-index-template.json';
import traceDaysTemplate from './trace-days-index-template.json';

/** DEFAULT_INDEX_PREFIX: the prefix of Skein's indices and templates (`skein-spans-2026-11-21`). */
export const DEFAULT_INDEX_PREFIX = 'skein';

/** IndexKind: the two document families Skein stores. */
export type IndexKind = 'spans' | 'traces';

/** indexDay: the UTC day `YYYY-MM-DD` of a time in microseconds since the epoch. */
export function indexDay(timeUs: number): string {
  return new Date(Math.floor(timeUs / 1000)).toISOString().slice(0, 10);
}

/** dailyIndexName: `<prefix>-<kind>-YYYY-MM-DD`, the index holding documents of that UTC day. */
export function dailyIndexName(prefix: string, kind: IndexKind, timeUs: number): string {
  return dayIndexName(prefix, kind, indexDay(timeUs));
}

/** dayIndexName: `<prefix>-<kind>-<day>` for a day already formatted by {@link indexDay}. */
export function dayIndexName(prefix: string, kind: IndexKind, day: string): string {
  return `${prefix}-${kind}-${day}`;
}

/** DAY_PATTERN: the shape of a day as {@link indexDay} writes it. */
export const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** traceDaysIndexName: `<prefix>-trace-days-YYYY-MM`, the monthly trace-id → day lookup index holding traces of that day's month. */
export function traceDaysIndexName(prefix: string, day: string): string {
  return `${prefix}-trace-days-${day.slice(0, 7)}`;
}

/** traceDaysPattern: the wildcard over every monthly trace-id → day lookup index. */
export function traceDaysPattern(prefix: string): string {
  return `${prefix}-trace-days-*`;
}

/** indexPattern: the wildcard over all daily indices of a kind. */
export function indexPattern(prefix: string, kind: IndexKind): string {
  return `${prefix}-${kind}-*`;
}

/** IndexTemplate: a composable index template body (PUT _index_template/<name>). */
export type IndexTemplate = typeof spansTemplate | typeof tracesTemplate | typeof traceDaysTemplate;

/** indexTemplates: the templates for a prefix, by template name (`<prefix>-spans`, `<prefix>-traces`, `<prefix>-trace-days`). */
export function indexTemplates(prefix: string): Record<string, IndexTemplate> {
  const withPrefix = <T extends { index_patterns: string[] }>(template: T): T => ({
    ...template,
    index_patterns: template.index_patterns.map((pattern) => pattern.replace('{{prefix}}', prefix)),
  });
  return { [`${prefix}-spans`]: withPrefix(spansTemplate), [`${prefix}-traces`]: withPrefix(tracesTemplate), [`${prefix}-trace-days`]: withPrefix(traceDaysTemplate) };
}
