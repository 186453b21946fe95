import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { createPipelineActivities } from '../../src/activities';
import { createControllerActivities } from '../../src/activities/controller';
import { LocalArtifactStore } from '../../src/artifacts';
import type { NotifyInput } from '../../src/contracts/controller';
import { isMlopsError } from '../../src/errors';
import { testDeps } from '../support/dependencies';
import { tempDir, testConfig } from '../support/stack';

interface Received {
  path: string;
  contentType?: string;
  body: unknown;
}

/** A local webhook receiver answering each POST with the next planned status (200 when none is left). */
class Receiver {
  readonly received: Received[] = [];
  planned: { status: number; body?: string }[] = [];
  readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      this.received.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: JSON.parse(text) });
      const answer = this.planned.shift() ?? { status: 200, body: 'ok' };
      res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.body ?? '');
    });
  });

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  /** A Slack-like URL whose path is the secret. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/services/T0001/B0002/s3cr3t-t0ken-value`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const promoted: NotifyInput = {
  event: 'promoted',
  modelName: 'churn',
  version: 7,
  text: 'churn version 7 was promoted: error rate 0.10%, latency ratio 1.02, prediction drift 0.031.',
  workflowId: 'model-controller-churn',
};

async function rejection(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => assert.fail('the notification should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, String(err));
  return err;
}

describe('notifying a webhook of the model controller events', function () {
  const receiver = new Receiver();
  // Made once the run's temp folder exists (a describe body runs before the root hooks), so the run removes it.
  let store: LocalArtifactStore;
  const activities = () =>
    createControllerActivities({ store, duckDbThreads: 1, notifyWebhookUrl: receiver.url, httpTimeoutMs: 5000 });

  before(() => {
    store = new LocalArtifactStore(tempDir('notify-store'));
    return receiver.start();
  });
  after(() => receiver.stop());
  beforeEach(() => {
    receiver.received.length = 0;
    receiver.planned = [];
  });

  it('posts Slack-compatible JSON once: the text, a header and a section naming model, event, version and workflow', async function () {
    assert.deepEqual(await activities().notify(promoted), { sent: true });
    assert.equal(receiver.received.length, 1);
    const [message] = receiver.received;
    assert.equal(message!.path, '/services/T0001/B0002/s3cr3t-t0ken-value');
    assert.equal(message!.contentType, 'application/json');
    assert.deepEqual(message!.body, {
      text: promoted.text,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Promoted: churn' } },
        {
          type: 'section',
          text: { type: 'plain_text', text: promoted.text },
          fields: [
            { type: 'mrkdwn', text: '*Model*\nchurn' },
            { type: 'mrkdwn', text: '*Event*\npromoted' },
            { type: 'mrkdwn', text: '*Version*\n7' },
            { type: 'mrkdwn', text: '*Workflow*\nmodel-controller-churn' },
          ],
        },
      ],
    });
  });

  it('clips a long text to the limits Slack accepts and leaves the version out when there is none', async function () {
    const long = 'x'.repeat(5000);
    await activities().notify({ event: 'incident', modelName: 'churn', text: long, workflowId: 'monitor-churn' });
    const body = receiver.received[0]!.body as {
      text: string;
      blocks: { text: { text: string }; fields?: unknown[] }[];
    };
    assert.equal(body.text, long);
    assert.equal(body.blocks[1]!.text.text.length, 2000);
    assert.equal(body.blocks[1]!.fields!.length, 3);
  });

  it('fails retryably on a 500 and a 429, so Temporal sends it again, without the URL in the error', async function () {
    for (const status of [500, 429]) {
      receiver.planned = [{ status, body: 'try later' }];
      const err = await rejection(activities().notify(promoted));
      assert.ok(isMlopsError(err, 'MLOPS_ERR_NOTIFY_FAILED'), err.message);
      assert.equal(err.nonRetryable, false);
      assert.match(err.message, new RegExp(`HTTP ${status} "try later"`));
      assert.ok(!JSON.stringify({ m: err.message, d: err.details }).includes('s3cr3t'), err.message);
    }
    assert.deepEqual(await activities().notify(promoted), { sent: true }, 'the retry goes through');
  });

  it('fails non-retryably on a 404 naming the status and the fix, even when the answer echoes the URL', async function () {
    receiver.planned = [{ status: 404, body: `no_service: ${receiver.url}` }];
    const err = await rejection(activities().notify(promoted));
    assert.ok(isMlopsError(err, 'MLOPS_ERR_NOTIFY_REJECTED'), err.message);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /refused the promoted notification of model "churn" with HTTP 404/);
    assert.match(err.message, /no_service: <webhook URL>/);
    assert.match(err.message, /MLOPS_NOTIFY_WEBHOOK_URL/);
    assert.ok(!JSON.stringify({ m: err.message, d: err.details }).includes('s3cr3t'), err.message);
    assert.ok(!err.message.includes(receiver.url));
  });

  it('fails retryably when the webhook cannot be reached, naming the failure but not the address', async function () {
    const closed = new Receiver();
    await closed.start();
    const url = closed.url;
    await closed.stop();
    const notify = createControllerActivities({ store, duckDbThreads: 1, notifyWebhookUrl: url }).notify;
    const err = await rejection(notify(promoted));
    assert.ok(isMlopsError(err, 'MLOPS_ERR_NOTIFY_FAILED'), err.message);
    assert.equal(err.nonRetryable, false);
    assert.match(err.message, /could not be reached \(ECONNREFUSED\)/);
    assert.ok(!err.message.includes('s3cr3t') && !err.message.includes(new URL(url).port), err.message);
  });

  it('answers sent: false with the reason when no webhook is configured', async function () {
    const notify = createControllerActivities({ store, duckDbThreads: 1 }).notify;
    assert.deepEqual(await notify(promoted), {
      sent: false,
      reason: 'no webhook is configured (MLOPS_NOTIFY_WEBHOOK_URL is unset)',
    });
  });

  it('takes the webhook from MLOPS_NOTIFY_WEBHOOK_URL in the pipeline activities, and never shows it in a config error', async function () {
    const deps = testDeps({ store, config: testConfig({ MLOPS_NOTIFY_WEBHOOK_URL: receiver.url }) });
    assert.deepEqual(await createPipelineActivities(deps).notify(promoted), { sent: true });
    assert.equal(receiver.received.length, 1);
    const secret = 'ftp://hooks.example/services/s3cr3t-t0ken-value';
    assert.throws(
      () => testConfig({ MLOPS_NOTIFY_WEBHOOK_URL: secret }),
      (err: Error) =>
        /MLOPS_NOTIFY_WEBHOOK_URL=\(value not shown\): must be an http\(s\) URL/.test(err.message) &&
        !err.message.includes('s3cr3t'),
    );
  });
});
