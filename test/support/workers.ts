import type { MlopsConfig } from '../../src/config';
import type { WorkerDeps } from '../../src/workers/create-workers';
import { createPipelineWorker, createTrainingWorker } from '../../src/workers/create-workers';
import { stack, uniqueName } from './stack';

export interface Queues {
  pipeline: string;
  training: string;
}

/** Runs a real pipeline worker and training worker (own task queues) until `fn` settles. */
export async function withWorkers<T>(
  config: Readonly<MlopsConfig>,
  title: string,
  fn: (queues: Queues) => Promise<T>,
  fixedQueues?: Queues,
  pipelineDeps: Pick<WorkerDeps, 'bigQueryClient'> = {},
): Promise<T> {
  const pipeline = uniqueName(title);
  const queues = fixedQueues ?? { pipeline, training: `${pipeline}-training` };
  const { connection, workflowBundle } = stack();
  const pipelineWorker = await createPipelineWorker({
    ...pipelineDeps,
    config,
    connection,
    workflowBundle,
    taskQueue: queues.pipeline,
  });
  const trainingWorker = await createTrainingWorker({ config, connection, workflowBundle, taskQueue: queues.training });
  return pipelineWorker.runUntil(trainingWorker.runUntil(() => fn(queues)));
}
