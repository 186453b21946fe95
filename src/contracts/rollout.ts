/**
 * Inputs of the model controller's rollout activities (src/activities/controller.ts) that src/contracts/controller.ts
 * does not declare: reading a deployment, sampling the servers' counters, comparing two versions' predictions.
 */

export interface ReadDeploymentInput {
  modelName: string;
  /** The alias whose deployment record the servers follow. */
  alias: string;
}

export interface ReadFeatureNamesInput {
  modelName: string;
  version: number;
}

export interface FindSameModelInput {
  modelName: string;
  /** The version to look for… */
  version: number;
  /** …among these (earlier versions); the first with the same model and transform bytes is answered. */
  among: number[];
}

export interface SampleServingStatsInput {
  modelName: string;
  /** Model servers' base URLs (`http://host:port`); each is asked for `/v1/models/<model>/stats`. */
  servers: string[];
}

export interface ComparePredictionsInput {
  modelName: string;
  stable: number;
  canary: number;
  /** The window (since, until] of the prediction log, ISO times. */
  since: string;
  until: string;
  /** Rows each version needs in the window to be compared; fewer skips the comparison. */
  minRows: number;
  /**
   * The verdict's limit on the distance (`maxPredictionDrift`): given, the comparison also says how likely sampling
   * noise alone reaches it at these row counts (`distanceNoise`), and the chi-square test for when it is too likely.
   */
  maxDistance?: number;
}

/** What `setDeployment` did. */
export interface SetDeploymentResult {
  stable: number;
  canary?: { version: number; weight: number };
  /** What the alias served before this change (absent for a first deployment). */
  previous?: { stable: number; canary?: { version: number; weight: number } };
  /** False when the record already was this deployment (a retried call): nothing was written. */
  changed: boolean;
  /** The registry deployment history entry of this change; absent when nothing changed. */
  historySeq?: number;
}
