import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { Storage } from '@google-cloud/storage';
import type { ArtifactStore } from '../../src/artifacts';
import { GcsArtifactStore, LocalArtifactStore, readJson, writeJson } from '../../src/artifacts';
import { createControllerActivities } from '../../src/activities/controller';
import { createRegistryActivities } from '../../src/activities/registry';
import type { RegisterModelInput } from '../../src/contracts/training';
import type { RunningEmulator } from '../../src/dev/emulators';
import type { ModelVersionRecord } from '../../src/registry/model-registry';
import { listVersions } from '../../src/registry/model-registry';
import { startTestFakeGcs } from '../support/fake-gcs';
import { tempDir } from '../support/stack';

const runs = 20;

/** One training run's outputs, each file marked with the run, as the pipeline would leave them before registering. */
async function trainedRun(store: ArtifactStore, run: number): Promise<RegisterModelInput> {
  const folder = store.uri('runs', 'churn', `run-${run}`);
  await store.write(store.uri(folder, 'model.onnx'), `model of run ${run}`);
  await writeJson(store, store.uri(folder, 'transform.json'), { specHash: `spec-${run}`, run });
  await writeJson(store, store.uri(folder, 'evaluation.json'), { run });
  return {
    modelName: 'churn',
    modelUri: store.uri(folder, 'model.onnx'),
    transformUri: store.uri(folder, 'transform.json'),
    evaluationUri: store.uri(folder, 'evaluation.json'),
    snapshotId: `ds-${run}`,
    metrics: { auc: run / 100 },
    registrationKey: `pipeline-${run}/run-id-${run}`,
  };
}

/** The same assertions on every artifact store backend. */
function registersVersionsOnce(makeStore: () => Promise<ArtifactStore>): void {
  it('gives 20 concurrent registrations of one model 20 distinct versions, each holding only its own run', async function () {
    const store = await makeStore();
    const { registerModel } = createRegistryActivities({ store });
    const inputs = await Promise.all(Array.from({ length: runs }, (_, i) => trainedRun(store, i + 1)));
    const registered = await Promise.all(inputs.map((input) => registerModel(input)));

    assert.deepEqual(
      registered.map((r) => r.version).sort((a, b) => a - b),
      Array.from({ length: runs }, (_, i) => i + 1),
    );
    const records = await listVersions(store, 'churn');
    assert.equal(records.length, runs);
    for (const [i, r] of registered.entries()) {
      const run = i + 1;
      const record = records.find((v) => v.version === r.version)!;
      assert.equal(record.registrationKey, `pipeline-${run}/run-id-${run}`, `version ${r.version} is run ${run}'s`);
      assert.equal(record.snapshotId, `ds-${run}`);
      assert.equal(record.transformSpecHash, `spec-${run}`);
      assert.equal((await store.read(record.modelUri)).toString(), `model of run ${run}`);
      assert.deepEqual(await readJson(store, record.transformUri), { specHash: `spec-${run}`, run });
      assert.deepEqual(await readJson(store, record.evaluationUri), { run });
      assert.equal(r.modelUri, record.modelUri);
    }
  });

  it('returns the version already given when the same registration is retried, even concurrently', async function () {
    const store = await makeStore();
    const { registerModel } = createRegistryActivities({ store });
    const first = await trainedRun(store, 1);
    const [a, b] = await Promise.all([registerModel(first), registerModel(first)]);
    assert.equal(a.version, 1);
    assert.equal(b.version, 1);
    assert.equal((await registerModel(first)).version, 1);
    assert.equal((await registerModel(await trainedRun(store, 2))).version, 2);
    assert.deepEqual(
      (await listVersions(store, 'churn')).map((v: ModelVersionRecord) => v.version),
      [1, 2],
    );
  });

  it("finds a version that is the same model as an earlier one by its files' bytes, not its record", async function () {
    const store = await makeStore();
    const { registerModel } = createRegistryActivities({ store });
    const { findSameModel } = createControllerActivities({ store, duckDbThreads: 1 });
    const first = await trainedRun(store, 1);
    await registerModel(first);
    await registerModel(await trainedRun(store, 2));
    // A later run that made run 1's model and transform again: another run key, snapshot and metrics.
    const again = await trainedRun(store, 3);
    await store.write(again.modelUri, await store.read(first.modelUri));
    await store.write(again.transformUri, await store.read(first.transformUri));
    assert.equal((await registerModel({ ...again, metrics: { auc: 0.9 } })).version, 3);
    // Run 1's model bytes with another transform is another model.
    const otherTransform = await trainedRun(store, 4);
    await store.write(otherTransform.modelUri, await store.read(first.modelUri));
    assert.equal((await registerModel(otherTransform)).version, 4);

    assert.equal(await findSameModel({ modelName: 'churn', version: 3, among: [2, 1] }), 1);
    assert.equal(await findSameModel({ modelName: 'churn', version: 3, among: [2, 4] }), null);
    assert.equal(await findSameModel({ modelName: 'churn', version: 4, among: [1, 2, 3] }), null);
    assert.equal(await findSameModel({ modelName: 'churn', version: 1, among: [1] }), null, 'not itself');
    // A version the registry does not have is the same as nothing; the version checked must exist.
    assert.equal(await findSameModel({ modelName: 'churn', version: 3, among: [99, 1] }), 1);
    await assert.rejects(
      findSameModel({ modelName: 'churn', version: 99, among: [1] }),
      /MLOPS_ERR_REGISTRY_NOT_FOUND: Model "churn" has no version 99 in the registry at (file:\/\/\/|gs:\/\/)/,
    );
  });

  it('never replaces a version record: a create-only write of an existing name changes nothing', async function () {
    const store = await makeStore();
    const uri = store.uri('registry', 'churn', 'versions', '000001', 'version.json');
    assert.equal(await store.createOnly(uri, 'first'), true);
    assert.equal(await store.createOnly(uri, 'second'), false);
    assert.equal((await store.read(uri)).toString(), 'first');
  });
}

describe('registerModel on a local artifact store', function () {
  registersVersionsOnce(() => Promise.resolve(new LocalArtifactStore(tempDir('registry'))));

  it('takes a registered version whose files were deleted as the same as nothing when comparing models', async function () {
    const store = new LocalArtifactStore(tempDir('registry'));
    const { registerModel } = createRegistryActivities({ store });
    const { findSameModel } = createControllerActivities({ store, duckDbThreads: 1 });
    const first = await trainedRun(store, 1);
    const gone = await registerModel(first);
    const again = await trainedRun(store, 2);
    await store.write(again.modelUri, await store.read(first.modelUri));
    await store.write(again.transformUri, await store.read(first.transformUri));
    await registerModel(again);
    await registerModel(await trainedRun(store, 3));
    // Someone cleaned up v1's model file by hand: its record stays, its bytes cannot be compared.
    const record = await readJson<ModelVersionRecord>(
      store,
      store.uri('registry', 'churn', 'versions', '000001', 'version.json'),
    );
    await rm(store.localPath(record.modelUri));
    assert.equal(gone.version, 1);
    assert.equal(await findSameModel({ modelName: 'churn', version: 3, among: [1, 2] }), null);
    assert.equal(await findSameModel({ modelName: 'churn', version: 2, among: [3, 1] }), null);
  });
});

describe('registerModel on Cloud Storage (fake-gcs-server, through @google-cloud/storage)', function () {
  let gcs: RunningEmulator;
  let buckets = 0;
  before(async function () {
    this.timeout(15 * 60_000);
    gcs = await startTestFakeGcs();
  });
  after(async () => {
    await gcs?.stop();
  });

  registersVersionsOnce(async () => {
    const bucket = `registry-${++buckets}`;
    await new Storage({ apiEndpoint: gcs.url, projectId: 'test' }).createBucket(bucket);
    return new GcsArtifactStore(`gs://${bucket}/mlops`, { apiEndpoint: gcs.url, projectId: 'test' });
  });
});
