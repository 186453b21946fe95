/**
 * Loads a registered model version into a Predictor: its transform, its ONNX session, probed before use. `serving`:
 * the session's runs of one event-loop turn are joined (`coalesced-runs.ts`), for the model server.
 */
import type { ArtifactStore } from '../artifacts';
import { loadPredictor } from '../models/servable';
import { readTransform } from '../models/transform-file';
import type { ModelVersionRecord } from '../registry/model-registry';
import { coalescedRuns } from './coalesced-runs';
import type { LoadedVersion } from './model-slot';

export async function loadVersion(
  store: ArtifactStore,
  record: ModelVersionRecord,
  serving = false,
): Promise<LoadedVersion> {
  // Checked for shape, so a broken transform.json fails naming the file (on /readyz, in the log), not a TypeError.
  const transform = await readTransform(store, record.transformUri);
  const wrap = serving ? coalescedRuns : undefined;
  const predictor = await loadPredictor(store, record.modelUri, transform, undefined, wrap);
  return { version: record.version, record, predictor };
}
