/**
 * A training run as a Vertex AI CustomJob definition (docs/vertex-ai.md): its settings (from the pipeline input, then
 * MLOPS_VERTEX_*), deterministic labels that let a retried submit find the job, and what each job state means.
 */
import { createHash } from 'node:crypto';
import type { protos } from '@google-cloud/aiplatform';
import type { MlopsConfig } from '../config';
import type { SubmitVertexJobInput } from '../contracts/training';
import { mlopsError } from '../errors';
import { runFlags } from '../trainers/contract-flags';
import { aiplatform } from './aiplatform';
import type { CustomJob } from './job-client';

type JobStateName = keyof typeof protos.google.cloud.aiplatform.v1.JobState;

/** Label carrying the run key's hash; Vertex label values are lowercase and at most 63 characters. */
export const runLabel = 'mlops_run';
const modelLabel = 'mlops_model';

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

export interface JobSettings {
  parent: string;
  stagingUri: string;
  imageUri: string;
  command?: string[];
  machineSpec: protos.google.cloud.aiplatform.v1.IMachineSpec;
  serviceAccount?: string;
}

/** Fills the job's settings from the input's spec, then MLOPS_VERTEX_*; reports every missing one in one error. */
export function jobSettings(input: SubmitVertexJobInput, vertex: MlopsConfig['vertex']): JobSettings {
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
    machineSpec: machineSpec(input, vertex, parent),
    serviceAccount: vertex.serviceAccount,
  };
}

function machineSpec(
  input: SubmitVertexJobInput,
  vertex: MlopsConfig['vertex'],
  parent: string,
): protos.google.cloud.aiplatform.v1.IMachineSpec {
  const machineType = input.spec.machineType ?? vertex.machineType;
  const acceleratorType = input.spec.acceleratorType ?? vertex.acceleratorType;
  const count = input.spec.acceleratorCount ?? vertex.acceleratorCount;
  const invalid = (reason: string) =>
    mlopsError('MLOPS_ERR_VERTEX_REQUEST_INVALID', { operation: 'createCustomJob', resource: parent, reason });
  if (!acceleratorType) {
    if (count > 0) throw invalid(`acceleratorCount ${count} needs an acceleratorType (MLOPS_VERTEX_ACCELERATOR_TYPE)`);
    return { machineType };
  }
  // The client silently encodes an unknown enum name as ACCELERATOR_TYPE_UNSPECIFIED, so check it here.
  if (
    !(acceleratorType in aiplatform().protos.google.cloud.aiplatform.v1.AcceleratorType) ||
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
export function jobLabels(input: SubmitVertexJobInput): Record<string, string> {
  return {
    [runLabel]: createHash('sha256').update(input.runKey).digest('hex').slice(0, 32),
    [modelLabel]: input.modelName
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, '-')
      .slice(0, 63),
  };
}

/** The CustomJob: one replica of the trainer image, given the contract flags with gs:// URIs. */
export function jobDefinition(
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
            args: runFlags(input, input.hyperparameters, { output: outputUri }),
          },
        },
      ],
      baseOutputDirectory: { outputUriPrefix: outputUri },
      serviceAccount: settings.serviceAccount,
    },
  };
}

export function stateOf(job: CustomJob): JobStateName {
  const { JobState } = aiplatform().protos.google.cloud.aiplatform.v1;
  const name = typeof job.state === 'number' ? JobState[job.state] : job.state;
  return name && name in stateOutcomes ? (name as JobStateName) : 'JOB_STATE_UNSPECIFIED';
}

/** `wait` while the job is on its way, `succeeded`, or throws the catalogued error of a job that ended otherwise. */
export function jobOutcome(job: CustomJob): 'wait' | 'succeeded' {
  const state = stateOf(job);
  const outcome = stateOutcomes[state];
  if (outcome === 'wait' || outcome === 'succeeded') return outcome;
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
    image: jobImage(job),
    state: state.replace('JOB_STATE_', ''),
    reason: job.error?.message || 'no error message',
  });
}

export function jobImage(job: CustomJob): string {
  return job.jobSpec?.workerPoolSpecs?.[0]?.containerSpec?.imageUri ?? 'unknown';
}

/** Creation time in seconds, for ordering jobs. */
export function createdSeconds(job: CustomJob): number {
  return Number(job.createTime?.seconds ?? 0) + (job.createTime?.nanos ?? 0) / 1e9;
}
