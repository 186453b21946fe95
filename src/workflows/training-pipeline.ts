/**
 * trainingPipeline: data to a deployed model, one named activity per step, passing artifact URIs only.
 *
 *   validate input → ingest → profile → preprocess → train (training task queue) → evaluate + gate
 *     → register → deploy
 *
 * A challenger that fails the gate ends the run with outcome `rejected` (not a failure). The `getStatus` query and the
 * search attributes MlopsModelName, MlopsPipelineStage, MlopsDatasetSnapshot and MlopsModelVersion follow each step.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { PipelineActivities, TrainingActivities } from '../activities';
import type {
  PipelineStage,
  PipelineStatus,
  TrainingPipelineInput,
  TrainingPipelineResult,
  TrainingPipelineSpec,
} from '../contracts/pipeline';
import { trainingPipelineInputSchema } from '../contracts/pipeline';
import type { PreprocessResult } from '../contracts/datasets';
import type { SubmitVertexJobInput, TrainModelResult } from '../contracts/training';
import { searchAttributes } from '../contracts/search-attributes';
import { parseWorkflowInput } from '../contracts/validate';
import { getStatusQuery } from './definitions';

/** Data and registry steps: minutes at most; transient faults (network, busy disk) retried a few times. */
const dataStep = {
  startToCloseTimeout: '30 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 5 },
} as const;
/**
 * Training may run for hours; each retry resumes from the last checkpoint, so a few attempts are cheap. Cancellation
 * waits until the activity has stopped its trainer, so a cancelled run never leaves a trainer behind.
 */
const trainingStep = {
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  startToCloseTimeout: '24 hours',
  retry: { initialInterval: '5 seconds', maximumAttempts: 5 },
} as const;

/** Creating a Vertex AI job is one API call; retries find the job a lost response created. */
const vertexSubmit = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', maximumAttempts: 10 },
} as const;
/** A Vertex AI job may queue and run for days; cancelling the workflow waits until the job is cancelled. */
const vertexWait = {
  startToCloseTimeout: '7 days',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '10 seconds', maximumAttempts: 20 },
} as const;

const data = proxyActivities<PipelineActivities>(dataStep);
const submit = proxyActivities<PipelineActivities>(vertexSubmit);

export async function trainingPipeline(rawInput: TrainingPipelineInput): Promise<TrainingPipelineResult> {
  const claimedName = (rawInput as { modelName?: unknown } | undefined)?.modelName;
  const status: PipelineStatus = {
    modelName: typeof claimedName === 'string' ? claimedName : '',
    stage: 'validating',
    steps: [],
  };
  setHandler(getStatusQuery, () => status);
  const step = stepTracker(status);
  const spec = parseWorkflowInput(trainingPipelineInputSchema, rawInput, 'trainingPipeline');
  upsertSearchAttributes([{ key: searchAttributes.modelName, value: spec.modelName }]);
  try {
    const snapshot = await step(
      'ingesting',
      () => data.ingestDataset({ sourceUri: spec.dataset.uri, format: spec.dataset.format }),
      (s) => [`${s.rowCount} rows, ${s.columns.length} columns`, s.reused],
    );
    status.snapshotId = snapshot.snapshotId;
    upsertSearchAttributes([{ key: searchAttributes.datasetSnapshot, value: snapshot.snapshotId }]);
    const profile = await step(
      'profiling',
      () => data.profileDataset({ snapshotId: snapshot.snapshotId, dataUri: snapshot.dataUri, target: spec.target }),
      (p) => [`${p.columnCount} columns profiled`, p.reused],
    );
    const prepared = await step(
      'preprocessing',
      () =>
        data.preprocessDataset({
          ...snapshot,
          target: spec.target,
          features: spec.features,
          task: spec.task,
          split: spec.split,
        }),
      (p) => [
        `${p.rows.train}/${p.rows.validation}/${p.rows.test} rows, ${p.featureColumns.length} features`,
        p.reused,
      ],
    );
    const trained = await step(
      'training',
      () => train(spec, prepared),
      (t) => [t.resumedFromEpoch ? `resumed from epoch ${t.resumedFromEpoch}` : 'trained', false],
    );
    const evaluation = await step(
      'evaluating',
      () =>
        data.evaluateModel({
          modelName: spec.modelName,
          modelUri: trained.modelUri,
          testUri: prepared.testUri,
          transformUri: prepared.transformUri,
          featureColumns: prepared.featureColumns,
          labelColumn: prepared.labelColumn,
          task: spec.task,
          outputUri: trained.outputUri,
          gate: spec.gate,
          championAlias: spec.deployAlias,
        }),
      (e) => [e.gate.reason, false],
    );
    const artifacts = {
      profile: profile.profileUri,
      report: profile.reportUri,
      transform: prepared.transformUri,
      model: trained.modelUri,
      evaluation: evaluation.reportUri,
    };
    const result = {
      modelName: spec.modelName,
      snapshotId: snapshot.snapshotId,
      metrics: evaluation.metrics,
      gate: evaluation.gate,
      artifacts,
    };
    if (!evaluation.gate.passed) {
      enterStage(status, 'rejected');
      return { outcome: 'rejected', ...result };
    }
    const registered = await step(
      'registering',
      () =>
        data.registerModel({
          modelName: spec.modelName,
          modelUri: trained.modelUri,
          transformUri: prepared.transformUri,
          evaluationUri: evaluation.reportUri,
          snapshotId: snapshot.snapshotId,
          metrics: evaluation.metrics,
          registrationKey: `${workflowInfo().workflowId}/${workflowInfo().runId}`,
        }),
      (r) => [`version ${r.version}`, false],
    );
    status.modelVersion = registered.version;
    upsertSearchAttributes([{ key: searchAttributes.modelVersion, value: registered.version }]);
    await step(
      'deploying',
      () => data.deployModel({ modelName: spec.modelName, version: registered.version, alias: spec.deployAlias }),
      (d) => [`${d.alias} → v${d.version}${d.previousVersion ? ` (was v${d.previousVersion})` : ''}`, false],
    );
    enterStage(status, 'completed');
    return { outcome: 'deployed', version: registered.version, ...result };
  } catch (err) {
    status.error = err instanceof Error ? err.message : String(err);
    const failedAt = status.stage;
    enterStage(status, 'failed');
    throw describeFailure(err, spec.modelName, failedAt);
  }
}

function train(spec: TrainingPipelineSpec, prepared: PreprocessResult): Promise<TrainModelResult> {
  const { workflowId, runId } = workflowInfo();
  const common = {
    modelName: spec.modelName,
    runKey: `${workflowId}/${runId}`,
    task: spec.task,
    trainUri: prepared.trainUri,
    validationUri: prepared.validationUri,
    transformUri: prepared.transformUri,
    featureColumns: prepared.featureColumns,
    labelColumn: prepared.labelColumn,
    seed: spec.split.seed,
  };
  if (spec.trainer.backend === 'vertex') return trainOnVertex(spec, common);
  const training = proxyActivities<TrainingActivities>({
    ...trainingStep,
    taskQueue: spec.trainer.taskQueue,
    heartbeatTimeout: `${spec.trainer.heartbeatTimeoutSeconds} seconds`,
  });
  return training.trainModel({ ...common, trainer: spec.trainer });
}

/** Vertex AI: submit (idempotent) then wait; the wait heartbeats each poll, so its timeout follows the poll interval. */
async function trainOnVertex(
  spec: TrainingPipelineSpec,
  common: Omit<SubmitVertexJobInput, 'spec' | 'hyperparameters'>,
): Promise<TrainModelResult> {
  const { pollSeconds, ...jobSpec } = spec.trainer.vertex;
  const vertex = proxyActivities<PipelineActivities>({
    ...vertexWait,
    heartbeatTimeout: `${Math.ceil(2 * pollSeconds + 60)} seconds`,
  });
  const job = await submit.submitVertexTrainingJob({
    ...common,
    spec: jobSpec,
    hyperparameters: spec.trainer.hyperparameters,
  });
  return vertex.waitForVertexTrainingJob({ jobName: job.jobName, outputUri: job.outputUri, pollSeconds });
}

/** Runs one step: records it in the status and the stage search attribute, then its summary when it ends. */
function stepTracker(status: PipelineStatus) {
  return async <T>(
    stage: PipelineStage,
    run: () => Promise<T>,
    summarize: (result: T) => [string, boolean],
  ): Promise<T> => {
    enterStage(status, stage);
    const result = await run();
    const [summary, reused] = summarize(result);
    Object.assign(status.steps.at(-1)!, { endedAt: new Date().toISOString(), summary, reused });
    return result;
  };
}

function enterStage(status: PipelineStatus, stage: PipelineStage): void {
  status.stage = stage;
  status.steps.push({ stage, startedAt: new Date().toISOString() });
  upsertSearchAttributes([{ key: searchAttributes.stage, value: stage }]);
}

/** Names the model and the step in the failure, keeping the activity's error type so callers can branch on it. */
function describeFailure(err: unknown, modelName: string, stage: PipelineStage): unknown {
  if (!(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure)) return err;
  const cause = err.cause;
  return ApplicationFailure.create({
    type: cause.type ?? undefined,
    message: `trainingPipeline for model "${modelName}" failed at step ${stage}: ${cause.message}`,
    nonRetryable: true,
    details: cause.details ?? undefined,
    cause: err,
  });
}
