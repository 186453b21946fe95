import assert from 'node:assert/strict';
import fs from 'node:fs';
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
});
