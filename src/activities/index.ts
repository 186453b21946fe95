import type { ArtifactStore } from '../artifacts';
import type { EvaluationActivities } from './evaluation';
import { createEvaluationActivities } from './evaluation';
import type { IngestActivities } from './ingest';
import { createIngestActivities } from './ingest';
import type { PreprocessActivities } from './preprocess';
import { createPreprocessActivities } from './preprocess';
import type { ProfileActivities } from './profile';
import { createProfileActivities } from './profile';
import type { RegistryActivities } from './registry';
import { createRegistryActivities } from './registry';
import type { TrainingActivities, TrainingDeps } from './training';
import { createTrainingActivities } from './training';

export interface PipelineActivityDeps {
  store: ArtifactStore;
}

/** Activities of the pipeline task queue (CPU work: data, evaluation, registry). */
export type PipelineActivities = IngestActivities &
  ProfileActivities &
  PreprocessActivities &
  EvaluationActivities &
  RegistryActivities;

export function createPipelineActivities(deps: PipelineActivityDeps): PipelineActivities {
  return {
    ...createIngestActivities(deps),
    ...createProfileActivities(deps),
    ...createPreprocessActivities(deps),
    ...createEvaluationActivities(deps),
    ...createRegistryActivities(deps),
  };
}

/** Activities of the training task queue. */
export function createTrainingQueueActivities(deps: TrainingDeps): TrainingActivities {
  return createTrainingActivities(deps);
}

export type { TrainingActivities };
export { GpuPool } from './training';
export type { TrainingDeps } from './training';
