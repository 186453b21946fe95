import fs from 'node:fs';
import path from 'node:path';
import { createPipelineActivities, createTrainingQueueActivities } from '../../src/activities';
import type { ArtifactStore } from '../../src/artifacts';
import type { PreprocessInput, PreprocessResult } from '../../src/contracts/datasets';
import type { TrainerJob, TrainModelInput } from '../../src/contracts/training';
import { mockEnv, runActivity } from './activity-env';
import { exampleDataset, tempDir } from './stack';
import { testDeps } from './dependencies';

/** Ingests and preprocesses the bundled churn data with the real activities (optionally with a preprocessing spec). */
export async function prepareChurn(
  store: ArtifactStore,
  preprocessing?: PreprocessInput['preprocessing'],
): Promise<PreprocessResult & { snapshotId: string }> {
  const activities = createPipelineActivities(testDeps({ store }));
  const snapshot = await activities.ingestDataset({ sourceUri: exampleDataset });
  const prepared = await activities.preprocessDataset({
    ...snapshot,
    target: 'churned',
    task: 'classification',
    split: { testFraction: 0.2, validationFraction: 0.1, seed: 42 },
    preprocessing,
  });
  return { ...prepared, snapshotId: snapshot.snapshotId };
}

/**
 * Ingests a CSV of `header` and `rows` (a file `name` in a fresh folder) with the real activity; its snapshot, and the
 * classification input of its column "y" (a 60/20/20 split, seed 1).
 */
export async function ingestedCsv(store: ArtifactStore, name: string, header: string, rows: readonly string[]) {
  const csv = path.join(tempDir('ingested-csv'), name);
  fs.writeFileSync(csv, `${header}\n${rows.join('\n')}\n`);
  const snapshot = await createPipelineActivities(testDeps({ store })).ingestDataset({ sourceUri: csv });
  const input: PreprocessInput = {
    ...snapshot,
    target: 'y',
    task: 'classification',
    split: { testFraction: 0.2, validationFraction: 0.2, seed: 1 },
  };
  return { snapshot, input };
}

/** The backend-independent part of a training job on the prepared churn splits. */
export function trainerJob(prepared: PreprocessResult, runKey: string): TrainerJob {
  return {
    modelName: 'churn',
    runKey,
    task: 'classification',
    trainUri: prepared.trainUri,
    validationUri: prepared.validationUri,
    transformUri: prepared.transformUri,
    featureColumns: prepared.featureColumns,
    labelColumn: prepared.labelColumn,
    seed: 42,
  };
}

export function trainInput(
  prepared: PreprocessResult,
  trainer: Omit<Partial<TrainModelInput['trainer']>, 'vertex' | 'backend'>,
  runKey: string,
): TrainModelInput {
  return {
    ...trainerJob(prepared, runKey),
    trainer: {
      kind: 'builtin-linear',
      backend: 'local',
      vertex: { pollSeconds: 30 },
      hyperparameters: {},
      heartbeatTimeoutSeconds: 60,
      taskQueue: 'unused',
      ...trainer,
    },
  };
}

/**
 * A churn model trained on the prepared splits (builtin-linear, `epochs` epochs) and evaluated with the real
 * activities (gate always passed); returns a function that registers it under a model name, as many times as asked.
 */
export async function trainedChurn(
  store: ArtifactStore,
  prepared: PreprocessResult & { snapshotId: string },
  runKey: string,
  epochs: number,
) {
  const deps = testDeps({ store });
  const activities = createPipelineActivities(deps);
  const training = createTrainingQueueActivities(deps);
  const trained = await runActivity(
    mockEnv(),
    training.trainModel,
    trainInput(prepared, { hyperparameters: { epochs } }, runKey),
  );
  const evaluation = await activities.evaluateModel({
    modelName: 'churn',
    modelUri: trained.modelUri,
    testUri: prepared.testUri,
    transformUri: prepared.transformUri,
    featureColumns: prepared.featureColumns,
    labelColumn: prepared.labelColumn,
    task: 'classification',
    outputUri: trained.outputUri,
    gate: { minImprovement: -1 },
    championAlias: 'production',
  });
  const register = async (modelName: string, registrationKey: string, snapshotId = prepared.snapshotId) =>
    (
      await activities.registerModel({
        modelName,
        modelUri: trained.modelUri,
        transformUri: prepared.transformUri,
        evaluationUri: evaluation.reportUri,
        snapshotId,
        metrics: evaluation.metrics,
        registrationKey,
      })
    ).version;
  return register;
}
