/** Entry point: the training worker (trainer processes, one per GPU) on the `mlops-training` task queue. */
import { createTrainingWorker } from './create-workers';
import { isMlopsError } from '../errors';
import { runWorker } from './run-worker';

runWorker(createTrainingWorker).catch((err: unknown) => {
  // A catalogued error is its message and fix; anything else keeps its stack.
  console.error(isMlopsError(err) ? err.message : err);
  process.exit(1);
});
