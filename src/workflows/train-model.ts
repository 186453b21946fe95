/**
 * The training step of trainingPipeline, on the backend its input names: a trainer process on the training task
 * queue (`local`), or a Vertex AI CustomJob submitted and then awaited (`vertex`).
 */
import { ActivityCancellationType, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { PipelineActivities, TrainingActivities } from '../activities';
import type { PreprocessResult } from '../contracts/datasets';
import type { TrainingPipelineSpec } from '../contracts/pipeline';
import { settledTask } from '../contracts/pipeline';
import type { SubmitVertexJobInput, TrainModelResult } from '../contracts/training';

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

const submit = proxyActivities<PipelineActivities>(vertexSubmit);

export function train(spec: TrainingPipelineSpec, prepared: PreprocessResult): Promise<TrainModelResult> {
  const { workflowId, runId } = workflowInfo();
  const common = {
    modelName: spec.modelName,
    runKey: `${workflowId}/${runId}`,
    task: settledTask(prepared, spec),
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
