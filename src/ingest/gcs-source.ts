import path from 'node:path';
import type { StorageOptions } from '@google-cloud/storage';
import { Storage } from '@google-cloud/storage';
import { mlopsError } from '../errors';
import type { FetchedSource } from './fetched-source';
import { googleApiFailure } from '../google/api-errors';
import { saveAndHash } from './hashing';

export interface GcsObjectRef {
  uri: string;
  bucket: string;
  object: string;
}

/**
 * Streams a Cloud Storage object to `work` while hashing it. The generation read from the metadata is pinned for the
 * download, so the bytes hashed are the generation the manifest records even if the object is replaced meanwhile.
 */
export async function fetchGcsObject(
  ref: GcsObjectRef,
  work: string,
  fileName: string,
  options: StorageOptions,
): Promise<FetchedSource> {
  const bucket = new Storage(options).bucket(ref.bucket);
  try {
    const [metadata] = await bucket.file(ref.object).getMetadata();
    const generation = metadata.generation === undefined ? undefined : String(metadata.generation);
    const file = bucket.file(ref.object, generation ? { generation } : {});
    const localPath = path.join(work, fileName);
    const hashed = await saveAndHash(file.createReadStream(), localPath);
    return { localPath, ...hashed, lineage: { kind: 'gcs', generation } };
  } catch (err) {
    throw gcsFailure(ref.uri, err);
  }
}

/** 404 and 401/403 are catalogued and final; anything else (5xx, 429, network) is a plain, retryable Error. */
function gcsFailure(uri: string, err: unknown): Error {
  const { status, message } = googleApiFailure(err);
  if (status === 404) return mlopsError('MLOPS_ERR_DATA_SOURCE_NOT_FOUND', { source: uri, reason: message });
  if (status === 401 || status === 403)
    return mlopsError('MLOPS_ERR_DATA_SOURCE_FORBIDDEN', { source: uri, reason: message });
  return new Error(`Reading ${uri} from Cloud Storage failed: ${message}`);
}
