/**
 * A fake of the Vertex AI JobService (v1) for tests: a real gRPC server built from the protos that ship inside
 * `@google-cloud/aiplatform`, so the real `JobServiceClient` talks to it over plaintext gRPC. It implements
 * CreateCustomJob, GetCustomJob, ListCustomJobs (filter `labels.k="v" AND …`) and CancelCustomJob, and it actually
 * runs each job: the first worker pool's container becomes a local process (the image URI maps to a local argv
 * prefix), with gs:// inputs downloaded from fake-gcs-server and outputs uploaded back as they appear.
 *
 * States follow Vertex: PENDING (staging inputs) → RUNNING → SUCCEEDED | FAILED, and on cancel CANCELLING (the
 * process group gets SIGTERM, then SIGKILL) → CANCELLED.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { protos } from '@google-cloud/aiplatform';
import { Storage } from '@google-cloud/storage';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

type CustomJob = protos.google.cloud.aiplatform.v1.ICustomJob;
type JobStateName = keyof typeof protos.google.cloud.aiplatform.v1.JobState;
type Method = 'CreateCustomJob' | 'GetCustomJob' | 'ListCustomJobs' | 'CancelCustomJob';
/** The fields of the four requests (proto-loader fills every field with its default). */
interface JobServiceRequest {
  parent: string;
  name: string;
  filter: string;
  customJob: CustomJob;
}
type Handler = grpc.handleUnaryCall<JobServiceRequest, unknown>;

export interface VertexFakeOptions {
  /** Container image URI → local argv that stands in for the image's entrypoint; other images fail to "pull". */
  images: Record<string, string[]>;
  /** fake-gcs-server base URL that the jobs' gs:// URIs live on. */
  gcsApiEndpoint: string;
  /** Folder for each job's staged inputs and local outputs. */
  workDir: string;
}

/** What the fake knows about one job, for assertions. */
export interface FakeJobRecord {
  job: CustomJob;
  /** Process id (and process group id) of the running container, once started. */
  pid?: number;
  /** Resolves with the job once it reaches a terminal state. */
  settled: Promise<CustomJob>;
}

interface JobRun extends FakeJobRecord {
  child?: ChildProcess;
  /** The job's gs:// output folder (the value of --output), where local outputs are uploaded. */
  gcsOutput?: string;
  cancelRequested: boolean;
  uploads: Promise<void>;
  settle(job: CustomJob): void;
}

const terminalStates: JobStateName[] = [
  'JOB_STATE_SUCCEEDED',
  'JOB_STATE_FAILED',
  'JOB_STATE_CANCELLED',
  'JOB_STATE_EXPIRED',
  'JOB_STATE_PARTIALLY_SUCCEEDED',
];
/** Flags whose gs:// value the container writes to; every other gs:// flag value is an input to download. */
const outputFlags = new Set(['--output']);
/** Time a cancelled container gets between SIGTERM and SIGKILL. */
const killGraceMs = 2_000;

export class VertexFake {
  /** Calls received per method (failed ones included). */
  readonly calls: Record<Method, number> = {
    CreateCustomJob: 0,
    GetCustomJob: 0,
    ListCustomJobs: 0,
    CancelCustomJob: 0,
  };
  private readonly jobs = new Map<string, JobRun>();
  private readonly faults: { method: Method; code: grpc.status; when: 'before' | 'after' }[] = [];
  private readonly storage: Storage;
  private nextId = 1000;

  private constructor(
    private readonly server: grpc.Server,
    readonly endpoint: string,
    private readonly options: VertexFakeOptions,
  ) {
    this.storage = new Storage({ apiEndpoint: options.gcsApiEndpoint, projectId: 'test' });
  }

  /** Starts the fake on a free loopback port; `endpoint` is `http://127.0.0.1:<port>` (MLOPS_VERTEX_API_ENDPOINT). */
  static async start(options: VertexFakeOptions): Promise<VertexFake> {
    const server = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
    const fake = new VertexFake(server, `http://127.0.0.1:${port}`, options);
    server.addService(jobServiceDefinition(), fake.handlers());
    return fake;
  }

  get createCalls(): number {
    return this.calls.CreateCustomJob;
  }

  get cancelCalls(): number {
    return this.calls.CancelCustomJob;
  }

  /** Makes the next call of `method` fail with `code`: before doing anything, or after doing its work (a lost response). */
  failNext(method: Method, code: grpc.status, when: 'before' | 'after' = 'before'): void {
    this.faults.push({ method, code, when });
  }

  job(name: string): FakeJobRecord {
    const run = this.jobs.get(name);
    if (!run) throw new Error(`The fake has no job ${name}`);
    return run;
  }

  /** Kills every container still running and shuts the server down. */
  async stop(): Promise<void> {
    for (const run of this.jobs.values()) {
      if (run.pid !== undefined && run.child?.exitCode === null && run.child.signalCode === null)
        signalGroup(run.pid, 'SIGKILL');
    }
    await Promise.all([...this.jobs.values()].filter((r) => r.child).map((r) => r.settled));
    this.server.forceShutdown();
  }

  private handlers(): Record<Method, Handler> {
    return {
      CreateCustomJob: this.unary('CreateCustomJob', (req) => this.create(req)),
      GetCustomJob: this.unary('GetCustomJob', (req) => this.find(req.name).job),
      ListCustomJobs: this.unary('ListCustomJobs', (req) => this.list(req)),
      CancelCustomJob: this.unary('CancelCustomJob', (req) => this.cancel(req.name)),
    };
  }

  /** Wraps a method: counts the call, injects queued faults, and turns thrown `{ code }` objects into gRPC statuses. */
  private unary(method: Method, body: (request: JobServiceRequest) => unknown): Handler {
    return (call, callback) => {
      this.calls[method]++;
      const fault = this.faults.findIndex((f) => f.method === method);
      const [injected] = fault >= 0 ? this.faults.splice(fault, 1) : [];
      if (injected?.when === 'before') return callback(statusError(injected.code, `injected ${method} failure`));
      try {
        const response = body(call.request);
        if (injected) return callback(statusError(injected.code, `injected ${method} failure after the call`));
        callback(null, response);
      } catch (err) {
        callback(err as grpc.ServiceError);
      }
    };
  }

  private create(request: JobServiceRequest): CustomJob {
    const { parent, customJob } = request;
    if (!/^projects\/[^/]+\/locations\/[^/]+$/.test(parent))
      throw statusError(grpc.status.INVALID_ARGUMENT, `bad parent ${parent}`);
    if (!customJob.displayName) throw statusError(grpc.status.INVALID_ARGUMENT, 'display_name is required');
    if (!customJob.jobSpec?.workerPoolSpecs?.[0]?.containerSpec?.imageUri)
      throw statusError(grpc.status.INVALID_ARGUMENT, 'worker_pool_specs[0].container_spec.image_uri is required');
    const name = `${parent}/customJobs/${this.nextId++}`;
    const now = timestamp();
    const job: CustomJob = { ...customJob, name, state: 'JOB_STATE_PENDING', createTime: now, updateTime: now };
    let settle!: (job: CustomJob) => void;
    const settled = new Promise<CustomJob>((resolve) => (settle = resolve));
    const run: JobRun = { job, settled, settle, cancelRequested: false, uploads: Promise.resolve() };
    this.jobs.set(name, run);
    setImmediate(() => void this.execute(run));
    return job;
  }

  private find(name: string): JobRun {
    const run = this.jobs.get(name);
    if (!run) throw statusError(grpc.status.NOT_FOUND, `The CustomJob "${name}" does not exist.`);
    return run;
  }

  private list(request: JobServiceRequest): { customJobs: CustomJob[]; nextPageToken: string } {
    const { parent } = request;
    const labels = parseLabelFilter(request.filter);
    const customJobs = [...this.jobs.values()]
      .map((r) => r.job)
      .filter((job) => job.name!.startsWith(`${parent}/customJobs/`))
      .filter((job) => Object.entries(labels).every(([k, v]) => job.labels?.[k] === v));
    return { customJobs, nextPageToken: '' };
  }

  private cancel(name: string): Record<string, never> {
    const run = this.find(name);
    if (terminalStates.includes(run.job.state as JobStateName))
      throw statusError(grpc.status.FAILED_PRECONDITION, `Cannot cancel ${name} in state ${String(run.job.state)}`);
    run.cancelRequested = true;
    this.transition(run, 'JOB_STATE_CANCELLING');
    if (run.pid !== undefined) {
      signalGroup(run.pid, 'SIGTERM');
      setTimeout(() => signalGroup(run.pid!, 'SIGKILL'), killGraceMs).unref();
    }
    return {};
  }

  /** Stages the inputs, runs the container, and uploads its outputs; ends in a terminal state whatever happens. */
  private async execute(run: JobRun): Promise<void> {
    try {
      const exit = await this.runContainer(run);
      await run.uploads;
      if (run.cancelRequested) return this.transition(run, 'JOB_STATE_CANCELLED');
      if (exit.code === 0) {
        await this.syncOutputs(run);
        return this.transition(run, 'JOB_STATE_SUCCEEDED');
      }
      const status = exit.signal ? `was killed by ${exit.signal}` : `exited with a non-zero status of ${exit.code}`;
      this.fail(run, `The replica workerpool0-0 ${status}. Last output:\n${exit.tail}`);
    } catch (err) {
      if (run.cancelRequested) return this.transition(run, 'JOB_STATE_CANCELLED');
      this.fail(run, (err as Error).message);
    }
  }

  private async runContainer(
    run: JobRun,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; tail: string }> {
    const spec = run.job.jobSpec!.workerPoolSpecs![0]!.containerSpec!;
    const entrypoint = this.options.images[spec.imageUri!];
    if (!entrypoint) throw new Error(`Unable to pull image ${spec.imageUri}: not found`);
    const jobDir = path.join(this.options.workDir, run.job.name!.split('/').at(-1)!);
    const localOutput = path.join(jobDir, 'output');
    await fs.mkdir(localOutput, { recursive: true });
    const args = await this.stageArgs(spec.args ?? [], jobDir, localOutput, run);
    if (run.cancelRequested) return { code: null, signal: 'SIGTERM', tail: '' };
    const argv = [...(spec.command?.length ? spec.command : entrypoint), ...args];
    const child = spawn(argv[0]!, argv.slice(1), {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.vertexEnvironment(run.job) },
    });
    run.child = child;
    run.pid = child.pid;
    this.transition(run, 'JOB_STATE_RUNNING');
    const tail: string[] = [];
    createInterface({ input: child.stderr }).on('line', (line) => tail.push(line) > 20 && tail.shift());
    createInterface({ input: child.stdout }).on('line', (line) => {
      const checkpoint = checkpointFile(line);
      if (checkpoint) this.queueUpload(run, localOutput, checkpoint);
    });
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    return { ...exit, tail: tail.join('\n') };
  }

  /** Downloads gs:// inputs next to the job and points the output flag at a local folder that is synced back. */
  private async stageArgs(args: string[], jobDir: string, localOutput: string, run: JobRun): Promise<string[]> {
    const staged = [...args];
    for (let i = 1; i < staged.length; i++) {
      const value = staged[i]!;
      if (!value.startsWith('gs://')) continue;
      const flag = staged[i - 1]!;
      if (outputFlags.has(flag)) {
        run.gcsOutput = value.replace(/\/+$/, '');
        staged[i] = pathToFileURL(localOutput).href;
        continue;
      }
      const local = path.join(jobDir, 'inputs', flag.replace(/^-+/, ''), path.basename(value));
      const { bucket, object } = parseGsUri(value);
      await fs.mkdir(path.dirname(local), { recursive: true });
      await this.storage.bucket(bucket).file(object).download({ destination: local });
      staged[i] = pathToFileURL(local).href;
    }
    return staged;
  }

  /** The variables Vertex AI sets from baseOutputDirectory (https://cloud.google.com/vertex-ai/docs/training/code-requirements). */
  private vertexEnvironment(job: CustomJob): Record<string, string> {
    const prefix = job.jobSpec?.baseOutputDirectory?.outputUriPrefix?.replace(/\/+$/, '');
    const id = job.name!.split('/').at(-1)!;
    if (!prefix) return { CLOUD_ML_JOB_ID: id };
    return {
      CLOUD_ML_JOB_ID: id,
      AIP_MODEL_DIR: `${prefix}/model/`,
      AIP_CHECKPOINT_DIR: `${prefix}/checkpoints/`,
      AIP_TENSORBOARD_LOG_DIR: `${prefix}/logs/`,
    };
  }

  /** Uploads one finished file; uploads run one after another so the output folder fills in order. */
  private queueUpload(run: JobRun, localOutput: string, file: string): void {
    if (!run.gcsOutput) return;
    const { bucket, object } = parseGsUri(
      `${run.gcsOutput}/${path.relative(localOutput, file).split(path.sep).join('/')}`,
    );
    run.uploads = run.uploads.then(() =>
      this.storage
        .bucket(bucket)
        .upload(file, { destination: object, resumable: false })
        .then(() => undefined),
    );
  }

  /** Uploads everything the container left in its output folder (model.onnx, metrics.json, checkpoints/). */
  private async syncOutputs(run: JobRun): Promise<void> {
    const localOutput = path.join(this.options.workDir, run.job.name!.split('/').at(-1)!, 'output');
    const entries = await fs.readdir(localOutput, { recursive: true, withFileTypes: true });
    for (const entry of entries) {
      if (entry.isFile() && !entry.name.includes('.tmp-'))
        this.queueUpload(run, localOutput, path.join(entry.parentPath, entry.name));
    }
    await run.uploads;
  }

  private fail(run: JobRun, message: string): void {
    this.transition(run, 'JOB_STATE_FAILED', { code: grpc.status.UNKNOWN, message, details: [] });
  }

  private transition(run: JobRun, state: JobStateName, error?: CustomJob['error']): void {
    const now = timestamp();
    run.job = {
      ...run.job,
      state,
      updateTime: now,
      ...(state === 'JOB_STATE_RUNNING' ? { startTime: now } : {}),
      ...(terminalStates.includes(state) ? { endTime: now } : {}),
      ...(error ? { error } : {}),
    };
    if (terminalStates.includes(state)) run.settle(run.job);
  }
}

let cachedDefinition: grpc.ServiceDefinition | undefined;

/** The JobService definition from `job_service.proto`; google/api, google/rpc etc. come from google-gax's protos. */
function jobServiceDefinition(): grpc.ServiceDefinition {
  if (cachedDefinition) return cachedDefinition;
  const aiplatformProtos = path.join(
    path.dirname(require.resolve('@google-cloud/aiplatform/package.json')),
    'build',
    'protos',
  );
  // google-gax has an `exports` map without package.json; its main file sits in build/src.
  const gaxProtos = path.join(path.dirname(require.resolve('google-gax')), '..', '..', 'build', 'protos');
  const definition = protoLoader.loadSync('google/cloud/aiplatform/v1/job_service.proto', {
    includeDirs: [aiplatformProtos, gaxProtos],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    google: { cloud: { aiplatform: { v1: { JobService: grpc.ServiceClientConstructor } } } };
  };
  cachedDefinition = loaded.google.cloud.aiplatform.v1.JobService.service;
  return cachedDefinition;
}

/** Parses the subset of the AIP-160 filter the activities send: `labels.key="value"` terms joined by AND. */
function parseLabelFilter(filter: string): Record<string, string> {
  if (filter.trim() === '') return {};
  const labels: Record<string, string> = {};
  for (const term of filter.split(/\s+AND\s+/)) {
    const match = /^\s*labels\.([a-z][a-z0-9_-]*)\s*=\s*"([^"]*)"\s*$/.exec(term);
    if (!match) throw statusError(grpc.status.INVALID_ARGUMENT, `Unsupported filter term: ${term}`);
    labels[match[1]!] = match[2]!;
  }
  return labels;
}

function checkpointFile(line: string): string | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const event = JSON.parse(line) as { type?: string; uri?: string };
    return event.type === 'checkpoint' && event.uri?.startsWith('file://') ? fileURLToPath(event.uri) : undefined;
  } catch {
    return undefined;
  }
}

function parseGsUri(uri: string): { bucket: string; object: string } {
  const match = /^gs:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) throw new Error(`Not a gs:// object URI: ${uri}`);
  return { bucket: match[1]!, object: match[2]! };
}

function statusError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

function timestamp(): { seconds: number; nanos: number } {
  const ms = Date.now();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}
