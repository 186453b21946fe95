/** Loads a registered model version into a Predictor: its transform, its ONNX session, probed before use. */
import type { ArtifactStore } from '../artifacts';
import { readJson } from '../artifacts';
import type { FittedTransform } from '../contracts/datasets';
import { loadPredictor } from '../models/servable';
import type { ModelVersionRecord } from '../registry/model-registry';
import type { LoadedVersion } from './model-slot';

export async function loadVersion(store: ArtifactStore, record: ModelVersionRecord): Promise<LoadedVersion> {
  const transform = await readJson<FittedTransform>(store, record.transformUri);
  return { version: record.version, record, predictor: await loadPredictor(store, record.modelUri, transform) };
}
