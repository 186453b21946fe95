/**
 * trainingPipeline: data to a deployed model, one named activity per step, passing artifact URIs only.
 *
 *   validate input → ingest → profile ∥ preprocess → train (training task queue) → evaluate + gate
 *     → register → deploy (unless `deploy: false`: then the run ends `registered`)
 *
 * A run started by a model controller (`reportTo`) signals it `retrainFinished` when it ends, whatever the outcome:
 * the controller may have continued as new since it started the run, and a signal by workflow id reaches its
 * current run.
 *
 * A challenger that fails the gate ends the run with outcome `rejected` (not a failure). The `pipelineStatus` query
 * and the search attributes MlopsModelName, MlopsPipelineStage, MlopsDatasetSnapshot and MlopsModelVersion follow each
 * step; a run that fails (even at validation, when its input names a model) or is cancelled says so in both.
 */
import {
  CancellationScope,
  CancelledFailure,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { PipelineActivities } from '../activities';
import type {
  PipelineStage,
  PipelineStatus,
  TrainingPipelineInput,
  TrainingPipelineResult,
} from '../contracts/pipeline';
import { settledTask, trainingPipelineInputSchema } from '../contracts/pipeline';
import type { TrainingPipelineSpec } from '../contracts/pipeline';
import { searchAttributes } from '../contracts/search-attributes';
import { parseWorkflowInput } from '../contracts/validate';
import type { RetrainOutcome } from '../contracts/controller';
import { pipelineStatusQuery, retrainFinishedSignal } from './definitions';
import {
  describeFailure,
  enterStage,
  errorMessage,
  initialStatus,
  invalidInputAttributes,
  recordStage,
  stepTracker,
} from './pipeline-status';
import type { PipelineOutputs } from './step-inputs';
import {
  checkChampionInput,
  deployInput,
  evaluateInput,
  ingestInput,
  pipelineResult,
  preprocessInput,
  profileInput,
  registerInput,
  runKeyOf,
  trainerJob,
} from './step-inputs';
import { trainOnBackend } from './training-backend';

/**
 * Data and registry steps: minutes at most; transient faults (network, busy disk) retried a few times. They heartbeat
 * from a timer, so an attempt whose worker died is retried after `stepHeartbeatTimeoutSeconds` (1 minute by default),
 * not after the 30 minutes.
 */
const dataStep = {
  startToCloseTimeout: '30 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 5 },
} as const;
const dataSteps = (spec: TrainingPipelineSpec) =>
  proxyActivities<PipelineActivities>({ ...dataStep, heartbeatTimeout: spec.stepHeartbeatTimeoutSeconds * 1000 });

/**
 * Versioned changes (`patched`): histories recorded before each change take the old path when they replay.
 *
 * - profile-beside-preprocess: profiling and preprocessing both read only the snapshot, so they run side by side (on
 *   DuckDB the worker's cores are shared between them; on BigQuery both wait on query jobs at once). Before, they ran
 *   one after the other. If one fails, the other still finishes and stores its result, which the next run reuses.
 * - searchable-invalid-input: a run whose input fails validation sets MlopsPipelineStage `failed` and the model name
 *   its input claims, so it can be found. Before, it set no search attribute.
 * - cancelled-stage: a cancelled run ends in stage `cancelled`. Before, it ended in stage `failed`.
 * - cancelled-despite-step-failure: a run asked to cancel whose step then failed instead of stopping (its worker was
 *   gone, so the step timed out rather than acknowledge the cancellation) ends cancelled too. Before, it failed.
 * - check-champion-before-training: once the task is settled, the run's task and target are checked against the
 *   champion's (a run for the wrong model name fails in seconds, at preprocessing). Before, only evaluation checked,
 *   after the training.
 */
const profileBesidePreprocess = 'profile-beside-preprocess';
const searchableInvalidInput = 'searchable-invalid-input';
const cancelledStage = 'cancelled-stage';
const cancelledDespiteStepFailure = 'cancelled-despite-step-failure';
const checkChampionBeforeTraining = 'check-champion-before-training';

export async function trainingPipeline(rawInput: TrainingPipelineInput): Promise<TrainingPipelineResult> {
  const status = initialStatus(rawInput);
  setHandler(pipelineStatusQuery, () => status);
  const spec = validateInput(rawInput, status);
  try {
    const result = await runPipeline(spec, status);
    await reportOutcome(spec, outcomeOf(result));
    return result;
  } catch (err) {
    await reportOutcome(spec, { workflowId: workflowInfo().workflowId, outcome: 'failed', reason: status.error ?? '' });
    throw err;
  }
}

async function runPipeline(spec: TrainingPipelineSpec, status: PipelineStatus): Promise<TrainingPipelineResult> {
  const { step, failedStage } = stepTracker(status);
  const runKey = runKeyOf(workflowInfo());
  const data = dataSteps(spec);
  upsertSearchAttributes([{ key: searchAttributes.modelName, value: spec.modelName }]);
  try {
    const snapshot = await step('ingesting', () => data.ingestDataset(ingestInput(spec)));
    status.snapshotId = snapshot.snapshotId;
    upsertSearchAttributes([{ key: searchAttributes.datasetSnapshot, value: snapshot.snapshotId }]);
    const profiling = () => step('profiling', () => data.profileDataset(profileInput(spec, snapshot)));
    const preprocessing = () =>
      step('preprocessing', async () => {
        const prepared = await data.preprocessDataset(preprocessInput(spec, snapshot));
        if (patched(checkChampionBeforeTraining)) await data.checkChampion(checkChampionInput(spec, prepared));
        return prepared;
      });
    const [profile, prepared] = patched(profileBesidePreprocess)
      ? await Promise.all([profiling(), preprocessing()])
      : [await profiling(), await preprocessing()];
    status.task = settledTask(prepared, spec);
    const trained = await step('training', () => trainOnBackend(spec, trainerJob(spec, prepared, runKey)));
    const evaluation = await step('evaluating', () => data.evaluateModel(evaluateInput(spec, prepared, trained)));
    const outputs: PipelineOutputs = { snapshot, profile, prepared, trained, evaluation };
    if (!evaluation.gate.passed) {
      enterStage(status, 'rejected');
      return { outcome: 'rejected', ...pipelineResult(spec, outputs) };
    }
    const registered = await step('registering', () => data.registerModel(registerInput(spec, outputs, runKey)));
    status.modelVersion = registered.version;
    upsertSearchAttributes([{ key: searchAttributes.modelVersion, value: registered.version }]);
    if (!spec.deploy) {
      enterStage(status, 'registered');
      return { outcome: 'registered', version: registered.version, ...pipelineResult(spec, outputs) };
    }
    await step('deploying', () => data.deployModel(deployInput(spec, registered)));
    enterStage(status, 'completed');
    return { outcome: 'deployed', version: registered.version, ...pipelineResult(spec, outputs) };
  } catch (err) {
    const failure = describeFailure(err, spec.modelName, failedStage() ?? status.stage);
    status.error = errorMessage(failure);
    if (!isCancellation(err) && cancelRequested() && patched(cancelledDespiteStepFailure)) {
      // A step whose worker died cannot acknowledge the cancellation; it times out instead. The run was still asked
      // to stop, and stopped: it ends cancelled, saying how its step ended.
      enterStage(status, 'cancelled');
      throw new CancelledFailure(`cancelled while ${failedStage() ?? status.stage}: ${status.error}`);
    }
    enterStage(status, endStage(err));
    throw failure;
  }
}

/** Whether this run was asked to cancel (its root scope is, whatever the error that ended the step). */
function cancelRequested(): boolean {
  return CancellationScope.current().consideredCancelled;
}

function outcomeOf(result: TrainingPipelineResult): RetrainOutcome {
  return {
    workflowId: workflowInfo().workflowId,
    outcome: result.outcome === 'rejected' ? 'rejected' : 'registered',
    version: result.version,
    reason: result.gate.reason,
  };
}

/** Signals the controller that started this run; a controller that is gone is not a failure of the run. */
async function reportOutcome(spec: TrainingPipelineSpec, outcome: RetrainOutcome): Promise<void> {
  if (!spec.reportTo) return;
  try {
    // Not cancellable: a cancelled run still tells its controller that it ended.
    const controller = getExternalWorkflowHandle(spec.reportTo);
    await CancellationScope.nonCancellable(() => controller.signal(retrainFinishedSignal, outcome));
  } catch {
    // The controller was terminated or never existed: the outcome stays in this run's result.
  }
}

/** The validated input; invalid input fails the run with every bad field listed, in stage `failed`. */
function validateInput(rawInput: TrainingPipelineInput, status: PipelineStatus): TrainingPipelineSpec {
  try {
    return parseWorkflowInput(trainingPipelineInputSchema, rawInput, 'trainingPipeline');
  } catch (err) {
    status.error = errorMessage(err);
    recordStage(status, 'failed');
    if (patched(searchableInvalidInput)) upsertSearchAttributes(invalidInputAttributes(status.modelName));
    throw err;
  }
}

/** `cancelled` when the run was cancelled, else `failed`. */
function endStage(err: unknown): PipelineStage {
  return isCancellation(err) && patched(cancelledStage) ? 'cancelled' : 'failed';
}
