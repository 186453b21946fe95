/**
 * The closed loop as `npm run demo -- --loop` runs it (src/dev/closed-loop.ts, with a shorter bake), on the test
 * stack with real workers, a real model server and the monitoring Schedule; then the Temporal Web UI is opened on the
 * model controller and its retraining child, and what it shows is checked.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { controllerWorkflowId, retrainWorkflowId } from '../../src/contracts/controller';
import { monitoringScheduleId } from '../../src/contracts/monitoring';
import type { ClosedLoopResult } from '../../src/dev/closed-loop';
import { runClosedLoop } from '../../src/dev/closed-loop';
import { buildServer } from '../../src/serving/app';
import { trainingPipeline } from '../../src/workflows';
import { launchChromium } from '../support/browser';
import { testDeps } from '../support/dependencies';
import { churnPipelineInput } from '../support/pipeline-input';
import { repoRoot, stack, tempDir, testConfig, uniqueName } from '../support/stack';
import { withWorkers } from '../support/workers';

describe('the closed loop in the Temporal Web UI', function () {
  this.timeout(600_000);
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });
  let cleanUp: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanUp?.();
  });

  it('shows the controller that took the incident, started one retraining child and promoted its canary', async function () {
    const modelName = `loop-${uniqueName('m').slice(-6)}`;
    cleanUp = () => stopController(modelName);
    const lines: string[] = [];
    const result = await runLoop(this.test!.title, modelName, lines);

    // The loop ran its course: drift → incident → one retrain → gate → canary → promoted, and v2 serves.
    assert.equal(result.retrainId, retrainWorkflowId(modelName, 1));
    assert.deepEqual([result.before, result.after, result.promoted], [1, 2, true], lines.join('\n'));
    assert.equal(result.traffic.failed, 0);
    assert.equal(result.traffic.last, 2);
    const kinds = ['incident', 'retrain-started', 'retrain-finished', 'canary-started', 'canary-judged', 'promoted'];
    const at = kinds.map((kind) => lines.findIndex((line) => line.includes(`◆ controller     ${kind}:`)));
    assert.ok(
      at.every((i, n) => i >= 0 && (n === 0 || i > at[n - 1]!)),
      `controller steps in order: ${lines.join('\n')}`,
    );
    assert.equal(lines.filter((line) => line.includes('retrain-started:')).length, 1);

    const page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
    const ui = stack().server.uiUrl!;
    await checkController(page, ui, result);
    await checkChild(page, ui, result);
    await page.close();
  });
});

/** Deploys v1 with the pipeline, serves it, and runs the loop with a short bake. */
async function runLoop(title: string, modelName: string, lines: string[]): Promise<ClosedLoopResult> {
  const config = testConfig();
  const { store } = testDeps({ config });
  let server: FastifyInstance | undefined;
  try {
    return await withWorkers({ config, title }, async (queues) => {
      const training = churnPipelineInput({
        modelName,
        trainer: { hyperparameters: { epochs: 30 }, taskQueue: queues.training },
      });
      await stack().client.workflow.execute(trainingPipeline, {
        taskQueue: queues.pipeline,
        workflowId: uniqueName(`${title} v1`),
        args: [training],
      });
      server = await buildServer({
        store,
        modelName,
        alias: 'production',
        pollMs: 500,
        predictionLog: { flushMs: 1000 },
      });
      await server.listen({ host: '127.0.0.1', port: 0 });
      const address = server.server.address() as { port: number };
      return runClosedLoop({
        client: stack().client,
        store,
        taskQueue: queues.pipeline,
        modelName,
        serverUrl: `http://127.0.0.1:${address.port}`,
        flushPredictionLog: async () => server!.serving.log?.flush(),
        training,
        liveDataPath: path.join(tempDir('live'), 'churn-live.csv'),
        uiUrl: stack().server.uiUrl,
        // A shorter bake than the demo's; the latency check is loose because a few dozen requests on a busy test
        // machine make a noisy mean (the verdict's checks have their own tests).
        canary: { bakeSeconds: 8, minRequests: 10, maxLatencyRatio: 5 },
        say: (line) => lines.push(line),
      });
    });
  } finally {
    await server?.close();
  }
}

/** The controller runs until stopped, and the monitoring schedule would tick hourly: both go when the test ends. */
async function stopController(modelName: string): Promise<void> {
  const client = stack().client;
  await client.workflow
    .getHandle(controllerWorkflowId(modelName))
    .terminate('test over')
    .catch(() => undefined);
  await client.schedule
    .getHandle(monitoringScheduleId(modelName))
    .delete()
    .catch(() => undefined);
}

/** The controller's page: its type, the signals and the child in its history (ascending, compact), its children. */
async function checkController(page: Page, ui: string, result: ClosedLoopResult): Promise<void> {
  await page.goto(`${ui}/namespaces/default/workflows/${result.controllerId}`);
  await page.getByRole('link', { name: 'modelController', exact: true }).waitFor();
  await page.getByRole('button', { name: 'Compact' }).click();
  await page.getByRole('button', { name: 'Descending' }).click();
  await page.getByText('retrainFinished', { exact: true }).first().waitFor();
  const history = await page.locator('main').innerText();
  assert.match(history, /Signal Name\s+incident\b/);
  assert.match(history, /Signal Name\s+retrainFinished\b/);
  assert.match(history, /Child Workflow\s+Workflow Type Name\s+trainingPipeline/);
  assert.match(history, /Activity Type\s+setDeployment/);
  // UPDATE_SCREENSHOTS=1 refreshes the README's picture; otherwise the screenshot stays in the test's temp folder.
  const shotDir = process.env.UPDATE_SCREENSHOTS === '1' ? path.join(repoRoot, 'docs') : tempDir('screenshots');
  await page.getByRole('heading', { name: 'Event History' }).scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(shotDir, 'controller-web-ui.png') });
  assert.ok(fs.statSync(path.join(shotDir, 'controller-web-ui.png')).size > 0);

  await page
    .getByText(/^Relationships/)
    .first()
    .click();
  await page.getByText(result.retrainId!, { exact: true }).waitFor();
  const relationships = await page.locator('main').innerText();
  assert.match(relationships, new RegExp(`Completed\\s+trainingPipeline\\s+${result.retrainId}`));
}

/** The retraining child's page: its type, its parent (the controller), its input and outcome, the signal it sent back. */
async function checkChild(page: Page, ui: string, result: ClosedLoopResult): Promise<void> {
  await page.goto(`${ui}/namespaces/default/workflows/${result.retrainId}`);
  await page.getByRole('link', { name: 'trainingPipeline', exact: true }).waitFor();
  await page.getByText('retrainFinished', { exact: true }).first().waitFor();
  const text = await page.locator('main').innerText();
  assert.match(text, new RegExp(`Parent Workflow\\s+${result.controllerId}\\b`));
  assert.match(text, new RegExp(`"reportTo": "${result.controllerId}"`));
  assert.match(text, /"deploy": false/);
  assert.match(text, /"outcome": "registered"/);
  assert.match(text, new RegExp(`Signal Name\\s+retrainFinished\\s+Workflow Execution\\s+${result.controllerId}`));
}
