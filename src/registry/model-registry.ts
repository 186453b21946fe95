/**
 * The model registry, kept in the artifact store:
 *
 *   registry/<model>/registrations/<registration id>/{model.onnx, transform.json, evaluation.json}
 *   registry/<model>/versions/<000001>/version.json
 *   registry/<model>/aliases/<alias>.json
 *
 * A registration first copies its files into its own folder (named by a hash of its registration key, so two runs
 * never write into the same one), then claims the next version number by creating `version.json` create-only; the
 * record points at the registration's files. A version is therefore one object written completely or not at all, and
 * a number is handed out once: a writer that loses the race for it tries the next one.
 */
import { createHash } from 'node:crypto';
import type { ArtifactStore } from '../artifacts';
import { readJson } from '../artifacts';
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

export function versionFolder(store: ArtifactStore, model: string, version: number): string {
  return store.uri('registry', model, 'versions', String(version).padStart(6, '0'));
}

/** The record that publishes a version; it exists only once the version is complete. */
export function versionRecordUri(store: ArtifactStore, model: string, version: number): string {
  return store.uri(versionFolder(store, model, version), 'version.json');
}

/** The folder a registration's files are copied to before it claims a version number. */
export function registrationFolder(store: ArtifactStore, model: string, registrationKey: string): string {
  const id = createHash('sha256').update(registrationKey).digest('hex').slice(0, 24);
  return store.uri('registry', model, 'registrations', id);
}

export function aliasUri(store: ArtifactStore, model: string, alias: string): string {
  return store.uri('registry', model, 'aliases', `${alias}.json`);
}

/** Every complete version of a model, oldest first. */
export async function listVersions(store: ArtifactStore, model: string): Promise<ModelVersionRecord[]> {
  const files = await store.list(store.uri('registry', model, 'versions'));
  const records = await Promise.all(
    files.filter((f) => f.endsWith('/version.json')).map((f) => readJson<ModelVersionRecord>(store, f)),
  );
  return records.sort((a, b) => a.version - b.version);
}

export async function readAlias(store: ArtifactStore, model: string, alias: string): Promise<AliasRecord | undefined> {
  const uri = aliasUri(store, model, alias);
  return (await store.exists(uri)) ? readJson<AliasRecord>(store, uri) : undefined;
}

/** The version an alias points at; throws `MLOPS_ERR_REGISTRY_NOT_FOUND` when there is none. */
export async function resolveAlias(store: ArtifactStore, model: string, alias: string): Promise<ModelVersionRecord> {
  const record = await readAlias(store, model, alias);
  if (!record) throw mlopsError('MLOPS_ERR_REGISTRY_NOT_FOUND', { model, what: `alias "${alias}"` });
  const versionUri = versionRecordUri(store, model, record.version);
  if (!(await store.exists(versionUri)))
    throw mlopsError('MLOPS_ERR_REGISTRY_NOT_FOUND', { model, what: `version ${record.version}` });
  return readJson<ModelVersionRecord>(store, versionUri);
}
