/** Entry point: the pipeline worker (workflows and CPU activities) on the `mlops-pipeline` task queue. */
import { createPipelineWorker } from './create-workers';
import { runWorker } from './run-worker';

runWorker(createPipelineWorker).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
