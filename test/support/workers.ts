import type { MlopsConfig } from '../../src/config';
import type { WorkerDeps } from '../../src/workers/create-workers';
import { createPipelineWorker, createTrainingWorker } from '../../src/workers/create-workers';
import { stack, uniqueName } from './stack';

export interface Queues {
  pipeline: string;
  training: string;
}

export interface WithWorkersOptions extends Pick<WorkerDeps, 'bigQueryClient'> {
  config: Readonly<MlopsConfig>;
  /** Names the task queues (the test's title), unless `queues` is given. */
  title: string;
  /** Fixed task queues (e.g. the defaults the README's commands use); fresh ones named after `title` otherwise. */
  queues?: Queues;
}

/** Runs a real pipeline worker and training worker (own task queues) until `fn` settles. */
export async function withWorkers<T>(options: WithWorkersOptions, fn: (queues: Queues) => Promise<T>): Promise<T> {
  const { config, title, bigQueryClient } = options;
  const pipeline = uniqueName(title);
  const queues = options.queues ?? { pipeline, training: `${pipeline}-training` };
  const { connection, workflowBundle } = stack();
  const pipelineWorker = await createPipelineWorker({
    bigQueryClient,
    config,
    connection,
    workflowBundle,
    taskQueue: queues.pipeline,
  });
  const trainingWorker = await createTrainingWorker({ config, connection, workflowBundle, taskQueue: queues.training });
  return pipelineWorker.runUntil(trainingWorker.runUntil(() => fn(queues)));
}
