/**
 * Notifications of the model controller, posted as Slack-compatible JSON (`text` plus Block Kit `blocks`: a header
 * and a section of fields) to one webhook URL. The URL is a secret (a Slack webhook's path is its credential): it is
 * never put into a message, a result or an error. A 5xx, a 429 or no answer is a retryable failure; another 4xx is
 * not (the URL or the payload is wrong, and retrying sends the same).
 */
import type { NotifyInput, NotifyResult } from '../contracts/controller';
import { mlopsError } from '../errors';

export interface WebhookOptions {
  /** Unset: notifications are off, and `notify` answers `{ sent: false, reason }`. */
  url?: string;
  /** Milliseconds to wait for the webhook's answer. */
  timeoutMs: number;
}

/** Slack's limits: a header's text 150 characters, a section field 2000, a message's text 40000. */
const limits = { header: 150, field: 2000, text: 40_000 };

export interface WebhookMessage {
  text: string;
  blocks: unknown[];
}

const titles: Record<NotifyInput['event'], string> = {
  incident: 'Incident',
  'retrain-started': 'Retraining started',
  'gate-failed': 'Gate failed',
  'approval-needed': 'Approval needed',
  promoted: 'Promoted',
  'rolled-back': 'Rolled back',
};

export function webhookMessage(input: NotifyInput): WebhookMessage {
  const field = (label: string, value: string) => ({
    type: 'mrkdwn',
    text: clip(`*${label}*\n${value}`, limits.field),
  });
  const fields = [
    field('Model', input.modelName),
    field('Event', input.event),
    ...(input.version !== undefined ? [field('Version', String(input.version))] : []),
    field('Workflow', input.workflowId),
  ];
  return {
    text: clip(input.text, limits.text),
    blocks: [
      {
        type: 'header',
        text: { type: 'plain_text', text: clip(`${titles[input.event]}: ${input.modelName}`, limits.header) },
      },
      { type: 'section', text: { type: 'plain_text', text: clip(input.text, limits.field) }, fields },
    ],
  };
}

export async function sendNotification(input: NotifyInput, options: WebhookOptions): Promise<NotifyResult> {
  if (!options.url) return { sent: false, reason: 'no webhook is configured (MLOPS_NOTIFY_WEBHOOK_URL is unset)' };
  const params = { event: input.event, model: input.modelName };
  let response: Response;
  try {
    response = await fetch(options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(webhookMessage(input)),
      signal: AbortSignal.timeout(options.timeoutMs),
      // A redirected POST would be replayed as a GET elsewhere; a 3xx is reported instead.
      redirect: 'manual',
    });
  } catch (err) {
    throw mlopsError('MLOPS_ERR_NOTIFY_FAILED', { ...params, reason: fetchProblem(err, options.timeoutMs) });
  }
  const body = redact(await response.text().catch(() => ''), options.url);
  if (response.ok) return { sent: true };
  const answer = `HTTP ${response.status}${body ? ` "${body.slice(0, 200)}"` : ''}`;
  if (response.status >= 500 || response.status === 429 || response.status === 408)
    throw mlopsError('MLOPS_ERR_NOTIFY_FAILED', { ...params, reason: `the webhook answered ${answer}` });
  throw mlopsError('MLOPS_ERR_NOTIFY_REJECTED', { ...params, status: response.status, answer });
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The kind and code of a failed request only: undici's messages and causes quote the address. */
function fetchProblem(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; cause?: { code?: string; name?: string } };
  if (e.name === 'TimeoutError') return `the webhook did not answer within ${timeoutMs} ms`;
  const code = e.cause?.code ?? e.cause?.name;
  return `the webhook could not be reached${code ? ` (${code})` : ''}`;
}

/** An answer that echoes the request URL (some proxies do) must not carry it into an error. */
function redact(text: string, url: string): string {
  const path = new URL(url).pathname;
  return text
    .split(url)
    .join('<webhook URL>')
    .split(path.length > 1 ? path : '\u0000')
    .join('<webhook path>');
}
