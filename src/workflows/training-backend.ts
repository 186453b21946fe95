/**
 * The training step of trainingPipeline, on the backend its input names: a trainer process on the training task
 * queue (`local`), or a Vertex AI CustomJob submitted and then awaited (`vertex`).
 */
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { PipelineActivities, TrainingActivities } from '../activities';
import type { TrainingPipelineSpec } from '../contracts/pipeline';
import type { TrainerJob, TrainModelResult } from '../contracts/training';

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

/** Trains `job` on the backend `spec.trainer` names. */
export function trainOnBackend(spec: TrainingPipelineSpec, job: TrainerJob): Promise<TrainModelResult> {
  if (spec.trainer.backend === 'vertex') return trainOnVertex(spec, job);
  const training = proxyActivities<TrainingActivities>({
    ...trainingStep,
    taskQueue: spec.trainer.taskQueue,
    heartbeatTimeout: `${spec.trainer.heartbeatTimeoutSeconds} seconds`,
  });
  return training.trainModel({ ...job, trainer: spec.trainer });
}

/** Vertex AI: submit (idempotent) then wait; the wait heartbeats each poll, so its timeout follows the poll interval. */
async function trainOnVertex(spec: TrainingPipelineSpec, job: TrainerJob): Promise<TrainModelResult> {
  const { pollSeconds, ...jobSpec } = spec.trainer.vertex;
  const vertex = proxyActivities<PipelineActivities>({
    ...vertexWait,
    heartbeatTimeout: `${Math.ceil(2 * pollSeconds + 60)} seconds`,
  });
  const submitted = await submit.submitVertexTrainingJob({
    ...job,
    spec: jobSpec,
    hyperparameters: spec.trainer.hyperparameters,
  });
  return vertex.waitForVertexTrainingJob({
    jobName: submitted.jobName,
    outputUri: submitted.outputUri,
    pollSeconds,
  });
}
