/**
 * Workflow tests over fake activities (STYLE 28): the workflow runs on the real test server, in a Worker whose
 * activities are plain async functions the test writes, so each branch is reached in a second without data or
 * trainers. The end-to-end tests beside them run the real activities.
 */
import { Worker } from '@temporalio/worker';
import type { PipelineActivities, TrainingActivities } from '../../src/activities';
import { stack, uniqueName } from './stack';

/** Every activity a trainingPipeline run may call, on either task queue. */
export type AllActivities = PipelineActivities & TrainingActivities;

/**
 * Runs a Worker with the bundled workflows and `activities` (fakes) on a fresh task queue until `fn` settles.
 * The queue serves the workflow and every activity, so a pipeline input's `trainer.taskQueue` should name it too.
 */
export async function withFakeActivities<T>(
  title: string,
  activities: Partial<AllActivities>,
  fn: (taskQueue: string) => Promise<T>,
): Promise<T> {
  const { connection, server, workflowBundle } = stack();
  const taskQueue = uniqueName(title);
  const worker = await Worker.create({
    connection,
    namespace: server.namespace,
    taskQueue,
    workflowBundle,
    activities,
  });
  return worker.runUntil(() => fn(taskQueue));
}

/** Fakes of every pipeline step that succeed at once (the challenger passes the gate), and the calls they got. */
export interface PipelineFakes {
  activities: Partial<AllActivities>;
  /** Activity names in the order they were called. */
  calls: string[];
  /** The input each activity got last. */
  inputs: Partial<Record<keyof AllActivities, unknown>>;
}

export function pipelineFakes(overrides: Partial<AllActivities> = {}): PipelineFakes {
  const run = 'file:///fake/runs/m/run';
  const happyPath: Partial<AllActivities> = {
    ingestDataset: () =>
      Promise.resolve({
        snapshotId: 'ds-00000000000000aa',
        dataUri: 'file:///fake/datasets/ds-00000000000000aa/data.parquet',
        manifestUri: 'file:///fake/datasets/ds-00000000000000aa/manifest.json',
        rowCount: 120,
        columns: [
          { name: 'tenure', type: 'BIGINT' },
          { name: 'churned', type: 'VARCHAR' },
        ],
        reused: false,
      }),
    profileDataset: () =>
      Promise.resolve({
        profileUri: 'file:///fake/profile.json',
        reportUri: 'file:///fake/report.html',
        columnCount: 2,
        reused: false,
      }),
    preprocessDataset: () =>
      Promise.resolve({
        specHash: 'fake',
        trainUri: 'file:///fake/train.parquet',
        validationUri: 'file:///fake/validation.parquet',
        testUri: 'file:///fake/test.parquet',
        transformUri: 'file:///fake/transform.json',
        featureColumns: ['tenure'],
        labelColumn: 'churned',
        classes: ['no', 'yes'],
        rows: { train: 84, validation: 12, test: 24 },
        droppedRows: { missingTarget: 0, duplicates: 0 },
        reused: false,
      }),
    checkChampion: () => Promise.resolve({ championVersion: 2 }),
    trainModel: () =>
      Promise.resolve({
        modelUri: `${run}/model.onnx`,
        metricsUri: `${run}/metrics.json`,
        outputUri: run,
        metrics: {},
      }),
    evaluateModel: () =>
      Promise.resolve({
        metrics: { auc: 0.8 },
        baseline: { auc: 0.5 },
        reportUri: `${run}/evaluation.json`,
        gate: { passed: true, metric: 'auc', challenger: 0.8, reason: 'no champion yet' },
      }),
    registerModel: (input) =>
      Promise.resolve({
        modelName: input.modelName,
        version: 3,
        versionUri: 'file:///fake/registry/v3',
        modelUri: input.modelUri,
      }),
    deployModel: (input) => Promise.resolve({ alias: input.alias, version: input.version, previousVersion: 2 }),
  };
  const calls: string[] = [];
  const inputs: PipelineFakes['inputs'] = {};
  const merged: Record<string, unknown> = { ...happyPath, ...overrides };
  const activities = Object.fromEntries(
    Object.entries(merged).map(([name, fake]) => [
      name,
      (input: unknown) => {
        calls.push(name);
        inputs[name as keyof AllActivities] = input;
        return (fake as (input: unknown) => Promise<unknown>)(input);
      },
    ]),
  ) as Partial<AllActivities>;
  return { activities, calls, inputs };
}
