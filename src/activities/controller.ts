import type { ArtifactStore } from '../artifacts';
import { readJson } from '../artifacts';
import type { FittedTransform } from '../contracts/datasets';
import type {
  NotifyInput,
  NotifyResult,
  PredictionComparison,
  ServingStatsSample,
  SetDeploymentInput,
} from '../contracts/controller';
import type {
  ComparePredictionsInput,
  FindSameModelInput,
  ReadDeploymentInput,
  ReadFeatureNamesInput,
  SampleServingStatsInput,
  SetDeploymentResult,
} from '../contracts/rollout';
import type { DeploymentRecord } from '../models/deployment-record';
import { readDeployment } from '../models/deployment-record';
import { sendNotification } from '../notifications/webhook';
import { findSameModel, readAlias, readVersion } from '../registry/model-registry';
import { comparePredictions } from '../rollout/compare-predictions';
import type { DeploymentMemory } from '../rollout/deployment-history';
import { lastRetrainAttempt, listDeploymentHistory, recallDeploymentMemory } from '../rollout/deployment-history';
import { sampleServingStats } from '../rollout/serving-stats';
import { setDeployment } from '../rollout/set-deployment';

export interface ControllerDeps {
  store: ArtifactStore;
  /** DuckDB threads for comparing predictions. */
  duckDbThreads: number;
  /** Slack-compatible webhook for notifications (a secret); unset: notifications are not sent. */
  notifyWebhookUrl?: string;
  /** Sent as a bearer token to model servers that require API keys. */
  serveApiKey?: string;
  /** Milliseconds to wait for a model server or the webhook. @default 10000 */
  httpTimeoutMs?: number;
}

/** A stats read is one small JSON document, and the webhook answers at once; longer means the peer is in trouble. */
const defaultHttpTimeoutMs = 10_000;

/**
 * The model controller's rollout (src/rollout/) and notifications (src/notifications/): reading and moving a
 * deployment, sampling the servers' counters, comparing a canary's predictions with the stable version's, and
 * posting to the webhook. The canary verdict itself is pure (src/contracts/canary-verdict.ts) and runs in the workflow.
 */
export interface ControllerActivities {
  /**
   * The deployment record the servers follow (or one made from the alias); undefined when neither exists. With the
   * version the stable one replaced, as the alias records it (`previousStable`), when the alias names that version.
   */
  readDeployment(input: ReadDeploymentInput): Promise<(DeploymentRecord & { previousStable?: number }) | undefined>;
  /**
   * What the alias's deployment history says a controller started again must not forget: the versions rolled back for
   * what the model did, and where a rollback goes back to.
   */
  recallDeployments(input: ReadDeploymentInput): Promise<DeploymentMemory>;
  /** Moves the record and the alias after loading each version, and appends to the registry deployment history. */
  setDeployment(input: SetDeploymentInput): Promise<SetDeploymentResult>;
  /** The raw feature names a registered version takes (its fitted transform's), in order. */
  readFeatureNames(input: ReadFeatureNamesInput): Promise<string[]>;
  /** The first of `among` that is the same model as `version` (same ONNX and transform bytes); null when none is. */
  findSameModel(input: FindSameModelInput): Promise<number | null>;
  sampleServingStats(input: SampleServingStatsInput): Promise<ServingStatsSample>;
  comparePredictions(input: ComparePredictionsInput): Promise<PredictionComparison>;
  notify(input: NotifyInput): Promise<NotifyResult>;
}

export function createControllerActivities(deps: ControllerDeps): ControllerActivities {
  const { store } = deps;
  const timeoutMs = deps.httpTimeoutMs ?? defaultHttpTimeoutMs;
  return {
    readDeployment: async ({ modelName, alias }) => {
      const record = await readDeployment(store, modelName, alias);
      if (!record) return undefined;
      // A pipeline run that deployed outside the controller moved the alias too: it says what that version replaced.
      const named = await readAlias(store, modelName, alias);
      const previous = named?.version === record.stable ? named.previousVersion : undefined;
      return previous === undefined ? record : { ...record, previousStable: previous };
    },
    recallDeployments: async ({ modelName, alias }) => {
      const [history, retrainAttempts] = await Promise.all([
        listDeploymentHistory(store, modelName),
        lastRetrainAttempt(store, modelName),
      ]);
      const memory = recallDeploymentMemory(history, alias);
      return retrainAttempts > 0 ? { ...memory, retrainAttempts } : memory;
    },
    setDeployment: (input) => setDeployment(store, input),
    readFeatureNames: async ({ modelName, version }) => {
      const record = await readVersion(store, modelName, version);
      return (await readJson<FittedTransform>(store, record.transformUri)).features.map((f) => f.name);
    },
    findSameModel: async ({ modelName, version, among }) =>
      (await findSameModel(store, modelName, version, among)) ?? null,
    sampleServingStats: (input) => sampleServingStats(input, { apiKey: deps.serveApiKey, timeoutMs }),
    comparePredictions: (input) => comparePredictions(store, input, deps.duckDbThreads),
    notify: (input) => sendNotification(input, { url: deps.notifyWebhookUrl, timeoutMs }),
  };
}
