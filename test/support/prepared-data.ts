import { createPipelineActivities } from '../../src/activities';
import type { ArtifactStore } from '../../src/artifacts';
import type { PreprocessInput, PreprocessResult } from '../../src/contracts/datasets';
import type { TrainerJob, TrainModelInput } from '../../src/contracts/training';
import { exampleDataset } from './stack';
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
