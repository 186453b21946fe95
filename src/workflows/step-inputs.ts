/**
 * The input of each trainingPipeline step, built from the validated spec and the results of the steps before it.
 * Plain functions: no workflow API, so the workflow reads as the order of its steps.
 */
import type {
  DatasetSnapshot,
  IngestDatasetInput,
  PreprocessInput,
  PreprocessResult,
  ProfileDatasetInput,
  ProfileDatasetResult,
} from '../contracts/datasets';
import type { TrainingPipelineResult, TrainingPipelineSpec } from '../contracts/pipeline';
import { settledTask } from '../contracts/pipeline';
import type {
  CheckChampionInput,
  DeployModelInput,
  EvaluateModelInput,
  EvaluateModelResult,
  RegisteredModel,
  RegisterModelInput,
  TrainerJob,
  TrainModelResult,
} from '../contracts/training';

/** Names the run's output folder, its Vertex AI job and its registration, so a retried step finds its own work. */
export function runKeyOf(info: { workflowId: string; runId: string }): string {
  return `${info.workflowId}/${info.runId}`;
}

export function ingestInput(spec: TrainingPipelineSpec): IngestDatasetInput {
  return { sourceUri: spec.dataset.uri, format: spec.dataset.format };
}

export function profileInput(spec: TrainingPipelineSpec, snapshot: DatasetSnapshot): ProfileDatasetInput {
  return { snapshotId: snapshot.snapshotId, dataUri: snapshot.dataUri, target: spec.target, warehouse: spec.warehouse };
}

export function preprocessInput(spec: TrainingPipelineSpec, snapshot: DatasetSnapshot): PreprocessInput {
  return {
    ...snapshot,
    target: spec.target,
    features: spec.features,
    task: spec.task,
    split: spec.split,
    preprocessing: spec.preprocessing,
    warehouse: spec.warehouse,
    ...(spec.gate.metric !== undefined && { gateMetric: spec.gate.metric }),
  };
}

export function trainerJob(spec: TrainingPipelineSpec, prepared: PreprocessResult, runKey: string): TrainerJob {
  return {
    modelName: spec.modelName,
    runKey,
    task: settledTask(prepared, spec),
    trainUri: prepared.trainUri,
    validationUri: prepared.validationUri,
    transformUri: prepared.transformUri,
    featureColumns: prepared.featureColumns,
    labelColumn: prepared.labelColumn,
    seed: spec.split.seed,
  };
}

/** The run's settled task and target, checked against the champion's before training. */
export function checkChampionInput(spec: TrainingPipelineSpec, prepared: PreprocessResult): CheckChampionInput {
  return {
    modelName: spec.modelName,
    championAlias: spec.deployAlias,
    task: settledTask(prepared, spec),
    target: spec.target,
  };
}

export function evaluateInput(
  spec: TrainingPipelineSpec,
  prepared: PreprocessResult,
  trained: TrainModelResult,
): EvaluateModelInput {
  return {
    modelName: spec.modelName,
    modelUri: trained.modelUri,
    testUri: prepared.testUri,
    validationUri: prepared.validationUri,
    transformUri: prepared.transformUri,
    featureColumns: prepared.featureColumns,
    labelColumn: prepared.labelColumn,
    task: settledTask(prepared, spec),
    outputUri: trained.outputUri,
    gate: spec.gate,
    championAlias: spec.deployAlias,
  };
}

/** What the run produced up to the gate: the result's common part, whether the challenger is deployed or not. */
export interface PipelineOutputs {
  snapshot: DatasetSnapshot;
  profile: ProfileDatasetResult;
  prepared: PreprocessResult;
  trained: TrainModelResult;
  evaluation: EvaluateModelResult;
}

export function registerInput(
  spec: TrainingPipelineSpec,
  outputs: PipelineOutputs,
  runKey: string,
): RegisterModelInput {
  return {
    modelName: spec.modelName,
    modelUri: outputs.trained.modelUri,
    transformUri: outputs.prepared.transformUri,
    evaluationUri: outputs.evaluation.reportUri,
    snapshotId: outputs.snapshot.snapshotId,
    metrics: outputs.evaluation.metrics,
    registrationKey: runKey,
  };
}

export function deployInput(spec: TrainingPipelineSpec, registered: RegisteredModel): DeployModelInput {
  return { modelName: spec.modelName, version: registered.version, alias: spec.deployAlias };
}

export function pipelineResult(
  spec: TrainingPipelineSpec,
  { snapshot, profile, prepared, trained, evaluation }: PipelineOutputs,
): Omit<TrainingPipelineResult, 'outcome' | 'version'> {
  return {
    modelName: spec.modelName,
    snapshotId: snapshot.snapshotId,
    task: settledTask(prepared, spec),
    metrics: evaluation.metrics,
    gate: evaluation.gate,
    artifacts: {
      profile: profile.profileUri,
      report: profile.reportUri,
      transform: prepared.transformUri,
      model: trained.modelUri,
      evaluation: evaluation.reportUri,
    },
    ...(prepared.leftOut && { leftOut: prepared.leftOut }),
    ...((snapshot.warnings || profile.warnings || prepared.warnings) && {
      warnings: [...(snapshot.warnings ?? []), ...(profile.warnings ?? []), ...(prepared.warnings ?? [])],
    }),
  };
}
