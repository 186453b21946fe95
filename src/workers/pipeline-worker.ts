/** Entry point: the pipeline worker (workflows and CPU activities) on the `mlops-pipeline` task queue. */
import { createPipelineWorker } from './create-workers';
import { isMlopsError } from '../errors';
import { runWorker } from './run-worker';
import { takeNoArguments } from '../entry-arguments';

takeNoArguments(
  'npm run worker:pipeline',
  `npm run worker:pipeline: the pipeline worker. It runs the workflows and the data, evaluation, registry, rollout and
monitoring activities on the task queue mlops-pipeline, until Ctrl-C (running activities get
MLOPS_WORKER_SHUTDOWN_GRACE_MS to finish).

Settings (environment variables; docs/configuration.md lists every one):
  TEMPORAL_ADDRESS          the Temporal server (default 127.0.0.1:MLOPS_DEV_SERVER_PORT, 7233)
  MLOPS_ARTIFACT_ROOT       the artifact store: a folder or gs://bucket/prefix
  MLOPS_DATA_ROOTS          folders local datasets may be read from
  MLOPS_DATA_THREADS, MLOPS_DATA_MEMORY_LIMIT   what one data step may use (default 2 threads, 512MB)`,
);

runWorker(createPipelineWorker).catch((err: unknown) => {
  // A catalogued error is its message and fix; anything else keeps its stack.
  console.error(isMlopsError(err) ? err.message : err);
  process.exit(1);
});
