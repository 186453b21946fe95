import { createPipelineActivities } from '../../src/activities';
import { LocalArtifactStore } from '../../src/artifacts';
import type { PreprocessResult } from '../../src/contracts/datasets';
import { testDeps } from './dependencies';
import { prepareChurn, trainedChurn } from './prepared-data';
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
  const activities = createPipelineActivities(testDeps({ store }));
  const registerVersion = async (runKey: string, epochs = 10): Promise<number> => {
    const register = await trainedChurn(store, prepared, runKey, epochs);
    return register('churn', `serving-test-${runKey}`);
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
