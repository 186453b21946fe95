import type { StorageOptions } from '@google-cloud/storage';
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

/**
 * The store that holds a gs:// URI: `store` itself when the URI lies inside its root, otherwise a Cloud Storage store
 * for the URI's bucket (created once per bucket).
 */
export function storeForUri(store: ArtifactStore, storage: StorageOptions): (uri: string) => ArtifactStore {
  const buckets = new Map<string, ArtifactStore>();
  return (uri) => {
    if (uri === store.root || uri.startsWith(`${store.root}/`)) return store;
    const bucketRoot = /^gs:\/\/[^/]+/.exec(uri)?.[0] ?? uri;
    let bucket = buckets.get(bucketRoot);
    if (!bucket) buckets.set(bucketRoot, (bucket = new GcsArtifactStore(bucketRoot, storage)));
    return bucket;
  };
}
