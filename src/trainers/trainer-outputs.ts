/** What a finished trainer left in its output folder (docs/trainer-contract.md), checked the same way for every backend. */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactStore } from '../artifacts';
import { trainerOutput, trainingOutputFiles } from '../artifacts/layout';
import type { TrainModelResult } from '../contracts/training';
import { mlopsError } from '../errors';
import { parseTrainerJson, TrainerJsonError } from './trainer-json';
import { trainerLogName } from './trainer-log';

/**
 * The model and metrics of a finished trainer. A local trainer wrote them to `localDir`, which is uploaded first when
 * the store is remote; a remote trainer wrote them to `outputUri` itself. `trainer` names it in errors.
 */
export async function collectTrainerOutputs(
  store: ArtifactStore,
  outputUri: string,
  trainer: string,
  localDir?: string,
): Promise<Omit<TrainModelResult, 'resumedFromEpoch'>> {
  const files = trainingOutputFiles(store, outputUri);
  const required = [
    [trainerOutput.model, files.model],
    [trainerOutput.metrics, files.metrics],
  ] as const;
  const missing = (file: string) => mlopsError('MLOPS_ERR_TRAIN_OUTPUT_MISSING', { trainer, file, output: outputUri });
  if (localDir && !store.localPath(outputUri)) {
    for (const [file, uri] of required) {
      const local = path.join(localDir, file);
      if (!(await isFile(local))) throw missing(file);
      await store.upload(local, uri);
    }
    // The log is kept beside the model, so a remote store holds the whole run (it is optional: a trainer may print nothing).
    const log = path.join(localDir, trainerLogName);
    if (await isFile(log)) await store.upload(log, store.uri(outputUri, trainerLogName));
  }
  for (const [file, uri] of required) if (!(await store.exists(uri))) throw missing(file);
  const { metrics, nonFinite } = await readMetrics(store, files.metrics, trainer);
  return {
    modelUri: files.model,
    metricsUri: files.metrics,
    outputUri,
    metrics,
    ...(nonFinite.length > 0 && { nonFiniteMetrics: nonFinite }),
  };
}

/** metrics.json, with Python's NaN and ±Infinity read as null; anything else that is not JSON is the trainer's bug. */
async function readMetrics(store: ArtifactStore, uri: string, trainer: string) {
  const text = (await store.read(uri)).toString('utf8');
  try {
    const { value, nonFinite } = parseTrainerJson(text);
    return { metrics: (value ?? {}) as Record<string, unknown>, nonFinite };
  } catch (err) {
    if (!(err instanceof TrainerJsonError)) throw err;
    const near = JSON.stringify(text.slice(Math.max(0, err.position - 40), err.position + 40));
    const { reason, line, column, position } = err;
    throw mlopsError('MLOPS_ERR_TRAIN_METRICS_INVALID', { trainer, uri, reason, line, column, position, near });
  }
}

function isFile(file: string): Promise<boolean> {
  return fs.stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}
