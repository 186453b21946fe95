import type { MlopsConfig } from '../../src/config';
import type { DependencyOverrides } from '../../src/dependencies';
import { buildDependencies } from '../../src/dependencies';
import { createPipelineWorker, createTrainingWorker } from '../../src/workers/create-workers';
import { stack, uniqueName } from './stack';

export interface Queues {
  pipeline: string;
  training: string;
}

export interface WithWorkersOptions {
  /** Task queues to poll. @default two queues unique to the title */
  queues?: Queues;
  /** Clients swapped into the workers' dependencies (e.g. BigQuery credentials). */
  overrides?: DependencyOverrides;
}

/** Runs a real pipeline worker and training worker (own task queues) until `fn` settles. */
export async function withWorkers<T>(
  config: Readonly<MlopsConfig>,
  title: string,
  fn: (queues: Queues) => Promise<T>,
  options: WithWorkersOptions = {},
): Promise<T> {
  const pipeline = uniqueName(title);
  const queues = options.queues ?? { pipeline, training: `${pipeline}-training` };
  const { connection, workflowBundle } = stack();
  const deps = buildDependencies(config, options.overrides);
  const pipelineWorker = await createPipelineWorker({ deps, connection, workflowBundle, taskQueue: queues.pipeline });
  const trainingWorker = await createTrainingWorker({ deps, connection, workflowBundle, taskQueue: queues.training });
  return pipelineWorker.runUntil(trainingWorker.runUntil(() => fn(queues)));
}
