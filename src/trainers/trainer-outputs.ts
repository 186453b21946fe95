/** What a finished trainer left in its output folder (docs/trainer-contract.md), checked the same way for every backend. */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactStore } from '../artifacts';
import { readJson } from '../artifacts';
import { trainerOutput, trainingOutputFiles } from '../artifacts/layout';
import type { TrainModelResult } from '../contracts/training';
import { mlopsError } from '../errors';

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
  }
  for (const [file, uri] of required) if (!(await store.exists(uri))) throw missing(file);
  const metrics = await readJson<Record<string, unknown>>(store, files.metrics);
  return { modelUri: files.model, metricsUri: files.metrics, outputUri, metrics };
}

function isFile(file: string): Promise<boolean> {
  return fs.stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}
