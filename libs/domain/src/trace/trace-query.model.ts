/**
 * TraceQuery: the parsed form of a Kibana-style trace query string such as
 * `service:checkout AND duration>200ms AND http.status_code:500 AND NOT env:staging`. Every clause is about a
 * whole trace: `service:x` means "some span of the trace is in service x", a tag clause "some span carries
 * the tag", a range clause compares a summary number. Stores translate it (Elasticsearch) or evaluate it
 * (in-memory) against {@link TraceSummary} documents.
 */
export type TraceQuery = TraceQueryAnd | TraceQueryOr | TraceQueryNot | TraceQueryField | TraceQueryTag | TraceQueryRange;

/** TraceQueryAnd: every clause must match. */
export interface TraceQueryAnd {
  kind: 'and';
  clauses: TraceQuery[];
}

/** TraceQueryOr: at least one clause must match. */
export interface TraceQueryOr {
  kind: 'or';
  clauses: TraceQuery[];
}

/** TraceQueryNot: the clause must not match. */
export interface TraceQueryNot {
  kind: 'not';
  clause: TraceQuery;
}

/** TraceQueryKeywordField: summary fields matched by value (`service` = any span's service, `operation` = any span's operation). */
export type TraceQueryKeywordField = 'service' | 'operation' | 'rootService' | 'rootOperation' | 'traceId' | 'flag';

/** TraceQueryField: `field:value`; `pattern` true when the value holds `*`/`?` wildcards. */
export interface TraceQueryField {
  kind: 'field';
  field: TraceQueryKeywordField;
  value: string;
  pattern: boolean;
}

/** TraceQueryTag: `key:value` on span tags (any span of the trace); `value` undefined means "the tag exists" (`key:*`). */
export interface TraceQueryTag {
  kind: 'tag';
  key: string;
  value: string | undefined;
  pattern: boolean;
}

/** TraceQueryNumericField: summary numbers: `duration` (whole trace, µs), `spans`, `errors`, `depth`, `start` (µs since the epoch). */
export type TraceQueryNumericField = 'duration' | 'spans' | 'errors' | 'depth' | 'start';

/** TraceQueryRange: `field>n`, `>=`, `<`, `<=`, or `=` for an exact number; durations already in microseconds. */
export interface TraceQueryRange {
  kind: 'range';
  field: TraceQueryNumericField;
  op: '>' | '>=' | '<' | '<=' | '=';
  value: number;
}
