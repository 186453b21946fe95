import type { ArtifactStore } from '../artifacts';
import { modelVersionFiles } from '../artifacts/layout';
import type { DeployModelInput, DeployModelResult, RegisterModelInput, RegisteredModel } from '../contracts/training';
import type { ModelVersionRecord } from '../registry/model-registry';
import { registerVersion } from '../registry/model-registry';
import { setDeployment } from '../rollout/set-deployment';

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
  /**
   * Deploys a version as the alias's stable version (deployment record, alias and deployment history), after loading
   * it the way the model server will.
   */
  deployModel(input: DeployModelInput): Promise<DeployModelResult>;
}

export function createRegistryActivities({ store }: RegistryDeps): RegistryActivities {
  return {
    async registerModel(input: RegisterModelInput): Promise<RegisteredModel> {
      return toRegistered(store, await registerVersion(store, input));
    },

    async deployModel(input: DeployModelInput): Promise<DeployModelResult> {
      // The same move as the model controller's: servers follow the deployment record, so a pipeline's deploy
      // writes it too (and the alias, and a history entry), not the alias alone.
      const moved = await setDeployment(store, {
        modelName: input.modelName,
        alias: input.alias,
        stable: input.version,
        reason: 'deployed by trainingPipeline after passing the gate',
        actor: 'trainingPipeline',
      });
      return { alias: input.alias, version: input.version, previousVersion: moved.previous?.stable };
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
