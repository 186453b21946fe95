/**
 * Training as a Vertex AI CustomJob (docs/vertex-ai.md): the trainer contract (docs/trainer-contract.md) run by a
 * container image on Google's machines. Two activities, submit then wait: the submit is idempotent (the job carries
 * labels derived from the run key, and a retried submit finds it), the wait polls the job, heartbeats progress read
 * from the job's checkpoints, maps every job state to an outcome, and cancels the job when the workflow cancels.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JobServiceClient, protos } from '@google-cloud/aiplatform';
import { credentials, status } from '@grpc/grpc-js';
import { CancelledFailure, Context } from '@temporalio/activity';
import type { ArtifactStore } from '../artifacts';
import { GcsArtifactStore, readJson } from '../artifacts';
import type { MlopsConfig } from '../config';
import type {
  SubmittedVertexJob,
  SubmitVertexJobInput,
  TrainingProgress,
  TrainModelResult,
  WaitVertexJobInput,
} from '../contracts/training';
import { mlopsError } from '../errors';
import { trainerContractFlags } from '../trainers/contract-flags';

type CustomJob = protos.google.cloud.aiplatform.v1.ICustomJob;
type JobStateName = keyof typeof protos.google.cloud.aiplatform.v1.JobState;
type VertexConfig = Pick<MlopsConfig, 'vertex' | 'gcp'>;

export interface VertexTrainingDeps {
  /** The worker's artifact store; the staging folder is read through it when it lies inside its root. */
  store: ArtifactStore;
  config: VertexConfig;
  /** A client to use instead of one built from `config.vertex` (tests pass one they close themselves). */
  jobClient?: JobServiceClient;
}

/** Heartbeat details of the wait activity: progress read from the job's checkpoints, plus the job's state. */
export interface VertexTrainingProgress extends TrainingProgress {
  jobName: string;
  state: string;
}

/** Training on Vertex AI: a CustomJob per run, per docs/vertex-ai.md. */
export interface VertexTrainingActivities {
  submitVertexTrainingJob: (input: SubmitVertexJobInput) => Promise<SubmittedVertexJob>;
  waitForVertexTrainingJob: (input: WaitVertexJobInput) => Promise<TrainModelResult>;
}

/** Label carrying the run key's hash; Vertex label values are lowercase and at most 63 characters. */
const runLabel = 'mlops_run';
const modelLabel = 'mlops_model';
/** Per-call deadline of JobService calls (the client's default is 60 s, longer than a short poll interval). */
const callTimeoutMs = 30_000;

/** What each job state means for the wait (every `JobState` is listed, so a new one fails to compile). */
const stateOutcomes = {
  JOB_STATE_UNSPECIFIED: 'wait',
  JOB_STATE_QUEUED: 'wait',
  JOB_STATE_PENDING: 'wait',
  JOB_STATE_RUNNING: 'wait',
  JOB_STATE_CANCELLING: 'wait',
  JOB_STATE_PAUSED: 'wait',
  JOB_STATE_UPDATING: 'wait',
  JOB_STATE_SUCCEEDED: 'succeeded',
  JOB_STATE_FAILED: 'failed',
  // A single-replica CustomJob has nothing to succeed partially; the outputs cannot be trusted.
  JOB_STATE_PARTIALLY_SUCCEEDED: 'failed',
  JOB_STATE_CANCELLED: 'cancelled',
  JOB_STATE_EXPIRED: 'expired',
} as const satisfies Record<JobStateName, string>;

export function createVertexTrainingActivities(deps: VertexTrainingDeps): VertexTrainingActivities {
  let client = deps.jobClient;
  // Built on first use, so a worker without Vertex settings can still register the activities.
  const jobs = () => (client ??= createVertexJobClient(deps.config));
  const stores = new Map<string, ArtifactStore>();
  const storeFor = (uri: string) => stagingStore(deps, stores, uri);
  return {
    async submitVertexTrainingJob(input: SubmitVertexJobInput): Promise<SubmittedVertexJob> {
      const ctx = Context.current();
      const settings = jobSettings(input, deps.config);
      const store = storeFor(settings.stagingUri);
      const runFolder = store.uri(settings.stagingUri, 'runs', input.modelName, input.runKey);
      const outputUri = store.uri(runFolder, 'training');
      const labels = jobLabels(input);
      const existing = await findJob(jobs(), settings.parent, labels[runLabel]!);
      if (existing) {
        ctx.log.info('Found the CustomJob of an earlier attempt', { jobName: existing.name, state: existing.state });
        return { jobName: existing.name!, outputUri, created: false };
      }
      const staged = await stageInputs(store, runFolder, input);
      const customJob = jobDefinition({ ...input, ...staged }, settings, labels, outputUri);
      const [job] = await vertexCall(
        'createCustomJob',
        settings.parent,
        jobs().createCustomJob({ parent: settings.parent, customJob }, { timeout: callTimeoutMs }),
      );
      ctx.log.info('Submitted a Vertex AI CustomJob', { jobName: job.name, image: settings.imageUri, outputUri });
      return { jobName: job.name!, outputUri, created: true };
    },

    async waitForVertexTrainingJob(input: WaitVertexJobInput): Promise<TrainModelResult> {
      const ctx = Context.current();
      const store = storeFor(input.outputUri);
      const previous = ctx.info.heartbeatDetails as VertexTrainingProgress | undefined;
      if (previous) ctx.log.info('Resuming the wait from the last heartbeat', { ...previous });
      let progress: VertexTrainingProgress = {
        epoch: 0,
        state: 'JOB_STATE_UNSPECIFIED',
        ...previous,
        jobName: input.jobName,
      };
      try {
        for (;;) {
          const job = await whileNotCancelled(ctx, getJob(jobs(), input.jobName));
          progress = {
            ...progress,
            ...(await checkpointProgress(store, input.outputUri, progress)),
            state: stateOf(job),
          };
          ctx.heartbeat(progress);
          const result = await settle(job, store, input.outputUri);
          if (result) return result;
          await ctx.sleep(input.pollSeconds * 1000);
        }
      } catch (err) {
        if (err instanceof CancelledFailure && jobShouldStop(ctx)) await cancelJob(jobs(), input.jobName);
        throw err;
      }
    },
  };
}

/**
 * The JobService client for the configured endpoint: `http://host:port` is a plaintext local server (the gRPC fake in
 * tests), anything else the regional Vertex AI endpoint with Application Default Credentials.
 */
export function createVertexJobClient(config: VertexConfig): JobServiceClient {
  const { project, location, apiEndpoint } = config.vertex;
  const local = /^http:\/\/([^/:]+):(\d+)\/?$/.exec(apiEndpoint ?? '');
  if (local) {
    return new JobServiceClient({
      apiEndpoint: local[1],
      port: Number(local[2]),
      sslCreds: credentials.createInsecure(),
      projectId: project,
      // Stated, so google-auth-library does not probe the GCE metadata server for it (there are no credentials).
      universeDomain: 'googleapis.com',
    });
  }
  return new JobServiceClient({
    apiEndpoint: apiEndpoint?.replace(/^https:\/\//, '').replace(/\/+$/, '') ?? `${location}-aiplatform.googleapis.com`,
    projectId: project,
  });
}

interface JobSettings {
  parent: string;
  stagingUri: string;
  imageUri: string;
  command?: string[];
  machineSpec: protos.google.cloud.aiplatform.v1.IMachineSpec;
  serviceAccount?: string;
}

/** Fills the job's settings from the input's spec, then MLOPS_VERTEX_*; reports every missing one in one error. */
function jobSettings(input: SubmitVertexJobInput, config: VertexConfig): JobSettings {
  const { vertex } = config;
  const imageUri = input.spec.imageUri ?? vertex.imageUri;
  const missing = [
    vertex.project ? undefined : 'the Google Cloud project (MLOPS_GCP_PROJECT)',
    vertex.stagingUri
      ? undefined
      : 'the gs:// staging folder (MLOPS_VERTEX_STAGING_URI, or a gs:// MLOPS_ARTIFACT_ROOT)',
    imageUri ? undefined : 'the trainer image (MLOPS_VERTEX_IMAGE_URI, or the pipeline field trainer.vertex.imageUri)',
  ].filter(Boolean);
  if (missing.length > 0)
    throw mlopsError('MLOPS_ERR_VERTEX_SETTING_MISSING', { model: input.modelName, missing: missing.join('; ') });
  const parent = `projects/${vertex.project}/locations/${vertex.location}`;
  return {
    parent,
    stagingUri: vertex.stagingUri!,
    imageUri: imageUri!,
    command: input.spec.command,
    machineSpec: machineSpec(input, config, parent),
    serviceAccount: vertex.serviceAccount,
  };
}

function machineSpec(
  input: SubmitVertexJobInput,
  config: VertexConfig,
  parent: string,
): protos.google.cloud.aiplatform.v1.IMachineSpec {
  const machineType = input.spec.machineType ?? config.vertex.machineType;
  const acceleratorType = input.spec.acceleratorType ?? config.vertex.acceleratorType;
  const count = input.spec.acceleratorCount ?? config.vertex.acceleratorCount;
  const invalid = (reason: string) =>
    mlopsError('MLOPS_ERR_VERTEX_REQUEST_INVALID', { operation: 'createCustomJob', resource: parent, reason });
  if (!acceleratorType) {
    if (count > 0) throw invalid(`acceleratorCount ${count} needs an acceleratorType (MLOPS_VERTEX_ACCELERATOR_TYPE)`);
    return { machineType };
  }
  // The client silently encodes an unknown enum name as ACCELERATOR_TYPE_UNSPECIFIED, so check it here.
  if (
    !(acceleratorType in protos.google.cloud.aiplatform.v1.AcceleratorType) ||
    acceleratorType.endsWith('_UNSPECIFIED')
  )
    throw invalid(`"${acceleratorType}" is not a Vertex AI AcceleratorType such as NVIDIA_TESLA_T4 or NVIDIA_L4`);
  // An accelerator type with the default count of 0 means one accelerator.
  return {
    machineType,
    acceleratorType: acceleratorType as keyof typeof protos.google.cloud.aiplatform.v1.AcceleratorType,
    acceleratorCount: Math.max(1, count),
  };
}

/** Deterministic labels: a retried submit lists jobs by them. Label values: [a-z0-9_-], at most 63 characters. */
function jobLabels(input: SubmitVertexJobInput): Record<string, string> {
  return {
    [runLabel]: createHash('sha256').update(input.runKey).digest('hex').slice(0, 32),
    [modelLabel]: input.modelName
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, '-')
      .slice(0, 63),
  };
}

async function findJob(client: JobServiceClient, parent: string, runHash: string): Promise<CustomJob | undefined> {
  const [found] = await vertexCall(
    'listCustomJobs',
    parent,
    client.listCustomJobs({ parent, filter: `labels.${runLabel}="${runHash}"` }, { timeout: callTimeoutMs }),
  );
  // Normally one; should two ever exist, keep following the first one created.
  return [...found].sort((a, b) => seconds(a.createTime) - seconds(b.createTime))[0];
}

/** The remote job cannot read the worker's files: local (file://) inputs are uploaded next to the run's output. */
async function stageInputs(
  store: ArtifactStore,
  runFolder: string,
  input: SubmitVertexJobInput,
): Promise<Pick<SubmitVertexJobInput, 'trainUri' | 'validationUri' | 'transformUri'>> {
  const stage = async (uri: string, role: string) => {
    if (!uri.startsWith('file://')) return uri;
    const local = fileURLToPath(uri);
    const target = store.uri(runFolder, 'inputs', `${role}${path.extname(local)}`);
    await store.upload(local, target);
    return target;
  };
  return {
    trainUri: await stage(input.trainUri, 'train'),
    validationUri: await stage(input.validationUri, 'validation'),
    transformUri: await stage(input.transformUri, 'transform'),
  };
}

function jobDefinition(
  input: SubmitVertexJobInput,
  settings: JobSettings,
  labels: Record<string, string>,
  outputUri: string,
): CustomJob {
  return {
    displayName: `mlops-${labels[modelLabel]}-${labels[runLabel]!.slice(0, 12)}`,
    labels,
    jobSpec: {
      workerPoolSpecs: [
        {
          replicaCount: 1,
          machineSpec: settings.machineSpec,
          containerSpec: {
            imageUri: settings.imageUri,
            command: settings.command,
            args: contractFlags(input, outputUri),
          },
        },
      ],
      baseOutputDirectory: { outputUriPrefix: outputUri },
      serviceAccount: settings.serviceAccount,
    },
  };
}

/** The flags of docs/trainer-contract.md, with gs:// URIs. */
function contractFlags(input: SubmitVertexJobInput, outputUri: string): string[] {
  return trainerContractFlags({
    train: input.trainUri,
    validation: input.validationUri,
    transform: input.transformUri,
    output: outputUri,
    task: input.task,
    labelColumn: input.labelColumn,
    featureColumns: input.featureColumns,
    hyperparameters: input.hyperparameters,
    seed: input.seed,
  });
}

async function getJob(client: JobServiceClient, name: string): Promise<CustomJob> {
  const [job] = await vertexCall('getCustomJob', name, client.getCustomJob({ name }, { timeout: callTimeoutMs }));
  return job;
}

/** Turns a finished job into the result or a failure; undefined while it is still on its way. */
async function settle(job: CustomJob, store: ArtifactStore, outputUri: string): Promise<TrainModelResult | undefined> {
  const state = stateOf(job);
  const outcome = stateOutcomes[state];
  const image = job.jobSpec?.workerPoolSpecs?.[0]?.containerSpec?.imageUri ?? 'unknown';
  if (outcome === 'wait') return undefined;
  if (outcome === 'succeeded') return collectOutputs(store, outputUri, image);
  if (outcome === 'cancelled') throw mlopsError('MLOPS_ERR_VERTEX_JOB_CANCELLED', { job: job.name! });
  if (outcome === 'expired') {
    const machine = job.jobSpec?.workerPoolSpecs?.[0]?.machineSpec;
    throw mlopsError('MLOPS_ERR_VERTEX_JOB_EXPIRED', {
      job: job.name!,
      machine: [machine?.machineType, machine?.acceleratorType].filter(Boolean).join(' + '),
    });
  }
  throw mlopsError('MLOPS_ERR_VERTEX_JOB_FAILED', {
    job: job.name!,
    image,
    state: state.replace('JOB_STATE_', ''),
    reason: job.error?.message || 'no error message',
  });
}

async function collectOutputs(store: ArtifactStore, outputUri: string, image: string): Promise<TrainModelResult> {
  const modelUri = store.uri(outputUri, 'model.onnx');
  const metricsUri = store.uri(outputUri, 'metrics.json');
  for (const [file, uri] of [
    ['model.onnx', modelUri],
    ['metrics.json', metricsUri],
  ] as const) {
    if (!(await store.exists(uri)))
      throw mlopsError('MLOPS_ERR_TRAIN_OUTPUT_MISSING', { trainer: image, file, output: outputUri });
  }
  const metrics = await readJson<Record<string, unknown>>(store, metricsUri);
  return { modelUri, metricsUri, outputUri, metrics };
}

/**
 * Progress of a remote trainer, seen from outside: the newest `checkpoints/epoch-NNNN.ckpt` in its output folder.
 * Best effort: a failed listing keeps the last progress rather than failing the wait.
 */
async function checkpointProgress(
  store: ArtifactStore,
  outputUri: string,
  last: TrainingProgress,
): Promise<Partial<TrainingProgress>> {
  const ctx = Context.current();
  const uris = await store.list(store.uri(outputUri, 'checkpoints')).catch((err: Error) => {
    ctx.log.warn('Could not list the job checkpoints', { outputUri, error: err.message });
    return [];
  });
  const newest = uris.filter((uri) => /\/epoch-\d+\.ckpt$/.test(uri)).at(-1);
  const epoch = newest ? Number(/epoch-(\d+)\.ckpt$/.exec(newest)![1]) : 0;
  if (epoch <= last.epoch) return {};
  return { epoch, checkpointUri: newest, checkpointEpoch: epoch };
}

function stateOf(job: CustomJob): JobStateName {
  const { JobState } = protos.google.cloud.aiplatform.v1;
  const name = typeof job.state === 'number' ? JobState[job.state] : job.state;
  return name && name in stateOutcomes ? (name as JobStateName) : 'JOB_STATE_UNSPECIFIED';
}

/**
 * Whether a cancelled wait should cancel the job. Only when the workflow asked for it (or the activity no longer
 * exists): on worker shutdown, a timeout, a pause or a reset, another attempt goes on waiting for the same job.
 */
function jobShouldStop(ctx: Context): boolean {
  const details = ctx.cancellationDetails;
  return !details || details.cancelRequested || details.notFound;
}

async function cancelJob(client: JobServiceClient, name: string): Promise<void> {
  const ctx = Context.current();
  try {
    await vertexCall('cancelCustomJob', name, client.cancelCustomJob({ name }, { timeout: callTimeoutMs }));
    ctx.log.info('Cancelled the Vertex AI CustomJob', { jobName: name });
  } catch (err) {
    // The cancellation is what the caller must see; a job that could not be cancelled is logged with its name.
    ctx.log.warn('Could not cancel the Vertex AI CustomJob', { jobName: name, error: (err as Error).message });
  }
}

/** Settles with the call, or rejects with CancelledFailure as soon as the activity is cancelled. */
function whileNotCancelled<T>(ctx: Context, call: Promise<T>): Promise<T> {
  return Promise.race([call, ctx.cancelled]);
}

/**
 * Maps gRPC failures onto the error catalogue: a wrong request, a missing resource or missing permissions cannot
 * succeed on retry; anything else (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, RESOURCE_EXHAUSTED, …) is a plain
 * Error that Temporal retries.
 */
async function vertexCall<T>(operation: string, resource: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const reason = (err as { details?: string }).details || (err as Error).message;
    const params = { operation, resource, reason };
    if (code === status.NOT_FOUND) throw mlopsError('MLOPS_ERR_VERTEX_NOT_FOUND', params, err as Error);
    if (code === status.PERMISSION_DENIED || code === status.UNAUTHENTICATED)
      throw mlopsError('MLOPS_ERR_VERTEX_PERMISSION_DENIED', params, err as Error);
    if (code === status.INVALID_ARGUMENT || code === status.FAILED_PRECONDITION || code === status.OUT_OF_RANGE)
      throw mlopsError('MLOPS_ERR_VERTEX_REQUEST_INVALID', params, err as Error);
    throw new Error(`Vertex AI ${operation} on ${resource} failed: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The store that holds a gs:// URI: the worker's own store when the URI lies inside its root, otherwise a Cloud
 * Storage store for the URI's bucket (created once per bucket).
 */
function stagingStore(deps: VertexTrainingDeps, cache: Map<string, ArtifactStore>, uri: string): ArtifactStore {
  const root = deps.store.root;
  if (uri === root || uri.startsWith(`${root}/`)) return deps.store;
  const bucketRoot = /^gs:\/\/[^/]+/.exec(uri)?.[0] ?? uri;
  let store = cache.get(bucketRoot);
  if (!store) {
    store = new GcsArtifactStore(bucketRoot, {
      projectId: deps.config.gcp.project,
      apiEndpoint: deps.config.gcp.storageApiEndpoint,
    });
    cache.set(bucketRoot, store);
  }
  return store;
}

function seconds(time: protos.google.protobuf.ITimestamp | null | undefined): number {
  return Number(time?.seconds ?? 0) + (time?.nanos ?? 0) / 1e9;
}
