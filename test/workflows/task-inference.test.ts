import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { pipelineStatusQuery } from '../../src/workflows/definitions';
import { trainingPipeline } from '../../src/workflows';
import { stack, tempDir, testConfig, uniqueName } from '../support/stack';
import { withWorkers } from '../support/workers';
import { writeSyntheticDataset } from '../support/synthetic-datasets';

describe('trainingPipeline without a task', function () {
  it('infers regression for a numeric target with many distinct values, and shows it in the result and the status', async function () {
    const dataset = await writeSyntheticDataset(tempDir('task-inference'), 'regression-csv', 600);
    await withWorkers({ config: testConfig(), title: this.test!.title }, async (queues) => {
      const handle = await stack().client.workflow.start(trainingPipeline, {
        taskQueue: queues.pipeline,
        workflowId: uniqueName(this.test!.title),
        args: [
          {
            modelName: 'prices',
            dataset: { uri: dataset.file },
            target: dataset.target,
            trainer: { taskQueue: queues.training },
          },
        ],
      });
      const result = await handle.result();
      assert.equal(result.task, 'regression');
      assert.equal(result.gate.metric, 'rmse');
      assert.equal(result.outcome, 'deployed');
      assert.ok(result.metrics.r2! > 0.8, `R² ${result.metrics.r2}`);
      const status = await handle.query(pipelineStatusQuery);
      assert.equal(status.task, 'regression');
      assert.match(status.steps.find((s) => s.stage === 'preprocessing')!.summary!, /regression/);

      /** A run of "prices" on `uri` (target `target`): it must fail; its non-retryable catalogued failure. */
      const refusal = async (suffix: string, uri: string, target: string, code: string) => {
        const err = await stack()
          .client.workflow.execute(trainingPipeline, {
            taskQueue: queues.pipeline,
            workflowId: uniqueName(`${this.test!.title} ${suffix}`),
            args: [{ modelName: 'prices', dataset: { uri }, target, trainer: { taskQueue: queues.training } }],
          })
          .then(
            () => assert.fail('the workflow should fail'),
            (e: unknown) => e,
          );
        assert.ok(err instanceof WorkflowFailedError);
        assert.ok(err.cause instanceof ApplicationFailure, String(err.cause));
        assert.equal(err.cause.type, code);
        assert.equal(err.cause.nonRetryable, true);
        // Found once the task is settled, before anything is trained.
        assert.match(err.cause.message, /^trainingPipeline for model "prices" failed at step preprocessing: /);
        return err.cause.message;
      };

      // The same model name trained for classification cannot face its regression champion, nor replace it.
      const labels = await writeSyntheticDataset(tempDir('task-inference'), 'string-labels-parquet', 200);
      assert.match(
        await refusal('classification', labels.file, labels.target, 'MLOPS_ERR_EVALUATION_TASK_MISMATCH'),
        /"prices" v1, the champion \(alias production\), is a regression model; the model of this run is a classification model/,
      );

      // A regression model of another column under the same name: its rmse measures another quantity, so it is
      // neither compared with the champion nor deployed in its place.
      const [header, ...lines] = fs.readFileSync(dataset.file, 'utf8').split('\n');
      const renamed = path.join(tempDir('task-inference'), 'other-target.csv');
      const columns = header!.split(',').map((c) => (c === dataset.target ? 'price_eur' : c));
      fs.writeFileSync(renamed, [columns.join(','), ...lines].join('\n'));
      const otherTarget = await refusal('other target', renamed, 'price_eur', 'MLOPS_ERR_EVALUATION_TARGET_MISMATCH');
      assert.match(
        otherTarget,
        new RegExp(
          `"prices" v1, the champion \\(alias production\\), predicts "${dataset.target}"; the model of this run predicts "price_eur"`,
        ),
      );
      assert.ok(otherTarget.includes(`name the target as the champion does ("${dataset.target}")`), otherTarget);
      const champion = await stack().client.workflow.execute(trainingPipeline, {
        taskQueue: queues.pipeline,
        workflowId: uniqueName(`${this.test!.title} same target`),
        args: [
          {
            modelName: 'prices',
            dataset: { uri: dataset.file },
            target: dataset.target,
            trainer: { taskQueue: queues.training },
          },
        ],
      });
      assert.match(champion.gate.reason, /vs champion v1 /, 'the same target still faces its champion');
    });
  });

  it('infers classification for text labels and for a numeric code with few values', async function () {
    const dir = tempDir('task-inference');
    const [labels, codes] = [
      await writeSyntheticDataset(dir, 'string-labels-parquet', 300),
      await writeSyntheticDataset(dir, 'many-class-parquet', 300),
    ];
    await withWorkers({ config: testConfig(), title: this.test!.title }, async (queues) => {
      for (const dataset of [labels, codes]) {
        const result = await stack().client.workflow.execute(trainingPipeline, {
          taskQueue: queues.pipeline,
          workflowId: uniqueName(dataset.target),
          args: [
            {
              modelName: dataset.target,
              dataset: { uri: dataset.file },
              target: dataset.target,
              trainer: { taskQueue: queues.training },
            },
          ],
        });
        assert.equal(result.task, 'classification', dataset.file);
        assert.equal(result.gate.metric, 'accuracy', dataset.file);
      }
    });
  });

  it('refuses a classification target with more classes than the limit, saying to set task', async function () {
    const dataset = await writeSyntheticDataset(tempDir('task-inference'), 'regression-csv', 300);
    await withWorkers({ config: testConfig(), title: this.test!.title }, async (queues) => {
      const err = await stack()
        .client.workflow.execute(trainingPipeline, {
          taskQueue: queues.pipeline,
          workflowId: uniqueName(this.test!.title),
          args: [
            {
              modelName: 'prices',
              dataset: { uri: dataset.file },
              target: dataset.target,
              task: 'classification',
              trainer: { taskQueue: queues.training },
            },
          ],
        })
        .then(
          () => assert.fail('the workflow should fail'),
          (e: unknown) => e,
        );
      assert.ok(err instanceof WorkflowFailedError);
      assert.ok(err.cause instanceof ApplicationFailure);
      assert.equal(err.cause.type, 'MLOPS_ERR_DATA_TOO_MANY_CLASSES');
      assert.equal(err.cause.nonRetryable, true);
      assert.match(err.cause.message, /"price".*more than the 100 classes/);
      assert.match(err.cause.message, /task to "regression"/);
    });
  });

  it('fails with the bad field named when gate.metric does not fit the inferred task', async function () {
    const dataset = await writeSyntheticDataset(tempDir('task-inference'), 'string-labels-parquet', 200);
    await withWorkers({ config: testConfig(), title: this.test!.title }, async (queues) => {
      const err = await stack()
        .client.workflow.execute(trainingPipeline, {
          taskQueue: queues.pipeline,
          workflowId: uniqueName(this.test!.title),
          args: [
            {
              modelName: 'species',
              dataset: { uri: dataset.file },
              target: dataset.target,
              gate: { metric: 'rmse' },
              trainer: { taskQueue: queues.training },
            },
          ],
        })
        .then(
          () => assert.fail('the workflow should fail'),
          (e: unknown) => e,
        );
      assert.ok(err instanceof WorkflowFailedError);
      assert.ok(err.cause instanceof ApplicationFailure);
      assert.equal(err.cause.type, 'MLOPS_ERR_PIPELINE_INPUT_INVALID');
      assert.match(err.cause.message, /- gate\.metric: "rmse" is not a classification metric/);
      // Found once preprocessing settled the task, before any training was spent on it.
      assert.match(err.cause.message, /failed at step preprocessing: /);
    });
  });
});
