import { createPipelineActivities } from '../../src/activities';
import { LocalArtifactStore, readJson, writeJson } from '../../src/artifacts';
import type { FittedTransform, PreprocessResult } from '../../src/contracts/datasets';
import { writeDeployment } from '../../src/models/deployment-record';
import { resolveAlias } from '../../src/registry/model-registry';
import { buildServer } from '../../src/serving/app';
import type { ServerDeps } from '../../src/serving/app';
import { testDeps } from './dependencies';
import { prepareChurn, trainedChurn } from './prepared-data';
import { tempDir } from './stack';

export { loyalCustomer, riskyCustomer } from './churn-customers';

export interface ServedChurn {
  store: LocalArtifactStore;
  prepared: PreprocessResult & { snapshotId: string };
  /** Registers another version of the model (a new training run) without moving any alias. */
  registerVersion(runKey: string, epochs?: number): Promise<number>;
  deploy(version: number, alias?: string): Promise<void>;
}

let shared: Promise<ServedChurn> | undefined;

/**
 * A listening server of the shared churn model as the fast-lane tests compare them: a 60,000-byte body limit, 64
 * instances at most, `/predict` as AIP_PREDICT_ROUTE, and `deps` on top (`fastLane: false`, API keys).
 */
export async function listeningChurnServer(deps: Partial<ServerDeps> = {}) {
  const { store } = await servedChurn();
  const app = await buildServer({
    store,
    modelName: 'churn',
    alias: 'production',
    limits: { bodyLimit: 60_000, maxInstances: 64 },
    vertex: { predictRoute: '/predict' },
    ...deps,
  });
  return { app, address: await app.listen({ host: '127.0.0.1', port: 0 }) };
}

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

/** Churn features renamed to keys of Object.prototype (`servedPrototypeKeys`). */
export const prototypeKeyNames = new Map([
  ['region', '__proto__'],
  ['tenure_months', 'toString'],
  ['contract', 'constructor'],
  ['support_calls', 'hasOwnProperty'],
]);

/** A churn record with its features renamed as `prototypeKeyNames` says (own properties, `__proto__` too). */
export function withPrototypeKeys(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [prototypeKeyNames.get(k) ?? k, v]));
}

/**
 * The churn model registered and deployed again as `churn-keys`, its features renamed to keys of Object.prototype
 * (`prototypeKeyNames`) and its classes "false" and "true" to "__proto__" and "toString": the same ONNX model behind
 * a renamed fitted transform, so it predicts what churn predicts.
 */
export function servedPrototypeKeys(): Promise<{ store: LocalArtifactStore; modelName: string }> {
  sharedKeys ??= buildPrototypeKeys();
  return sharedKeys;
}

let sharedKeys: Promise<{ store: LocalArtifactStore; modelName: string }> | undefined;

async function buildPrototypeKeys(): Promise<{ store: LocalArtifactStore; modelName: string }> {
  const { store } = await servedChurn();
  const modelName = 'churn-keys';
  const base = await resolveAlias(store, 'churn', 'production');
  const transform = await readJson<FittedTransform>(store, base.transformUri);
  const renamed: FittedTransform = {
    ...transform,
    target: { ...transform.target, classes: ['__proto__', 'toString'] },
    features: transform.features.map((f) => ({ ...f, name: prototypeKeyNames.get(f.name) ?? f.name })),
  };
  const transformUri = store.uri('test-models', modelName, 'transform.json');
  await writeJson(store, transformUri, renamed);
  const { version } = await createPipelineActivities(testDeps({ store })).registerModel({
    modelName,
    modelUri: base.modelUri,
    transformUri,
    evaluationUri: base.evaluationUri,
    snapshotId: base.snapshotId,
    metrics: base.metrics,
    registrationKey: 'serving-test-prototype-keys',
  });
  await writeDeployment(store, modelName, 'production', { stable: version });
  return { store, modelName };
}
