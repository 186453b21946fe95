import { createPipelineActivities, createTrainingQueueActivities } from '../../src/activities';
import { LocalArtifactStore } from '../../src/artifacts';
import type { PreprocessResult } from '../../src/contracts/datasets';
import { mockEnv, runActivity } from './activity-env';
import { testDeps } from './dependencies';
import { prepareChurn, trainInput } from './prepared-data';
import { tempDir } from './stack';

export interface ServedChurn {
  store: LocalArtifactStore;
  prepared: PreprocessResult & { snapshotId: string };
  /** Registers another version of the model (a new training run) without moving any alias. */
  registerVersion(runKey: string, epochs?: number): Promise<number>;
  deploy(version: number, alias?: string): Promise<void>;
}

let shared: Promise<ServedChurn> | undefined;

/**
 * The churn model trained (builtin-linear, in Node), evaluated, registered and deployed as `production` v1 in a
 * fresh local artifact store, with the real activities. Built once per test process and shared by the serving tests.
 */
export function servedChurn(): Promise<ServedChurn> {
  shared ??= build();
  return shared;
}

async function build(): Promise<ServedChurn> {
  const store = new LocalArtifactStore(tempDir('serving-store'));
  const prepared = await prepareChurn(store);
  const deps = testDeps({ store });
  const training = createTrainingQueueActivities(deps);
  const activities = createPipelineActivities(deps);
  const registerVersion = async (runKey: string, epochs = 10): Promise<number> => {
    const trained = await runActivity(
      mockEnv(),
      training.trainModel,
      trainInput(prepared, { hyperparameters: { epochs } }, runKey),
    );
    const evaluation = await activities.evaluateModel({
      modelName: 'churn',
      modelUri: trained.modelUri,
      testUri: prepared.testUri,
      transformUri: prepared.transformUri,
      featureColumns: prepared.featureColumns,
      labelColumn: prepared.labelColumn,
      task: 'classification',
      outputUri: trained.outputUri,
      gate: { minImprovement: -1 },
      championAlias: 'production',
    });
    const registered = await activities.registerModel({
      modelName: 'churn',
      modelUri: trained.modelUri,
      transformUri: prepared.transformUri,
      evaluationUri: evaluation.reportUri,
      snapshotId: prepared.snapshotId,
      metrics: evaluation.metrics,
      registrationKey: `serving-test-${runKey}`,
    });
    return registered.version;
  };
  const deploy = async (version: number, alias = 'production'): Promise<void> => {
    await activities.deployModel({ modelName: 'churn', version, alias });
  };
  await deploy(await registerVersion('serving/run'));
  return { store, prepared, registerVersion, deploy };
}

/** A valid raw churn record (a likely churner). */
export const riskyCustomer = {
  tenure_months: 2,
  monthly_charges: 99.5,
  total_charges: 199,
  contract: 'month-to-month',
  payment_method: 'electronic-check',
  internet_service: 'fiber',
  support_calls: 6,
  senior: true,
  region: 'south',
};

/** A valid raw churn record (a loyal customer). */
export const loyalCustomer = {
  ...riskyCustomer,
  tenure_months: 60,
  monthly_charges: 30,
  total_charges: 1800,
  contract: 'two-year',
  payment_method: 'credit-card',
  internet_service: 'dsl',
  support_calls: 0,
  senior: false,
};
