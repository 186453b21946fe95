import type { MlopsConfig } from '../../src/config';
import type { DependencyOverrides } from '../../src/dependencies';
import { buildDependencies } from '../../src/dependencies';
import { createPipelineWorker, createTrainingWorker } from '../../src/workers/create-workers';
import { stack, uniqueName } from './stack';

export interface Queues {
  pipeline: string;
  training: string;
}

export interface WithWorkersOptions extends DependencyOverrides {
  config: Readonly<MlopsConfig>;
  /** Names the task queues (the test's title), unless `queues` is given. */
  title: string;
  /** Fixed task queues (e.g. the defaults the README's commands use); fresh ones named after `title` otherwise. */
  queues?: Queues;
}

/**
 * Runs a real pipeline worker and training worker (own task queues) until `fn` settles, over one set of dependencies
 * built from `config` with the clients in `options` swapped in (e.g. BigQuery credentials).
 */
export async function withWorkers<T>(options: WithWorkersOptions, fn: (queues: Queues) => Promise<T>): Promise<T> {
  const { config, title, queues: fixed, ...overrides } = options;
  const pipeline = uniqueName(title);
  const queues = fixed ?? { pipeline, training: `${pipeline}-training` };
  const { connection, workflowBundle } = stack();
  const deps = buildDependencies(config, overrides);
  const pipelineWorker = await createPipelineWorker({ deps, connection, workflowBundle, taskQueue: queues.pipeline });
  const trainingWorker = await createTrainingWorker({ deps, connection, workflowBundle, taskQueue: queues.training });
  return pipelineWorker.runUntil(trainingWorker.runUntil(() => fn(queues)));
}
