/** Entry point: the training worker (trainer processes, one per GPU) on the `mlops-training` task queue. */
import { createTrainingWorker } from './create-workers';
import { isMlopsError } from '../errors';
import { runWorker } from './run-worker';
import { takeNoArguments } from '../entry-arguments';

takeNoArguments(
  'npm run worker:training',
  `npm run worker:training: the training worker. It runs the trainer processes of training steps (each on a GPU of its own
when MLOPS_TRAINING_GPUS is set) on the task queue MLOPS_TRAINING_TASK_QUEUE (default mlops-training), until Ctrl-C.

Settings (environment variables; docs/configuration.md lists every one):
  TEMPORAL_ADDRESS          the Temporal server (default 127.0.0.1:MLOPS_DEV_SERVER_PORT, 7233)
  MLOPS_TRAINING_GPUS       GPUs to hand out, one per trainer (default 0)
  MLOPS_TRAINERS            registered trainers: a JSON object of name → argv (docs/trainer-contract.md)
  MLOPS_PYTHON              the Python of the torch-tabular trainer (default: the one npm run setup prepares)`,
);

runWorker(createTrainingWorker).catch((err: unknown) => {
  // A catalogued error is its message and fix; anything else keeps its stack.
  console.error(isMlopsError(err) ? err.message : err);
  process.exit(1);
});
