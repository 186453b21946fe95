/**
 * Every artifact path the model server reads or writes, in one place (to be folded into src/artifacts/layout.ts):
 *
 *   registry/<model>/deployments/<alias>.json                                   the deployment record it follows
 *   predictions/<model>/date=YYYY-MM-DD/part-<time>-<id>.parquet                 the prediction log
 */
import type { ArtifactStore } from '../artifacts';

export function deploymentRecordUri(store: ArtifactStore, model: string, alias: string): string {
  return store.uri('registry', model, 'deployments', `${alias}.json`);
}

export function predictionLogFolder(store: ArtifactStore, model: string): string {
  return store.uri('predictions', model);
}

/** One Parquet part of a day's partition; `date` is YYYY-MM-DD (UTC). */
export function predictionLogPartUri(store: ArtifactStore, model: string, date: string, part: string): string {
  return store.uri('predictions', model, `date=${date}`, `part-${part}.parquet`);
}
