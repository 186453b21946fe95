/**
 * Training as a Vertex AI CustomJob (docs/vertex-ai.md), submit then wait: the submit is idempotent (the job carries
 * labels derived from the run key, and a retried submit finds it); each check reads the job's state and the progress
 * its checkpoints show, and turns a finished job into the trainer's outputs or a catalogued failure.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArtifactStore } from '../artifacts';
import { trainingOutputFiles, trainingRun } from '../artifacts/layout';
import type { MlopsConfig } from '../config';
import type {
  SubmittedVertexJob,
  SubmitVertexJobInput,
  TrainingProgress,
  TrainModelResult,
  WaitVertexJobInput,
} from '../contracts/training';
import { newestCheckpoint } from '../trainers/checkpoints';
import { collectTrainerOutputs } from '../trainers/trainer-outputs';
import {
  createdSeconds,
  jobDefinition,
  jobImage,
  jobLabels,
  jobOutcome,
  jobSettings,
  runLabel,
  stateOf,
} from './custom-job';
import type { CustomJob, VertexJobs } from './job-client';

/** Heartbeat details of the wait: progress read from the job's checkpoints, plus the job's state. */
export interface VertexTrainingProgress extends TrainingProgress {
  jobName: string;
  state: string;
}

export interface VertexTrainingDeps {
  settings: MlopsConfig['vertex'];
  jobs: VertexJobs;
  /** The store that holds a gs:// URI: the worker's own store inside its root, else one for the URI's bucket. */
  storeFor: (uri: string) => ArtifactStore;
}

export class VertexTraining {
  constructor(private readonly deps: VertexTrainingDeps) {}

  /** Creates the run's job, or finds the one an earlier attempt created. */
  async submit(input: SubmitVertexJobInput): Promise<SubmittedVertexJob & { state?: string }> {
    const settings = jobSettings(input, this.deps.settings);
    const store = this.deps.storeFor(settings.stagingUri);
    const run = trainingRun(store, input.modelName, input.runKey, settings.stagingUri);
    const labels = jobLabels(input);
    const found = await this.deps.jobs.findByLabel(settings.parent, runLabel, labels[runLabel]!);
    // Normally one; should two ever exist, keep following the first one created.
    const existing = [...found].sort((a, b) => createdSeconds(a) - createdSeconds(b))[0];
    if (existing) return { jobName: existing.name!, outputUri: run.output, created: false, state: stateOf(existing) };
    const staged = await stageInputs(store, run.inputs, input);
    const job = await this.deps.jobs.create(
      settings.parent,
      jobDefinition({ ...input, ...staged }, settings, labels, run.output),
    );
    return { jobName: job.name!, outputUri: run.output, created: true };
  }

  /** One look at the job: its state, and the progress its checkpoints show. */
  async check(
    input: WaitVertexJobInput,
    last: VertexTrainingProgress,
    warn: (message: string, details: Record<string, unknown>) => void,
  ): Promise<{ progress: VertexTrainingProgress; job: CustomJob }> {
    const store = this.deps.storeFor(input.outputUri);
    const job = await this.deps.jobs.get(input.jobName);
    const checkpoint = await checkpointProgress(store, input.outputUri, last, warn);
    return { progress: { ...last, ...checkpoint, state: stateOf(job) }, job };
  }

  /** The outputs of a job that succeeded, undefined while it is on its way; a job that ended otherwise throws. */
  async settle(job: CustomJob, outputUri: string): Promise<TrainModelResult | undefined> {
    if (jobOutcome(job) === 'wait') return undefined;
    return collectTrainerOutputs(this.deps.storeFor(outputUri), outputUri, jobImage(job));
  }

  cancel(jobName: string): Promise<void> {
    return this.deps.jobs.cancel(jobName);
  }
}

/** The remote job cannot read the worker's files: local (file://) inputs are uploaded next to the run's output. */
async function stageInputs(
  store: ArtifactStore,
  inputsFolder: string,
  input: SubmitVertexJobInput,
): Promise<Pick<SubmitVertexJobInput, 'trainUri' | 'validationUri' | 'transformUri'>> {
  const stage = async (uri: string, role: string) => {
    if (!uri.startsWith('file://')) return uri;
    const local = fileURLToPath(uri);
    const target = store.uri(inputsFolder, `${role}${path.extname(local)}`);
    await store.upload(local, target);
    return target;
  };
  return {
    trainUri: await stage(input.trainUri, 'train'),
    validationUri: await stage(input.validationUri, 'validation'),
    transformUri: await stage(input.transformUri, 'transform'),
  };
}

/**
 * Progress of a remote trainer, seen from outside: the newest checkpoint in its output folder. Best effort: a failed
 * listing keeps the last progress rather than failing the wait.
 */
async function checkpointProgress(
  store: ArtifactStore,
  outputUri: string,
  last: TrainingProgress,
  warn: (message: string, details: Record<string, unknown>) => void,
): Promise<Partial<TrainingProgress>> {
  const uris = await store.list(trainingOutputFiles(store, outputUri).checkpoints).catch((err: Error) => {
    warn('Could not list the job checkpoints', { outputUri, error: err.message });
    return [];
  });
  const newest = newestCheckpoint(uris);
  if (!newest || newest.epoch <= last.epoch) return {};
  return { epoch: newest.epoch, checkpointUri: newest.uri, checkpointEpoch: newest.epoch };
}
