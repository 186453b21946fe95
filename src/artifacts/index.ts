import type { MlopsConfig } from '../config';
import type { ArtifactStore } from './artifact-store';
import { GcsArtifactStore } from './gcs-store';
import { LocalArtifactStore } from './local-store';

export type { ArtifactStore } from './artifact-store';
export { readJson, withLocalCopy, writeJson } from './artifact-store';
export { LocalArtifactStore } from './local-store';
export { GcsArtifactStore } from './gcs-store';

/** The store for the configured root: `gs://` goes to Cloud Storage, anything else is a local folder. */
export function createArtifactStore(config: Pick<MlopsConfig, 'artifactRoot' | 'gcp'>): ArtifactStore {
  if (config.artifactRoot.startsWith('gs://')) {
    return new GcsArtifactStore(config.artifactRoot, {
      projectId: config.gcp.project,
      apiEndpoint: config.gcp.storageApiEndpoint,
    });
  }
  return new LocalArtifactStore(config.artifactRoot);
}
