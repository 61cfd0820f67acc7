import { TraceQuery } from '@skein/domain';
import { invalidParameter } from './query-params';

/**
 * zipkinAnnotationQuery: Zipkin's `annotationQuery` (`http.method=GET and error`) → a {@link TraceQuery}, undefined
 * when empty. Terms are split on ` and ` exactly as Zipkin does (lower case, single spaces); `key=value` means some
 * span carries the tag, a bare word (or `key=`) that some span has the tag at all. Skein does not index annotation
 * (event) names, so a word matches tag keys only; `error` also matches failed spans, because Skein records failure
 * as a flag and the Zipkin encoder shows it as an `error` tag.
 */
export function zipkinAnnotationQuery(text: string | undefined): TraceQuery | undefined {
  if (text === undefined) return undefined;
  const clauses: TraceQuery[] = [];
  for (const term of text.split(' and ')) {
    const trimmed = term.trim();
    if (trimmed === '') continue;
    const at = trimmed.indexOf('=');
    const key = (at < 0 ? trimmed : trimmed.slice(0, at)).trim();
    const value = at < 0 ? '' : trimmed.slice(at + 1).trim();
    if (key === '') throw invalidParameter('annotationQuery', `a term has no key: "${trimmed}"`);
    if (value !== '') clauses.push({ kind: 'tag', key, value, pattern: false });
    else if (key === 'error') clauses.push({ kind: 'or', clauses: [{ kind: 'tag', key, value: undefined, pattern: false }, { kind: 'range', field: 'errors', op: '>', value: 0 }] });
    else clauses.push({ kind: 'tag', key, value: undefined, pattern: false });
  }
  if (clauses.length === 0) return undefined;
  return clauses.length === 1 ? clauses[0] : { kind: 'and', clauses };
}
