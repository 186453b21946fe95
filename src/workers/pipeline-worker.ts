/** Entry point: the pipeline worker (workflows and CPU activities) on the `mlops-pipeline` task queue. */
import { createPipelineWorker } from './create-workers';
import { isMlopsError } from '../errors';
import { runWorker } from './run-worker';

runWorker(createPipelineWorker).catch((err: unknown) => {
  // A catalogued error is its message and fix; anything else keeps its stack.
  console.error(isMlopsError(err) ? err.message : err);
  process.exit(1);
});
