import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { createArtifactStore } from '../../src/artifacts';
import type { TrainingPipelineInput } from '../../src/contracts/pipeline';
import { searchAttributes } from '../../src/contracts/search-attributes';
import { pipelineStatusQuery } from '../../src/workflows/definitions';
import { trainingPipeline } from '../../src/workflows';
import { readAlias } from '../../src/registry/model-registry';
import { stack, testConfig, uniqueName } from '../support/stack';
import type { Queues } from '../support/workers';
import { withWorkers } from '../support/workers';
import { churnPipelineInput } from '../support/pipeline-input';
import { assertWorkflowFailed } from '../support/assert-workflow';

function pipelineInput(queues: Queues, overrides: Partial<TrainingPipelineInput> = {}): TrainingPipelineInput {
  return churnPipelineInput({
    trainer: { kind: 'builtin-linear', hyperparameters: { epochs: 8 }, taskQueue: queues.training },
    ...overrides,
  });
}

describe('trainingPipeline', function () {
  it('trains, evaluates, registers and deploys a model on the bundled dataset, tracking stage and search attributes', async function () {
    const config = testConfig();
    const workflowId = uniqueName(this.test!.title);
    await withWorkers({ config, title: this.test!.title }, async (queues) => {
      const handle = await stack().client.workflow.start(trainingPipeline, {
        taskQueue: queues.pipeline,
        workflowId,
        args: [pipelineInput(queues)],
      });
      const result = await handle.result();

      assert.equal(result.outcome, 'deployed');
      assert.equal(result.version, 1);
      assert.ok(
        result.metrics.auc! > 0.75,
        `test AUC ${result.metrics.auc} should be well above the 0.5 of a constant model`,
      );
      assert.ok(result.gate.passed);
      assert.match(result.snapshotId, /^ds-[0-9a-f]{16}$/);

      const status = await handle.query(pipelineStatusQuery);
      assert.equal(status.stage, 'completed');
      assert.deepEqual(
        status.steps.map((s) => s.stage),
        ['ingesting', 'profiling', 'preprocessing', 'training', 'evaluating', 'registering', 'deploying', 'completed'],
      );
      assert.equal(status.snapshotId, result.snapshotId);
      // Profiling and preprocessing read only the snapshot: both are scheduled before either completes.
      const events = (await handle.fetchHistory()).events ?? [];
      const id = (value: unknown) => Number(String(value)); // event ids are Longs
      const scheduled = (activity: string) =>
        id(events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity)?.eventId);
      const completed = (scheduledId: number) =>
        id(events.find((e) => id(e.activityTaskCompletedEventAttributes?.scheduledEventId) === scheduledId)?.eventId);
      const [profiling, preprocessing] = [scheduled('profileDataset'), scheduled('preprocessDataset')];
      assert.ok(
        profiling < preprocessing && preprocessing < Math.min(completed(profiling), completed(preprocessing)),
        `profileDataset scheduled at event ${profiling}, preprocessDataset at ${preprocessing}, completed at ` +
          `${completed(profiling)} and ${completed(preprocessing)}`,
      );

      const description = await handle.describe();
      assert.deepEqual(description.typedSearchAttributes.get(searchAttributes.modelName), 'churn');
      assert.deepEqual(description.typedSearchAttributes.get(searchAttributes.stage), 'completed');
      assert.deepEqual(description.typedSearchAttributes.get(searchAttributes.datasetSnapshot), result.snapshotId);
      assert.deepEqual(description.typedSearchAttributes.get(searchAttributes.modelVersion), 1);

      const store = createArtifactStore(config);
      for (const uri of Object.values(result.artifacts))
        assert.ok(fs.existsSync(store.localPath(uri)!), `${uri} should exist`);
      assert.equal((await readAlias(store, 'churn', 'production'))?.version, 1);
    });
  });

  it('reuses stored step outputs on a second run, and stops with outcome rejected when the gate is not met', async function () {
    const config = testConfig();
    await withWorkers({ config, title: this.test!.title }, async (queues) => {
      const first = await stack().client.workflow.execute(trainingPipeline, {
        taskQueue: queues.pipeline,
        workflowId: uniqueName('first'),
        args: [pipelineInput(queues)],
      });
      assert.equal(first.outcome, 'deployed');

      const handle = await stack().client.workflow.start(trainingPipeline, {
        taskQueue: queues.pipeline,
        workflowId: uniqueName('second'),
        args: [pipelineInput(queues, { gate: { metric: 'auc', minImprovement: 0.05 } })],
      });
      const second = await handle.result();
      assert.equal(second.outcome, 'rejected');
      assert.equal(second.version, undefined);
      assert.equal(second.gate.championVersion, 1);
      assert.match(second.gate.reason, /same test split/);

      const status = await handle.query(pipelineStatusQuery);
      assert.equal(status.stage, 'rejected');
      const reused = Object.fromEntries(status.steps.map((s) => [s.stage, s.reused]));
      assert.deepEqual([reused.ingesting, reused.profiling, reused.preprocessing], [true, true, true]);
      assert.equal(
        (await readAlias(createArtifactStore(config), 'churn', 'production'))?.version,
        1,
        'the champion stays deployed',
      );
    });
  });

  it('trains a regression model and judges it on RMSE against the mean predictor', async function () {
    const config = testConfig();
    const result = await withWorkers({ config, title: this.test!.title }, (queues) =>
      stack().client.workflow.execute(trainingPipeline, {
        taskQueue: queues.pipeline,
        workflowId: uniqueName(this.test!.title),
        args: [
          pipelineInput(queues, {
            modelName: 'charges',
            target: 'monthly_charges',
            features: ['internet_service', 'contract', 'tenure_months', 'senior'],
            task: 'regression',
            trainer: { hyperparameters: { epochs: 40, learning_rate: 0.1 }, taskQueue: queues.training },
          }),
        ],
      }),
    );
    assert.equal(result.outcome, 'deployed');
    assert.equal(result.gate.metric, 'rmse');
    assert.ok(result.metrics.r2! > 0.7, `R² ${result.metrics.r2}: the internet service explains most of the charges`);
    assert.ok(result.metrics.rmse! < 15 && result.metrics.mae! < 12, JSON.stringify(result.metrics));
  });

  it('rejects invalid input with one non-retryable failure that lists every bad field', async function () {
    const config = testConfig();
    await withWorkers({ config, title: this.test!.title }, async (queues) => {
      const bad = {
        modelName: 'Churn Model',
        dataset: {},
        target: '',
        split: { testFraction: 2 },
        trainer: { kind: 'command', command: ['bash', '-c', 'env'] },
      };
      const failure = await assertWorkflowFailed(
        stack().client.workflow.execute(trainingPipeline, {
          taskQueue: queues.pipeline,
          workflowId: uniqueName('invalid'),
          args: [bad as unknown as TrainingPipelineInput],
        }),
        ApplicationFailure,
        'MLOPS_ERR_PIPELINE_INPUT_INVALID',
      );
      assert.equal(failure.nonRetryable, true);
      for (const field of ['modelName', 'dataset.uri', 'target', 'split.testFraction', 'trainer.kind', 'trainer']) {
        assert.match(
          failure.message,
          new RegExp(`- ${field.replace('.', '\\.')}:`),
          `the message should name ${field}`,
        );
      }
      assert.match(failure.message, /- trainer\.kind: a workflow input names a trainer, never a command line/);
      assert.match(failure.message, /- trainer: Unrecognized key\(s\) in object: 'command'/);
    });
  });

  it('fails with a catalogued error that names the missing target column and the step', async function () {
    const config = testConfig();
    await withWorkers({ config, title: this.test!.title }, async (queues) => {
      const handle = await stack().client.workflow.start(trainingPipeline, {
        taskQueue: queues.pipeline,
        workflowId: uniqueName('missing-target'),
        args: [pipelineInput(queues, { target: 'will_churn' })],
      });
      const failure = await assertWorkflowFailed(handle.result(), ApplicationFailure, 'MLOPS_ERR_DATA_COLUMN_MISSING');
      assert.match(failure.message, /step preprocessing/);
      assert.match(failure.message, /"will_churn" \(target\)/);
      assert.match(failure.message, /its columns are: "tenure_months", .*"churned"/, 'each existing column, quoted');
      assert.equal((await handle.query(pipelineStatusQuery)).stage, 'failed');
    });
  });
});
