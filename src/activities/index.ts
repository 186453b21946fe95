/**
 * The activities of each task queue, composed from the capability factories over dependencies that the composition
 * root (src/dependencies.ts) built.
 */
import type { Dependencies } from '../dependencies';
import type { ControllerActivities } from './controller';
import { createControllerActivities } from './controller';
import type { EvaluationActivities } from './evaluation';
import { createEvaluationActivities } from './evaluation';
import type { IngestActivities } from './ingest';
import { createIngestActivities } from './ingest';
import type { MonitoringActivities } from './monitoring';
import { createMonitoringActivities } from './monitoring';
import type { PreprocessActivities } from './preprocess';
import { createPreprocessActivities } from './preprocess';
import type { ProfileActivities } from './profile';
import { createProfileActivities } from './profile';
import { heartbeatingSteps } from './step-heartbeat';
import type { RegistryActivities } from './registry';
import { createRegistryActivities } from './registry';
import type { TrainingActivities } from './training';
import { createTrainingActivities } from './training';
import type { VertexTrainingActivities } from './vertex-training';
import { createVertexTrainingActivities } from './vertex-training';

/** Activities of the pipeline task queue (CPU work: data, evaluation, registry, monitoring, the model controller). */
export type PipelineActivities = IngestActivities &
  ProfileActivities &
  PreprocessActivities &
  EvaluationActivities &
  RegistryActivities &
  MonitoringActivities &
  ControllerActivities &
  VertexTrainingActivities;

export function createPipelineActivities(deps: Dependencies): PipelineActivities {
  const { store, dataThreads } = deps;
  const warehouse = { bigquery: deps.bigQueryWarehouse, duckDbThreads: dataThreads };
  const dataSteps = {
    ...createIngestActivities({
      store,
      sources: deps.sources,
      threads: dataThreads,
      storage: deps.storage,
      bigquery: deps.bigQuerySource,
    }),
    ...createProfileActivities({ store, ...warehouse }),
    ...createPreprocessActivities({ store, ...warehouse }),
    ...createEvaluationActivities({ store }),
    ...createRegistryActivities({ store }),
    ...createMonitoringActivities({
      store,
      duckDbThreads: dataThreads,
      sources: deps.sources,
      storage: deps.storage,
      bigquery: deps.bigQuerySource,
      bigQueryLog: deps.bigQueryLog,
    }),
    ...createControllerActivities({ store, duckDbThreads: dataThreads, ...deps.controller }),
  };
  return {
    ...heartbeatingSteps(dataSteps, deps.scratchRoot),
    // Submitting and polling a Vertex AI job is light I/O, so it runs beside the data steps, not on a GPU slot.
    ...createVertexTrainingActivities({ vertex: deps.vertex }),
  };
}

/** Activities of the training task queue. */
export function createTrainingQueueActivities(deps: Dependencies): TrainingActivities {
  return createTrainingActivities({
    store: deps.store,
    gpus: deps.gpus,
    trainers: deps.trainers,
    workDir: deps.trainingWorkDir,
  });
}

export type { TrainingActivities };
