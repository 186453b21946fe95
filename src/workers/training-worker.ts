/** Entry point: the training worker (trainer processes, one per GPU) on the `mlops-training` task queue. */
import { createTrainingWorker } from './create-workers';
import { runWorker } from './run-worker';

runWorker(createTrainingWorker).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
