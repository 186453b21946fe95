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

/** Header titles by event; an event added later without one is titled by its name. */
const titles: Partial<Record<string, string>> = {
  incident: 'Incident',
  'retrain-started': 'Retraining started',
  'gate-failed': 'Gate failed',
  'retrain-failed': 'Retraining failed',
  'approval-needed': 'Approval needed',
  promoted: 'Promoted',
  'rolled-back': 'Rolled back',
  'rollout-skipped': 'Not rolled out',
  'incident-held': 'Incidents held',
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
        text: {
          type: 'plain_text',
          text: clip(`${titles[input.event] ?? input.event}: ${input.modelName}`, limits.header),
        },
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
    throw mlopsError('MLOPS_ERR_NOTIFY_FAILED', {
      ...params,
      reason: fetchProblem(err, options.url, options.timeoutMs),
    });
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

/** The code of a failed request (ECONNREFUSED…), or its cause's message with the URL and its host taken out. */
function fetchProblem(err: unknown, url: string, timeoutMs: number): string {
  const e = err as { name?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return `the webhook did not answer within ${timeoutMs} ms`;
  const why = e.cause?.code ?? (e.cause?.message && redact(e.cause.message, url));
  return `the webhook could not be reached${why ? ` (${why.slice(0, 200)})` : ''}`;
}

/** Text that quotes the URL, its path (the secret part of a Slack webhook) or its host must not carry them on. */
function redact(text: string, url: string): string {
  const { pathname, host } = new URL(url);
  const secrets: [string, string][] = [
    [url, '<webhook URL>'],
    [pathname.length > 1 ? pathname : '', '<webhook path>'],
    [host, '<webhook host>'],
  ];
  return secrets.reduce((out, [secret, label]) => (secret ? out.split(secret).join(label) : out), text);
}
