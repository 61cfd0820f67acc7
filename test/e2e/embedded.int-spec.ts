import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceProcess, startServiceProcess } from '../support/service-process';
import { WebhookReceiver, startWebhookReceiver } from '../support/webhook-receiver';
import { SCENARIO_API_KEY, SCENARIO_GATEWAY_ENV, SCENARIO_SLA_ENV, ScenarioTarget, pipelineScenario, slaRulesYaml } from './pipeline-scenario';

/** The acceptance scenario against the all-in-one embedded mode: one process, in-memory adapters, no infrastructure. */
describe('end to end: embedded (all in one process, in memory)', () => {
  let embedded: ServiceProcess;
  let webhook: WebhookReceiver;
  let dir: string;
  const webhookSecret = 'embedded-test-secret-0123456789';

  beforeAll(async () => {
    webhook = await startWebhookReceiver();
    dir = mkdtempSync(join(tmpdir(), 'skein-embedded-'));
    writeFileSync(join(dir, 'sla.yaml'), slaRulesYaml(webhook.url));
    embedded = await startServiceProcess('embedded', { SKEIN_SLA_RULES_FILE: join(dir, 'sla.yaml'), SKEIN_SLA_WEBHOOK_SECRET: webhookSecret, ...SCENARIO_SLA_ENV, ...SCENARIO_GATEWAY_ENV });
  });

  afterAll(async () => {
    await embedded?.kill();
    await webhook?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const target = (): ScenarioTarget => ({ gatewayUrl: embedded.url, queryUrl: embedded.url, webhook, webhookSecret, apiKey: SCENARIO_API_KEY });
  pipelineScenario(target);

  it('prints where to send spans and where to read them', () => {
    expect(embedded.output()).toContain(`send spans:    POST ${embedded.url}/api/v1/spans`);
    expect(embedded.output()).toContain(`read a trace:  GET  ${embedded.url}/api/traces/<traceId>`);
  });

  it('shuts down cleanly on SIGTERM', async () => {
    expect(await embedded.kill('SIGTERM')).toBe(0);
    expect(embedded.output()).toContain('shut down cleanly');
  });
});
