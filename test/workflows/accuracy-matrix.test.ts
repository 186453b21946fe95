/**
 * The accuracy matrix (docs/accuracy.md): the whole pipeline, with real workers, on dataset shapes generated here,
 * with both built-in trainers and `task` left out (inferred). Each result is checked against scikit-learn's linear
 * model fitted independently on the same preprocessed train split and scored on the same test split.
 */
import assert from 'node:assert/strict';
import type { FittedTransform } from '../../src/contracts/datasets';
import { createArtifactStore, readJson } from '../../src/artifacts';
import { trainingPipeline } from '../../src/workflows';
import { trainerCommand } from '../../src/trainers/trainer-commands';
import { sklearnReference } from '../support/reference-fit';
import type { ShapeName } from '../support/synthetic-datasets';
import { writeSyntheticDataset } from '../support/synthetic-datasets';
import { stack, tempDir, testConfig, uniqueName } from '../support/stack';
import { withWorkers } from '../support/workers';

type TrainerKind = 'builtin-linear' | 'torch-tabular';

interface MatrixCase {
  shape: ShapeName;
  rows: number;
  /** Metric units the trainer may fall short of the reference: absolute for auc/accuracy, relative for rmse. */
  margin: number;
}

/** The torch trainer is slower on CPU; its datasets are smaller. */
const matrix: Record<TrainerKind, MatrixCase[]> = {
  'builtin-linear': [
    { shape: 'binary-jsonl', rows: 1500, margin: 0.02 },
    { shape: 'many-class-parquet', rows: 1500, margin: 0.03 },
    { shape: 'regression-csv', rows: 1500, margin: 0.03 },
    { shape: 'string-labels-parquet', rows: 1000, margin: 0.03 },
  ],
  'torch-tabular': [
    { shape: 'binary-jsonl', rows: 600, margin: 0.04 },
    { shape: 'many-class-parquet', rows: 600, margin: 0.06 },
    { shape: 'regression-csv', rows: 600, margin: 0.1 },
  ],
};

function withinMargin(metric: string, value: number, reference: number, margin: number): boolean {
  return metric === 'rmse' ? value <= reference * (1 + margin) : value >= reference - margin;
}

for (const [kind, cases] of Object.entries(matrix) as [TrainerKind, MatrixCase[]][]) {
  describe(`the accuracy matrix with the ${kind} trainer`, function () {
    it('lands within the stated margin of scikit-learn on the same split, for every dataset shape', async function () {
      this.timeout(600_000);
      const config = testConfig();
      const store = createArtifactStore(config);
      const python = trainerCommand(config, 'torch-tabular')[0]!;
      const dir = tempDir('matrix');
      const lines: string[] = [];
      let failures = 0;
      let sklearnVersion = '';
      await withWorkers({ config: config, title: this.test!.title }, async (queues) => {
        for (const c of cases) {
          const dataset = await writeSyntheticDataset(dir, c.shape, c.rows);
          const result = await stack().client.workflow.execute(trainingPipeline, {
            taskQueue: queues.pipeline,
            workflowId: uniqueName(`${kind}-${c.shape}`),
            args: [
              {
                modelName: c.shape,
                dataset: { uri: dataset.file },
                target: dataset.target,
                trainer: { kind, taskQueue: queues.training },
              },
            ],
          });
          assert.equal(result.task, dataset.task, `${c.shape}: inferred task`);
          const transform = await readJson<FittedTransform>(store, result.artifacts.transform);
          const split = (name: string) =>
            store.localPath(result.artifacts.transform.replace(/transform\.json$/, `${name}.parquet`))!;
          const reference = sklearnReference(
            python,
            { train: split('train'), test: split('test') },
            dataset.task,
            transform.outputColumns,
            transform.labelColumn,
          );
          sklearnVersion = reference.sklearn;
          assert.equal(result.gate.metric, reference.metric, `${c.shape}: compared metric`);
          const value = result.metrics[reference.metric]!;
          const ok = withinMargin(reference.metric, value, reference.value, c.margin);
          if (!ok) failures++;
          lines.push(
            `| ${kind} | ${c.shape} | ${c.rows} | ${reference.metric} | ${value.toFixed(4)} | ${reference.value.toFixed(4)} | ${c.margin} | ${result.outcome} | ${ok ? 'ok' : 'OUTSIDE'} |`,
          );
        }
      });
      // The table docs/accuracy.md records, printed so a run can refresh it.
      console.log(`      reference: scikit-learn ${sklearnVersion}\n${lines.map((l) => `      ${l}`).join('\n')}`);
      assert.equal(failures, 0, lines.join('\n'));
    });
  });
}
