import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { readJson, writeJson } from '../../src/artifacts';
import { createControllerActivities } from '../../src/activities/controller';
import type { SetDeploymentInput } from '../../src/contracts/controller';
import { isMlopsError } from '../../src/errors';
import { writeDeployment } from '../../src/models/deployment-record';
import { readAlias, readVersion, registerVersion } from '../../src/registry/model-registry';
import { listDeploymentHistory } from '../../src/rollout/deployment-history';
import { buildServer } from '../../src/serving/app';
import type { ServedChurn } from '../support/served-model';
import { servedChurn } from '../support/served-model';

const actor = 'model-controller-churn';

describe('moving a deployment: record, alias and registry history', function () {
  let served: ServedChurn;
  let activities: ReturnType<typeof createControllerActivities>;
  let v1: number;
  let v2: number;
  let broken: number;

  before(async function () {
    this.timeout(180_000);
    served = await servedChurn();
    activities = createControllerActivities({ store: served.store, duckDbThreads: 1 });
    v1 = (await readAlias(served.store, 'churn', 'production'))!.version;
    v2 = await served.registerVersion('rollout/v2', 3);
    broken = await registerBrokenVersion(served);
  });

  const history = async (alias: string) =>
    (await listDeploymentHistory(served.store, 'churn')).filter((e) => e.alias === alias);

  it('sets a canary beside the stable version, then promotes it; the alias, the history and a server follow', async function () {
    const alias = 'rollout-promote';
    const canary = await activities.setDeployment({
      modelName: 'churn',
      alias,
      stable: v1,
      canary: { version: v2, weight: 0.25 },
      reason: `canary of version ${v2} at 25%`,
      actor,
    });
    assert.equal(canary.changed, true);
    assert.deepEqual(canary.previous, undefined, 'the alias served nothing before');
    const app = await buildServer({ store: served.store, modelName: 'churn', alias });
    try {
      assert.deepEqual(app.serving.slot.routing, { stable: v1, canary: { version: v2, weight: 0.25 } });
      const promoted = await activities.setDeployment({
        modelName: 'churn',
        alias,
        stable: v2,
        reason: 'canary judged healthy',
        actor,
      });
      assert.deepEqual(promoted.previous, { stable: v1, canary: { version: v2, weight: 0.25 } });
      assert.equal(await app.serving.follower.sync(), 'swapped');
      assert.deepEqual(app.serving.slot.routing, { stable: v2, canary: undefined });
    } finally {
      await app.close();
    }
    const record = await activities.readDeployment({ modelName: 'churn', alias });
    assert.equal(record?.stable, v2);
    assert.equal(record?.canary, undefined);
    assert.equal((await readAlias(served.store, 'churn', alias))?.version, v2);
    const entries = await history(alias);
    assert.deepEqual(
      entries.map(({ stable, canary, previous, reason, actor: who }) => ({ stable, canary, previous, reason, who })),
      [
        {
          stable: v1,
          canary: { version: v2, weight: 0.25 },
          previous: undefined,
          reason: `canary of version ${v2} at 25%`,
          who: actor,
        },
        {
          stable: v2,
          canary: undefined,
          previous: { stable: v1, canary: { version: v2, weight: 0.25 } },
          reason: 'canary judged healthy',
          who: actor,
        },
      ],
    );
    assert.ok(entries[0]!.seq < entries[1]!.seq);
    assert.ok(Date.parse(entries[0]!.at) <= Date.parse(entries[1]!.at));
  });

  it('writes one history entry for a retried or concurrent identical call', async function () {
    const alias = 'rollout-retry';
    const input: SetDeploymentInput = {
      modelName: 'churn',
      alias,
      stable: v1,
      canary: { version: v2, weight: 0.1 },
      reason: 'canary',
      actor,
    };
    const results = await Promise.all([activities.setDeployment(input), activities.setDeployment(input)]);
    const seqs = new Set(results.map((r) => r.historySeq).filter((seq) => seq !== undefined));
    assert.equal(seqs.size, 1, 'both calls name the one entry, or one finds the change already made');
    const again = await activities.setDeployment(input);
    assert.equal(again.changed, false);
    assert.equal(again.historySeq, undefined);
    assert.equal((await history(alias)).length, 1);
  });

  it('records the change of a retry that finds the record written but its history entry missing', async function () {
    const alias = 'rollout-crash';
    await activities.setDeployment({ modelName: 'churn', alias, stable: v1, reason: 'first deployment', actor });
    // The first attempt of a rollback wrote the record, then its worker died before the history entry.
    await writeDeployment(served.store, 'churn', alias, { stable: v2 });
    const retried = await activities.setDeployment({ modelName: 'churn', alias, stable: v2, reason: 'promote', actor });
    assert.equal(retried.changed, true);
    assert.deepEqual(retried.previous, { stable: v1 });
    assert.deepEqual(
      (await history(alias)).map((e) => [e.stable, e.previous?.stable]),
      [
        [v1, undefined],
        [v2, v1],
      ],
    );
    assert.equal((await readAlias(served.store, 'churn', alias))?.version, v2);
  });

  it('refuses a version that cannot load, as the server would, and changes nothing', async function () {
    const alias = 'rollout-refuse';
    await activities.setDeployment({ modelName: 'churn', alias, stable: v1, reason: 'first deployment', actor });
    const before = await readJson(served.store, served.store.uri('registry', 'churn', 'deployments', `${alias}.json`));
    for (const [version, why] of [
      [broken, /cannot be the canary: MLOPS_ERR_MODEL_INVALID/],
      [999, /cannot be the canary: MLOPS_ERR_REGISTRY_NOT_FOUND: Model "churn" has no version 999/],
    ] as const) {
      const err = await activities
        .setDeployment({ modelName: 'churn', alias, stable: v1, canary: { version, weight: 0.1 }, reason: 'x', actor })
        .then(
          () => assert.fail('an unservable canary was accepted'),
          (e: unknown) => e,
        );
      assert.ok(
        err instanceof ApplicationFailure && isMlopsError(err, 'MLOPS_ERR_ROLLOUT_VERSION_UNSERVABLE'),
        String(err),
      );
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, why);
      assert.match(err.message, new RegExp(`version ${version} cannot be the canary`));
    }
    const stableErr = await activities
      .setDeployment({ modelName: 'churn', alias, stable: broken, reason: 'x', actor })
      .catch((e: unknown) => e);
    assert.ok(isMlopsError(stableErr, 'MLOPS_ERR_ROLLOUT_VERSION_UNSERVABLE'), String(stableErr));
    assert.match(stableErr.message, new RegExp(`version ${broken} cannot be the stable version`));
    assert.deepEqual(
      await readJson(served.store, served.store.uri('registry', 'churn', 'deployments', `${alias}.json`)),
      before,
    );
    assert.equal((await readAlias(served.store, 'churn', alias))?.version, v1);
    assert.equal((await history(alias)).length, 1);
  });

  it('loads only the versions new to the record, and one that becomes stable: nothing else the record holds is loaded again', async function () {
    const alias = 'rollout-loads';
    // The models the activity reads (each read is a load: session created, probed, released).
    const modelReads: string[] = [];
    const store = new Proxy(served.store, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver) as unknown;
        if (key !== 'read' || typeof value !== 'function') return value;
        return (uri: string) => {
          if (uri.endsWith('.onnx')) modelReads.push(uri);
          return (value as (u: string) => Promise<Uint8Array>).call(target, uri);
        };
      },
    });
    const counted = createControllerActivities({ store, duckDbThreads: 1 });
    const model = async (v: number) => (await readVersion(served.store, 'churn', v)).modelUri;
    const move = async (stable: number, canary?: number) => {
      modelReads.length = 0;
      await counted.setDeployment({
        modelName: 'churn',
        alias,
        stable,
        ...(canary ? { canary: { version: canary, weight: 0.5 } } : {}),
        reason: 'loads',
        actor,
      });
      return [...modelReads];
    };
    assert.deepEqual(await move(v1), [await model(v1)], 'a first stable version is loaded');
    assert.deepEqual(await move(v1, v2), [await model(v2)], 'a canary beside it: only the canary');
    assert.deepEqual(await move(v1, v2), [], 'a retry of the canary move loads nothing');
    assert.deepEqual(await move(v2), [await model(v2)], 'promoting the canary loads it again: its files may have gone');
    assert.deepEqual(await move(v1), [await model(v1)], 'a stable version the record no longer holds is loaded');
    assert.deepEqual(await move(v1), [], 'a retry of the same move loads nothing new');
    assert.deepEqual(await move(v2, v1), [await model(v2)], 'the old stable as canary: only the new stable loads');
  });

  it('refuses to promote a canary whose files went bad after it started, and changes nothing', async function () {
    const alias = 'rollout-promote-gone';
    const canary = await served.registerVersion('rollout/gone-after-start', 2);
    await activities.setDeployment({ modelName: 'churn', alias, stable: v1, reason: 'first deployment', actor });
    await activities.setDeployment({
      modelName: 'churn',
      alias,
      stable: v1,
      canary: { version: canary, weight: 0.2 },
      reason: 'canary',
      actor,
    });
    await served.store.write((await readVersion(served.store, 'churn', canary)).modelUri, 'not an onnx model');
    const err = await activities
      .setDeployment({ modelName: 'churn', alias, stable: canary, reason: 'promote', actor })
      .catch((e: unknown) => e);
    assert.ok(isMlopsError(err, 'MLOPS_ERR_ROLLOUT_VERSION_UNSERVABLE'), String(err));
    assert.match(err.message, new RegExp(`version ${canary} cannot be the stable version: MLOPS_ERR_MODEL_INVALID`));
    const record = await readJson<{ stable: number; canary?: { version: number } }>(
      served.store,
      served.store.uri('registry', 'churn', 'deployments', `${alias}.json`),
    );
    assert.deepEqual([record.stable, record.canary?.version], [v1, canary]);
    // Ending the canary is never refused: the stable version stays.
    await activities.setDeployment({ modelName: 'churn', alias, stable: v1, reason: 'roll back', actor });
  });

  it('keeps a rollback in the history, and recalls it for a controller started again', async function () {
    const alias = 'rollout-recall';
    const base = { modelName: 'churn', alias, actor };
    await activities.setDeployment({ ...base, stable: v1, reason: 'first' });
    await activities.setDeployment({ ...base, stable: v1, canary: { version: v2, weight: 0.2 }, reason: 'canary' });
    await activities.setDeployment({
      ...base,
      stable: v1,
      reason: `canary v${v2} rolled back`,
      rolledBack: { version: v2, reason: 'its error rate was 4%' },
    });
    assert.deepEqual((await history(alias)).at(-1)?.rolledBack, { version: v2, reason: 'its error rate was 4%' });
    const memory = await activities.recallDeployments({ modelName: 'churn', alias });
    assert.deepEqual(
      memory.rolledBack.map(({ version, reason }) => ({ version, reason })),
      [{ version: v2, reason: 'its error rate was 4%' }],
    );
    assert.equal(memory.previousStable, undefined, 'stable never changed');
    // A rolled-back version named as the one the move deploys is a caller's mistake.
    const err = await activities
      .setDeployment({ ...base, stable: v2, reason: 'x', rolledBack: { version: v2, reason: 'y' } })
      .catch((e: unknown) => e);
    assert.ok(isMlopsError(err, 'MLOPS_ERR_ROLLOUT_INPUT_INVALID'), String(err));
    assert.match(err.message, new RegExp(`rolledBack.version ${v2} is a version the move deploys`));
  });

  it('refuses input a server could not follow, listing every problem', async function () {
    const err = await activities
      .setDeployment({
        modelName: 'churn',
        alias: 'Prod/../x',
        stable: v1,
        canary: { version: v1, weight: 1.5 },
        reason: ' ',
        actor,
      })
      .catch((e: unknown) => e);
    assert.ok(isMlopsError(err, 'MLOPS_ERR_ROLLOUT_INPUT_INVALID'), String(err));
    assert.equal(err.nonRetryable, true);
    for (const problem of [
      /alias must be lowercase/,
      new RegExp(`canary.version ${v1} is the stable version itself`),
      /canary.weight must be above 0 and below 1, got 1.5/,
      /reason must say why/,
    ])
      assert.match(err.message, problem);
  });

  it('reads, with the deployment, the version its stable one replaced (what a controller adopting it rolls back to)', async function () {
    const alias = 'rollout-previous';
    const move = (stable: number) =>
      activities.setDeployment({ modelName: 'churn', alias, stable, reason: `deployed v${stable}`, actor: 'pipeline' });
    await move(v1);
    assert.equal((await activities.readDeployment({ modelName: 'churn', alias }))?.previousStable, undefined);
    await move(v2);
    const record = await activities.readDeployment({ modelName: 'churn', alias });
    assert.equal(record?.stable, v2);
    assert.equal(record?.previousStable, v1);
  });

  it('reads no deployment for an alias that has neither a record nor an alias', async function () {
    assert.equal(await activities.readDeployment({ modelName: 'churn', alias: 'never-deployed' }), undefined);
    assert.deepEqual(await listDeploymentHistory(served.store, 'no-such-model'), []);
  });
});

/** A registered version whose model file is not ONNX (a damaged upload); the registry takes it, a server would not. */
async function registerBrokenVersion(served: ServedChurn): Promise<number> {
  const { store } = served;
  const v1 = await readVersion(store, 'churn', 1);
  const folder = store.uri('runs', 'churn', 'broken-run');
  await store.write(store.uri(folder, 'model.onnx'), 'this is not an ONNX model');
  await writeJson(store, store.uri(folder, 'evaluation.json'), {});
  const record = await registerVersion(store, {
    modelName: 'churn',
    modelUri: store.uri(folder, 'model.onnx'),
    transformUri: v1.transformUri,
    evaluationUri: store.uri(folder, 'evaluation.json'),
    snapshotId: v1.snapshotId,
    metrics: {},
    registrationKey: 'rollout-test/broken',
  });
  return record.version;
}
