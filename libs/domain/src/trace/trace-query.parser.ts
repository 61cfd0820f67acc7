import {
  TraceQuery,
  TraceQueryField,
  TraceQueryKeywordField,
  TraceQueryNumericField,
  TraceQueryRange,
  TraceQueryTag,
} from './trace-query.model';
import { TraceFlag } from './trace-summary';

/*
 * Kibana-style query strings → TraceQuery (grammar and examples: docs/query.md). A hand-written recursive-descent
 * parser over the raw text: values are scanned differently from field names (a value may hold `:`, `<`, `>`,
 * as in ISO times and URLs), so there is no separate tokenizer. Every loop consumes input and recursion is
 * bounded by MAX_QUERY_DEPTH, which keeps parsing linear and stack-safe on hostile input.
 *
 * Pattern values (`pattern: true` in the AST) are in Elasticsearch wildcard syntax: `*` any run, `?` one
 * character (code point), `\` makes the next character literal. Non-pattern values are plain literals.
 */

/** MAX_QUERY_LENGTH: longest accepted query string, characters (UTF-16 code units). */
export const MAX_QUERY_LENGTH = 4_096;

/**
 * MAX_QUERY_DEPTH: deepest accepted nesting, counting each `(` and each NOT (`NOT`, `!`, `-`) as one level.
 * Below the 32 that stack safety alone would allow: Elasticsearch 8 refuses queries nested deeper than 30
 * objects (`indices.query.bool.max_nested_depth`), and the store wraps the query and its leaves add levels.
 */
export const MAX_QUERY_DEPTH = 24;

/** TRACE_QUERY_FLAGS: the values `flag:` accepts (without wildcards). */
export const TRACE_QUERY_FLAGS: readonly TraceFlag[] = ['orphans', 'skew_adjusted', 'truncated'];

/** TraceQuerySyntaxError: a query string that does not parse; `position` is the 0-based offset of the problem. */
export class TraceQuerySyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
    this.name = 'TraceQuerySyntaxError';
  }
}

type FieldSpec =
  | { type: 'keyword'; field: TraceQueryKeywordField }
  | { type: 'numeric'; field: TraceQueryNumericField }
  | { type: 'error' };

/** TRACE_QUERY_FIELD_NAMES: every known (non-tag) field name and alias, as written in a query; case-sensitive. */
export const TRACE_QUERY_FIELD_NAMES: Readonly<Record<string, string>> = {
  service: 'service',
  operation: 'operation',
  name: 'operation',
  rootService: 'rootService',
  'root.service': 'rootService',
  rootOperation: 'rootOperation',
  'root.operation': 'rootOperation',
  traceId: 'traceId',
  'trace.id': 'traceId',
  flag: 'flag',
  flags: 'flag',
  duration: 'duration',
  spans: 'spans',
  errors: 'errors',
  depth: 'depth',
  start: 'start',
  error: 'error',
};

const KEYWORD_FIELDS = new Set<string>(['service', 'operation', 'rootService', 'rootOperation', 'traceId', 'flag']);
const NUMERIC_FIELDS = new Set<string>(['duration', 'spans', 'errors', 'depth', 'start']);

function fieldSpec(name: string): FieldSpec | undefined {
  const canonical = Object.prototype.hasOwnProperty.call(TRACE_QUERY_FIELD_NAMES, name) ? TRACE_QUERY_FIELD_NAMES[name] : undefined;
  if (canonical === undefined) return undefined;
  if (KEYWORD_FIELDS.has(canonical)) return { type: 'keyword', field: canonical as TraceQueryKeywordField };
  if (NUMERIC_FIELDS.has(canonical)) return { type: 'numeric', field: canonical as TraceQueryNumericField };
  return { type: 'error' };
}

/** DURATION_UNITS_US: microseconds per duration unit; a bare number is milliseconds. */
export const DURATION_UNITS_US: Readonly<Record<string, number>> = {
  us: 1,
  µs: 1, // U+00B5 MICRO SIGN
  μs: 1, // U+03BC GREEK SMALL LETTER MU
  ms: 1_000,
  s: 1_000_000,
  m: 60_000_000,
  h: 3_600_000_000,
};

const RANGE_HINT = 'ranges work only on duration, spans, errors, depth and start';
const FIELD_CHAR = /^[\p{L}\p{N}._\-/@]$/u;
const SPACE = /^\s$/u;

/** isQuerySpace: whitespace as the query grammar sees it (JavaScript `\s`). */
export function isQuerySpace(ch: string): boolean {
  return SPACE.test(ch);
}

/** isQueryFieldChar: a character allowed in an unquoted field name: letters, digits, `.`, `_`, `-`, `/`, `@`. */
export function isQueryFieldChar(ch: string): boolean {
  return FIELD_CHAR.test(ch);
}

/** escapeQueryWildcard: `text` as a wildcard pattern matching exactly itself (`\`, `*`, `?` escaped with `\`). */
export function escapeQueryWildcard(text: string): string {
  return text.replace(/[\\*?]/g, (ch) => `\\${ch}`);
}

interface ScannedValue {
  /** literal: the text with escapes resolved (wildcards included as typed). */
  literal: string;
  /** pattern: ES wildcard syntax, set when an unescaped `*` or `?` occurred. */
  pattern: string | undefined;
  quoted: boolean;
  start: number;
  end: number;
}

interface Operator {
  kind: 'and' | 'or' | 'not';
  text: string;
  length: number;
}

function quote(text: string, max = 40): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(cut);
}

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  parse(): TraceQuery {
    if (this.text.length > MAX_QUERY_LENGTH) {
      throw new TraceQuerySyntaxError(`query: expected at most ${MAX_QUERY_LENGTH} characters, found ${this.text.length}`, MAX_QUERY_LENGTH);
    }
    this.skipSpace();
    if (this.atEnd()) throw new TraceQuerySyntaxError('query: empty', 0);
    const query = this.parseOr(undefined);
    this.skipSpace();
    if (!this.atEnd()) {
      // parseOr stops only at the end or at a `)` it did not open.
      throw new TraceQuerySyntaxError(`query: unmatched ")" at position ${this.pos}`, this.pos);
    }
    return query;
  }

  private atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  private skipSpace(): void {
    while (!this.atEnd() && isQuerySpace(this.text[this.pos])) this.pos++;
  }

  private fail(expected: string, at: number, hint?: string, found = this.describe(at)): never {
    const suffix = hint === undefined ? '' : ` (${hint})`;
    throw new TraceQuerySyntaxError(`query: expected ${expected} at position ${at}, found ${found}${suffix}`, at);
  }

  /** describe: what stands at `at`, for "found …" in messages. */
  private describe(at: number): string {
    if (at >= this.text.length) return 'end of query';
    const ch = this.text[at];
    if (isQuerySpace(ch)) return 'whitespace';
    if (ch === '"') return 'a quote';
    if (ch === '(' || ch === ')') return quote(ch);
    let end = at;
    while (end < this.text.length && !isQuerySpace(this.text[end]) && this.text[end] !== '(' && this.text[end] !== ')') end++;
    return quote(this.text.slice(at, end));
  }

  /** peekOperator: the boolean operator at the current position, if any (a word followed by `:`, `<`, `>` is a field). */
  private peekOperator(): Operator | undefined {
    const rest = this.text.slice(this.pos, this.pos + 2);
    if (rest === '&&') return { kind: 'and', text: '&&', length: 2 };
    if (rest === '||') return { kind: 'or', text: '||', length: 2 };
    const ch = this.text[this.pos];
    if (ch === '!' || ch === '-') return { kind: 'not', text: ch, length: 1 };
    let end = this.pos;
    while (end < this.text.length && end - this.pos < 4 && isQueryFieldChar(this.text[end])) end++;
    const word = this.text.slice(this.pos, end);
    const next = this.text[end];
    if (next !== undefined && (isQueryFieldChar(next) || next === ':' || next === '<' || next === '>')) return undefined;
    const lower = word.toLowerCase();
    if (lower === 'and' || lower === 'or' || lower === 'not') return { kind: lower, text: word, length: word.length };
    return undefined;
  }

  private parseOr(after: Operator | string | undefined): TraceQuery {
    const clauses: TraceQuery[] = [];
    push(clauses, this.parseAnd(after), 'or');
    for (;;) {
      this.skipSpace();
      const op = this.peekOperator();
      if (op?.kind !== 'or') break;
      this.pos += op.length;
      push(clauses, this.parseAnd(op), 'or');
    }
    return clauses.length === 1 ? clauses[0] : { kind: 'or', clauses };
  }

  private parseAnd(after: Operator | string | undefined): TraceQuery {
    const clauses: TraceQuery[] = [];
    push(clauses, this.parseUnary(after), 'and');
    for (;;) {
      this.skipSpace();
      if (this.atEnd() || this.text[this.pos] === ')') break;
      const op = this.peekOperator();
      if (op?.kind === 'or') break;
      if (op?.kind === 'and') {
        this.pos += op.length;
        push(clauses, this.parseUnary(op), 'and');
      } else {
        push(clauses, this.parseUnary(undefined), 'and'); // implicit AND
      }
    }
    return clauses.length === 1 ? clauses[0] : { kind: 'and', clauses };
  }

  private enter(): void {
    this.depth++;
    if (this.depth > MAX_QUERY_DEPTH) {
      throw new TraceQuerySyntaxError(
        `query: nested deeper than ${MAX_QUERY_DEPTH} levels at position ${this.pos} (each "(" and each NOT is one level)`,
        this.pos,
      );
    }
  }

  private parseUnary(after: Operator | string | undefined): TraceQuery {
    this.skipSpace();
    const afterText = after === undefined ? '' : ` after "${typeof after === 'string' ? after : after.text}"`;
    if (this.atEnd() || this.text[this.pos] === ')') this.fail(`a clause${afterText}`, this.pos);
    const op = this.peekOperator();
    if (op !== undefined && op.kind !== 'not') this.fail(`a clause${afterText}`, this.pos);
    if (op?.kind === 'not') {
      this.enter();
      this.pos += op.length;
      const clause = this.parseUnary(op);
      this.depth--;
      return { kind: 'not', clause };
    }
    if (this.text[this.pos] === '(') {
      const open = this.pos;
      this.enter();
      this.pos++;
      const inner = this.parseOr('(');
      this.skipSpace();
      if (this.text[this.pos] !== ')') this.fail('")"', this.pos, `to close the "(" at position ${open}`);
      this.pos++;
      this.depth--;
      return inner;
    }
    return this.parseClause(afterText);
  }

  private parseClause(afterText: string): TraceQuery {
    const fieldStart = this.pos;
    let name: string;
    let quotedName = false;
    if (this.text[this.pos] === '"') {
      name = this.scanQuoted();
      quotedName = true;
      if (name.length === 0) this.fail('a field name', fieldStart, 'a tag key has at least one character', '""');
    } else {
      while (!this.atEnd() && isQueryFieldChar(this.text[this.pos])) this.pos++;
      name = this.text.slice(fieldStart, this.pos);
      if (name.length === 0) this.fail(`a clause${afterText}`, fieldStart);
    }
    const fieldText = this.text.slice(fieldStart, this.pos);
    const opStart = this.pos;
    let op: ':' | '>' | '>=' | '<' | '<=';
    const ch = this.text[this.pos];
    if (ch === ':') op = ':';
    else if (ch === '>' || ch === '<') op = this.text[this.pos + 1] === '=' ? (`${ch}=` as '>=' | '<=') : ch;
    else return this.fail(`":" or a comparison (>, >=, <, <=) after "${fieldText}"`, this.pos);
    const spec = quotedName ? undefined : fieldSpec(name);
    if (op !== ':' && spec?.type !== 'numeric') this.fail(`":" after "${fieldText}"`, opStart, RANGE_HINT, quote(op));
    this.pos += op.length;
    const after = `"${fieldText}${op}"`;
    const valueStart = this.pos;
    const next = this.text[this.pos];
    if (next === undefined || isQuerySpace(next) || next === '(' || next === ')') this.fail(`a value after ${after}`, this.pos);
    const value = this.scanValue();

    if (spec === undefined) return tagClause(name, value);
    if (spec.type === 'keyword') return this.keywordClause(spec.field, value, after);
    if (spec.type === 'error') {
      const lower = value.literal.toLowerCase();
      if (value.quoted || value.pattern !== undefined || (lower !== 'true' && lower !== 'false')) this.fail(`true or false after ${after}`, valueStart);
      return { kind: 'range', field: 'errors', op: lower === 'true' ? '>' : '=', value: 0 };
    }
    const range: TraceQueryRange = { kind: 'range', field: spec.field, op: op === ':' ? '=' : op, value: 0 };
    if (value.quoted || value.pattern !== undefined) this.failNumeric(spec.field, after, valueStart);
    const raw = this.text.slice(value.start, value.end);
    range.value =
      spec.field === 'duration' ? this.durationUs(raw, after, valueStart) : spec.field === 'start' ? this.startUs(raw, after, valueStart) : this.count(raw, after, valueStart);
    return range;
  }

  private keywordClause(field: TraceQueryKeywordField, value: ScannedValue, after: string): TraceQueryField {
    // Trace ids are stored lower-case (ingest normalises them): accept any case.
    const normalise = (text: string): string => (field === 'traceId' ? text.toLowerCase() : text);
    if (value.pattern !== undefined) return { kind: 'field', field, value: normalise(value.pattern), pattern: true };
    if (field === 'flag' && !TRACE_QUERY_FLAGS.includes(value.literal as TraceFlag)) {
      this.fail(`a flag (${TRACE_QUERY_FLAGS.join(', ')}) after ${after}`, value.start);
    }
    return { kind: 'field', field, value: normalise(value.literal), pattern: false };
  }

  private failNumeric(field: TraceQueryNumericField, after: string, at: number): never {
    if (field === 'duration') return this.fail(`a duration (a number with an optional unit: 200ms, 1.5s) after ${after}`, at);
    if (field === 'start') return this.fail(`a time (ISO-8601 such as 2024-05-01T10:00:00Z, or epoch milliseconds) after ${after}`, at);
    return this.fail(`a whole number after ${after}`, at);
  }

  private durationUs(raw: string, after: string, at: number): number {
    const match = /^(\d+)(?:\.(\d+))?(.*)$/su.exec(raw);
    if (match === null) return this.failNumeric('duration', after, at);
    const [, whole, fraction = '', unit] = match;
    const unitAt = at + whole.length + (fraction === '' ? 0 : fraction.length + 1);
    if (unit !== '' && !Object.prototype.hasOwnProperty.call(DURATION_UNITS_US, unit)) {
      if (/^\./u.test(unit)) return this.failNumeric('duration', after, at);
      this.fail(`a duration unit (us, µs, ms, s, m, h)`, unitAt);
    }
    // Exact decimal arithmetic: 1.1ms must be 1100µs, not 1100.0000000000002.
    const scaled = BigInt(whole + fraction) * BigInt(DURATION_UNITS_US[unit === '' ? 'ms' : unit]);
    const divisor = 10n ** BigInt(fraction.length);
    if (scaled % divisor !== 0n) this.fail(`a whole number of microseconds after ${after}`, at);
    return this.safe(scaled / divisor, after, at);
  }

  private count(raw: string, after: string, at: number): number {
    if (!/^\d+$/u.test(raw)) return this.failNumeric('spans', after, at);
    return this.safe(BigInt(raw), after, at);
  }

  private startUs(raw: string, after: string, at: number): number {
    if (/^\d+$/u.test(raw)) return this.safe(BigInt(raw) * 1000n, after, at);
    const us = parseIsoUs(raw);
    if (us === undefined) return this.failNumeric('start', after, at);
    if (!Number.isSafeInteger(us)) this.fail(`a time between the years 1685 and 2255 after ${after}`, at);
    return us;
  }

  private safe(value: bigint, after: string, at: number): number {
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`a number of at most ${Number.MAX_SAFE_INTEGER} (microseconds for times and durations) after ${after}`, at);
    return Number(value);
  }

  /** scanQuoted: a `"…"` string at the current position, `\` escaping any character; returns its content. */
  private scanQuoted(): string {
    const open = this.pos;
    this.pos++;
    let out = '';
    for (;;) {
      if (this.atEnd()) this.fail('a closing quote', this.pos, `to end the quote opened at position ${open}`);
      const ch = this.text[this.pos];
      if (ch === '"') break;
      if (ch === '\\') {
        this.pos++;
        if (this.atEnd()) this.fail('a character after "\\"', this.pos);
      }
      const cp = this.text.codePointAt(this.pos) ?? 0;
      out += String.fromCodePoint(cp);
      this.pos += cp > 0xffff ? 2 : 1;
    }
    this.pos++;
    return out;
  }

  /** scanValue: a quoted or unquoted value; it must end at whitespace, `)` or the end of the query. */
  private scanValue(): ScannedValue {
    const start = this.pos;
    let literal = '';
    let pattern = '';
    let wildcard = false;
    let quoted = false;
    if (this.text[this.pos] === '"') {
      literal = this.scanQuoted();
      quoted = true;
    } else {
      while (!this.atEnd()) {
        const ch = this.text[this.pos];
        if (isQuerySpace(ch) || ch === '(' || ch === ')' || ch === '"') break;
        if (ch === '*' || ch === '?') {
          wildcard = true;
          literal += ch;
          pattern += ch;
          this.pos++;
          continue;
        }
        if (ch === '\\') {
          this.pos++;
          if (this.atEnd()) this.fail('a character after "\\"', this.pos);
        }
        const cp = this.text.codePointAt(this.pos) ?? 0;
        const char = String.fromCodePoint(cp);
        literal += char;
        pattern += escapeQueryWildcard(char);
        this.pos += char.length;
      }
    }
    const end = this.pos;
    const next = this.text[this.pos];
    if (next !== undefined && !isQuerySpace(next) && next !== ')') {
      this.fail(`whitespace, ")" or end of query after the value`, this.pos, 'escape it with \\ or quote the whole value');
    }
    return { literal, pattern: wildcard ? pattern : undefined, quoted, start, end };
  }
}

function push(clauses: TraceQuery[], clause: TraceQuery, kind: 'and' | 'or'): void {
  // (a AND b) AND c is a AND b AND c: flattening keeps the tree, and the Elasticsearch query, shallow.
  if (clause.kind === kind) clauses.push(...clause.clauses);
  else clauses.push(clause);
}

function tagClause(key: string, value: ScannedValue): TraceQueryTag {
  if (value.pattern === '*') return { kind: 'tag', key, value: undefined, pattern: false };
  if (value.pattern !== undefined) return { kind: 'tag', key, value: value.pattern, pattern: true };
  return { kind: 'tag', key, value: value.literal, pattern: false };
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/u;

/** parseIsoUs: an ISO-8601 date or date-time as microseconds since the epoch; no offset means UTC. */
function parseIsoUs(text: string): number | undefined {
  const match = ISO.exec(text);
  if (match === null) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', fraction = '', zone = 'Z'] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // not Date.UTC: it maps years 0-99 to 1900-1999
  if (date.getUTCDate() !== day) return undefined; // 2024-02-30
  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2));
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const ms = date.getTime() + ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000;
  return ms * 1000 + Number(fraction.padEnd(6, '0'));
}

/**
 * parseTraceQuery: parses a query string such as `service:checkout AND duration>200ms AND NOT env:staging`
 * (grammar: docs/query.md). Throws {@link TraceQuerySyntaxError} on anything else, including an empty query,
 * one longer than {@link MAX_QUERY_LENGTH} or nested deeper than {@link MAX_QUERY_DEPTH}.
 */
export function parseTraceQuery(text: string): TraceQuery {
  return new Parser(text).parse();
}

// ---------------------------------------------------------------------------------------------------------------
// Printing

const CANONICAL_NAMES = new Set(Object.keys(TRACE_QUERY_FIELD_NAMES));

function formatName(key: string): string {
  const bare =
    key.length > 0 &&
    !CANONICAL_NAMES.has(key) &&
    !/^(and|or|not)$/iu.test(key) &&
    !key.startsWith('-') &&
    // Per UTF-16 unit, as the parser reads names: an astral letter needs quotes.
    key.split('').every((ch) => isQueryFieldChar(ch));
  return bare ? key : quoteString(key);
}

function quoteString(text: string): string {
  return `"${text.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;
}

function needsQuotes(literal: string): boolean {
  if (literal.length === 0) return true;
  for (const ch of literal) {
    if (isQuerySpace(ch) || ch === '(' || ch === ')' || ch === '"' || ch === '\\' || ch === '*' || ch === '?') return true;
  }
  return false;
}

function formatLiteral(literal: string): string {
  return needsQuotes(literal) ? quoteString(literal) : literal;
}

function formatPattern(pattern: string): string {
  let out = '';
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === '*' || ch === '?') out += ch;
    else {
      const literal = ch === '\\' && i + 1 < chars.length ? chars[++i] : ch;
      out += isQuerySpace(literal) || '()"\\*?'.includes(literal) ? `\\${literal}` : literal;
    }
  }
  return out;
}

function formatDuration(us: number): string {
  for (const unit of ['h', 'm', 's', 'ms'] as const) {
    const per = DURATION_UNITS_US[unit];
    if (us !== 0 && us % per === 0) return `${us / per}${unit}`;
  }
  return us === 0 ? '0ms' : `${us}us`;
}

const MIN_ISO_MS = -62_167_219_200_000; // 0000-01-01T00:00:00Z
const MAX_ISO_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

function formatStart(us: number): string {
  const ms = Math.floor(us / 1000);
  const sub = us - ms * 1000;
  if (ms < MIN_ISO_MS || ms > MAX_ISO_MS) return String(ms); // only epoch milliseconds reach here from a parse
  const iso = new Date(ms).toISOString();
  if (sub !== 0) return `${iso.slice(0, -1)}${String(sub).padStart(3, '0')}Z`;
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

const NUMERIC_NAMES: Record<TraceQueryNumericField, string> = { duration: 'duration', spans: 'spans', errors: 'errors', depth: 'depth', start: 'start' };

// Binding strength: a child is parenthesised when it binds more loosely than its parent needs (NOT > AND > OR);
// an `and` inside an `and` (never produced by the parser, which flattens) keeps its parentheses too.
const STRENGTH = { or: 1, and: 2, not: 3 } as const;

function formatNode(query: TraceQuery, parent: 'and' | 'or' | 'not' | undefined): string {
  switch (query.kind) {
    case 'and':
    case 'or': {
      if (query.clauses.length === 0) throw new Error(`formatTraceQuery: an empty "${query.kind}" has no query-string form`);
      if (query.clauses.length === 1) return formatNode(query.clauses[0], parent);
      const text = query.clauses.map((clause) => formatNode(clause, query.kind)).join(query.kind === 'and' ? ' AND ' : ' OR ');
      return parent !== undefined && STRENGTH[parent] >= STRENGTH[query.kind] ? `(${text})` : text;
    }
    case 'not':
      return `NOT ${formatNode(query.clause, 'not')}`;
    case 'field':
      return `${query.field}:${query.pattern ? formatPattern(query.value) : formatLiteral(query.value)}`;
    case 'tag':
      if (query.value === undefined) return `${formatName(query.key)}:*`;
      return `${formatName(query.key)}:${query.pattern ? formatPattern(query.value) : formatLiteral(query.value)}`;
    case 'range': {
      const value = query.field === 'duration' ? formatDuration(query.value) : query.field === 'start' ? formatStart(query.value) : String(query.value);
      return `${NUMERIC_NAMES[query.field]}${query.op === '=' ? ':' : query.op}${value}`;
    }
  }
}

/**
 * formatTraceQuery: the normalized query string of a parsed query (canonical field names, `AND`/`OR`/`NOT`,
 * durations in the largest exact unit, times in ISO-8601 UTC); parseTraceQuery(formatTraceQuery(q)) equals q
 * as long as the text stays within {@link MAX_QUERY_LENGTH} (spelled-out implicit ANDs make it longer than the input).
 */
export function formatTraceQuery(query: TraceQuery): string {
  return formatNode(query, undefined);
}
