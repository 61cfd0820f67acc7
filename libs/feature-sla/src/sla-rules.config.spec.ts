import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSlaRules } from './sla-rules.config';

const REPO_ROOT = join(__dirname, '..', '..', '..');

/** rule: one YAML list item of a rules file, from `key: value` lines (values written as YAML). */
function rule(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([key, value], index) => `${index === 0 ? '  - ' : '    '}${key}: ${value}`)
    .join('\n');
}

const LATENCY = { name: 'order-latency', service: 'order-service', operation: 'POST /orders', maxP99Ms: '50', webhookUrl: 'http://127.0.0.1:9999/alerts' };
const ERRORS = { name: 'payment-errors', service: 'payment-service', operation: 'charge', maxErrorRate: '0.05', minCalls: '20', webhookUrl: 'https://oncall.example.com/hooks/skein' };

function file(...rules: Array<Record<string, string>>): string {
  return `rules:\n${rules.map(rule).join('\n')}\n`;
}

/** problem: the message parseSlaRules throws for `text`. */
function problem(text: string, source = 'rules.yaml'): string {
  try {
    parseSlaRules(text, source);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('parseSlaRules accepted the file');
}

describe('parseSlaRules', () => {
  it('returns every rule of a valid file, with minCalls defaulting to 1', () => {
    expect(parseSlaRules(file(LATENCY, ERRORS))).toEqual([
      { name: 'order-latency', service: 'order-service', operation: 'POST /orders', maxP99Ms: 50, minCalls: 1, webhookUrl: 'http://127.0.0.1:9999/alerts' },
      { name: 'payment-errors', service: 'payment-service', operation: 'charge', maxErrorRate: 0.05, minCalls: 20, webhookUrl: 'https://oncall.example.com/hooks/skein' },
    ]);
  });

  it('accepts a file with no rules', () => {
    expect(parseSlaRules('rules: []\n')).toEqual([]);
  });

  it('parses deploy/local/sla-rules.example.yaml', () => {
    const path = join(REPO_ROOT, 'deploy', 'local', 'sla-rules.example.yaml');
    expect(parseSlaRules(readFileSync(path, 'utf8'), path)).toEqual([
      { name: 'order-latency', service: 'order-service', operation: 'POST /orders', maxP99Ms: 50, maxErrorRate: 0.01, minCalls: 10, webhookUrl: 'http://127.0.0.1:9999/alerts' },
    ]);
  });

  it('parses the example of docs/configuration.md', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs', 'configuration.md'), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(yaml).toBeDefined();
    expect(parseSlaRules(yaml as string)).toEqual([
      { name: 'order-latency', service: 'order-service', operation: 'POST /orders', maxP99Ms: 50, maxErrorRate: 0.01, minCalls: 1, webhookUrl: 'https://oncall.example.com/hooks/skein' },
    ]);
  });

  it('refuses an unknown field, naming the rule index and the field', () => {
    expect(problem(file(LATENCY, { ...ERRORS, maxP95Ms: '3' }))).toBe("rules.yaml: invalid:\n  rules.1: Unrecognized key(s) in object: 'maxP95Ms'");
  });

  it('refuses an unknown top-level field', () => {
    expect(problem(`${file(LATENCY)}alerts: []\n`)).toBe("rules.yaml: invalid:\n  (file): Unrecognized key(s) in object: 'alerts'");
  });

  it('refuses a rule without any threshold, naming the rule index and both threshold fields', () => {
    const { maxErrorRate: _dropped, ...noThreshold } = ERRORS;
    expect(problem(file(LATENCY, noThreshold))).toBe('rules.yaml: invalid:\n  rules.1: a rule needs maxP99Ms or maxErrorRate');
  });

  it('refuses a missing required field, naming the rule index and field', () => {
    const { service: _dropped, ...noService } = LATENCY;
    expect(problem(file(noService))).toBe('rules.yaml: invalid:\n  rules.0.service: Required');
  });

  it('lists every bad field of a rule', () => {
    const bad = { name: 'x', service: "''", operation: 'o', maxP99Ms: '-1', maxErrorRate: '2', minCalls: '0', webhookUrl: 'not-a-url' };
    expect(problem(file(LATENCY, bad)).split('\n')).toEqual([
      'rules.yaml: invalid:',
      '  rules.1.service: String must contain at least 1 character(s)',
      '  rules.1.maxP99Ms: Number must be greater than 0',
      '  rules.1.maxErrorRate: Number must be less than or equal to 1',
      '  rules.1.minCalls: Number must be greater than or equal to 1',
      '  rules.1.webhookUrl: must be an http:// or https:// URL',
    ]);
  });

  it('refuses a webhookUrl that is not http(s), e.g. a host:port without scheme', () => {
    // `new URL('localhost:9999/alerts')` parses (scheme "localhost:"), yet no alert could ever be delivered to it.
    expect(problem(file({ ...LATENCY, webhookUrl: 'localhost:9999/alerts' }))).toBe('rules.yaml: invalid:\n  rules.0.webhookUrl: must be an http:// or https:// URL');
    expect(problem(file({ ...LATENCY, webhookUrl: 'ftp://files.example.com/alerts' }))).toBe('rules.yaml: invalid:\n  rules.0.webhookUrl: must be an http:// or https:// URL');
  });

  it('refuses a duplicate rule name, naming the rule index and field', () => {
    expect(problem(file(LATENCY, ERRORS, { ...ERRORS, name: 'order-latency' }))).toBe(
      'rules.yaml: invalid:\n  rules.2.name: rule name "order-latency" is used twice (first by rules.0)',
    );
  });

  it('refuses text that is not YAML, naming the source', () => {
    expect(problem('rules:\n  - name: [unterminated\n', '/etc/skein/rules.yaml')).toMatch(/^\/etc\/skein\/rules\.yaml: not valid YAML: /);
    expect(problem('rules: []\nrules: []\n')).toMatch(/^rules\.yaml: not valid YAML: Map keys must be unique/);
  });

  it('refuses an empty file and a file whose rules are not a list', () => {
    expect(problem('')).toBe('rules.yaml: invalid:\n  (file): Expected object, received null');
    expect(problem('rules: 3\n')).toBe('rules.yaml: invalid:\n  rules: Expected array, received number');
  });

  it('names the default source when none is given', () => {
    expect(() => parseSlaRules('rules: {}\n')).toThrow(/^SLA rules: invalid:\n {2}rules: Expected array, received object$/);
  });
});
