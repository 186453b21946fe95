import type { ArtifactStore } from '../artifacts';
import { createEvaluationActivities } from './evaluation';
import { createIngestActivities } from './ingest';
import { createPreprocessActivities } from './preprocess';
import { createProfileActivities } from './profile';
import { createRegistryActivities } from './registry';
import type { TrainingDeps } from './training';
import { createTrainingActivities } from './training';

export interface PipelineActivityDeps {
  store: ArtifactStore;
}

/** Activities of the pipeline task queue (CPU work: data, evaluation, registry). */
export function createPipelineActivities(deps: PipelineActivityDeps) {
  return {
    ...createIngestActivities(deps),
    ...createProfileActivities(deps),
    ...createPreprocessActivities(deps),
    ...createEvaluationActivities(deps),
    ...createRegistryActivities(deps),
  };
}

/** Activities of the training task queue. */
export function createTrainingQueueActivities(deps: TrainingDeps) {
  return createTrainingActivities(deps);
}

export type PipelineActivities = ReturnType<typeof createPipelineActivities>;
export type TrainingActivities = ReturnType<typeof createTrainingQueueActivities>;
export { GpuPool } from './training';
export type { TrainingDeps } from './training';
