/**
 * The composition root: every client a process uses is built here, once, from the validated config, and handed to
 * the activity factories, the model server, the demo and the benchmarks already built. Tests swap a client by
 * passing it in `overrides`; nothing else builds clients or reads config.
 */
import path from 'node:path';
import type { BigQueryOptions } from '@google-cloud/bigquery';
import { BigQuery } from '@google-cloud/bigquery';
import type { JobServiceClient } from '@google-cloud/aiplatform';
import type { StorageOptions } from '@google-cloud/storage';
import type { ArtifactStore } from './artifacts';
import { createArtifactStore, storeForUri } from './artifacts';
import { bigQueryScopes, googleAuth } from './google/credentials';
import type { MlopsConfig, SourceAccess } from './config';
import type { BigQueryLogTable } from './monitoring/bigquery-log-window';
import type { TrainerCatalog } from './trainers/trainer-commands';
import { createTrainerCatalog } from './trainers/trainer-commands';
import { GpuPool } from './trainers/gpu-pool';
import { createVertexJobClient, VertexJobs } from './vertex/job-client';
import { VertexTraining } from './vertex/vertex-training';
import type { BigQueryWarehouseOptions } from './warehouse/bigquery-warehouse';
import { setDuckDbMemoryLimit } from './warehouse/duckdb-memory';

export interface Dependencies {
  config: Readonly<MlopsConfig>;
  store: ArtifactStore;
  /** Where local and http(s) dataset sources may come from (`MLOPS_DATA_ROOTS`, `MLOPS_HTTP_ALLOWED_HOSTS`). */
  sources: SourceAccess;
  /** Cloud Storage client options for `gs://` sources and stores. */
  storage: StorageOptions;
  /** BigQuery client options for `bq://` sources (credentials, emulator endpoint, billing project). */
  bigQuerySource: BigQueryOptions;
  /** The BigQuery warehouse: project, dataset, location, staging expiry and client options. */
  bigQueryWarehouse: Partial<BigQueryWarehouseOptions>;
  /** The prediction log's BigQuery table (`MLOPS_SERVE_LOG_BIGQUERY_TABLE`) and its client, when one is configured. */
  bigQueryLog?: BigQueryLogTable;
  /** Statements / threads one data step keeps busy (`MLOPS_DATA_THREADS`). */
  dataThreads: number;
  gpus: GpuPool;
  /** Trainers by name (bundled and `MLOPS_TRAINERS`), their allow-listed environment and output redaction. */
  trainers: TrainerCatalog;
  /** Local folder for trainer outputs when the artifact store is remote. */
  trainingWorkDir: string;
  /** Scratch folders of step attempts (src/scratch.ts), swept of dead workers' folders when a worker starts. */
  scratchRoot: string;
  /** The model controller's HTTP peers: the notification webhook (a secret) and the API key sent to model servers. */
  controller: { notifyWebhookUrl?: string; serveApiKey?: string };
  /** Vertex AI training, built on first use so a worker without Vertex settings still starts. */
  vertex: () => VertexTraining;
}

export interface DependencyOverrides {
  store?: ArtifactStore;
  /** What ingest may read, instead of the configured data roots and hosts. */
  sources?: SourceAccess;
  /**
   * BigQuery client options added to the configured ones (an `authClient` or `credentials` given in code). An
   * `authClient` here replaces the configured credentials and is not checked before use.
   */
  bigQueryClient?: BigQueryOptions;
  jobClient?: JobServiceClient;
}

export function buildDependencies(config: Readonly<MlopsConfig>, overrides: DependencyOverrides = {}): Dependencies {
  // Every DuckDB the worker opens (data steps, monitoring checks) is bounded by the configured limit.
  setDuckDbMemoryLimit(config.data.memoryLimit);
  const store = overrides.store ?? createArtifactStore(config);
  const storage: StorageOptions = { projectId: config.gcp.project, apiEndpoint: config.gcp.storageApiEndpoint };
  const { project, dataset, location, apiEndpoint, stagingDays } = config.bigquery;
  const bigQueryClient = bigQueryClientOptions(config, overrides);
  let vertex: VertexTraining | undefined;
  return {
    config,
    store,
    sources: overrides.sources ?? config.sources,
    storage,
    bigQuerySource: { ...bigQueryClient, projectId: project, apiEndpoint },
    bigQueryWarehouse: {
      projectId: project,
      dataset,
      location,
      apiEndpoint,
      stagingDays,
      client: bigQueryClient,
    },
    bigQueryLog: bigQueryLogTable(config, bigQueryClient),
    dataThreads: config.data.threads,
    gpus: new GpuPool(config.training.gpus),
    trainers: createTrainerCatalog(config),
    trainingWorkDir: path.join(config.stateDir, 'training'),
    scratchRoot: path.join(config.stateDir, 'scratch'),
    controller: { notifyWebhookUrl: config.notify.webhookUrl, serveApiKey: config.serve.apiKeys[0] },
    vertex: () =>
      (vertex ??= new VertexTraining({
        settings: config.vertex,
        jobs: new VertexJobs(memo(() => overrides.jobClient ?? createVertexJobClient(config.vertex))),
        storeFor: storeForUri(store, storage),
      })),
  };
}

/**
 * The configured prediction log table, read in the project MLOPS_GCP_PROJECT (the model server writes it there). The
 * client connects on its first query only.
 */
function bigQueryLogTable(config: Readonly<MlopsConfig>, clientOptions: BigQueryOptions): BigQueryLogTable | undefined {
  const [dataset, table] = config.serve.predictionLog?.bigqueryTable?.split('.') ?? [];
  const { project, location, apiEndpoint } = config.bigquery;
  if (!dataset || !table || !project) return undefined;
  const client = new BigQuery({ ...clientOptions, projectId: project, location, apiEndpoint });
  return { client, project, dataset, table, location };
}

/**
 * The one auth client of every BigQuery client of the process (src/google/credentials.ts): Application Default
 * Credentials, or a fixed token when MLOPS_BIGQUERY_API_ENDPOINT names an emulator and GOOGLE_APPLICATION_CREDENTIALS
 * is unset. The steps check it once before their first request.
 */
function bigQueryClientOptions(config: Readonly<MlopsConfig>, overrides: DependencyOverrides): BigQueryOptions {
  if (overrides.bigQueryClient?.authClient) return { ...overrides.bigQueryClient };
  const { apiEndpoint } = config.bigquery;
  const authClient = googleAuth({ apiEndpoint, credentialsFile: config.gcp.credentialsFile, scopes: bigQueryScopes });
  return { ...overrides.bigQueryClient, authClient };
}

function memo<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= build());
}
