/**
 * The model registry, kept in the artifact store (folders in src/artifacts/layout.ts). A registration first copies its
 * files into its own folder (named by a hash of its registration key, so two runs never write into the same one), then
 * claims the next version number by creating the version's record create-only; the record points at the
 * registration's files. A version is therefore one object written completely or not at all, and a number is handed out
 * once: a writer that loses the race for it tries the next one. Aliases point at versions.
 */
import { createHash } from 'node:crypto';
import type { ArtifactStore } from '../artifacts';
import { readJson, writeJson } from '../artifacts';
import {
  aliasRecord,
  isModelVersionRecord,
  modelOfVersionRecord,
  modelVersionFiles,
  modelVersionsFolder,
  registrationFiles,
  registryFolder,
} from '../artifacts/layout';
import type { FittedTransform } from '../contracts/datasets';
import type { RegisterModelInput } from '../contracts/training';
import { isMlopsError, mlopsError } from '../errors';

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

/** The models with at least one published version, sorted by name. */
export async function listModels(store: ArtifactStore): Promise<string[]> {
  const records = (await store.list(registryFolder(store))).filter(isModelVersionRecord);
  const names = records.map(modelOfVersionRecord).filter((name): name is string => name !== undefined);
  return [...new Set(names)].sort();
}

export async function readAlias(store: ArtifactStore, model: string, alias: string): Promise<AliasRecord | undefined> {
  const uri = aliasRecord(store, model, alias);
  return (await store.exists(uri)) ? readJson<AliasRecord>(store, uri) : undefined;
}

/** The version an alias points at; throws `MLOPS_ERR_REGISTRY_NOT_FOUND` when there is none. */
export async function resolveAlias(store: ArtifactStore, model: string, alias: string): Promise<ModelVersionRecord> {
  const record = await readAlias(store, model, alias);
  if (!record) throw mlopsError('MLOPS_ERR_REGISTRY_NOT_FOUND', { model, what: `alias "${alias}"`, root: store.root });
  return readVersion(store, model, record.version);
}

/** A version's record; `MLOPS_ERR_REGISTRY_NOT_FOUND` when the version does not exist. */
export async function readVersion(store: ArtifactStore, model: string, version: number): Promise<ModelVersionRecord> {
  const uri = modelVersionFiles(store, model, version).record;
  if (!(await store.exists(uri)))
    throw mlopsError('MLOPS_ERR_REGISTRY_NOT_FOUND', { model, what: `version ${version}`, root: store.root });
  return readJson<ModelVersionRecord>(store, uri);
}

/**
 * Whether `version` is the same model as any of `among`: the same ONNX bytes and the same fitted transform bytes
 * (a retrain on unchanged data with the seeded reference trainer makes both again). The first such version, or
 * undefined. Content is compared, not metadata: version numbers, run keys and metrics differ between two runs.
 */
export async function findSameModel(
  store: ArtifactStore,
  model: string,
  version: number,
  among: number[],
): Promise<number | undefined> {
  const digest = async (v: number) => {
    const record = await readVersion(store, model, v);
    const hash = createHash('sha256');
    for (const uri of [record.modelUri, record.transformUri]) {
      const bytes = await store.read(uri);
      // Length first, so no two different pairs of files hash the same concatenation.
      hash.update(`${bytes.length}:`).update(bytes);
    }
    return hash.digest('hex');
  };
  const wanted = await digest(version);
  for (const other of among) {
    if (other === version) continue;
    // A version that is not in the registry (any more), or whose files are gone, is the same as nothing.
    const theirs = await digest(other).catch((err: unknown) => {
      if (isMlopsError(err, 'MLOPS_ERR_REGISTRY_NOT_FOUND') || isMlopsError(err, 'MLOPS_ERR_ARTIFACT_NOT_FOUND'))
        return undefined;
      throw err;
    });
    if (theirs === wanted) return other;
  }
  return undefined;
}

/** Points an alias at a version, remembering the version it pointed at before. */
export async function moveAlias(
  store: ArtifactStore,
  model: string,
  alias: string,
  version: number,
): Promise<AliasRecord> {
  const current = await readAlias(store, model, alias);
  if (current?.version === version) return current;
  const record: AliasRecord = {
    alias,
    version,
    previousVersion: current?.version,
    updatedAt: new Date().toISOString(),
  };
  await writeJson(store, aliasRecord(store, model, alias), record);
  return record;
}

/**
 * Registers a run's model as the next version. A retried registration (same registration key) finds the version it
 * already published.
 */
export async function registerVersion(store: ArtifactStore, input: RegisterModelInput): Promise<ModelVersionRecord> {
  const versions = await listVersions(store, input.modelName);
  const existing = versions.find((v) => v.registrationKey === input.registrationKey);
  if (existing) return existing;
  const staged = await stageFiles(store, input);
  return claimVersion(store, staged, (versions.at(-1)?.version ?? 0) + 1);
}

/** Copies the run's files into its own registration folder; the record still lacks its version number. */
async function stageFiles(
  store: ArtifactStore,
  input: RegisterModelInput,
): Promise<Omit<ModelVersionRecord, 'version'>> {
  const files = registrationFiles(store, input.modelName, input.registrationKey);
  // Read once: its spec hash goes into the record, its bytes into the registration.
  const transformBytes = await store.read(input.transformUri);
  const transform = JSON.parse(transformBytes.toString('utf8')) as FittedTransform;
  await store.write(files.model, await store.read(input.modelUri));
  await store.write(files.transform, transformBytes);
  await store.write(files.evaluation, await store.read(input.evaluationUri));
  return {
    modelName: input.modelName,
    snapshotId: input.snapshotId,
    metrics: input.metrics,
    transformSpecHash: transform.specHash,
    modelUri: files.model,
    transformUri: files.transform,
    evaluationUri: files.evaluation,
    registrationKey: input.registrationKey,
    createdAt: new Date().toISOString(),
  };
}

/** Each lost race costs one create attempt; this many concurrent registrations of one model is far beyond real use. */
const maxClaimAttempts = 1000;

/**
 * Publishes the record under the first free version number from `first` on: the record is created only when no other
 * writer has created it (exclusive create), so each number goes to one registration.
 */
async function claimVersion(
  store: ArtifactStore,
  staged: Omit<ModelVersionRecord, 'version'>,
  first: number,
): Promise<ModelVersionRecord> {
  for (let version = first; version < first + maxClaimAttempts; version++) {
    const record: ModelVersionRecord = { ...staged, version };
    const uri = modelVersionFiles(store, staged.modelName, version).record;
    if (await store.createOnly(uri, `${JSON.stringify(record, null, 2)}\n`)) return record;
    // This registration may hold it already: a retry racing a slow first try, or our own create whose success answer
    // was lost and that the Storage client retried (the retry then meets its own object and fails the precondition).
    const holder = await readJson<ModelVersionRecord>(store, uri);
    if (holder.registrationKey === staged.registrationKey) return holder;
  }
  throw new Error(`could not claim a version of model "${staged.modelName}" in ${maxClaimAttempts} attempts`);
}
