import type { ArtifactStore } from '../artifacts';
import type { FittedTransform } from '../contracts/datasets';
import type { ModelVersionRecord } from '../registry/model-registry';
import { loadOnnxModel } from './onnx-model';
import type { OnnxModel } from './onnx-model';
import type { Predictor } from './predictor';
import { createPredictor } from './predictor';
import { readTransform } from './transform-file';

/**
 * Loads a version the way the model server does (its transform, its ONNX session probed with one row, the predictor
 * over both), then releases it; so a version that cannot serve never gets an alias or a place in a deployment record.
 */
export async function checkServable(store: ArtifactStore, record: ModelVersionRecord): Promise<void> {
  const transform = await readTransform(store, record.transformUri);
  await (await loadPredictor(store, record.modelUri, transform)).close();
}

/**
 * The model at `modelUri` behind `transform` as a Predictor: its ONNX session (probed with one row, which checks the
 * input width, `transform.outputColumns.length` unless given) and the transform. A predictor that cannot be built
 * releases its session.
 */
export async function loadPredictor(
  store: ArtifactStore,
  modelUri: string,
  transform: FittedTransform,
  inputWidth = transform.outputColumns.length,
  /** Wraps the loaded session (the model server joins concurrent runs: `src/serving/coalesced-runs.ts`). */
  wrap: (model: OnnxModel) => OnnxModel = (model) => model,
): Promise<Predictor> {
  const model = wrap(await loadOnnxModel(await store.read(modelUri), modelUri, inputWidth));
  try {
    return createPredictor(transform, model);
  } catch (err) {
    await model.close();
    throw err;
  }
}
