/**
 * Fake activities of the model controller (STYLE 28), over the pipeline fakes: the controller and its retraining
 * children run for real on the dev server; deployment moves, server counters, prediction comparisons and webhook
 * messages are plain functions whose calls the test reads. The training step waits for the test to release it, so a
 * retrain can be held open while incidents arrive or the controller continues as new.
 */
import { cancelled } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type {
  ControllerInput,
  ServingStatsSample,
  SetDeploymentInput,
  NotifyInput,
} from '../../src/contracts/controller';
import type { DeploymentRecord } from '../../src/models/deployment-record';
import type { DeploymentHistoryEntry } from '../../src/rollout/deployment-history';
import { recallDeploymentMemory } from '../../src/rollout/deployment-history';
import { retrainAttemptOf } from '../../src/contracts/controller';
import type { AllActivities } from './fake-activities';
import { pipelineFakes } from './fake-activities';

export interface ControllerFakes {
  activities: Partial<AllActivities>;
  /** Deployment moves, in order. */
  moves: SetDeploymentInput[];
  notifications: NotifyInput[];
  /** Training runs started (one per retraining child that reached the training step). */
  trainings: number;
  /** The workflow id of each training run, as the store's runs folder would name it. */
  trainingRuns: string[];
  /** Lets every held training step finish. */
  releaseTraining(): void;
  /** Lets every held sample of the servers' counters finish (`holdSampling`). */
  releaseSampling(): void;
  /** Traffic the servers answer between two samples of their counters, per version (each sample adds it once). */
  traffic: ServingStatsSample['versions'];
  /** The servers each `sampleServingStats` call was asked to sample, in order. */
  sampledServers: string[][];
  /** `findSameModel` calls: the version checked and the versions it was compared with. */
  sameModelChecks: { version: number; among: number[] }[];
  /**
   * The deployment record `readDeployment` answers: the options' at first, then each move's; a test may set it, with
   * the version the alias says the stable one replaced (`previousStable`, a deployment outside the controller).
   */
  deployment: DeploymentRecord & { previousStable?: number };
  /** The registry's deployment history the moves wrote (what `recallDeployments` reads), oldest first. */
  history: DeploymentHistoryEntry[];
  /** `setDeployment` calls, each attempt counted. */
  moveAttempts: number;
}

export interface ControllerFakeOptions {
  /** The deployment before the controller starts. @default stable v2 */
  deployment?: DeploymentRecord;
  /** Whether the retrained model passes the gate. @default true */
  gatePasses?: boolean;
  /** The training step fails for good with this message (a trainer that crashes on the data). */
  trainingFails?: string;
  /** Hold the training step until `releaseTraining()`. @default false */
  holdTraining?: boolean;
  /** Hold each sample of the servers' counters (a canary's baseline first) until `releaseSampling()`. @default false */
  holdSampling?: boolean;
  /** Jensen–Shannon distance of the canary's predictions from stable's. @default 0.05 */
  predictionDistance?: number;
  /** Version the registry hands out to the retrained model. @default 3 */
  registeredVersion?: number;
  /** Versions the registry hands out to successive retrains (the last one repeats); overrides `registeredVersion`. */
  registeredVersions?: number[];
  /**
   * Which earlier version a registered version is the same model as (`findSameModel`), or a promise of it (a
   * comparison the test holds open). @default none
   */
  sameModel?: (version: number, among: number[]) => number | null | Promise<number | null>;
  /** Refuse every deployment move the way the registry refuses an unservable version. @default false */
  refuseMoves?: boolean;
  /** Refuse a move that makes this version stable (its files went bad after its canary started). */
  unservableAsStable?: number;
  /**
   * The first deployment move never ends and never heartbeats, as on a worker that died within the step (until the
   * worker shuts down). @default false
   */
  stallFirstMove?: boolean;
}

export function controllerFakes(options: ControllerFakeOptions = {}): ControllerFakes {
  let release!: () => void;
  let registrations = 0;
  const released = new Promise<void>((resolve) => (release = resolve));
  let releaseSampling!: () => void;
  const samplingReleased = new Promise<void>((resolve) => (releaseSampling = resolve));
  const pipeline = pipelineFakes({
    trainModel: async (job) => {
      fakes.trainings++;
      fakes.trainingRuns.push(job.runKey.split('/')[0]!);
      if (options.trainingFails)
        throw ApplicationFailure.create({
          type: 'MLOPS_ERR_TRAINER_FAILED',
          message: options.trainingFails,
          nonRetryable: true,
        });
      // Held until released, or until the worker shuts down (a failed test must not leave the worker waiting).
      if (options.holdTraining) await Promise.race([released, cancelled()]);
      return {
        modelUri: 'file:///fake/model.onnx',
        metricsUri: 'file:///fake/m.json',
        outputUri: 'file:///fake',
        metrics: {},
      };
    },
    evaluateModel: () =>
      Promise.resolve({
        metrics: { auc: 0.8 },
        baseline: { auc: 0.5 },
        reportUri: 'file:///fake/evaluation.json',
        gate:
          options.gatePasses === false
            ? {
                passed: false,
                metric: 'auc',
                challenger: 0.7,
                champion: 0.8,
                championVersion: 2,
                reason: 'auc 0.7 vs champion v2 0.8',
              }
            : {
                passed: true,
                metric: 'auc',
                challenger: 0.8,
                champion: 0.7,
                championVersion: 2,
                reason: 'auc 0.8 vs champion v2 0.7',
              },
      }),
    registerModel: (input) => {
      const versions = options.registeredVersions ?? [options.registeredVersion ?? 3];
      const version = versions[Math.min(registrations++, versions.length - 1)]!;
      return Promise.resolve({
        modelName: input.modelName,
        version,
        versionUri: `file:///fake/registry/v${version}`,
        modelUri: input.modelUri,
      });
    },
  });
  const fakes: ControllerFakes = {
    moves: [],
    notifications: [],
    trainings: 0,
    trainingRuns: [],
    releaseTraining: () => release(),
    releaseSampling: () => releaseSampling(),
    traffic: {},
    activities: {},
    sameModelChecks: [],
    sampledServers: [],
    deployment: options.deployment ?? { stable: 2, updatedAt: '2026-12-01T00:00:00Z' },
    history: [],
    moveAttempts: 0,
  };
  const cumulative: ServingStatsSample['versions'] = {};
  const controller: Partial<AllActivities> = {
    readDeployment: () => Promise.resolve(structuredClone(fakes.deployment)),
    recallDeployments: ({ modelName, alias }) => {
      const memory = recallDeploymentMemory(fakes.history, alias);
      const attempts = fakes.trainingRuns.map((id) => retrainAttemptOf(id, modelName) ?? 0);
      const retrainAttempts = Math.max(0, ...attempts);
      return Promise.resolve(retrainAttempts > 0 ? { ...memory, retrainAttempts } : memory);
    },
    readFeatureNames: () => Promise.resolve(['tenure', 'contract', 'monthly charges']),
    findSameModel: ({ version, among }) => {
      fakes.sameModelChecks.push({ version, among });
      // A held comparison ends when the worker shuts down, so a failed test does not leave the worker waiting.
      return Promise.race([Promise.resolve(options.sameModel?.(version, among) ?? null), cancelled()]);
    },
    setDeployment: async (input) => {
      if (fakes.moveAttempts++ === 0 && options.stallFirstMove) await cancelled();
      if (options.refuseMoves || input.stable === options.unservableAsStable)
        return Promise.reject(
          ApplicationFailure.create({
            type: 'MLOPS_ERR_ROLLOUT_VERSION_UNSERVABLE',
            message: `v${input.canary?.version ?? input.stable} cannot be loaded`,
            nonRetryable: true,
          }),
        );
      fakes.moves.push(input);
      const { stable, canary } = fakes.deployment;
      fakes.history.push({
        ...input,
        seq: fakes.history.length + 1,
        at: new Date().toISOString(),
        previous: { stable, ...(canary && { canary }) },
      });
      fakes.deployment = {
        stable: input.stable,
        ...(input.canary && { canary: input.canary }),
        updatedAt: new Date().toISOString(),
      };
      return Promise.resolve(structuredClone(fakes.deployment) as never);
    },
    sampleServingStats: async ({ servers }) => {
      fakes.sampledServers.push(servers);
      if (options.holdSampling) await Promise.race([samplingReleased, cancelled()]);
      for (const [version, add] of Object.entries(fakes.traffic)) {
        const total = (cumulative[version] ??= { requests: 0, errors: 0, rejected: 0, latencyMsSum: 0 });
        total.requests += add.requests;
        total.errors += add.errors;
        total.rejected += add.rejected;
        total.latencyMsSum += add.latencyMsSum;
      }
      return Promise.resolve({
        takenAt: new Date().toISOString(),
        versions: structuredClone(cumulative),
        unreachable: [],
      });
    },
    comparePredictions: () =>
      Promise.resolve({ stableRows: 500, canaryRows: 500, distance: options.predictionDistance ?? 0.05 }),
    notify: (input) => {
      fakes.notifications.push(input);
      return Promise.resolve({ sent: true });
    },
  };
  fakes.activities = { ...pipeline.activities, ...controller };
  return fakes;
}

/** A controller input for the fakes' task queue: training on the same queue, a canary judged after one second. */
export function fakeControllerInput(
  modelName: string,
  taskQueue: string,
  overrides: Partial<ControllerInput> = {},
): ControllerInput {
  return {
    modelName,
    training: { dataset: { uri: 'examples/churn.csv' }, target: 'churned', trainer: { taskQueue } },
    servers: ['http://127.0.0.1:9'],
    canary: { bakeSeconds: 1, minRequests: 10 },
    ...overrides,
  };
}
