/**
 * Builds the project's workers over dependencies built once by the composition root. The entry points
 * (`pipeline-worker.ts`, `training-worker.ts`), the demo and the tests all use these, so they run the same workers.
 */
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { createPipelineActivities, createTrainingQueueActivities } from '../activities';
import { taskQueues } from '../contracts/task-queues';
import type { Dependencies } from '../dependencies';
import { payloadDataConverter } from '../codec/payload-codec';
import { sweepScratch } from '../scratch';

export interface WorkerDeps {
  deps: Dependencies;
  connection: NativeConnection;
  /** Task queue override (tests use one queue per test). */
  taskQueue?: string;
  /** A workflow bundle built once (tests); otherwise the prebuilt file (production) or a fresh bundle. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

/**
 * Heartbeats carry training progress to the Web UI and bring cancellation back to trainers and Vertex AI jobs; the
 * SDK default throttles them to up to 60 s, which would leave a cancelled trainer running for a minute.
 */
const promptHeartbeats = {
  maxHeartbeatThrottleInterval: '2 seconds',
  defaultHeartbeatThrottleInterval: '2 seconds',
} as const;

export async function createPipelineWorker(options: WorkerDeps): Promise<Worker> {
  // Scratch folders of steps whose worker died (killed mid-step) are removed before new steps add their own.
  await sweepScratch(options.deps.scratchRoot);
  return Worker.create({
    ...common(options, taskQueues.pipeline),
    ...workflowSource(options),
    activities: createPipelineActivities(options.deps),
    // Data steps bound their own DuckDB threads; Vertex AI waits are idle polls that hold a slot for a whole job.
    maxConcurrentActivityTaskExecutions: 8,
  });
}

export async function createTrainingWorker(options: WorkerDeps): Promise<Worker> {
  return Worker.create({
    ...common(options, options.deps.config.training.taskQueue),
    activities: createTrainingQueueActivities(options.deps),
    // One trainer per GPU; a CPU-only machine trains one model at a time.
    maxConcurrentActivityTaskExecutions: Math.max(1, options.deps.config.training.gpus),
  });
}

/** What every worker shares: connection, namespace, task queue, heartbeat throttling, shutdown grace. */
function common(options: WorkerDeps, defaultQueue: string) {
  const { config } = options.deps;
  return {
    connection: options.connection,
    namespace: config.temporal.namespace,
    taskQueue: options.taskQueue ?? defaultQueue,
    ...promptHeartbeats,
    shutdownGraceTime: config.worker.shutdownGraceMs,
    // Only when keys are set: an explicit `dataConverter: undefined` would replace the SDK's default.
    ...withCodec(config.codec.keys),
  };
}

function workflowSource(options: WorkerDeps): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const { worker } = options.deps.config;
  if (options.workflowBundle) return { workflowBundle: options.workflowBundle };
  if (worker.useBundle) return { workflowBundle: { codePath: worker.bundlePath } };
  return { workflowsPath: require.resolve('../workflows') };
}

function withCodec(keys: Dependencies['config']['codec']['keys']): Pick<WorkerOptions, 'dataConverter'> {
  const dataConverter = payloadDataConverter(keys);
  return dataConverter ? { dataConverter } : {};
}
