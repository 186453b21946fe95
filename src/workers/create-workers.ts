/**
 * Builds the project's workers from a config and a connection. The entry points (`pipeline-worker.ts`,
 * `training-worker.ts`), the demo and the tests all use these, so they run the same workers.
 */
import path from 'node:path';
import type { BigQueryOptions } from '@google-cloud/bigquery';
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { createPipelineActivities, createTrainingQueueActivities, GpuPool } from '../activities';
import { createArtifactStore } from '../artifacts';
import type { MlopsConfig } from '../config';
import { taskQueues } from '../contracts/task-queues';
import { projectRoot } from '../project-root';

export interface WorkerDeps {
  config: Readonly<MlopsConfig>;
  connection: NativeConnection;
  /** Task queue override (tests use one queue per test). */
  taskQueue?: string;
  /** A workflow bundle built once (tests); otherwise the prebuilt file (production) or a fresh bundle. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** BigQuery client options beyond the config, e.g. an `authClient` or `credentials` given in code. */
  bigQueryClient?: BigQueryOptions;
}

/**
 * Heartbeats carry training progress to the Web UI and bring cancellation back to trainers and Vertex AI jobs; the
 * SDK default throttles them to up to 60 s, which would leave a cancelled trainer running for a minute.
 */
const promptHeartbeats = {
  maxHeartbeatThrottleInterval: '2 seconds',
  defaultHeartbeatThrottleInterval: '2 seconds',
} as const;

export async function createPipelineWorker(deps: WorkerDeps): Promise<Worker> {
  const store = createArtifactStore(deps.config);
  return Worker.create({
    connection: deps.connection,
    namespace: deps.config.temporal.namespace,
    taskQueue: deps.taskQueue ?? taskQueues.pipeline,
    ...workflowSource(deps),
    activities: createPipelineActivities({ store, config: deps.config, bigQueryClient: deps.bigQueryClient }),
    // Data steps bound their own DuckDB threads; Vertex AI waits are idle polls that hold a slot for a whole job.
    maxConcurrentActivityTaskExecutions: 8,
    ...promptHeartbeats,
    shutdownGraceTime: deps.config.worker.shutdownGraceMs,
  });
}

export async function createTrainingWorker(deps: WorkerDeps): Promise<Worker> {
  const { config } = deps;
  const store = createArtifactStore(config);
  return Worker.create({
    connection: deps.connection,
    namespace: config.temporal.namespace,
    taskQueue: deps.taskQueue ?? taskQueues.training,
    activities: createTrainingQueueActivities({
      store,
      gpus: new GpuPool(config.training.gpus),
      trainerCommand: (kind) => trainerCommand(config, kind),
      workDir: path.join(config.stateDir, 'training'),
    }),
    // One trainer per GPU; a CPU-only machine trains one model at a time.
    maxConcurrentActivityTaskExecutions: Math.max(1, config.training.gpus),
    ...promptHeartbeats,
    shutdownGraceTime: config.worker.shutdownGraceMs,
  });
}

function workflowSource(deps: WorkerDeps): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (deps.workflowBundle) return { workflowBundle: deps.workflowBundle };
  if (deps.config.worker.useBundle) return { workflowBundle: { codePath: deps.config.worker.bundlePath } };
  return { workflowsPath: require.resolve('../workflows') };
}

/** argv of the bundled trainers. Under tsx (development) the TypeScript trainer runs through tsx's loader. */
export function trainerCommand(config: Readonly<MlopsConfig>, kind: 'builtin-linear' | 'torch-tabular'): string[] {
  if (kind === 'torch-tabular') {
    const python =
      config.training.python ?? path.join(config.cacheDir, 'python', 'torch-tabular-venv', 'bin', 'python');
    return [python, path.join(projectRoot, 'trainers', 'torch-tabular', 'train.py')];
  }
  const script = path.resolve(__dirname, `../trainers/linear-trainer${path.extname(__filename)}`);
  return __filename.endsWith('.ts')
    ? [process.execPath, '--require', require.resolve('tsx/cjs'), script]
    : [process.execPath, script];
}
