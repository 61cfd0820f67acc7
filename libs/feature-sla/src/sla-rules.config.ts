import { SlaRule } from '@skein/domain';
import { parse } from 'yaml';
import { z } from 'zod';

/** isHttpUrl: an absolute http(s) URL; `z.string().url()` alone also takes `localhost:9999/alerts` (scheme "localhost:"). */
function isHttpUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

const ruleSchema = z
  .object({
    name: z.string().min(1),
    service: z.string().min(1),
    operation: z.string().min(1),
    maxP99Ms: z.number().positive().optional(),
    maxErrorRate: z.number().min(0).max(1).optional(),
    minCalls: z.number().int().min(1).default(1),
    webhookUrl: z.string().refine(isHttpUrl, 'must be an http:// or https:// URL'),
  })
  .strict()
  .refine((rule) => rule.maxP99Ms !== undefined || rule.maxErrorRate !== undefined, 'a rule needs maxP99Ms or maxErrorRate');

const fileSchema = z.object({ rules: z.array(ruleSchema) }).strict();

/**
 * parseSlaRules: the SLA rules file (YAML, documented in docs/configuration.md). Throws naming the rule index
 * and field of the first problems; rule names must be unique.
 */
export function parseSlaRules(text: string, source = 'SLA rules'): SlaRule[] {
  let document: unknown;
  try {
    document = parse(text);
  } catch (err) {
    throw new Error(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  const result = fileSchema.safeParse(document);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`);
    throw new Error(`${source}: invalid:\n  ${problems.join('\n  ')}`);
  }
  const seen = new Map<string, number>();
  for (const [index, rule] of result.data.rules.entries()) {
    const first = seen.get(rule.name);
    if (first !== undefined) throw new Error(`${source}: invalid:\n  rules.${index}.name: rule name "${rule.name}" is used twice (first by rules.${first})`);
    seen.set(rule.name, index);
  }
  return result.data.rules;
}
