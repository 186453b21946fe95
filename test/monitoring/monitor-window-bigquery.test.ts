/**
 * checkModelDrift counting the window in BigQuery over the model server's log table (goccy/bigquery-emulator, written
 * through the real BigQueryPredictionSink and read through the real client library) gives the same numbers as the
 * same logged rows in the Parquet log counted by DuckDB: rows, drifted features, every statistic, the output's drift.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { createMonitoringActivities } from '../../src/activities/monitoring';
import type { CheckModelDriftInput, CheckModelDriftResult } from '../../src/contracts/monitoring';
import type { DriftReport } from '../../src/drift/compute-drift';
import type { Dependencies } from '../../src/dependencies';
import type { RunningEmulator } from '../../src/dev/emulators';
import { isMlopsError } from '../../src/errors';
import type { ClassPrediction } from '../../src/models/predictor';
import { resolveAlias } from '../../src/registry/model-registry';
import { BigQueryPredictionSink } from '../../src/serving/bigquery-prediction-sink';
import { loadVersion } from '../../src/serving/load-version';
import { startTestBigQuery } from '../support/bigquery-emulator';
import { testDeps } from '../support/dependencies';
import type { MonitoredChurn } from '../support/monitored-model';
import {
  churnInstances,
  monitoredChurn,
  predictionRows,
  rowBatch,
  writePredictionLog,
  monitoringActivitiesOver,
} from '../support/monitored-model';
import { testConfig } from '../support/stack';

const seed = `projects:
  - id: test
    datasets:
      - id: serving
        tables: []
`;

/** Every number in `actual` within 1e-9 of `expected`'s (relative for large ones); everything else equal. */
function assertSameNumbers(actual: unknown, expected: unknown, at = ''): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${at}: ${actual} ≠ ${expected}`);
    return;
  }
  if (expected && typeof expected === 'object') {
    assert.equal(typeof actual, 'object', at);
    const [a, e] = [actual as Record<string, unknown>, expected as Record<string, unknown>];
    assert.deepEqual(Object.keys(a).sort(), Object.keys(e).sort(), at);
    for (const key of Object.keys(e)) assertSameNumbers(a[key], e[key], `${at}.${key}`);
    return;
  }
  assert.deepEqual(actual, expected, at);
}

describe('checkModelDrift over the BigQuery log table (goccy/bigquery-emulator) and over the Parquet log', function () {
  this.timeout(300_000);
  let emulator: RunningEmulator | undefined;
  let churn: MonitoredChurn;

  /** The monitoring activities on the shared churn store, reading the prediction log from `bigQueryLog` when given. */
  function monitoringOver(bigQueryLog?: Dependencies['bigQueryLog']) {
    return monitoringActivitiesOver(churn.store, bigQueryLog && { bigQueryLog });
  }
  let sink: BigQueryPredictionSink;
  let activities: ReturnType<typeof createMonitoringActivities>;

  before(async function () {
    this.timeout(30 * 60_000);
    churn = await monitoredChurn();
    emulator = await startTestBigQuery(seed);
    const deps = testDeps({
      store: churn.store,
      config: testConfig({
        MLOPS_GCP_PROJECT: 'test',
        MLOPS_BIGQUERY_API_ENDPOINT: emulator.url,
        MLOPS_SERVE_LOG_BIGQUERY_TABLE: 'serving.predictions',
      }),
    });
    const log = deps.bigQueryLog!;
    sink = new BigQueryPredictionSink(log.client, log.dataset, log.table);
    activities = monitoringOver(log);
  });
  after(async function () {
    await emulator?.stop();
  });

  /** The version's real predictions of the instances, as the model server logs them. */
  async function predict(model: string, instances: Record<string, unknown>[]): Promise<ClassPrediction[]> {
    const loaded = await loadVersion(churn.store, await resolveAlias(churn.store, model, 'production'));
    try {
      return (await loaded.predictor.predict(instances)) as ClassPrediction[];
    } finally {
      await loaded.predictor.close();
    }
  }

  /** Logs the instances and outputs (default: the version's predictions) to both logs, as the server's sinks do. */
  async function logBoth(
    model: string,
    version: number,
    start: string,
    instances: Record<string, unknown>[],
    outputs?: unknown[],
  ) {
    const logged = outputs ?? (await predict(model, instances));
    await writePredictionLog(churn.store, model, version, start, instances, 1, logged);
    await sink.write(rowBatch(model, start.slice(0, 10), predictionRows(model, version, start, instances, 1, logged)));
  }

  type Window = Pick<CheckModelDriftInput, 'modelName' | 'since' | 'until' | 'muted'>;

  /** The same window judged from both logs (each run with its own id); the drift.json of each. */
  async function judgeBoth(w: Window, runId: string) {
    const input = { alias: 'production', minRows: 500, ...w };
    const parquet = await activities.checkModelDrift({ ...input, runId: `${runId}-parquet` });
    const bigquery = await activities.checkModelDrift({ ...input, runId: `${runId}-bigquery`, log: 'bigquery' });
    const report = (r: CheckModelDriftResult) =>
      r.reportUris && (JSON.parse(fs.readFileSync(churn.store.localPath(r.reportUris.drift), 'utf8')) as unknown);
    return { parquet, bigquery, parquetReport: report(parquet), bigqueryReport: report(bigquery) };
  }

  function assertSameJudgement(both: Awaited<ReturnType<typeof judgeBoth>>) {
    const strip = ({ reportUris: _, ...rest }: CheckModelDriftResult) => rest;
    assertSameNumbers(strip(both.bigquery), strip(both.parquet), 'result');
    assert.ok(both.parquetReport, 'the window was judged');
    assertSameNumbers(both.bigqueryReport, both.parquetReport, 'drift.json');
  }

  it('gives the same rows, statistics and drifted features for a same-distribution and a drifted window', async function () {
    const model = 'churn-bq-log';
    const version = await churn.deployAs(model);
    await logBoth(model, version, '2026-11-30T10:00:00Z', churnInstances({ rows: 1200, seed: 31 }));
    // Hostile rows: values of the wrong JSON type (numbers as text, booleans, objects, arrays; numbers as categories), nulls
    // and missing keys. (Objects and arrays as categories are left out: see src/monitoring/bigquery-log-window.ts.)
    const odd = churnInstances({ rows: 40, seed: 32 }).map((r, i) => {
      if (i % 4 === 0) return { ...r, tenure_months: String(r.tenure_months), contract: null };
      if (i % 4 === 1) return { ...r, monthly_charges: true, region: 7 };
      if (i % 4 === 2) return { ...r, total_charges: { value: 1 }, senior: 'maybe', region: 2.5e-7 };
      const rest: Record<string, unknown> = { ...r, tenure_months: [r.tenure_months] };
      delete rest.support_calls;
      return rest;
    });
    // Outputs of the wrong kind too: a label that is a number, a missing label, a label that is a boolean.
    const oddOutputs = odd.map((_, i) => [{ label: 1 }, {}, { label: true }, { label: 'no' }][i % 4]);
    await logBoth(model, version, '2026-11-30T10:30:00Z', odd, oddOutputs);
    // Another model's traffic in the same table and hours: never counted for this one.
    await sink.write(
      rowBatch(
        'churn-other',
        '2026-11-30',
        predictionRows('churn-other', version, '2026-11-30T10:45:00Z', churnInstances({ rows: 300, seed: 33 })),
      ),
    );

    const same = await judgeBoth(
      { modelName: model, since: '2026-11-30T09:00:00Z', until: '2026-11-30T11:00:00Z' },
      's',
    );
    assertSameJudgement(same);
    assert.equal(same.bigquery.rows, 1240);
    assert.deepEqual(same.bigquery.driftedFeatures, []);
    assert.ok(same.bigquery.predictionDrift, 'the output is judged from the table too');

    const drift = { tenureShift: -24, chargesFactor: 1.3, newPaymentMethodShare: 0.3 };
    await logBoth(model, version, '2026-11-30T11:30:00Z', churnInstances({ rows: 1500, seed: 34, drift }));
    const moved = await judgeBoth(
      { modelName: model, since: '2026-11-30T11:00:00Z', until: '2026-11-30T12:00:00Z' },
      'd',
    );
    assertSameJudgement(moved);
    assert.equal(moved.bigquery.rows, 1500);
    assert.ok(moved.bigquery.driftedFeatures.includes('monthly_charges'), moved.bigquery.driftedFeatures.join());
    assert.ok(moved.bigquery.driftedFeatures.includes('payment_method'), moved.bigquery.driftedFeatures.join());
    assert.equal(moved.bigquery.predictionDrift?.drifted, true, JSON.stringify(moved.bigquery.predictionDrift));
  });

  it('tells a feature logged only as null from one never logged, as the Parquet log does', async function () {
    const model = 'churn-bq-nulls';
    const version = await churn.deployAs(model);
    const instances = churnInstances({ rows: 600, seed: 36 }).map(({ region: _, ...r }) => ({ ...r, contract: null }));
    await logBoth(
      model,
      version,
      '2026-11-30T10:00:00Z',
      instances,
      instances.map(() => ({ label: 'no' })),
    );
    const w = { modelName: model, alias: 'production', minRows: 500, until: '2026-11-30T11:00:00Z' };
    for (const log of ['parquet', 'bigquery'] as const)
      await assert.rejects(activities.checkModelDrift({ ...w, runId: `nulls-${log}`, log }), (err: unknown) => {
        assert.ok(isMlopsError(err, 'MLOPS_ERR_DRIFT_FEATURE_MISSING'), String(err));
        assert.match((err as Error).message, /feature\(s\) region\n/, `${log}: only the feature no instance has`);
        return true;
      });
    // With the absent feature muted, the one present only as null is counted, and judged alike by its missing values
    // (every row null, against none in the reference): drifted on both logs.
    const muted = await judgeBoth({ ...w, since: '2026-11-30T09:00:00Z', muted: ['region'] }, 'muted');
    assertSameJudgement(muted);
    assert.ok(muted.bigquery.driftedFeatures.includes('contract'), muted.bigquery.driftedFeatures.join());
    const contract = (muted.bigqueryReport as DriftReport).columns.find((c) => c.input === 'contract')!;
    assert.deepEqual([contract.currentRows, contract.nulls.current, contract.nulls.drifted], [0, 1, true]);
  });

  it('skips a window with too few rows, and a model without log table yet, as the Parquet log does', async function () {
    const model = 'churn-bq-few';
    const version = await churn.deployAs(model);
    await logBoth(model, version, '2026-11-30T10:00:00Z', churnInstances({ rows: 120, seed: 35 }));
    const few = await judgeBoth({ modelName: model, until: '2026-11-30T11:00:00Z' }, 'few');
    assert.equal(few.bigquery.skipped, `120 rows of version ${version} in the window, fewer than the minimum 500`);
    assert.deepEqual(few.bigquery, few.parquet);
    // Bounds on logged rows' own times (1 ms apart from 10:00): since is excluded, until included, on both logs.
    const bounds = { modelName: model, since: '2026-11-30T10:00:00.009Z', until: '2026-11-30T10:00:00.059Z' };
    const edged = await judgeBoth(bounds, 'edges');
    assert.equal(edged.bigquery.rows, 50);
    assert.deepEqual(edged.bigquery, edged.parquet);

    const other = testDeps({
      store: churn.store,
      config: testConfig({
        MLOPS_GCP_PROJECT: 'test',
        MLOPS_BIGQUERY_API_ENDPOINT: emulator!.url,
        MLOPS_SERVE_LOG_BIGQUERY_TABLE: 'serving.not_written_yet',
      }),
    });
    const { checkModelDrift } = monitoringOver(other.bigQueryLog);
    const input = { modelName: model, alias: 'production', minRows: 500, until: '2026-11-30T11:00:00Z' };
    const none = await checkModelDrift({ ...input, runId: 'none', log: 'bigquery' });
    assert.equal(none.skipped, `no prediction log yet for model "${model}"`);
    assert.equal(none.watermark, undefined);
  });

  it('fails a BigQuery check whose log project or dataset does not exist, naming the settings, instead of skipping', async function () {
    const model = 'churn-bq-misconfigured';
    await churn.deployAs(model);
    const input = { modelName: model, alias: 'production', minRows: 500, until: '2026-11-30T11:00:00Z' };
    for (const [project, table] of [
      ['wrongproj', 'serving.predictions'],
      ['test', 'no_such_dataset.predictions'],
    ] as const) {
      const misconfigured = testDeps({
        store: churn.store,
        config: testConfig({
          MLOPS_GCP_PROJECT: project,
          MLOPS_BIGQUERY_API_ENDPOINT: emulator!.url,
          MLOPS_SERVE_LOG_BIGQUERY_TABLE: table,
        }),
      });
      const { checkModelDrift } = monitoringOver(misconfigured.bigQueryLog);
      await assert.rejects(
        checkModelDrift({ ...input, runId: `wrong-${project}`, log: 'bigquery' }),
        (err: unknown) => {
          assert.ok(isMlopsError(err, 'MLOPS_ERR_MONITOR_LOG_TABLE_UNREACHABLE'), String(err));
          assert.equal(err.nonRetryable, true);
          assert.match(
            (err as Error).message,
            new RegExp(`dataset ${project}\\.${table.split('.')[0]} does not exist`),
          );
          assert.match((err as Error).message, /MLOPS_GCP_PROJECT[\s\S]*MLOPS_SERVE_LOG_BIGQUERY_TABLE/);
          return true;
        },
      );
    }
  });

  it('refuses a BigQuery check on a worker without a log table, naming the setting', async function () {
    const { checkModelDrift } = monitoringOver();
    const input = { modelName: 'churn-bq-log', alias: 'production', minRows: 500, until: '2026-11-30T11:00:00Z' };
    await assert.rejects(checkModelDrift({ ...input, runId: 'unset', log: 'bigquery' }), (err: unknown) => {
      assert.ok(isMlopsError(err, 'MLOPS_ERR_MONITOR_LOG_TABLE_MISSING'), String(err));
      assert.match((err as Error).message, /MLOPS_SERVE_LOG_BIGQUERY_TABLE/);
      return true;
    });
  });
});
