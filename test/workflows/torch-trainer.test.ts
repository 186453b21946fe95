import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createArtifactStore } from '../../src/artifacts';
import { trainingPipeline } from '../../src/workflows';
import { stack, testConfig, uniqueName } from '../support/stack';
import { withWorkers } from '../support/workers';
import { churnPipelineInput } from '../support/pipeline-input';

describe('trainingPipeline with the PyTorch reference trainer', function () {
  it('trains the tabular network on the CPU, exports ONNX, and deploys it when it beats the baseline', async function () {
    this.timeout(180_000);
    const config = testConfig();
    assert.ok(
      fs.existsSync(config.training.python ?? `${config.cacheDir}/python/torch-tabular-venv/bin/python`),
      'npm test sets up the venv',
    );
    const result = await withWorkers({ config, title: this.test!.title }, (queues) =>
      stack().client.workflow.execute(trainingPipeline, {
        taskQueue: queues.pipeline,
        workflowId: uniqueName(this.test!.title),
        args: [
          churnPipelineInput({
            modelName: 'churn-torch',
            trainer: {
              kind: 'torch-tabular',
              hyperparameters: { epochs: 8, hidden_sizes: '32,16' },
              taskQueue: queues.training,
            },
          }),
        ],
      }),
    );
    assert.equal(result.outcome, 'deployed');
    assert.ok(result.metrics.auc! > 0.75, `test AUC ${result.metrics.auc}`);
    assert.ok(result.metrics.accuracy! > 0.65);
    const store = createArtifactStore(config);
    const trainerMetrics = JSON.parse(
      (await store.read(result.artifacts.model.replace(/model\.onnx$/, 'metrics.json'))).toString(),
    ) as { device: string; epochs: number };
    assert.equal(trainerMetrics.device, 'cpu');
    assert.equal(trainerMetrics.epochs, 8);
  });

  it('without its Python environment fails at once with a catalogued error naming the setup command', async function () {
    const config = testConfig({ MLOPS_PYTHON: path.join(stack().tmpRoot, 'no-venv', 'bin', 'python') });
    await withWorkers({ config: config, title: this.test!.title }, async (queues) => {
      const handle = await stack().client.workflow.start(trainingPipeline, {
        taskQueue: queues.pipeline,
        workflowId: uniqueName(this.test!.title),
        args: [
          churnPipelineInput({
            modelName: 'churn-torch',
            trainer: { kind: 'torch-tabular', taskQueue: queues.training },
          }),
        ],
      });
      const err = await handle.result().then(
        () => assert.fail('the workflow should fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError);
      assert.ok(err.cause instanceof ApplicationFailure);
      assert.equal(err.cause.type, 'MLOPS_ERR_TRAIN_COMMAND_NOT_FOUND');
      assert.equal(err.cause.nonRetryable, true);
      assert.match(err.cause.message, /step training/);
      assert.match(err.cause.message, /no-venv\/bin\/python/);
      assert.match(err.cause.message, /npm run setup/);
      const attempts = ((await handle.fetchHistory()).events ?? [])
        .map((e) => e.activityTaskStartedEventAttributes?.attempt)
        .filter((attempt) => attempt !== undefined && attempt !== null);
      assert.deepEqual(attempts.slice(-1), [1], 'the training activity ran once, without retries');
    });
  });
});
