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
import type { VertexTrainingActivities } from './vertex-training';
import { createVertexTrainingActivities } from './vertex-training';
import type { BigQueryOptions } from '@google-cloud/bigquery';
import type { MlopsConfig, SourceAccess } from '../config';
import { defaultSourceAccess } from '../config';

export interface PipelineActivityDeps {
  store: ArtifactStore;
  /** Vertex AI and Cloud Storage settings of the Vertex training backend; without them it reports what is missing. */
  config?: Pick<MlopsConfig, 'vertex' | 'gcp'> & Partial<Pick<MlopsConfig, 'bigquery' | 'data' | 'sources'>>;
  /** What ingest may read; overrides `config.sources`. @default the config's, else {@link defaultSourceAccess} */
  sources?: SourceAccess;
  /** BigQuery client options beyond the config (credentials, an auth client) for sources and the warehouse. */
  bigQueryClient?: BigQueryOptions;
}

/** Activities of the pipeline task queue (CPU work: data, evaluation, registry). */
export type PipelineActivities = IngestActivities &
  ProfileActivities &
  PreprocessActivities &
  EvaluationActivities &
  RegistryActivities &
  VertexTrainingActivities;

const unconfiguredVertex: Pick<MlopsConfig, 'vertex' | 'gcp'> = {
  vertex: { location: 'us-central1', machineType: 'n1-standard-4', acceleratorCount: 0 },
  gcp: {},
};

export function createPipelineActivities(deps: PipelineActivityDeps): PipelineActivities {
  const bq: Partial<MlopsConfig['bigquery']> = deps.config?.bigquery ?? {};
  const bigquery = {
    projectId: bq.project,
    dataset: bq.dataset,
    location: bq.location,
    apiEndpoint: bq.apiEndpoint,
    stagingDays: bq.stagingDays,
    client: deps.bigQueryClient,
  };
  const threads = deps.config?.data?.threads;
  return {
    ...createIngestActivities({
      store: deps.store,
      sources: deps.sources ?? deps.config?.sources ?? defaultSourceAccess(),
      threads,
      storage: { projectId: deps.config?.gcp.project, apiEndpoint: deps.config?.gcp.storageApiEndpoint },
      bigquery: { ...deps.bigQueryClient, projectId: bq.project, apiEndpoint: bq.apiEndpoint },
    }),
    ...createProfileActivities({ store: deps.store, bigquery, duckDbThreads: threads }),
    ...createPreprocessActivities({ store: deps.store, bigquery, duckDbThreads: threads }),
    ...createEvaluationActivities(deps),
    ...createRegistryActivities(deps),
    // Submitting and polling a Vertex AI job is light I/O, so it runs beside the data steps, not on a GPU slot.
    ...createVertexTrainingActivities({ store: deps.store, config: deps.config ?? unconfiguredVertex }),
  };
}

/** Activities of the training task queue. */
export function createTrainingQueueActivities(deps: TrainingDeps): TrainingActivities {
  return createTrainingActivities(deps);
}

export type { TrainingActivities };
export { GpuPool } from './training';
export type { TrainingDeps } from './training';
