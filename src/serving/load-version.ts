/** Loads a registered model version into a Predictor: its transform, its ONNX session, probed before use. */
import type { ArtifactStore } from '../artifacts';
import { readJson } from '../artifacts';
import type { FittedTransform } from '../contracts/datasets';
import { loadOnnxModel } from '../models/onnx-model';
import { createPredictor } from '../models/predictor';
import type { ModelVersionRecord } from '../registry/model-registry';
import type { LoadedVersion } from './model-slot';

export async function loadVersion(store: ArtifactStore, record: ModelVersionRecord): Promise<LoadedVersion> {
  const transform = await readJson<FittedTransform>(store, record.transformUri);
  // loadOnnxModel runs one probe row, which checks the input width and learns the output width.
  const model = await loadOnnxModel(await store.read(record.modelUri), record.modelUri, transform.outputColumns.length);
  return { version: record.version, record, predictor: createPredictor(transform, model) };
}
