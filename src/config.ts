/**
 * The one configuration of temporal-mlops. Every process (workers, model server, demo, test setup) calls
 * `loadConfig()`; no other module reads `process.env`. Values come from `MLOPS_*` variables (plus `TEMPORAL_CLI_PATH`,
 * `NODE_ENV`, `GOOGLE_APPLICATION_CREDENTIALS`, and the Temporal SDK's own `TEMPORAL_*` connection variables), are
 * validated against one schema, and every problem is reported in a single `MLOPS_ERR_CONFIG_INVALID` error. The result
 * is deep-frozen.
 */
import { taskQueues } from './contracts/task-queues';
import os from 'node:os';
import path from 'node:path';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { ClientConnectConfig } from '@temporalio/envconfig';
import { z } from 'zod';
import { aliasPattern, modelNamePattern } from './contracts/pipeline';
import { mlopsError } from './errors';

const port = z.coerce.number().int().min(0).max(65535);
const uriOrPath = z.string().min(1);

/** The prediction log's buffering defaults (rows, rows, milliseconds), used by the config and by `buildServer`. */
export const predictionLogDefaults = Object.freeze({ capacity: 100_000, flushRows: 20_000, flushMs: 5000 });

/**
 * Variable name → schema. Defaults that depend on other values (directories) are filled in `loadConfig`.
 * Exported so tests can check that docs and docker-compose.yml only name variables that exist.
 */
export const configSchema = {
  /** Folder for local state: dev-server SQLite file, local artifacts, logs. @default `<cwd>/.mlops` */
  MLOPS_STATE_DIR: uriOrPath.optional(),
  /** Folder outside the repository for built tools (Temporal CLI, Python venv). @default `~/.cache/temporal-mlops` */
  MLOPS_CACHE_DIR: uriOrPath.optional(),
  /** Artifact store root: a folder, `file://` URI or `gs://bucket/prefix`. @default `file://<state dir>/artifacts` */
  MLOPS_ARTIFACT_ROOT: z
    .string()
    .regex(
      /^(gs:\/\/[a-z0-9][a-z0-9._-]{1,220}(\/.*)?|file:\/\/\/.+|\/.+|\.{0,2}[^:]*)$/,
      'must be a folder, file:// or gs:// URI',
    )
    .optional(),
  /** Google Cloud project for BigQuery, Cloud Storage and Vertex AI. @default none */
  MLOPS_GCP_PROJECT: z.string().min(1).optional(),
  /** Cloud Storage API endpoint, for fake-gcs-server in tests. @default the real service */
  MLOPS_GCS_API_ENDPOINT: z.string().url().optional(),
  /** BigQuery dataset (`dataset` or `project.dataset`) for staged snapshots and scratch tables of the BigQuery warehouse; created when missing. @default none (the BigQuery warehouse is then unavailable) */
  MLOPS_BIGQUERY_DATASET: z
    .string()
    .regex(/^([a-z][a-z0-9-]{4,28}[a-z0-9]\.)?[A-Za-z0-9_]{1,1024}$/, 'must be dataset or project.dataset')
    .optional(),
  /** BigQuery location of that dataset and of query jobs, e.g. `US` or `europe-west1`. @default chosen by BigQuery */
  MLOPS_BIGQUERY_LOCATION: z.string().min(1).optional(),
  /** BigQuery API endpoint of `bq://` sources, the BigQuery warehouse and the prediction log, e.g. `http://127.0.0.1:9050` for bigquery-emulator. A host outside googleapis.com with GOOGLE_APPLICATION_CREDENTIALS unset is an emulator: the clients send it a fixed token and look for no credentials (docs/datasets.md, "Emulators"). @default the real service */
  MLOPS_BIGQUERY_API_ENDPOINT: z.string().url().optional(),
  /** Days a snapshot staged in the BigQuery warehouse dataset is kept after the last step that used it; BigQuery then deletes the table (a later step stages it again). @default 7 */
  MLOPS_BIGQUERY_STAGING_DAYS: z.coerce.number().int().min(1).max(3650).default(7),
  /** Vertex AI region for CustomJobs. @default us-central1 */
  MLOPS_VERTEX_LOCATION: z
    .string()
    .regex(/^[a-z]+-[a-z]+\d+$/, 'must be a region such as us-central1')
    .default('us-central1'),
  /** Vertex AI API endpoint; `http://host:port` talks plaintext gRPC (a local fake in tests). @default <location>-aiplatform.googleapis.com */
  MLOPS_VERTEX_API_ENDPOINT: z.string().min(1).optional(),
  /** gs:// folder for CustomJob outputs (model, metrics, checkpoints). @default the artifact root, when it is gs:// */
  MLOPS_VERTEX_STAGING_URI: z
    .string()
    .regex(/^gs:\/\/[a-z0-9][a-z0-9._-]{1,220}(\/.*)?$/, 'must be a gs:// URI')
    .optional(),
  /** Trainer container image for CustomJobs. @default none (set it, or trainer.vertex.imageUri per run) */
  MLOPS_VERTEX_IMAGE_URI: z.string().min(1).optional(),
  /** Machine type of the CustomJob worker pool. @default n1-standard-4 */
  MLOPS_VERTEX_MACHINE_TYPE: z.string().min(1).default('n1-standard-4'),
  /** Accelerator type, e.g. NVIDIA_TESLA_T4. @default none */
  MLOPS_VERTEX_ACCELERATOR_TYPE: z
    .string()
    .regex(/^[A-Z0-9_]+$/, 'must be an enum name such as NVIDIA_TESLA_T4')
    .optional(),
  /** Accelerators per replica. @default 0 */
  MLOPS_VERTEX_ACCELERATOR_COUNT: z.coerce.number().int().min(0).max(16).default(0),
  /** Service account the CustomJob runs as. @default the project's default compute account */
  MLOPS_VERTEX_SERVICE_ACCOUNT: z.string().email().optional(),
  /** GPUs the training worker may hand out; training concurrency is max(1, this). @default 0 */
  MLOPS_TRAINING_GPUS: z.coerce.number().int().min(0).max(64).default(0),
  /** Task queue the training worker polls: a pool of machines of one kind (`gpu-a100`) that pipelines send their training step to with `trainer.taskQueue`. @default mlops-training */
  MLOPS_TRAINING_TASK_QUEUE: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/, 'must be letters, digits, dots, dashes and underscores, e.g. gpu-a100')
    .default(taskQueues.training),
  /** Checkpoints (`checkpoints/epoch-NNNN.ckpt`) a training run keeps on the training worker's disk: when the trainer announces one, those older than the last this many announced are deleted; 0 keeps every one. A retry resumes from the newest announced, so 1 is enough to resume; 2 leaves one more. Files named otherwise are never touched. @default 2 */
  MLOPS_TRAINING_KEEP_CHECKPOINTS: z.coerce.number().int().min(0).max(1_000_000).default(2),
  /** Base Python that already has PyTorch, from which `scripts/setup-python.sh` (and `setup-python-clients.sh`) build the project's venvs; read by those scripts only. @default /usr/bin/python3 (Debian's python3-torch) */
  MLOPS_SYSTEM_PYTHON: uriOrPath.optional(),
  /** Node flags the serving benchmark adds to the model server's (space-separated; `bench/serving-throughput.ts` only, docs/benchmarks.md). @default none */
  MLOPS_BENCH_NODE_FLAGS: z.string().optional(),
  /** Python interpreter for the reference trainer. @default the project's cached venv */
  MLOPS_PYTHON: uriOrPath.optional(),
  /** Trainers this training worker runs besides `builtin-linear` and `torch-tabular`: a JSON object of name → argv, e.g. `{"xgb":["/opt/xgb/bin/python","/opt/xgb/train.py"]}`. A workflow input names a trainer (`trainer.kind`), never a command line; the contract's flags are appended to the argv (docs/trainer-contract.md). Names are lowercase letters, digits and dashes. @default none */
  MLOPS_TRAINERS: z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a JSON object of name → argv' });
        return z.NEVER;
      }
    })
    .pipe(
      z.record(
        z
          .string()
          .regex(/^[a-z][a-z0-9-]{0,62}$/, 'trainer names must be lowercase letters, digits and dashes')
          .refine((name) => !['builtin-linear', 'torch-tabular', 'command'].includes(name), 'is a reserved name'),
        z.array(z.string().min(1)).min(1, 'argv must name a program'),
      ),
    )
    .optional(),
  /** Extra environment variables (names, comma-separated) passed to trainer processes besides the allow-list in docs/security.md (PATH, HOME, LANG, LC_*, TMPDIR, TZ, CUDA_*, NVIDIA_*, PYTHON*, VIRTUAL_ENV, OMP_NUM_THREADS, …). Never pass secrets a workflow author must not read. @default none */
  MLOPS_TRAINER_ENV: z
    .string()
    .regex(
      /^\s*[A-Za-z_][A-Za-z0-9_]*(\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*\s*$/,
      'must be variable names separated by commas',
    )
    .optional(),
  /** Temporal CLI binary to use instead of searching PATH and the cache. */
  TEMPORAL_CLI_PATH: uriOrPath.optional(),
  /** Temporal CLI version built from Go modules when none is found. @default v1.5.1 */
  MLOPS_TEMPORAL_CLI_VERSION: z
    .string()
    .regex(/^v\d+\.\d+\.\d+$/, 'must look like v1.5.1')
    .default('v1.5.1'),
  /** Dev server frontend gRPC port (demo and `npm run temporal:server`; tests pick free ports). @default 7233 */
  MLOPS_DEV_SERVER_PORT: port.default(7233),
  /** Dev server Web UI port. @default 8233 */
  MLOPS_DEV_UI_PORT: port.default(8233),
  /** Dev server HTTP API port (`temporal server start-dev --http-port`); 0 picks a free one. @default 0 */
  MLOPS_DEV_HTTP_PORT: port.default(0),
  /** Dev server Prometheus metrics port (`--metrics-port`); 0 picks a free one. @default 0 */
  MLOPS_DEV_METRICS_PORT: port.default(0),
  /** Folders local dataset sources (paths and `file://` URIs) may be read from, separated by `:` like PATH; a file must lie inside one after resolving symbolic links, and `/proc`, `/sys` and `/dev` are never read. @default `<cwd>/examples:<state dir>/data` */
  MLOPS_DATA_ROOTS: z.string().min(1).optional(),
  /** Seconds an `http(s)://` dataset or labels download may go without receiving anything (its answer's head, or more of its body) before it is abandoned and the step retried; a server that stalls otherwise holds the step for Node's five-minute read timeout on every attempt. @default 60 */
  MLOPS_HTTP_STALL_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  /** Hosts (names or IP addresses, comma-separated) that `http(s)://` dataset sources may reach although they resolve to loopback, link-local or private addresses, which are refused otherwise; `*` allows every host. @default none */
  MLOPS_HTTP_ALLOWED_HOSTS: z
    .string()
    .regex(
      /^\s*(\*|[A-Za-z0-9.:[\]-]+)(\s*,\s*[A-Za-z0-9.:[\]-]+)*\s*$/,
      'must be host names or IP addresses separated by commas, or *',
    )
    .optional(),
  /** Cores one data step (ingest, profile, preprocess on DuckDB) may keep busy: threads of the CSV read, or statements run side by side, each on one thread. Each DuckDB instance may hold MLOPS_DATA_MEMORY_LIMIT. @default 2 */
  MLOPS_DATA_THREADS: z.coerce.number().int().min(1).max(64).default(2),
  /** Memory one DuckDB instance of a data step or monitoring check may hold before it spills to disk (then fails with MLOPS_ERR_DATA_OUT_OF_MEMORY): a number and KB, MB, GB or TB (`2GB`). The default holds files of about 3,000 columns; 6,000 need 2GB. @default 512MB */
  MLOPS_DATA_MEMORY_LIMIT: z
    .string()
    .trim()
    .regex(/^[1-9]\d*(\.\d+)?\s*(KB|MB|GB|TB)$/i, 'must be a size such as 512MB or 2GB')
    .default('512MB'),
  /** Milliseconds a worker waits for running activities on shutdown before cancelling them. @default 30000 */
  MLOPS_WORKER_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(30_000),
  /** Model server bind address. @default 127.0.0.1 */
  MLOPS_SERVE_HOST: z.string().min(1).default('127.0.0.1'),
  /** Model server port. @default 8080 */
  MLOPS_SERVE_PORT: port.default(8080),
  /** Registered model the server loads. @default none (the server needs it) */
  MLOPS_SERVE_MODEL: z.string().regex(modelNamePattern, 'must be a lowercase model name').optional(),
  /** Registry alias the server loads. @default production */
  MLOPS_SERVE_ALIAS: z.string().regex(aliasPattern, 'must be a lowercase alias').default('production'),
  /** Payload encryption keys (AES-256-GCM), `id:base64key` pairs separated by commas; each key is 32 random bytes, e.g. `openssl rand -base64 32`. The first encrypts every payload (workflow inputs, results, activity inputs and outputs, heartbeat details, memos); all of them decrypt, so add a new key first and keep the old ones until no open history uses them. Set the same value on every worker, client and the codec server (docs/security.md). @default none (payloads are stored unencrypted) */
  MLOPS_PAYLOAD_KEYS: z
    .string()
    .regex(
      /^\s*[A-Za-z0-9._-]+:[A-Za-z0-9+/]{43}=\s*(,\s*[A-Za-z0-9._-]+:[A-Za-z0-9+/]{43}=\s*)*$/,
      'must be id:key pairs separated by commas, each key 32 bytes in base64 (openssl rand -base64 32)',
    )
    .optional(),
  /** Codec server bind address (`npm run codec-server`). @default 127.0.0.1 */
  MLOPS_CODEC_SERVER_HOST: z.string().min(1).default('127.0.0.1'),
  /** Codec server port. @default 8888 */
  MLOPS_CODEC_SERVER_PORT: port.default(8888),
  /** Origins (comma-separated) the codec server answers cross-origin requests from: the Temporal Web UI's. @default `http://localhost:8233,http://127.0.0.1:8233` */
  MLOPS_CODEC_CORS_ORIGINS: z.string().min(1).default('http://localhost:8233,http://127.0.0.1:8233'),
  /** Largest request body the model server reads, in bytes; larger bodies get 413. @default 1500000 (1.5 MB, like Vertex AI) */
  MLOPS_SERVE_BODY_LIMIT: z.coerce.number().int().min(1024).max(1_073_741_824).default(1_500_000),
  /** Most instances (rows) one prediction request may carry; more get 400. @default 4096 */
  MLOPS_SERVE_MAX_INSTANCES: z.coerce.number().int().min(1).max(1_000_000).default(4096),
  /** Milliseconds a client has from a request's first byte to send all of it, head and body; a request still incomplete then gets 408 and its connection is closed, so slow or stalled clients cannot hold connections open. @default 30000 */
  MLOPS_SERVE_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(30_000),
  /** Model server processes sharing its port (Node cluster); each loads the model, follows the deployment record and writes its own prediction log parts. 1 serves from the main process. @default 1 */
  MLOPS_SERVE_WORKERS: z.coerce.number().int().min(1).max(64).default(1),
  /** Milliseconds between reads of the deployment record the model server follows; 0 turns following off. @default 2000 */
  MLOPS_SERVE_POLL_MS: z.coerce.number().int().min(0).default(2000),
  /** Comma-separated API keys; when set, every route but the health probes and the playground's page (which then loads the model with the key typed into it) needs `Authorization: Bearer <key>` (401 otherwise). A secret: a bad value is never quoted. The pipeline worker sends the first when the model controller reads the servers' per-version stats. @default none (no keys; the server warns when it listens beyond loopback without them) */
  MLOPS_SERVE_API_KEYS: z
    .string()
    .regex(
      /^[\x21-\x2b\x2d-\x7e]{16,}(,[\x21-\x2b\x2d-\x7e]{16,})*$/,
      'must be comma-separated keys of at least 16 printable characters',
    )
    .optional(),
  /** Prediction log: rows buffered at most before new ones are dropped (and counted). @default 100000 */
  MLOPS_SERVE_LOG_CAPACITY: z.coerce.number().int().min(1).default(predictionLogDefaults.capacity),
  /** Prediction log: buffered rows that trigger a write (one Parquet part). @default 20000 */
  MLOPS_SERVE_LOG_FLUSH_ROWS: z.coerce.number().int().min(1).default(predictionLogDefaults.flushRows),
  /** Prediction log: milliseconds between timed writes. @default 5000 */
  MLOPS_SERVE_LOG_FLUSH_MS: z.coerce.number().int().min(10).default(predictionLogDefaults.flushMs),
  /** Prediction log also streamed to this BigQuery table, `dataset.table` (project MLOPS_GCP_PROJECT, endpoint MLOPS_BIGQUERY_API_ENDPOINT); created when missing. Set it on the pipeline workers too (with MLOPS_SERVE_LOG left on) for monitorModel runs with `log: 'bigquery'`, which count the drift window there. @default none (Parquet files only) */
  MLOPS_SERVE_LOG_BIGQUERY_TABLE: z
    .string()
    .regex(/^[A-Za-z0-9_]{1,1024}\.[A-Za-z0-9_-]{1,1024}$/, 'must be dataset.table')
    .optional(),
  /** Prediction log on (`true`) or off (`false`). @default true */
  MLOPS_SERVE_LOG: z.enum(['true', 'false']).default('true'),
  /** Plain predict requests answered by the fast lane (`true`), or every request by the full HTTP server (`false`); docs/serving.md. @default true */
  MLOPS_SERVE_FAST_LANE: z.enum(['true', 'false']).default('true'),
  /** Vertex AI custom-container contract: the port to listen on; overrides MLOPS_SERVE_PORT when set. @default unset */
  AIP_HTTP_PORT: port.optional(),
  /** Vertex AI custom-container contract: an extra route that predicts, e.g. `/predict`. @default unset */
  AIP_PREDICT_ROUTE: z
    .string()
    .regex(/^\/[\w\-./:]*$/, 'must be a path starting with /')
    .optional(),
  /** Vertex AI custom-container contract: an extra liveness route, e.g. `/health`. @default unset */
  AIP_HEALTH_ROUTE: z
    .string()
    .regex(/^\/[\w\-./:]*$/, 'must be a path starting with /')
    .optional(),
  /** Webhook the model controller posts notifications to (incident, retrain started, gate failed, approval needed, promoted, rolled back) as Slack-compatible JSON (`text` and `blocks`), e.g. a Slack incoming webhook. A secret: it is never logged or put into errors. @default none (notifications are not sent) */
  MLOPS_NOTIFY_WEBHOOK_URL: z
    .string()
    .url()
    .regex(/^https?:\/\//, 'must be an http(s) URL')
    .optional(),
  /** Log level of workers and the model server. @default INFO */
  MLOPS_LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  /** Prebuilt workflow bundle, used when NODE_ENV=production. @default dist/workflow-bundle.js */
  MLOPS_WORKFLOW_BUNDLE: uriOrPath.default('dist/workflow-bundle.js'),
  /** `production` makes workers load the prebuilt workflow bundle. */
  NODE_ENV: z.string().optional(),
} as const;

export type ConfigVariable = keyof typeof configSchema;

export interface MlopsConfig {
  stateDir: string;
  cacheDir: string;
  artifactRoot: string;
  /** `credentialsFile`: GOOGLE_APPLICATION_CREDENTIALS, read by the Google clients' Application Default Credentials. */
  gcp: { project?: string; storageApiEndpoint?: string; credentialsFile?: string };
  bigquery: { project?: string; dataset?: string; location?: string; apiEndpoint?: string; stagingDays: number };
  /** Parallelism of the data steps on DuckDB. */
  data: { threads: number; memoryLimit: string };
  /** What `ingestDataset` may read: local files under `dataRoots` (absolute), http(s) hosts on internal addresses. */
  sources: SourceAccess;
  training: TrainingSettings;
  vertex: {
    project?: string;
    location: string;
    apiEndpoint?: string;
    stagingUri?: string;
    imageUri?: string;
    machineType: string;
    acceleratorType?: string;
    acceleratorCount: number;
    serviceAccount?: string;
  };
  temporal: ClientConnectConfig & { namespace: string };
  devServer: {
    cliPath?: string;
    cliVersion: string;
    port: number;
    uiPort: number;
    /** The server's HTTP API and metrics ports; 0 picks free ones. */
    httpPort: number;
    metricsPort: number;
  };
  worker: { shutdownGraceMs: number; useBundle: boolean; bundlePath: string };
  serve: {
    host: string;
    port: number;
    /** Processes sharing the port; 1: no cluster. */
    workers: number;
    model?: string;
    alias: string;
    /** Bytes. */
    bodyLimit: number;
    maxInstances: number;
    /** Milliseconds from a request's first byte to its last; 408 after. */
    requestTimeoutMs: number;
    /** Extra routes of the Vertex AI custom-container contract (AIP_PREDICT_ROUTE, AIP_HEALTH_ROUTE). */
    vertex: { predictRoute?: string; healthRoute?: string };
    pollMs: number;
    apiKeys: string[];
    /** Plain predict requests answered by the fast lane (src/serving/fast-lane.ts). */
    fastLane: boolean;
    /** Undefined when the prediction log is off. */
    predictionLog?: { capacity: number; flushRows: number; flushMs: number; bigqueryTable?: string };
  };
  logLevel: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** The model controller's notifications: the webhook URL (a secret), when set. */
  notify: { webhookUrl?: string };
  /** Payload encryption keys (the first encrypts) and the codec server's settings. */
  codec: {
    keys: { id: string; /** base64, 32 bytes */ key: string }[];
    host: string;
    port: number;
    corsOrigins: string[];
  };
}

export interface TrainingSettings {
  gpus: number;
  /** The task queue the training worker polls (`MLOPS_TRAINING_TASK_QUEUE`). */
  taskQueue: string;
  /** Announced checkpoints a run keeps on disk; 0 keeps all (`MLOPS_TRAINING_KEEP_CHECKPOINTS`). */
  keepCheckpoints: number;
  python?: string;
  /** Registered trainers (`MLOPS_TRAINERS`): name → argv. */
  trainers: Record<string, string[]>;
  /** The allow-listed environment trainer processes get (docs/security.md). */
  environment: Record<string, string>;
  /** Values of the worker's other environment variables, blanked out of trainer output quoted in failures. */
  secretValues: string[];
}

export interface SourceAccess {
  /** Absolute folders local sources must lie in (after resolving links). */
  dataRoots: string[];
  /** Hosts allowed although they resolve to loopback, link-local or private addresses; `*` allows all. */
  httpAllowedHosts: string[];
  /** Milliseconds an http(s) download may receive nothing before it is abandoned (retryable). @default 60000 */
  httpStallMs?: number;
}

/** The default data roots: the project's example data and the state folder's `data/`. */
export function defaultSourceAccess(stateDir = path.resolve('.mlops')): SourceAccess {
  return { dataRoots: [path.resolve('examples'), path.join(stateDir, 'data')], httpAllowedHosts: [] };
}

/** Variables whose values are keys: a problem with one is reported without the value. */
const secretVariables = new Set(['MLOPS_PAYLOAD_KEYS', 'MLOPS_NOTIFY_WEBHOOK_URL', 'MLOPS_SERVE_API_KEYS']);

/** Parses and validates the environment; throws one `MLOPS_ERR_CONFIG_INVALID` listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<MlopsConfig> {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(configSchema)) {
    const raw = env[name] === '' ? undefined : env[name];
    const result = (schema as z.ZodTypeAny).safeParse(raw);
    if (result.success) values[name] = result.data;
    else {
      const shown = secretVariables.has(name) ? '(value not shown)' : JSON.stringify(raw);
      problems.push(`${name}=${shown}: ${result.error.issues.map((i) => i.message).join('; ')}`);
    }
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('MLOPS_') && !(name in configSchema)) {
      problems.push(`${name}: not a known variable (known: ${Object.keys(configSchema).join(', ')})`);
    }
  }
  let temporal: ClientConnectConfig | undefined;
  try {
    temporal = loadClientConnectConfig({ overrideEnvVars: env as Record<string, string> });
  } catch (err) {
    problems.push(`TEMPORAL_* connection settings: ${(err as Error).message}`);
  }
  if (problems.length > 0 || !temporal) throw mlopsError('MLOPS_ERR_CONFIG_INVALID', { problems: problems.join('\n') });
  return deepFreeze(assemble(values as ParsedVariables, temporal, env));
}

type ParsedVariables = { [K in ConfigVariable]: z.infer<(typeof configSchema)[K]> };

function assemble(v: ParsedVariables, temporal: ClientConnectConfig, env: NodeJS.ProcessEnv): MlopsConfig {
  const stateDir = path.resolve(v.MLOPS_STATE_DIR ?? '.mlops');
  const home = env.HOME ?? os.homedir();
  return {
    stateDir,
    cacheDir: path.resolve(v.MLOPS_CACHE_DIR ?? path.join(home, '.cache', 'temporal-mlops')),
    artifactRoot: normalizeRoot(v.MLOPS_ARTIFACT_ROOT ?? path.join(stateDir, 'artifacts')),
    gcp: {
      project: v.MLOPS_GCP_PROJECT,
      storageApiEndpoint: v.MLOPS_GCS_API_ENDPOINT,
      credentialsFile: env.GOOGLE_APPLICATION_CREDENTIALS || undefined,
    },
    bigquery: {
      project: v.MLOPS_GCP_PROJECT,
      dataset: v.MLOPS_BIGQUERY_DATASET,
      location: v.MLOPS_BIGQUERY_LOCATION,
      apiEndpoint: v.MLOPS_BIGQUERY_API_ENDPOINT,
      stagingDays: v.MLOPS_BIGQUERY_STAGING_DAYS,
    },
    data: { threads: v.MLOPS_DATA_THREADS, memoryLimit: v.MLOPS_DATA_MEMORY_LIMIT },
    sources: {
      dataRoots: v.MLOPS_DATA_ROOTS
        ? v.MLOPS_DATA_ROOTS.split(':')
            .filter((root) => root.trim() !== '')
            .map((root) => path.resolve(root.trim()))
        : defaultSourceAccess(stateDir).dataRoots,
      httpAllowedHosts: (v.MLOPS_HTTP_ALLOWED_HOSTS ?? '')
        .split(',')
        .map((host) => host.trim().toLowerCase())
        .filter(Boolean),
      httpStallMs: v.MLOPS_HTTP_STALL_SECONDS * 1000,
    },
    training: {
      gpus: v.MLOPS_TRAINING_GPUS,
      taskQueue: v.MLOPS_TRAINING_TASK_QUEUE,
      keepCheckpoints: v.MLOPS_TRAINING_KEEP_CHECKPOINTS,
      python: v.MLOPS_PYTHON,
      trainers: v.MLOPS_TRAINERS ?? {},
      ...trainerEnvironment(env, (v.MLOPS_TRAINER_ENV ?? '').split(',')),
    },
    vertex: {
      project: v.MLOPS_GCP_PROJECT,
      location: v.MLOPS_VERTEX_LOCATION,
      apiEndpoint: v.MLOPS_VERTEX_API_ENDPOINT,
      stagingUri:
        v.MLOPS_VERTEX_STAGING_URI ?? (v.MLOPS_ARTIFACT_ROOT?.startsWith('gs://') ? v.MLOPS_ARTIFACT_ROOT : undefined),
      imageUri: v.MLOPS_VERTEX_IMAGE_URI,
      machineType: v.MLOPS_VERTEX_MACHINE_TYPE,
      acceleratorType: v.MLOPS_VERTEX_ACCELERATOR_TYPE,
      acceleratorCount: v.MLOPS_VERTEX_ACCELERATOR_COUNT,
      serviceAccount: v.MLOPS_VERTEX_SERVICE_ACCOUNT,
    },
    temporal: {
      ...temporal,
      connectionOptions: {
        ...temporal.connectionOptions,
        address: temporal.connectionOptions.address ?? `127.0.0.1:${v.MLOPS_DEV_SERVER_PORT}`,
      },
      namespace: temporal.namespace ?? 'default',
    },
    devServer: {
      cliPath: v.TEMPORAL_CLI_PATH,
      cliVersion: v.MLOPS_TEMPORAL_CLI_VERSION,
      port: v.MLOPS_DEV_SERVER_PORT,
      uiPort: v.MLOPS_DEV_UI_PORT,
      httpPort: v.MLOPS_DEV_HTTP_PORT,
      metricsPort: v.MLOPS_DEV_METRICS_PORT,
    },
    worker: {
      shutdownGraceMs: v.MLOPS_WORKER_SHUTDOWN_GRACE_MS,
      useBundle: v.NODE_ENV === 'production',
      bundlePath: path.resolve(v.MLOPS_WORKFLOW_BUNDLE),
    },
    serve: {
      host: v.MLOPS_SERVE_HOST,
      port: v.AIP_HTTP_PORT ?? v.MLOPS_SERVE_PORT,
      workers: v.MLOPS_SERVE_WORKERS,
      model: v.MLOPS_SERVE_MODEL,
      alias: v.MLOPS_SERVE_ALIAS,
      bodyLimit: v.MLOPS_SERVE_BODY_LIMIT,
      maxInstances: v.MLOPS_SERVE_MAX_INSTANCES,
      requestTimeoutMs: v.MLOPS_SERVE_REQUEST_TIMEOUT_MS,
      vertex: { predictRoute: v.AIP_PREDICT_ROUTE, healthRoute: v.AIP_HEALTH_ROUTE },
      pollMs: v.MLOPS_SERVE_POLL_MS,
      apiKeys: v.MLOPS_SERVE_API_KEYS?.split(',') ?? [],
      fastLane: v.MLOPS_SERVE_FAST_LANE === 'true',
      predictionLog:
        v.MLOPS_SERVE_LOG === 'true'
          ? {
              capacity: v.MLOPS_SERVE_LOG_CAPACITY,
              flushRows: v.MLOPS_SERVE_LOG_FLUSH_ROWS,
              flushMs: v.MLOPS_SERVE_LOG_FLUSH_MS,
              bigqueryTable: v.MLOPS_SERVE_LOG_BIGQUERY_TABLE,
            }
          : undefined,
    },
    logLevel: v.MLOPS_LOG_LEVEL,
    notify: { webhookUrl: v.MLOPS_NOTIFY_WEBHOOK_URL },
    codec: {
      keys: (v.MLOPS_PAYLOAD_KEYS ?? '')
        .split(',')
        .map((pair) => pair.trim())
        .filter(Boolean)
        .map((pair) => ({
          id: pair.slice(0, pair.indexOf(':')),
          key: pair.slice(pair.indexOf(':') + 1),
        })),
      host: v.MLOPS_CODEC_SERVER_HOST,
      port: v.MLOPS_CODEC_SERVER_PORT,
      corsOrigins: v.MLOPS_CODEC_CORS_ORIGINS.split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    },
  };
}

/** Variables a trainer process may see: locale, paths, temp space, GPU selection, Python's own settings. */
const trainerEnvAllowed = [
  /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|TZ|TMPDIR|TEMP|TMP|TERM)$/,
  /^LC_[A-Z]+$/,
  /^(CUDA|NVIDIA|ROCR|HIP)_[A-Z0-9_]+$/,
  /^PYTHON[A-Z0-9_]*$/,
  /^(VIRTUAL_ENV|CONDA_PREFIX|LD_LIBRARY_PATH|OMP_NUM_THREADS|MKL_NUM_THREADS|OPENBLAS_NUM_THREADS)$/,
];
/** Never passed or quoted, whatever MLOPS_TRAINER_ENV says. */
const trainerEnvForbidden = /^(MLOPS_|TEMPORAL_|GOOGLE_|GCLOUD_|CLOUDSDK_|AWS_|AZURE_)/;
/** Values this short or this common are not worth blanking out of messages (they would blank ordinary words). */
const harmlessNames = /^(PWD|OLDPWD|SHLVL|_|NODE_ENV|COLUMNS|LINES|HOSTTYPE|OSTYPE|MACHTYPE|COLORTERM|TERM_PROGRAM)$/;
/**
 * Not secrets: npm's own variables (`npm run` sets INIT_CWD and npm_config_local_prefix to the repository folder) and
 * folder and program settings (MLOPS_STATE_DIR, MLOPS_ARTIFACT_ROOT, TEMPORAL_CLI_PATH, MLOPS_PYTHON). Blanking them
 * blanked every path under them: the trainer's tracebacks and the artifact paths it prints.
 */
const pathNames =
  /^(INIT_CWD|NODE|EDITOR|VISUAL|MLOPS_PYTHON|npm_.+|.+_(DIR|DIRS|PATH|PATHS|ROOT|ROOTS|HOME|PREFIX|CWD|FOLDER|BIN))$/i;
/** Secrets whatever else the name says (`NPM_TOKEN`, `npm_config__authToken`; `SECRET_KEY_PATH` may hold the key itself). */
const secretNames = /KEY|TOKEN|SECRET|PASS|CREDENTIAL|AUTH|WEBHOOK|COOKIE|SESSION|PRIVATE|SIGN|DSN|_URL$|_URI$/i;

/** Whether a variable the trainer is not given may hold a secret, so its value is blanked out of quoted output. */
function maySecret(name: string, value: string): boolean {
  if (value.length < 6 || harmlessNames.test(name)) return false;
  return secretNames.test(name) || !pathNames.test(name);
}

/** The trainer's environment (allow-listed names plus `extra`) and the values of every other variable, to redact. */
function trainerEnvironment(
  env: NodeJS.ProcessEnv,
  extra: string[],
): Pick<TrainingSettings, 'environment' | 'secretValues'> {
  const names = new Set(extra.map((name) => name.trim()).filter(Boolean));
  const environment: Record<string, string> = {};
  const secretValues = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === '') continue;
    const passed = !trainerEnvForbidden.test(name) && (names.has(name) || trainerEnvAllowed.some((p) => p.test(name)));
    if (passed) environment[name] = value;
    else if (maySecret(name, value)) secretValues.add(value);
  }
  return { environment, secretValues: [...secretValues].sort((a, b) => b.length - a.length) };
}

/** A bare folder becomes a `file://` URI with an absolute path; `gs://` stays as it is. */
function normalizeRoot(root: string): string {
  if (root.startsWith('gs://') || root.startsWith('file://')) return root.replace(/\/+$/, '');
  return `file://${path.resolve(root)}`;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
