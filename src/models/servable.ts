import type { ArtifactStore } from '../artifacts';
import { readJson } from '../artifacts';
import type { FittedTransform } from '../contracts/datasets';
import type { ModelVersionRecord } from '../registry/model-registry';
import { loadOnnxModel } from './onnx-model';
import { createPredictor } from './predictor';

/**
 * Loads a version the way the model server does (its transform, its ONNX session probed with one row, the predictor
 * over both), then releases it; so a version that cannot serve never gets an alias or a place in a deployment record.
 */
export async function checkServable(store: ArtifactStore, record: ModelVersionRecord): Promise<void> {
  const transform = await readJson<FittedTransform>(store, record.transformUri);
  const model = await loadOnnxModel(await store.read(record.modelUri), record.modelUri, transform.outputColumns.length);
  try {
    createPredictor(transform, model);
  } finally {
    await model.close();
  }
}
