import { createHmac } from 'node:crypto';
import { SlaAlert } from '@skein/domain';

/** SIGNATURE_HEADER / TIMESTAMP_HEADER: headers of a signed alert webhook (see docs/alerts in docs/architecture.md). */
export const SIGNATURE_HEADER = 'x-skein-signature';
export const TIMESTAMP_HEADER = 'x-skein-timestamp';

/** signWebhook: `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, as Stripe and GitHub sign theirs. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** WebhookOptions: signing secret, per-attempt timeout (ms, default 5000) and attempts (default 5). */
export interface WebhookOptions {
  secret: string;
  timeoutMs: number;
  attempts: number;
}

/**
 * sendAlertWebhook: POSTs an alert as JSON, signed; retries with exponential backoff (0.5 s, 1 s, 2 s …) on
 * network errors and 5xx/429. Resolves true once a 2xx is received, false when every attempt failed.
 */
export async function sendAlertWebhook(url: string, alert: SlaAlert, options: WebhookOptions): Promise<boolean> {
  const body = JSON.stringify({ type: 'skein.sla.alert.v1', ...alert });
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    const timestamp = String(Math.floor(Date.now() / 1000));
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: signWebhook(options.secret, timestamp, body) },
        body,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return true;
      if (response.status < 500 && response.status !== 429) return false;
    } catch {
      // network error or timeout: retry below
    }
    if (attempt < options.attempts) await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** (attempt - 1)));
  }
  return false;
}
