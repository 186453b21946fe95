import assert from 'node:assert/strict';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { trainingPipeline } from '../../src/workflows';
import { repoRoot, stack, tempDir, testConfig, uniqueName } from '../support/stack';
import { withWorkers } from '../support/workers';
import { churnPipelineInput } from '../support/pipeline-input';
import { launchChromium } from '../support/browser';

describe('the Temporal Web UI', function () {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  it('finds a pipeline run by its model name and shows its search attributes', async function () {
    const modelName = `ui-${uniqueName('m').slice(-6)}`;
    const workflowId = uniqueName(this.test!.title);
    const config = testConfig();
    const result = await withWorkers({ config, title: this.test!.title }, (queues) =>
      stack().client.workflow.execute(trainingPipeline, {
        taskQueue: queues.pipeline,
        workflowId,
        args: [
          churnPipelineInput({ modelName, trainer: { hyperparameters: { epochs: 3 }, taskQueue: queues.training } }),
        ],
      }),
    );
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const ui = stack().server.uiUrl!;

    // The list view, filtered by the custom search attribute, shows this run.
    await page.goto(`${ui}/namespaces/default/workflows?query=${encodeURIComponent(`MlopsModelName="${modelName}"`)}`);
    await page.getByRole('link', { name: workflowId }).first().waitFor();

    // The run's page lists the search attributes the pipeline set.
    await page.goto(`${ui}/namespaces/default/workflows/${workflowId}`);
    await page.getByText('Search Attributes', { exact: true }).click();
    const panel = page.locator('[data-language="json"]').filter({ hasText: 'MlopsPipelineStage' });
    await panel.waitFor();
    const text = await panel.innerText();
    assert.match(text, new RegExp(`"MlopsModelName": "${modelName}"`));
    assert.match(text, /"MlopsPipelineStage": "completed"/);
    assert.match(text, new RegExp(`"MlopsDatasetSnapshot": "${result.snapshotId}"`));
    assert.match(text, /"MlopsModelVersion": 1/);
    // UPDATE_SCREENSHOTS=1 refreshes the README's picture; otherwise the screenshot stays in the test's temp folder.
    const shotDir = process.env.UPDATE_SCREENSHOTS === '1' ? path.join(repoRoot, 'docs') : tempDir('screenshots');
    await page.screenshot({ path: path.join(shotDir, 'web-ui-search-attributes.png') });
    await page.close();
  });
});
