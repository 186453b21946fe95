import type { GateDecision, TrainingPipelineSpec } from './pipeline';

/** What every training backend receives: the preprocessed splits and how to read them. */
export interface TrainerJob {
  modelName: string;
  /** Workflow id + run id: names the output folder (and a Vertex AI job's labels), so a retry finds its work. */
  runKey: string;
  task: 'classification' | 'regression';
  trainUri: string;
  validationUri: string;
  transformUri: string;
  featureColumns: string[];
  labelColumn: string;
  seed: number;
}

export interface TrainModelInput extends TrainerJob {
  trainer: TrainingPipelineSpec['trainer'];
}

/** Heartbeat details of the training activity: the latest progress and checkpoint. */
export interface TrainingProgress {
  epoch: number;
  epochs?: number;
  loss?: number;
  metric?: string;
  value?: number;
  checkpointUri?: string;
  checkpointEpoch?: number;
}

export interface TrainModelResult {
  modelUri: string;
  metricsUri: string;
  outputUri: string;
  metrics: Record<string, unknown>;
  /** Paths in metrics.json whose value was NaN or ±Infinity, read as null (not measured): `validation.auc`. */
  nonFiniteMetrics?: string[];
  /** Epoch of the checkpoint this attempt resumed from, when it resumed. */
  resumedFromEpoch?: number;
}

export interface EvaluateModelInput {
  modelName: string;
  modelUri: string;
  testUri: string;
  /** The validation split, whose predictions become the output's drift reference (absent in older inputs: test). */
  validationUri?: string;
  transformUri: string;
  featureColumns: string[];
  labelColumn: string;
  task: 'classification' | 'regression';
  /** Where to write evaluation.json. */
  outputUri: string;
  gate: TrainingPipelineSpec['gate'];
  championAlias: string;
}

/** The model a run trains, checked against the champion's task and target before training (champion-fit.ts). */
export interface CheckChampionInput {
  modelName: string;
  championAlias: string;
  task: 'classification' | 'regression';
  /** The target column's name. */
  target: string;
}

export interface CheckChampionResult {
  /** The champion's version; absent when the alias names none yet. */
  championVersion?: number;
}

export interface EvaluateModelResult {
  metrics: Record<string, number>;
  baseline: Record<string, number>;
  reportUri: string;
  gate: GateDecision;
}

export interface RegisterModelInput {
  modelName: string;
  modelUri: string;
  transformUri: string;
  evaluationUri: string;
  snapshotId: string;
  metrics: Record<string, number>;
  /** Workflow id + run id; a retried registration with the same key returns the same version. */
  registrationKey: string;
}

export interface RegisteredModel {
  modelName: string;
  version: number;
  versionUri: string;
  modelUri: string;
}

export interface DeployModelInput {
  modelName: string;
  version: number;
  alias: string;
}

export interface DeployModelResult {
  alias: string;
  version: number;
  previousVersion?: number;
}

/** Where a Vertex AI CustomJob runs and with what; defaults come from the MLOPS_VERTEX_* configuration. */
export interface VertexJobSpec {
  /** Container image with the trainer; its entrypoint receives the contract flags as args. */
  imageUri?: string;
  /** Overrides the image's entrypoint (argv before the contract flags). */
  command?: string[];
  machineType?: string;
  acceleratorType?: string;
  acceleratorCount?: number;
}

export interface SubmitVertexJobInput extends TrainerJob {
  spec: VertexJobSpec;
  hyperparameters: Record<string, number | string | boolean>;
}

export interface SubmittedVertexJob {
  /** Full resource name: projects/…/locations/…/customJobs/…. */
  jobName: string;
  /** gs:// folder the trainer writes model.onnx, metrics.json and checkpoints/ to. */
  outputUri: string;
  /** False when a retried submit found the job it had already created. */
  created: boolean;
}

export interface WaitVertexJobInput {
  jobName: string;
  outputUri: string;
  /** Seconds between job polls (tests pass short values). */
  pollSeconds: number;
}
