import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ArtifactStore } from '../../src/artifacts';
import { LocalArtifactStore } from '../../src/artifacts';
import { modelVersionFiles, predictionLogPart } from '../../src/artifacts/layout';
import { createControllerActivities } from '../../src/activities/controller';
import { isMlopsError } from '../../src/errors';
import { predictionDistance } from '../../src/evaluation/prediction-change';
import { writeDeployment } from '../../src/models/deployment-record';
import { readAlias } from '../../src/registry/model-registry';
import { buildServer } from '../../src/serving/app';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import type { PredictionRow } from '../../src/serving/prediction-log';
import { churnInstances, writeLogRows } from '../support/monitored-model';
import { seededRandom } from '../support/seeded-random';
import { servedChurn } from '../support/served-model';
import { tempDir } from '../support/stack';

/** Jensen–Shannon distance, base 2, of two count vectors: written out here to check the activity independently. */
function expectedDistance(a: number[], b: number[]): number {
  const ta = a.reduce((x, y) => x + y, 0);
  const tb = b.reduce((x, y) => x + y, 0);
  let d = 0;
  a.forEach((n, i) => {
    const p = n / ta;
    const q = b[i]! / tb;
    const m = (p + q) / 2;
    if (p > 0) d += 0.5 * p * Math.log2(p / m);
    if (q > 0) d += 0.5 * q * Math.log2(q / m);
  });
  return Math.sqrt(d);
}

const day = '2026-11-30';
const since = `${day}T09:00:00.000Z`;
const until = `${day}T11:00:00.000Z`;

/** Rows as the server's Parquet sink writes them: one instance per request, each `output` given, at `ts`. */
async function writeLog(
  store: ArtifactStore,
  model: string,
  version: number,
  outputs: unknown[],
  ts = `${day}T10:00:00.000Z`,
): Promise<void> {
  const rows: PredictionRow[] = outputs.map((output, i) => ({
    request_id: `${model}-${version}-${ts}-${i}`,
    ts,
    model,
    version,
    instance: 0,
    features: JSON.stringify({ x: i }),
    output: JSON.stringify(output),
    latency_ms: 1,
  }));
  await writeLogRows(store, model, rows);
}

const labels = (counts: Record<string, number>) =>
  Object.entries(counts).flatMap(([label, n]) => Array.from({ length: n }, () => ({ label, probabilities: {} })));
const values = (xs: number[]) => xs.map((value) => ({ value }));
const range = (n: number, offset = 0) => Array.from({ length: n }, (_, i) => i + offset);

describe('comparing a canary predictions with the stable version over the prediction log', function () {
  // Made once the run's temp folder exists (a describe body runs before the root hooks), so the run removes it.
  let store: LocalArtifactStore;
  let comparePredictions: ReturnType<typeof createControllerActivities>['comparePredictions'];
  const window = { since, until, stable: 1, canary: 2, minRows: 50 };

  before(async function () {
    store = new LocalArtifactStore(tempDir('compare-store'));
    ({ comparePredictions } = createControllerActivities({ store, duckDbThreads: 1 }));
    await writeLog(store, 'labels', 1, labels({ yes: 60, no: 40 }));
    await writeLog(store, 'labels', 2, labels({ yes: 30, no: 50, maybe: 20 }));
    // At since (excluded) and after until: never counted; at until (included): counted.
    await writeLog(store, 'labels', 1, labels({ late: 500 }), `${day}T11:00:00.001Z`);
    await writeLog(store, 'labels', 2, labels({ early: 500 }), since);
    await writeLog(store, 'labels', 2, labels({ no: 10 }), until);
    await writeLog(store, 'values', 1, values(range(100)));
    await writeLog(store, 'values', 2, values(range(100, 1000)));
    await writeLog(store, 'values', 3, values(range(100).reverse()));
    // A 20-class model whose canary predicts like its stable version: 1,000 rows in equal shares, and 100 rows drawn
    // from those shares (a seeded generator), as a canary's first minutes would log.
    let seed = 7;
    const draw = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 2 ** 24;
    await writeLog(store, 'twenty', 1, labels(Object.fromEntries(range(20).map((k) => [`c${k}`, 50]))));
    await writeLog(
      store,
      'twenty',
      2,
      range(100).map(() => ({ label: `c${Math.floor(draw() * 20)}`, probabilities: {} })),
    );
    await writeLog(store, 'mixed', 1, values(range(100)));
    await writeLog(store, 'mixed', 2, labels({ yes: 100 }));
    // Heavy-tailed values with ties, and a canary that moved part of its mass: what an evaluation and a bake compare.
    const random = seededRandom(0x5eed);
    const tail = () => Math.round(Math.exp(3 * random()) * 4) / 4;
    pairValues = [Array.from({ length: 700 }, tail), Array.from({ length: 450 }, () => tail() * 1.3 + 2)];
    pairLabels = [
      Array.from({ length: 600 }, () => ['b', 'a', 'c'][Math.floor(random() ** 2 * 3)]!),
      Array.from({ length: 500 }, () => ['a', 'b', 'd'][Math.floor(random() * 3)]!),
    ];
    await writeLog(store, 'pair-values', 1, values(pairValues[0]));
    await writeLog(store, 'pair-values', 2, values(pairValues[1]));
    await writeLog(
      store,
      'pair-labels',
      1,
      pairLabels[0].map((label) => ({ label, probabilities: {} })),
    );
    await writeLog(
      store,
      'pair-labels',
      2,
      pairLabels[1].map((label) => ({ label, probabilities: {} })),
    );
  });
  let pairValues: [number[], number[]];
  let pairLabels: [string[], string[]];

  it('measures the distance an evaluation keeps for two versions as the bake measures it on the same predictions', async function () {
    for (const [model, [stable, canary]] of [
      ['pair-values', pairValues],
      ['pair-labels', pairLabels],
    ] as const) {
      const served = await comparePredictions({ modelName: model, ...window });
      const evaluated = predictionDistance(stable, canary);
      assert.ok(served.distance! > 0.1, `${model}: ${served.distance}`);
      assert.ok(Math.abs(served.distance! - evaluated!) < 1e-12, `${model}: ${served.distance} vs ${evaluated}`);
    }
    assert.equal(predictionDistance([1, 2], ['a', 'b']), undefined, 'labels and values do not compare');
    assert.equal(predictionDistance([], [1]), undefined);
  });

  it("gives the distance the canary's evaluation found against the stable version, only when it was gated against it", async function () {
    const evaluation = async (version: number, change?: object) => {
      const evaluationUri = store.uri('runs', 'pair-values', `evaluation-${version}.json`);
      await store.write(evaluationUri, JSON.stringify({ metrics: {}, ...(change && { predictionChange: change }) }));
      const record = { modelName: 'pair-values', version, evaluationUri };
      await store.write(modelVersionFiles(store, 'pair-values', version).record, JSON.stringify(record));
    };
    // No registered canary (a log written by hand): the comparison alone.
    assert.equal((await comparePredictions({ modelName: 'pair-values', ...window })).expected, undefined);
    await evaluation(2, { against: 1, distance: 0.31, rows: 812 });
    const gated = await comparePredictions({ modelName: 'pair-values', ...window });
    assert.deepEqual(gated.expected, { distance: 0.31, rows: 812 });
    // Gated against another champion (v3), or evaluated before the change was kept: nothing expected of it.
    await evaluation(2, { against: 3, distance: 0.31, rows: 812 });
    assert.equal((await comparePredictions({ modelName: 'pair-values', ...window })).expected, undefined);
    await evaluation(2);
    assert.equal((await comparePredictions({ modelName: 'pair-values', ...window })).expected, undefined);
    // A hand-edited evaluation whose numbers are not numbers is not gone by.
    await evaluation(2, { against: 1, distance: 0.31, rows: 'many' });
    assert.equal((await comparePredictions({ modelName: 'pair-values', ...window })).expected, undefined);
    await evaluation(2, { against: 1, distance: '0.31', rows: 812 });
    assert.equal((await comparePredictions({ modelName: 'pair-values', ...window })).expected, undefined);
  });

  it('compares the shares of predicted labels over the union of labels, counting only rows in (since, until]', async function () {
    const result = await comparePredictions({ modelName: 'labels', ...window });
    assert.equal(result.stableRows, 100);
    assert.equal(result.canaryRows, 110);
    assert.equal(result.skipped, undefined);
    // maybe, no, yes
    assert.ok(
      Math.abs(result.distance! - expectedDistance([0, 40, 60], [20, 60, 30])) < 1e-12,
      String(result.distance),
    );
  });

  it('says how likely noise alone reaches the limit, with the chi-square test for when it is too likely', async function () {
    const few = await comparePredictions({ modelName: 'twenty', ...window, minRows: 10, maxDistance: 0.2 });
    assert.equal(few.buckets, 20);
    assert.ok(few.distance! > 0.1, `distance ${few.distance}`);
    // At 100 canary rows over 20 labels the distance's noise alone is near 0.2: the verdict must not judge by it.
    assert.ok(few.distanceNoise! > 0.1, `noise ${few.distanceNoise}`);
    assert.ok(few.pValue! > 0.05, `p ${few.pValue}`);
    const two = await comparePredictions({ modelName: 'labels', ...window, maxDistance: 0.2 });
    assert.ok(two.distanceNoise! < 0.01, `noise ${two.distanceNoise}`);
    assert.ok(two.pValue! < 1e-3, `p ${two.pValue}`);
    // Without a limit (a controller from before it), only the distance.
    const plain = await comparePredictions({ modelName: 'twenty', ...window, minRows: 10 });
    assert.deepEqual(Object.keys(plain).sort(), ['canaryRows', 'distance', 'stableRows']);
  });

  it('compares regression values in the stable side deciles', async function () {
    const shifted = await comparePredictions({ modelName: 'values', ...window });
    // Every canary value lies above the stable side's top decile: P = 10 × 0.1, Q = all in the last bin.
    const expected = expectedDistance([10, 10, 10, 10, 10, 10, 10, 10, 10, 10], [0, 0, 0, 0, 0, 0, 0, 0, 0, 100]);
    assert.ok(Math.abs(shifted.distance! - expected) < 1e-12, `${shifted.distance} vs ${expected}`);
    assert.ok(Math.abs(expected - 0.8708) < 1e-4);
    const same = await comparePredictions({ modelName: 'values', ...window, canary: 3 });
    assert.equal(same.distance, 0, 'the same values in another order fall into the same deciles');
  });

  it('skips with a reason when a side has fewer rows than the minimum, a model has no log, or the kinds differ', async function () {
    const few = await comparePredictions({ modelName: 'labels', ...window, minRows: 101 });
    assert.deepEqual(few, {
      stableRows: 100,
      canaryRows: 110,
      skipped: 'the stable version 1 has 100 logged predictions in the window, fewer than 101',
    });
    const canaryOnly = await comparePredictions({ modelName: 'labels', ...window, canary: 9 });
    assert.equal(canaryOnly.canaryRows, 0);
    assert.match(canaryOnly.skipped!, /^the canary 9 has 0 logged predictions/);
    assert.deepEqual(await comparePredictions({ modelName: 'nothing-logged', ...window }), {
      stableRows: 0,
      canaryRows: 0,
      skipped: 'model "nothing-logged" has no prediction log in the window',
    });
    const mixed = await comparePredictions({ modelName: 'mixed', ...window });
    assert.equal(mixed.distance, undefined);
    assert.match(mixed.skipped!, /do not log the same kind of prediction/);
  });

  it('reads parts of the earlier layout (features and output as JSON text) beside newer ones', async function () {
    // Version 1 logged by an earlier model server (JSON columns), version 2 by this one (typed groups).
    const part = store.localPath(predictionLogPart(store, 'upgraded', day, 'earlier'));
    fs.mkdirSync(path.dirname(part), { recursive: true });
    const old = labels({ yes: 70, no: 30 }).map(
      (o, i) =>
        `('old-${i}', TIMESTAMPTZ '${day} 10:00:00+00', 'upgraded', 1, 0, '{"x": ${i}}'::JSON, ${literal(JSON.stringify(o))}::JSON, 1.0)`,
    );
    await withDuckDb((db) =>
      db.run(
        `COPY (SELECT * FROM (VALUES ${old.join(', ')}) AS t(request_id, ts, model, version, instance, features, output, latency_ms)) TO ${literal(part)} (FORMAT parquet)`,
      ),
    );
    await writeLog(store, 'upgraded', 2, labels({ yes: 40, no: 60 }));
    const result = await comparePredictions({ modelName: 'upgraded', ...window });
    assert.deepEqual([result.stableRows, result.canaryRows], [100, 100]);
    assert.ok(Math.abs(result.distance! - expectedDistance([30, 70], [60, 40])) < 1e-12, String(result.distance));
  });

  it('refuses a log folder holding only Parquet files of another shape, naming the folder and their columns', async function () {
    // E.g. a dataset copied into the log's folder by hand.
    const stray = store.localPath(predictionLogPart(store, 'stray', day, 'stray'));
    fs.mkdirSync(path.dirname(stray), { recursive: true });
    await withDuckDb((db) => db.run(`COPY (SELECT 1 AS version, 'b' AS label) TO ${literal(stray)} (FORMAT parquet)`));
    const err = await comparePredictions({ modelName: 'stray', ...window }).catch((e: unknown) => e);
    assert.ok(isMlopsError(err, 'MLOPS_ERR_MONITOR_LOG_LAYOUT'), String(err));
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /predictions\/stray/);
    assert.match(err.message, /label VARCHAR/);
  });

  it('refuses a window that is not two ordered ISO times', async function () {
    const err = await comparePredictions({ modelName: 'labels', ...window, since: until, until: 'yesterday' }).catch(
      (e: unknown) => e,
    );
    assert.ok(isMlopsError(err, 'MLOPS_ERR_ROLLOUT_INPUT_INVALID'), String(err));
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /until "yesterday" is not an ISO time/);
  });

  it('compares the two versions a real model server logged while splitting traffic with a canary', async function () {
    this.timeout(180_000);
    const served = await servedChurn();
    const stable = (await readAlias(served.store, 'churn', 'production'))!.version;
    const canary = await served.registerVersion('compare/canary', 1);
    await writeDeployment(served.store, 'churn', 'compare-test', { stable, canary: { version: canary, weight: 0.5 } });
    const app = await buildServer({
      store: served.store,
      modelName: 'churn',
      alias: 'compare-test',
      predictionLog: { flushRows: 100, flushMs: 60_000 },
    });
    const start = new Date().toISOString();
    const answered: Record<string, Record<string, number>> = {};
    try {
      for (const [i, instance] of churnInstances({ rows: 400, seed: 11 }).entries()) {
        const response = await app.inject({
          method: 'POST',
          url: '/v1/models/churn:predict',
          headers: { 'x-request-id': `compare-${i}` },
          payload: { instances: [instance] },
        });
        assert.equal(response.statusCode, 200, response.body);
        const version = String(response.headers['x-model-version']);
        const label = response.json<{ predictions: { label: string }[] }>().predictions[0]!.label;
        answered[version] ??= {};
        answered[version][label] = (answered[version][label] ?? 0) + 1;
      }
    } finally {
      await app.close();
    }
    const end = new Date(Date.now() + 1).toISOString();
    const { comparePredictions: compare } = createControllerActivities({ store: served.store, duckDbThreads: 1 });
    const result = await compare({
      modelName: 'churn',
      stable,
      canary,
      since: new Date(Date.parse(start) - 1).toISOString(),
      until: end,
      minRows: 50,
    });
    const count = (v: number) => Object.values(answered[String(v)] ?? {}).reduce((a, b) => a + b, 0);
    assert.equal(result.stableRows, count(stable));
    assert.equal(result.canaryRows, count(canary));
    assert.equal(result.stableRows + result.canaryRows, 400);
    const names = [
      ...new Set([...Object.keys(answered[String(stable)]!), ...Object.keys(answered[String(canary)]!)]),
    ].sort();
    const expected = expectedDistance(
      names.map((n) => answered[String(stable)]![n] ?? 0),
      names.map((n) => answered[String(canary)]![n] ?? 0),
    );
    assert.ok(Math.abs(result.distance! - expected) < 1e-12, `${result.distance} vs ${expected}`);
  });
});
