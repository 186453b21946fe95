import type { GateDecision, TrainingPipelineSpec } from './pipeline';

export interface TrainModelInput {
  modelName: string;
  /** Workflow id of the pipeline; names the output folder so a retried attempt finds its checkpoints. */
  runKey: string;
  trainer: TrainingPipelineSpec['trainer'];
  task: 'classification' | 'regression';
  trainUri: string;
  validationUri: string;
  transformUri: string;
  featureColumns: string[];
  labelColumn: string;
  seed: number;
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
  /** Epoch of the checkpoint this attempt resumed from, when it resumed. */
  resumedFromEpoch?: number;
}

export interface EvaluateModelInput {
  modelName: string;
  modelUri: string;
  testUri: string;
  transformUri: string;
  featureColumns: string[];
  labelColumn: string;
  task: 'classification' | 'regression';
  /** Where to write evaluation.json. */
  outputUri: string;
  gate: TrainingPipelineSpec['gate'];
  championAlias: string;
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
