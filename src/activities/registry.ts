import type { ArtifactStore } from '../artifacts';
import { modelVersionFiles } from '../artifacts/layout';
import type { DeployModelInput, DeployModelResult, RegisterModelInput, RegisteredModel } from '../contracts/training';
import { checkServable } from '../models/servable';
import type { ModelVersionRecord } from '../registry/model-registry';
import { moveAlias, readVersion, registerVersion } from '../registry/model-registry';

export interface RegistryDeps {
  store: ArtifactStore;
}

/**
 * Model registry and deployment (src/registry/model-registry.ts): versions are handed out once and never change;
 * deploying moves an alias.
 */
export interface RegistryActivities {
  /** Registers a run's model as the next version (a retry finds the version it already published). */
  registerModel(input: RegisterModelInput): Promise<RegisteredModel>;
  /** Moves the alias to a version, after loading it the way the model server will. */
  deployModel(input: DeployModelInput): Promise<DeployModelResult>;
}

export function createRegistryActivities({ store }: RegistryDeps): RegistryActivities {
  return {
    async registerModel(input: RegisterModelInput): Promise<RegisteredModel> {
      return toRegistered(store, await registerVersion(store, input));
    },

    async deployModel(input: DeployModelInput): Promise<DeployModelResult> {
      const record = await readVersion(store, input.modelName, input.version);
      await checkServable(store, record);
      const alias = await moveAlias(store, input.modelName, input.alias, input.version);
      return { alias: input.alias, version: input.version, previousVersion: alias.previousVersion };
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
