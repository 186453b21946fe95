/**
 * checkModelDrift with the real activities on real DuckDB: a deployed churn model whose training snapshot was
 * profiled, and prediction logs written the way the model server writes them, from the project's churn generator.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { readJson } from '../../src/artifacts';
import { legacyMonitoringWatermark, monitoringWatermark, monitoringWindowClaim } from '../../src/artifacts/layout';
import type { CheckModelDriftInput } from '../../src/contracts/monitoring';
import type { DriftReport } from '../../src/drift/compute-drift';
import { isMlopsError } from '../../src/errors';
import type { WatermarkRecord } from '../../src/monitoring/monitor-window';
import { moveAlias } from '../../src/registry/model-registry';
import type { MonitoredChurn } from '../support/monitored-model';
import {
  churnInstances,
  logServedPredictions,
  monitoredChurn,
  predictionRows,
  writeEarlierLayoutLog,
  writePredictionLog,
  monitoringActivitiesOver,
} from '../support/monitored-model';
import { churnColumns } from '../../src/data/churn-generator';

/** The model's raw features: the generator's columns without the target. */
const features = churnColumns.filter((c) => c !== 'churned');

describe('checkModelDrift (the monitoring activity, real DuckDB)', function () {
  this.timeout(180_000);
  let churn: MonitoredChurn;
  before(async function () {
    churn = await monitoredChurn();
  });

  function check(input: Partial<CheckModelDriftInput> & { modelName: string; runId: string; until: string }) {
    const { checkModelDrift } = monitoringActivitiesOver(churn.store);
    return checkModelDrift({ alias: 'production', minRows: 500, ...input });
  }

  it('passes same-distribution traffic, then names exactly the features the drift generator moved', async function () {
    const model = 'churn-drift';
    const version = await churn.deployAs(model);
    const firstEnd = await writePredictionLog(
      churn.store,
      model,
      version,
      '2026-11-30T10:00:00Z',
      churnInstances({ rows: 2000, seed: 11 }),
    );
    const same = await check({ modelName: model, runId: 'run-1', until: '2026-11-30T11:00:00Z' });
    assert.equal(same.skipped, undefined);
    assert.equal(same.rows, 2000);
    assert.deepEqual(same.driftedFeatures, []);
    assert.equal(same.driftShare, 0);
    assert.equal(same.datasetDrift, false);
    assert.equal(same.since, undefined, 'the first window starts at the start of the log');
    const report = JSON.parse(fs.readFileSync(churn.store.localPath(same.reportUris!.drift), 'utf8')) as DriftReport;
    assert.deepEqual(report.rows.map((r) => r.input).sort(), [...features].sort());
    assert.match(fs.readFileSync(churn.store.localPath(same.reportUris!.report), 'utf8'), /no dataset drift/);
    assert.ok(firstEnd < '2026-11-30T11:00:00Z');

    // Drifted traffic after the watermark: charges up 30 %, 30 % of customers on a payment method never seen in
    // training. total_charges is monthly charges times tenure, so it moves too; nothing else does.
    await writePredictionLog(
      churn.store,
      model,
      version,
      '2026-11-30T11:30:00Z',
      churnInstances({ rows: 2000, seed: 12, drift: { chargesFactor: 1.3, newPaymentMethodShare: 0.3 } }),
    );
    const drifted = await check({ modelName: model, runId: 'run-2', until: '2026-11-30T12:00:00Z' });
    assert.equal(drifted.since, '2026-11-30T11:00:00.000Z', 'the window starts at the stored watermark');
    assert.equal(drifted.rows, 2000, 'rows of the judged window are not counted again');
    assert.deepEqual([...drifted.driftedFeatures].sort(), ['monthly_charges', 'payment_method', 'total_charges']);
    assert.equal(drifted.driftShare, 3 / 9);
    const mark = await readJson<WatermarkRecord>(churn.store, monitoringWatermark(churn.store, model, 'production'));
    assert.equal(mark.watermark, '2026-11-30T12:00:00.000Z');

    // A retried run (same run id) covers the same window again, not the empty one after its own watermark.
    const retried = await check({ modelName: model, runId: 'run-2', until: '2026-11-30T12:00:00Z' });
    assert.equal(retried.rows, 2000);
    assert.deepEqual(retried.driftedFeatures, drifted.driftedFeatures);

    // A later run whose window would end before the judged one's end (its lag is longer than the last run's): it says
    // so, and leaves the watermark.
    const behind = await check({ modelName: model, runId: 'run-3', until: '2026-11-30T11:58:00Z' });
    assert.equal(behind.rows, 0);
    assert.match(
      behind.skipped!,
      /window would end at 2026-11-30T11:58:00\.000Z, not after the end of the last judged window \(2026-11-30T12:00:00\.000Z\)/,
    );
    assert.equal(behind.watermark, '2026-11-30T12:00:00.000Z');
  });

  it('judges a window once when two runs check it side by side (a check by hand beside the schedule), and takes over the claim of a run that died', async function () {
    const model = 'churn-side-by-side';
    const version = await churn.deployAs(model);
    const until = '2026-11-30T11:00:00Z';
    const logFrom = (start: string, seed: number) =>
      writePredictionLog(churn.store, model, version, start, churnInstances({ rows: 800, seed }));
    await logFrom('2026-11-30T10:00:00Z', 21);
    const both = await Promise.all([
      check({ modelName: model, runId: 'by-hand', until }),
      check({ modelName: model, runId: 'scheduled', until }),
    ]);
    const judged = both.filter((r) => r.skipped === undefined);
    assert.equal(judged.length, 1, JSON.stringify(both.map((r) => r.skipped)));
    const [skipped] = both.filter((r) => r.skipped !== undefined);
    assert.match(
      skipped!.skipped!,
      /run (by-hand|scheduled) is judging the window from the start of the log|was judged meanwhile by run (by-hand|scheduled);/,
    );
    assert.equal(skipped!.reportUris, undefined, 'the skipping run writes no report');
    const claims = churn.store.uri('monitoring', model, 'claims');
    assert.deepEqual(
      await churn.store.list(claims),
      [],
      'the claim is gone once the watermark says the window was judged',
    );

    // A run that died holding the next window's claim: after the check's own timeout its claim is taken over.
    await logFrom('2026-11-30T11:10:00Z', 22);
    const next = monitoringWindowClaim(churn.store, model, 'production', '2026-11-30T11:00:00.000Z');
    const claim = (minutesAgo: number) =>
      JSON.stringify({ runId: 'gone', claimedAt: new Date(Date.now() - minutesAgo * 60_000).toISOString() });
    await churn.store.write(next, claim(1));
    const held = await check({ modelName: model, runId: 'later', until: '2026-11-30T12:00:00Z' });
    assert.match(
      held.skipped!,
      /^run gone is judging the window from 2026-11-30T11:00:00\.000Z .*this run leaves it to that one\. If that run is gone, the next run after \S+Z takes the window over \(or delete \S+claims\/production\/2026-11-30T11:00:00\.000Z\.json\)$/,
    );
    await churn.store.write(next, claim(60));
    const taken = await check({ modelName: model, runId: 'later', until: '2026-11-30T12:00:00Z' });
    assert.equal(taken.skipped, undefined);
    assert.equal(taken.rows, 800);

    // Two runs find the same dead run's claim at once: one takes it over, the other leaves the window to it.
    await logFrom('2026-11-30T12:10:00Z', 23);
    const third = monitoringWindowClaim(churn.store, model, 'production', '2026-11-30T12:00:00.000Z');
    await churn.store.write(third, claim(60));
    const racing = await Promise.all(
      ['a', 'b', 'c'].map((runId) => check({ modelName: model, runId, until: '2026-11-30T13:00:00Z' })),
    );
    const judging = racing.filter((r) => r.skipped === undefined);
    assert.equal(judging.length, 1, JSON.stringify(racing.map((r) => r.skipped)));
    for (const r of racing.filter((x) => x.skipped !== undefined))
      assert.match(
        r.skipped!,
        /run [abc] is judging the window from 2026-11-30T12:00:00\.000Z .*claims\/production\/2026-11-30T12:00:00\.000Z~1\.json\)$|was judged meanwhile by run [abc];/,
      );
    assert.deepEqual(await churn.store.list(claims), [], 'every generation of the claim is gone once judged');
  });

  it("judges the model's output against its predictions on the validation split: steady, then moved by new customers", async function () {
    const model = 'churn-output-drift';
    const steady = await logServedPredictions(churn, model, '2026-11-30T10:00:00Z', { rows: 2000, seed: 21 });
    const same = await check({ modelName: model, runId: 'run-1', until: '2026-11-30T11:00:00Z' });
    assert.ok(same.predictionDrift, 'a version evaluated with its output reference has output drift judged');
    assert.equal(same.predictionDrift.drifted, false, JSON.stringify(same.predictionDrift));
    const report = JSON.parse(fs.readFileSync(churn.store.localPath(same.reportUris!.drift), 'utf8')) as {
      prediction?: { metric: string };
      rows: { input: string }[];
    };
    assert.equal(report.prediction?.metric, same.predictionDrift.metric);
    assert.ok(!report.rows.some((r) => r.input === 'prediction'), 'the output is not counted as a feature');

    // Customers a year newer churn far more often: the share of predicted churners moves.
    await logServedPredictions(churn, model, '2026-11-30T11:30:00Z', {
      rows: 2000,
      seed: 22,
      drift: { tenureShift: -24, monthToMonthShare: 0.8 },
    });
    const moved = await check({ modelName: model, runId: 'run-2', until: '2026-11-30T12:00:00Z' });
    assert.equal(moved.predictionDrift?.drifted, true, JSON.stringify(moved.predictionDrift));
    // A binary label is judged by the two-proportion Z test: a p-value, drifted below 0.05.
    assert.equal(moved.predictionDrift.metric, 'Z_TEST_P_VALUE');
    assert.ok(moved.predictionDrift.value < same.predictionDrift.value);
    assert.equal(steady.version, moved.version);
  });

  it('keeps a watermark per alias, reads the one kept before aliases for production, and refuses a window ending in the future', async function () {
    const model = 'churn-aliases';
    const version = await churn.deployAs(model);
    await moveAlias(churn.store, model, 'staging', version);
    const logged = churnInstances({ rows: 600, seed: 21 });
    await writePredictionLog(churn.store, model, version, '2026-11-30T10:00:00Z', logged);
    const staging = await check({ modelName: model, alias: 'staging', runId: 's-1', until: '2026-11-30T11:00:00Z' });
    assert.equal(staging.rows, 600);
    const production = await check({ modelName: model, runId: 'p-1', until: '2026-11-30T11:00:00Z' });
    assert.equal(production.since, undefined, "staging's check did not move production's window");
    assert.equal(production.rows, 600);
    for (const alias of ['staging', 'production']) {
      const mark = await readJson<WatermarkRecord>(churn.store, monitoringWatermark(churn.store, model, alias));
      assert.equal(mark.watermark, '2026-11-30T11:00:00.000Z', alias);
    }

    // A window ending after now is refused, and the watermark stays.
    await assert.rejects(check({ modelName: model, runId: 'f-1', until: '2999-01-01T00:00:00Z' }), (err: unknown) => {
      assert.ok(isMlopsError(err, 'MLOPS_ERR_MONITOR_WINDOW_IN_FUTURE'), String(err));
      assert.match(err.message, /would end its window at 2999-01-01T00:00:00\.000Z, after 20\d\d-/);
      return true;
    });
    // A watermark stored in the future (by a version that took such a window) is named, with the file to delete.
    const productionMark = monitoringWatermark(churn.store, model, 'production');
    await churn.store.write(
      productionMark,
      JSON.stringify({ watermark: '2999-01-01T00:00:00.000Z', runId: 'old', updatedAt: '2026-11-30T12:00:00Z' }),
    );
    const stuck = await check({ modelName: model, runId: 'p-2', until: '2026-11-30T12:00:00Z' });
    assert.equal(stuck.rows, 0);
    assert.match(
      stuck.skipped!,
      /^the stored watermark 2999-01-01T00:00:00\.000Z \(.*watermarks\/production\.json\) is in the future: .*delete that file/,
    );

    // A model whose watermark was kept before aliases: production's next window starts there.
    const earlier = 'churn-legacy-mark';
    const v = await churn.deployAs(earlier);
    await writePredictionLog(churn.store, earlier, v, '2026-11-30T10:00:00Z', logged);
    await writePredictionLog(churn.store, earlier, v, '2026-11-30T12:00:00Z', logged);
    await churn.store.write(
      legacyMonitoringWatermark(churn.store, earlier),
      JSON.stringify({ watermark: '2026-11-30T11:00:00.000Z', runId: 'old', updatedAt: '2026-11-30T11:00:00Z' }),
    );
    const resumed = await check({ modelName: earlier, runId: 'l-1', until: '2026-11-30T13:00:00Z' });
    assert.equal(resumed.since, '2026-11-30T11:00:00.000Z');
    assert.equal(resumed.rows, 600);
    const moved = await readJson<WatermarkRecord>(churn.store, monitoringWatermark(churn.store, earlier, 'production'));
    assert.equal(moved.watermark, '2026-11-30T13:00:00.000Z');
  });

  it('reports a skip, stating the minimum, for a model without a log and for a window with too few rows', async function () {
    const model = 'churn-quiet';
    const version = await churn.deployAs(model);
    const none = await check({ modelName: model, runId: 'q-1', until: '2026-11-30T11:00:00Z' });
    assert.match(none.skipped ?? '', /no prediction log yet for model "churn-quiet"/);
    assert.equal(none.reportUris, undefined);

    await writePredictionLog(
      churn.store,
      model,
      version,
      '2026-11-30T10:00:00Z',
      churnInstances({ rows: 120, seed: 3 }),
    );
    const few = await check({ modelName: model, runId: 'q-2', until: '2026-11-30T11:00:00Z' });
    assert.equal(few.skipped, `120 rows of version ${version} in the window, fewer than the minimum 500`);
    assert.equal(few.rows, 120);
    assert.equal(few.watermark, undefined, 'a skipped window leaves the watermark where it was');
    assert.equal(fs.existsSync(churn.store.localPath(monitoringWatermark(churn.store, model, 'production'))), false);

    const empty = await check({
      modelName: model,
      runId: 'q-3',
      since: '2026-11-30T11:00:00Z',
      until: '2026-11-30T12:00:00Z',
    });
    assert.equal(empty.rows, 0);
    assert.match(empty.skipped ?? '', /fewer than the minimum 500/);
  });

  it('fails with a catalogued error for a feature missing from the log, unless it is muted', async function () {
    const model = 'churn-missing';
    const version = await churn.deployAs(model);
    const instances = churnInstances({ rows: 600, seed: 5 }).map(({ region: _, ...rest }) => rest);
    await writePredictionLog(churn.store, model, version, '2026-11-30T10:00:00Z', instances);
    await assert.rejects(
      check({ modelName: model, runId: 'm-1', until: '2026-11-30T11:00:00Z' }),
      (err) => isMlopsError(err, 'MLOPS_ERR_DRIFT_FEATURE_MISSING') && /region/.test(err.message),
    );
    const muted = await check({ modelName: model, runId: 'm-2', until: '2026-11-30T11:00:00Z', muted: ['region'] });
    assert.equal(muted.rows, 600);
    assert.ok(!muted.driftedFeatures.includes('region'));
  });

  it('fails with a catalogued error for a version whose training snapshot has no stored profile', async function () {
    const model = 'churn-unprofiled';
    await churn.deployAs(model, 'ds-0000000000000bad');
    await assert.rejects(
      check({ modelName: model, runId: 'u-1', until: '2026-11-30T11:00:00Z' }),
      (err) =>
        isMlopsError(err, 'MLOPS_ERR_MONITOR_PROFILE_MISSING') &&
        /profiles\/ds-0000000000000bad\/profile\.json/.test(err.message),
    );
  });

  it('refuses muted features and thresholds the version does not take, naming them, and takes a threshold for the output', async function () {
    const model = 'churn-misnamed';
    const version = await churn.deployAs(model);
    await writePredictionLog(
      churn.store,
      model,
      version,
      '2026-11-30T10:00:00Z',
      churnInstances({ rows: 600, seed: 5 }),
    );
    const until = '2026-11-30T11:00:00Z';
    await assert.rejects(
      check({ modelName: model, runId: 'n-1', until, muted: ['regoin'], thresholds: { tenure: 0.2, region: 0.3 } }),
      (err) => {
        assert.ok(isMlopsError(err, 'MLOPS_ERR_MONITOR_UNKNOWN_FEATURE'), String(err));
        assert.match(err.message, /names "regoin", "tenure" in muted and thresholds, which version \d+ does not take/);
        assert.match(err.message, /its features are "tenure_months", /);
        return true;
      },
    );
    // Nothing was judged: the watermark was not written, so a corrected run judges the same window.
    assert.equal(fs.existsSync(churn.store.localPath(monitoringWatermark(churn.store, model, 'production'))), false);
    const judged = await check({
      modelName: model,
      runId: 'n-2',
      until,
      muted: ['region'],
      thresholds: { prediction: 0.5 },
    });
    assert.equal(judged.rows, 600);
    assert.equal(judged.predictionDrift?.threshold, 0.5);
  });

  it('judges parts of the earlier layout (features and output as JSON text) as it judges the typed layout', async function () {
    const typed = 'churn-typed-layout';
    const earlier = 'churn-earlier-layout';
    const instances = churnInstances({ rows: 900, seed: 41, drift: { tenureShift: -24, monthToMonthShare: 0.8 } }).map(
      (r, i) => (i % 7 === 0 ? { ...r, monthly_charges: null, contract: null } : r),
    );
    const start = '2026-11-30T10:00:00Z';
    const typedVersion = await churn.deployAs(typed);
    await writePredictionLog(churn.store, typed, typedVersion, start, instances);
    const earlierVersion = await churn.deployAs(earlier);
    await writeEarlierLayoutLog(churn.store, earlier, predictionRows(earlier, earlierVersion, start, instances));
    const judged = await Promise.all(
      [typed, earlier].map(async (modelName) => {
        const result = await check({ modelName, runId: `layout-${modelName}`, until: '2026-11-30T11:00:00Z' });
        const drift = JSON.parse(
          fs.readFileSync(churn.store.localPath(result.reportUris!.drift), 'utf8'),
        ) as DriftReport;
        return { result, drift };
      }),
    );
    const [a, b] = judged as [(typeof judged)[0], (typeof judged)[0]];
    assert.equal(a.result.rows, 900);
    assert.equal(b.result.rows, 900);
    assert.ok(a.result.driftedFeatures.length > 0, 'the drifted traffic is flagged');
    assert.deepEqual(b.result.driftedFeatures, a.result.driftedFeatures);
    const counts = (d: DriftReport) => d.columns.map((c) => [c.input, c.currentRows, c.currentNulls, c.buckets]);
    assert.deepEqual(counts(b.drift), counts(a.drift));
    for (const [i, c] of a.drift.columns.entries())
      for (const [metric, value] of Object.entries(c.statistics))
        assert.ok(
          Math.abs(value - b.drift.columns[i]!.statistics[metric as keyof typeof c.statistics]!) < 1e-9,
          metric,
        );
    assert.equal(b.result.predictionDrift?.drifted, a.result.predictionDrift?.drifted);
  });

  it("counts a numeric feature's value of another type (text, object, array, boolean) as null instead of failing or guessing", async function () {
    const model = 'churn-hostile';
    const version = await churn.deployAs(model);
    const hostile = ['12', 'abc', { months: 3 }, [1, 2], true, '1e400'];
    const instances = churnInstances({ rows: 600, seed: 9 }).map((r, i) =>
      i < hostile.length * 20 ? { ...r, tenure_months: hostile[i % hostile.length], contract: 42 } : r,
    );
    await writePredictionLog(churn.store, model, version, '2026-11-30T10:00:00Z', instances);
    const result = await check({ modelName: model, runId: 'h-1', until: '2026-11-30T11:00:00Z' });
    assert.equal(result.rows, 600);
    const report = JSON.parse(fs.readFileSync(churn.store.localPath(result.reportUris!.drift), 'utf8')) as DriftReport;
    const tenure = report.columns.find((c) => c.input === 'tenure_months')!;
    // Only JSON numbers count for a numeric feature: the texts "12", "abc" and "1e400", the object, the array and
    // true are nulls (the model server refuses each of them).
    assert.equal(tenure.currentNulls, 120);
    assert.equal(tenure.currentRows, 480);
    const contract = report.columns.find((c) => c.input === 'contract')!;
    assert.equal(contract.currentRows, 600, 'a number where a category was expected is an unseen category, counted');
  });
});
