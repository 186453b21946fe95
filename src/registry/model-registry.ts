/**
 * The model registry, kept in the artifact store (folders in src/artifacts/layout.ts): immutable versions, and aliases
 * that point at them. A version's record is written last: a version folder without it is incomplete and ignored.
 */
import type { ArtifactStore } from '../artifacts';
import { readJson } from '../artifacts';
import { aliasRecord, isModelVersionRecord, modelVersionFiles, modelVersionsFolder } from '../artifacts/layout';
import { mlopsError } from '../errors';

export interface ModelVersionRecord {
  modelName: string;
  version: number;
  snapshotId: string;
  metrics: Record<string, number>;
  /** The specHash of the transform: versions with the same one were evaluated on the same test split. */
  transformSpecHash: string;
  modelUri: string;
  transformUri: string;
  evaluationUri: string;
  registrationKey: string;
  createdAt: string;
}

export interface AliasRecord {
  alias: string;
  version: number;
  previousVersion?: number;
  updatedAt: string;
}

/** Every complete version of a model, oldest first. */
export async function listVersions(store: ArtifactStore, model: string): Promise<ModelVersionRecord[]> {
  const files = await store.list(modelVersionsFolder(store, model));
  const records = await Promise.all(
    files.filter(isModelVersionRecord).map((f) => readJson<ModelVersionRecord>(store, f)),
  );
  return records.sort((a, b) => a.version - b.version);
}

export async function readAlias(store: ArtifactStore, model: string, alias: string): Promise<AliasRecord | undefined> {
  const uri = aliasRecord(store, model, alias);
  return (await store.exists(uri)) ? readJson<AliasRecord>(store, uri) : undefined;
}

/** The version an alias points at; throws `MLOPS_ERR_REGISTRY_NOT_FOUND` when there is none. */
export async function resolveAlias(store: ArtifactStore, model: string, alias: string): Promise<ModelVersionRecord> {
  const record = await readAlias(store, model, alias);
  if (!record) throw mlopsError('MLOPS_ERR_REGISTRY_NOT_FOUND', { model, what: `alias "${alias}"` });
  const versionUri = modelVersionFiles(store, model, record.version).record;
  if (!(await store.exists(versionUri)))
    throw mlopsError('MLOPS_ERR_REGISTRY_NOT_FOUND', { model, what: `version ${record.version}` });
  return readJson<ModelVersionRecord>(store, versionUri);
}
