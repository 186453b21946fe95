/** A registry to list: one version of each model, whose files the registry copies but no test serves. */
import type { ArtifactStore } from '../../src/artifacts';
import { LocalArtifactStore, writeJson } from '../../src/artifacts';
import { registerVersion } from '../../src/registry/model-registry';
import { tempDir } from './stack';

/** A fresh local store whose registry holds one version of each of `models` (and no alias). */
export async function registryWith(models: string[]): Promise<ArtifactStore> {
  const store = new LocalArtifactStore(tempDir('models-registry'));
  for (const modelName of models) {
    const run = store.uri('runs', modelName, 'run-1');
    await store.write(store.uri(run, 'model.onnx'), 'not read by these tests');
    await writeJson(store, store.uri(run, 'transform.json'), { specHash: 'test' });
    await writeJson(store, store.uri(run, 'evaluation.json'), {});
    await registerVersion(store, {
      modelName,
      modelUri: store.uri(run, 'model.onnx'),
      transformUri: store.uri(run, 'transform.json'),
      evaluationUri: store.uri(run, 'evaluation.json'),
      snapshotId: 'ds-0000000000000000',
      metrics: {},
      registrationKey: `${modelName}/run-1`,
    });
  }
  return store;
}
