import type { ArtifactStore } from '../artifacts';
import { readJson, writeJson } from '../artifacts';
import { aliasRecord, modelVersionFiles } from '../artifacts/layout';
import type { FittedTransform } from '../contracts/datasets';
import type { DeployModelInput, DeployModelResult, RegisterModelInput, RegisteredModel } from '../contracts/training';
import { mlopsError } from '../errors';
import { loadOnnxModel } from '../models/onnx-model';
import type { AliasRecord, ModelVersionRecord } from '../registry/model-registry';
import { listVersions, readAlias } from '../registry/model-registry';

export interface RegistryDeps {
  store: ArtifactStore;
}

/** Model registry and deployment: versions are immutable; deploying moves an alias. */
export interface RegistryActivities {
  registerModel: (input: RegisterModelInput) => Promise<RegisteredModel>;
  deployModel: (input: DeployModelInput) => Promise<DeployModelResult>;
}

export function createRegistryActivities({ store }: RegistryDeps): RegistryActivities {
  return {
    async registerModel(input: RegisterModelInput): Promise<RegisteredModel> {
      const versions = await listVersions(store, input.modelName);
      // A retried registration (same workflow run) finds the version it already wrote.
      const existing = versions.find((v) => v.registrationKey === input.registrationKey);
      if (existing) return toRegistered(store, existing);
      const version = (versions.at(-1)?.version ?? 0) + 1;
      const files = modelVersionFiles(store, input.modelName, version);
      const transform = await readJson<FittedTransform>(store, input.transformUri);
      const record: ModelVersionRecord = {
        modelName: input.modelName,
        version,
        snapshotId: input.snapshotId,
        metrics: input.metrics,
        transformSpecHash: transform.specHash,
        modelUri: files.model,
        transformUri: files.transform,
        evaluationUri: files.evaluation,
        registrationKey: input.registrationKey,
        createdAt: new Date().toISOString(),
      };
      await store.write(record.modelUri, await store.read(input.modelUri));
      await store.write(record.transformUri, await store.read(input.transformUri));
      await store.write(record.evaluationUri, await store.read(input.evaluationUri));
      await writeJson(store, files.record, record);
      return toRegistered(store, record);
    },

    async deployModel(input: DeployModelInput): Promise<DeployModelResult> {
      const versionUri = modelVersionFiles(store, input.modelName, input.version).record;
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
      await writeJson(store, aliasRecord(store, input.modelName, input.alias), alias);
      return { alias: input.alias, version: input.version, previousVersion: current?.version };
    },
  };
}

function toRegistered(store: ArtifactStore, record: ModelVersionRecord): RegisteredModel {
  return {
    modelName: record.modelName,
    version: record.version,
    versionUri: modelVersionFiles(store, record.modelName, record.version).folder,
    modelUri: record.modelUri,
  };
}
