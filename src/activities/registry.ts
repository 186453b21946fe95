import type { ArtifactStore } from '../artifacts';
import { readJson, writeJson } from '../artifacts';
import type { FittedTransform } from '../contracts/datasets';
import type { DeployModelInput, DeployModelResult, RegisterModelInput, RegisteredModel } from '../contracts/training';
import { mlopsError } from '../errors';
import { loadOnnxModel } from '../models/onnx-model';
import type { AliasRecord, ModelVersionRecord } from '../registry/model-registry';
import {
  aliasUri,
  listVersions,
  readAlias,
  registrationFolder,
  versionFolder,
  versionRecordUri,
} from '../registry/model-registry';

export interface RegistryDeps {
  store: ArtifactStore;
}

/**
 * Model registry and deployment: versions are immutable and each number is given out once
 * (src/registry/model-registry.ts); deploying moves an alias.
 */
export interface RegistryActivities {
  registerModel: (input: RegisterModelInput) => Promise<RegisteredModel>;
  deployModel: (input: DeployModelInput) => Promise<DeployModelResult>;
}

export function createRegistryActivities({ store }: RegistryDeps): RegistryActivities {
  return {
    async registerModel(input: RegisterModelInput): Promise<RegisteredModel> {
      const versions = await listVersions(store, input.modelName);
      // A retried registration (same workflow run) finds the version it already published.
      const existing = versions.find((v) => v.registrationKey === input.registrationKey);
      if (existing) return toRegistered(store, existing);
      const record = await stageFiles(store, input);
      return toRegistered(store, await claimVersion(store, record, (versions.at(-1)?.version ?? 0) + 1));
    },

    async deployModel(input: DeployModelInput): Promise<DeployModelResult> {
      const versionUri = versionRecordUri(store, input.modelName, input.version);
      if (!(await store.exists(versionUri)))
        throw mlopsError('MLOPS_ERR_REGISTRY_NOT_FOUND', { model: input.modelName, what: `version ${input.version}` });
      const record = await readJson<ModelVersionRecord>(store, versionUri);
      const transform = await readJson<FittedTransform>(store, record.transformUri);
      // Load it the way the model server will, so a model that cannot serve never gets the alias.
      const model = await loadOnnxModel(
        await store.read(record.modelUri),
        record.modelUri,
        transform.outputColumns.length,
      );
      await model.close();
      const current = await readAlias(store, input.modelName, input.alias);
      if (current?.version === input.version)
        return { alias: input.alias, version: input.version, previousVersion: current.previousVersion };
      const alias: AliasRecord = {
        alias: input.alias,
        version: input.version,
        previousVersion: current?.version,
        updatedAt: new Date().toISOString(),
      };
      await writeJson(store, aliasUri(store, input.modelName, input.alias), alias);
      return { alias: input.alias, version: input.version, previousVersion: current?.version };
    },
  };
}

/** Copies the run's files into its own registration folder; the record still lacks its version number. */
async function stageFiles(
  store: ArtifactStore,
  input: RegisterModelInput,
): Promise<Omit<ModelVersionRecord, 'version'>> {
  const folder = registrationFolder(store, input.modelName, input.registrationKey);
  const transform = await readJson<FittedTransform>(store, input.transformUri);
  const record = {
    modelName: input.modelName,
    snapshotId: input.snapshotId,
    metrics: input.metrics,
    transformSpecHash: transform.specHash,
    modelUri: store.uri(folder, 'model.onnx'),
    transformUri: store.uri(folder, 'transform.json'),
    evaluationUri: store.uri(folder, 'evaluation.json'),
    registrationKey: input.registrationKey,
    createdAt: new Date().toISOString(),
  };
  await store.write(record.modelUri, await store.read(input.modelUri));
  await store.write(record.transformUri, await store.read(input.transformUri));
  await store.write(record.evaluationUri, await store.read(input.evaluationUri));
  return record;
}

/** Each lost race costs one create attempt; this many concurrent registrations of one model is far beyond real use. */
const maxClaimAttempts = 1000;

/**
 * Publishes the record under the first free version number from `first` on: `version.json` is created only when no
 * other writer has created it (exclusive create), so each number goes to one registration.
 */
async function claimVersion(
  store: ArtifactStore,
  staged: Omit<ModelVersionRecord, 'version'>,
  first: number,
): Promise<ModelVersionRecord> {
  for (let version = first; version < first + maxClaimAttempts; version++) {
    const record: ModelVersionRecord = { ...staged, version };
    const uri = versionRecordUri(store, staged.modelName, version);
    if (await store.createOnly(uri, `${JSON.stringify(record, null, 2)}\n`)) return record;
    // This registration may hold it already: a retry racing a slow first try, or our own create whose success answer
    // was lost and that the Storage client retried (the retry then meets its own object and fails the precondition).
    const holder = await readJson<ModelVersionRecord>(store, uri);
    if (holder.registrationKey === staged.registrationKey) return holder;
  }
  throw new Error(`could not claim a version of model "${staged.modelName}" in ${maxClaimAttempts} attempts`);
}

function toRegistered(store: ArtifactStore, record: ModelVersionRecord): RegisteredModel {
  return {
    modelName: record.modelName,
    version: record.version,
    versionUri: versionFolder(store, record.modelName, record.version),
    modelUri: record.modelUri,
  };
}
