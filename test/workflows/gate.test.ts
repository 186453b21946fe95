import assert from 'node:assert/strict';
import type { ArtifactStore } from '../../src/artifacts';
import { createArtifactStore, readJson } from '../../src/artifacts';
import type { FittedTransform, SnapshotManifest } from '../../src/contracts/datasets';
import type { TrainingPipelineInput } from '../../src/contracts/pipeline';
import { rocAuc } from '../../src/evaluation/metrics';
import { predictionDistance } from '../../src/evaluation/prediction-change';
import { loadOnnxModel } from '../../src/models/onnx-model';
import { resolveAlias } from '../../src/registry/model-registry';
import { transformInstance } from '../../src/models/transform-instance';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { rowNumberedParquet } from '../../src/warehouse/warehouse';
import { trainingPipeline } from '../../src/workflows';
import { churnPipelineInput } from '../support/pipeline-input';
import type { Queues } from '../support/workers';
import { withWorkers } from '../support/workers';
import { stack, testConfig, uniqueName } from '../support/stack';

interface EvaluationReport {
  rows: number;
  champion: { version: number; metrics: Record<string, number>; recordedMetrics: Record<string, number> };
  gate: { champion: number };
  predictionChange?: { against: number; distance: number; rows: number };
}

function input(queues: Queues, seed: number): TrainingPipelineInput {
  return churnPipelineInput({
    split: { seed },
    trainer: { hyperparameters: { epochs: 8 }, taskQueue: queues.training },
  });
}

/**
 * A model's class probabilities on the challenger's test rows, computed another way than the evaluation does: raw rows
 * through the model server's transform (src/serving/apply-transform.ts) instead of the preprocessing SQL; with the
 * rows' labels (class indices of the challenger's transform).
 */
async function scoreRows(
  store: ArtifactStore,
  model: { modelUri: string; transformUri: string },
  testUri: string,
  snapshotId: string,
): Promise<{ probabilities: Float32Array; labels: number[] }> {
  const transform = await readJson<FittedTransform>(store, model.transformUri);
  const manifest = await readJson<SnapshotManifest>(store, store.uri('datasets', snapshotId, 'manifest.json'));
  const rows = await withDuckDb((db) =>
    db.query(
      `SELECT s.*, t.__label FROM ${rowNumberedParquet(store.localPath(manifest.dataUri)!)} AS s
       JOIN read_parquet(${literal(store.localPath(testUri)!)}) AS t ON s.__row = t.__source_row ORDER BY s.__row`,
    ),
  );
  const width = transform.outputColumns.length;
  const features = new Float32Array(rows.length * width);
  rows.forEach((row, i) => assert.deepEqual(transformInstance(transform, row, features, i * width), []));
  const onnx = await loadOnnxModel(await store.read(model.modelUri), model.modelUri, width);
  const probabilities = await onnx.run(features, rows.length);
  await onnx.close();
  return { probabilities, labels: rows.map((row) => Number(row.__label)) };
}

/** The champion's AUC on the challenger's test rows, through the server's transform. */
async function championAucOnRows(store: ArtifactStore, testUri: string, snapshotId: string): Promise<number> {
  const champion = await resolveAlias(store, 'churn', 'production');
  const { probabilities, labels } = await scoreRows(store, champion, testUri, snapshotId);
  // Class 1 ("yes") is the positive class; labels are class indices of the challenger's transform, the same classes.
  return rocAuc(
    labels.map((_, i) => probabilities[i * 2 + 1]!),
    labels,
  );
}

/** The predicted class of each row (the likelier of the two), as the server's label would be. */
const predictedClasses = ({ probabilities, labels }: { probabilities: Float32Array; labels: number[] }) =>
  labels.map((_, i) => (probabilities[i * 2 + 1]! > probabilities[i * 2]! ? 'yes' : 'no'));

describe('the evaluation gate', function () {
  it('re-scores the champion on the challenger test rows through its own transform, and never deploys a tie', async function () {
    const config = testConfig();
    const store = createArtifactStore(config);
    await withWorkers({ config: config, title: this.test!.title }, async (queues) => {
      const run = (seed: number, name: string) =>
        stack().client.workflow.execute(trainingPipeline, {
          taskQueue: queues.pipeline,
          workflowId: uniqueName(name),
          args: [input(queues, seed)],
        });
      const first = await run(42, 'champion');
      assert.equal(first.outcome, 'deployed');

      const rerun = await run(42, 'identical-rerun');
      assert.equal(rerun.outcome, 'rejected', rerun.gate.reason);
      assert.equal(rerun.gate.champion, rerun.gate.challenger, 'an identical rerun scores the same');
      assert.match(rerun.gate.reason, /improvement 0\.0000 <= required 0/);
      // The same model answers the same rows alike: its canary would be expected to predict as the champion does.
      const rerunReport = await readJson<EvaluationReport>(store, rerun.artifacts.evaluation);
      assert.deepEqual(rerunReport.predictionChange, { against: 1, distance: 0, rows: rerunReport.rows });

      const otherSplit = await run(7, 'other-split');
      assert.match(otherSplit.gate.reason, /re-scored on the same test split/);
      const report = await readJson<EvaluationReport>(store, otherSplit.artifacts.evaluation);
      assert.equal(report.champion.version, 1);
      assert.equal(report.gate.champion, report.champion.metrics.auc);
      assert.notEqual(report.champion.metrics.auc, report.champion.recordedMetrics.auc, 'another split, other rows');
      assert.equal(report.champion.recordedMetrics.auc, first.metrics.auc);
      const prepared = otherSplit.artifacts.transform.replace(/transform\.json$/, 'test.parquet');
      const expected = await championAucOnRows(store, prepared, otherSplit.snapshotId);
      assert.ok(
        Math.abs(report.champion.metrics.auc! - expected) < 1e-6,
        `champion AUC ${report.champion.metrics.auc} on the challenger's rows; through the server's transform ${expected}`,
      );
      // How differently the challenger labels those rows than the champion: what its canary is allowed beside v1.
      const champion = await resolveAlias(store, 'churn', 'production');
      const challenger = { modelUri: otherSplit.artifacts.model, transformUri: otherSplit.artifacts.transform };
      const change = predictionDistance(
        predictedClasses(await scoreRows(store, champion, prepared, otherSplit.snapshotId)),
        predictedClasses(await scoreRows(store, challenger, prepared, otherSplit.snapshotId)),
      );
      assert.equal(report.predictionChange?.against, 1);
      assert.equal(report.predictionChange?.rows, report.rows);
      assert.ok(change! > 0, 'another split trains another model');
      assert.ok(
        Math.abs(report.predictionChange.distance - change!) < 1e-9,
        `${report.predictionChange?.distance} against ${change} through the server's transform`,
      );
    });
  });
});
