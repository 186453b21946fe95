/**
 * What a user of the drift check depends on, on real DuckDB windows of synthetic traffic: same-distribution traffic
 * raises nothing, a mean shift is flagged on the shifted feature only, thresholds, tests and muting work per feature,
 * windows merge by adding their counts, and bad input is a catalogued error. Rates over many windows are measured by
 * bench/drift-detection.ts and recorded in docs/monitoring.md.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { DriftReport, WindowCounts } from '../../src/drift/compute-drift';
import {
  addWindowCounts,
  computeDrift,
  countWindow,
  driftReportJson,
  evaluateDrift,
} from '../../src/drift/compute-drift';
import type { CategoricalReference, ColumnReference } from '../../src/drift/reference';
import { computeDriftReference } from '../../src/drift/reference';
import { generateChurnCsv } from '../../src/data/churn-generator';
import { literal } from '../../src/warehouse/duckdb';
import { tempDir } from '../support/stack';
import { isMlopsError } from '../../src/errors';
import type { DuckDb } from '../../src/warehouse/duckdb';
import { withDuckDb } from '../../src/warehouse/duckdb';
import { duckDbDialect } from '../../src/warehouse/sql-dialect';
import { amountIqr, syntheticReference, syntheticRows, windowDrift, windowStart } from '../support/drift-windows';

describe('drift detection on windows counted in DuckDB', function () {
  this.timeout(120_000);
  let db: DuckDb;
  let release: () => void;
  let reference: Record<string, ColumnReference>;
  const query = (sql: string) => db.query(sql);

  before(async () => {
    // The handle lives for the whole suite: withDuckDb closes it when the callback's promise settles.
    await new Promise<void>((ready) => {
      void withDuckDb(
        async (opened) => {
          db = opened;
          ready();
          await new Promise<void>((done) => (release = done));
        },
        { threads: 1 },
      );
    });
    reference = await syntheticReference(db, 100_000);
  });
  after(() => release());

  it('raises no drift on 10 same-distribution windows of 10,000 rows with either preset', async () => {
    for (let w = 0; w < 10; w++) {
      const reports = await windowDrift(db, reference, 10_000, w);
      for (const report of Object.values(reports)) {
        assert.deepEqual(report.dataset.driftedColumns, [], `window ${w}, ${report.preset}`);
        assert.equal(report.dataset.drifted, false);
      }
    }
  });

  it('flags a mean shift of 0.4 × IQR on the shifted feature only, in every one of 10 windows of 10,000 rows', async () => {
    for (let w = 0; w < 10; w++) {
      const { evidently } = await windowDrift(db, reference, 10_000, 100 + w, 0.4 * amountIqr);
      assert.deepEqual(evidently.dataset.driftedColumns, ['amount'], `window ${w}`);
      const row = evidently.rows.find((r) => r.input === 'amount')!;
      assert.equal(row.metric, 'WASSERSTEIN_NORMED');
      assert.ok(row.value >= 0.25, `W ${row.value}`);
      // One of six columns drifting is below Evidently's dataset share of 0.5.
      assert.equal(evidently.dataset.drifted, false);
    }
  });

  it('does not flag a column for a few far-out rows (a ×1000 typo, 1e30) that carry its Wasserstein distance alone', async () => {
    // 800 ordinary rows plus one row whose amount and latency are typos; the rest of the row is ordinary.
    const ordinary = syntheticRows(windowStart(800, 31), 800);
    const typos = [10_000, 1e30];
    for (const typo of typos) {
      const window = `(SELECT * FROM ${ordinary} UNION ALL SELECT ${typo} AS amount, ${typo} AS latency, 3 AS visits, 0 AS is_member, 'basic' AS plan, 'web' AS channel, 800 AS __row)`;
      const counts = await countWindow(query, duckDbDialect, window, reference);
      const report = evaluateDrift(reference, counts);
      assert.deepEqual(report.dataset.driftedColumns, [], `typo ${typo}`);
      const amount = report.columns.find((c) => c.input === 'amount')!;
      // The distance as Evidently computes it stays in the report; the verdict says what carried it.
      assert.ok(amount.statistics.WASSERSTEIN_NORMED! >= 0.1, `raw W ${amount.statistics.WASSERSTEIN_NORMED}`);
      // The typo and the few ordinary rows beyond the reference's extreme quantiles (about 0.5% a side).
      assert.ok(amount.tails && amount.tails.rows >= 1 && amount.tails.rows <= 20, `tail rows ${amount.tails?.rows}`);
      assert.equal(amount.tails.beyond, 'quantiles');
      assert.ok(amount.tails.WASSERSTEIN_NORMED < 0.1, `pulled-in W ${amount.tails.WASSERSTEIN_NORMED}`);
      const row = report.rows.find((r) => r.input === 'amount')!;
      assert.deepEqual([row.value, row.is_anomaly], [amount.tails.WASSERSTEIN_NORMED, false]);
      assert.match(
        amount.test.note ?? '',
        /^the distance \(\S+\) comes from far-out values: of the window's \d+ rows beyond the reference's extreme quantiles, .* it is \S+, under 0\.1: judged by that/,
      );
      // Named by the user, the test is Evidently's as it is: the typo drifts the column.
      const own = evaluateDrift(reference, counts, { tests: { amount: 'WASSERSTEIN_NORMED' } });
      assert.deepEqual(own.dataset.driftedColumns.includes('amount'), true, `typo ${typo}, own test`);
    }
  });

  it('still flags a column whose whole window moved beyond the reference, and one where 5% of rows are far out', async () => {
    const beyond = await windowDrift(db, reference, 2_000, 41, 100);
    assert.deepEqual(beyond.evidently.dataset.driftedColumns, ['amount']);
    const amount = beyond.evidently.columns.find((c) => c.input === 'amount')!;
    assert.ok(amount.tails!.WASSERSTEIN_NORMED > 2, `pulled-in W ${amount.tails!.WASSERSTEIN_NORMED}`);
    // A unit error in 5% of the traffic (values ×1000) is a change, not a typo.
    const ordinary = syntheticRows(windowStart(2_000, 42), 2_000);
    const window = `(SELECT CASE WHEN __row % 20 = 0 THEN amount * 1000 ELSE amount END AS amount, latency, visits, is_member, plan, channel, __row FROM ${ordinary})`;
    const report = evaluateDrift(reference, await countWindow(query, duckDbDialect, window, reference));
    assert.deepEqual(report.dataset.driftedColumns, ['amount']);
  });

  it('writes one BigQuery-ML-shaped row per feature with the evidently tests for a 100,000-row reference', async () => {
    const { evidently, vertex } = await windowDrift(db, reference, 5_000, 7);
    const shape = (r: DriftReport) => r.rows.map((row) => [row.input, row.metric, row.threshold]);
    assert.deepEqual(shape(evidently), [
      ['amount', 'WASSERSTEIN_NORMED', 0.1],
      ['latency', 'WASSERSTEIN_NORMED', 0.1],
      ['visits', 'WASSERSTEIN_NORMED', 0.1],
      ['is_member', 'JENSEN_SHANNON_DISTANCE', 0.1],
      ['plan', 'JENSEN_SHANNON_DISTANCE', 0.1],
      ['channel', 'JENSEN_SHANNON_DISTANCE', 0.1],
    ]);
    assert.deepEqual(shape(vertex), [
      ['amount', 'JENSEN_SHANNON_DIVERGENCE', 0.3],
      ['latency', 'JENSEN_SHANNON_DIVERGENCE', 0.3],
      ['visits', 'JENSEN_SHANNON_DIVERGENCE', 0.3],
      ['is_member', 'JENSEN_SHANNON_DIVERGENCE', 0.3],
      ['plan', 'L_INFTY', 0.3],
      ['channel', 'L_INFTY', 0.3],
    ]);
    const json = JSON.parse(driftReportJson(evidently)) as DriftReport;
    assert.deepEqual(Object.keys(json.rows[0]!), ['input', 'metric', 'threshold', 'value', 'is_anomaly']);
    // A statistic that does not apply is null in drift.json, never NaN or a guess.
    assert.equal(json.columns.find((c) => c.input === 'plan')!.statistics.KS_P_VALUE, undefined);
  });

  it('uses KS, chi-square and Z tests for a reference of 1,000 rows, as Evidently does', async () => {
    const small = await syntheticReference(db, 1_000, 5_000_000);
    const { evidently } = await windowDrift(db, small, 2_000, 3);
    assert.deepEqual(
      evidently.rows.map((r) => [r.input, r.metric]),
      [
        ['amount', 'KS_P_VALUE'],
        ['latency', 'KS_P_VALUE'],
        ['visits', 'KS_P_VALUE'],
        ['is_member', 'Z_TEST_P_VALUE'],
        ['plan', 'CHI_SQUARE_P_VALUE'],
        ['channel', 'Z_TEST_P_VALUE'],
      ],
    );
    const visits = evidently.columns.find((c) => c.input === 'visits')!;
    assert.equal(visits.ks?.method, 'exact');
    assert.equal(evidently.columns.find((c) => c.input === 'amount')!.ks?.method, 'grid');
  });

  it('honours per-feature thresholds, tests and muting', async () => {
    const from = syntheticRows(windowStart(10_000, 300), 10_000, 0.4 * amountIqr);
    const counts = await countWindow(query, duckDbDialect, from, reference);
    const muted = evaluateDrift(reference, counts, { muted: ['amount'] });
    assert.equal(muted.rows.find((r) => r.input === 'amount')!.is_anomaly, false);
    assert.equal(muted.columns.find((c) => c.input === 'amount')!.muted, true);
    assert.equal(muted.dataset.columns, 5);
    const loose = evaluateDrift(reference, counts, { thresholds: { amount: 0.9 } });
    assert.deepEqual(loose.dataset.driftedColumns, []);
    const psi = evaluateDrift(reference, counts, { tests: { amount: 'PSI', plan: 'L_INFTY' } });
    const amount = psi.rows.find((r) => r.input === 'amount')!;
    assert.deepEqual([amount.metric, amount.threshold, amount.is_anomaly], ['PSI', 0.1, true]);
    assert.equal(psi.rows.find((r) => r.input === 'plan')!.metric, 'L_INFTY');
    const strict = evaluateDrift(reference, counts, { datasetDriftShare: 1 / 6 });
    assert.equal(strict.dataset.drifted, true);
  });

  it('judges columns named like Object.prototype keys (__proto__, toString) as any other column', async () => {
    // The synthetic traffic with two columns renamed: a feature may be called anything a CSV header can say.
    const renamed = (from: string) =>
      `(SELECT amount AS "__proto__", plan AS "toString", channel AS "constructor", __row FROM ${from})`;
    await db.run(`CREATE OR REPLACE TABLE keys_reference AS SELECT * FROM ${renamed(syntheticRows(0, 20_000))}`);
    const keyed = await computeDriftReference(query, duckDbDialect, {
      from: 'keys_reference',
      columns: [
        { name: '__proto__', numeric: true },
        { name: 'toString', numeric: false },
        { name: 'constructor', numeric: false },
      ],
      sample: { from: 'keys_reference', rowNumber: '__row', size: 20_000 },
    });
    assert.deepEqual(Object.keys(keyed), ['__proto__', 'toString', 'constructor']);
    const shifted = renamed(syntheticRows(windowStart(10_000, 400), 10_000, 0.4 * amountIqr));
    const counts = await countWindow(query, duckDbDialect, shifted, keyed);
    const report = evaluateDrift(keyed, counts, { thresholds: { toString: 0.5 } });
    assert.deepEqual(
      report.rows.map((r) => r.input),
      ['__proto__', 'toString', 'constructor'],
    );
    assert.deepEqual(report.dataset.driftedColumns, ['__proto__']);
    assert.equal(report.rows.find((r) => r.input === 'toString')!.threshold, 0.5);
    // A threshold map without the name does not lend it Object.prototype's function.
    const plain = evaluateDrift(keyed, counts, { thresholds: { other: 0.5 } });
    assert.equal(typeof plain.rows.find((r) => r.input === 'toString')!.threshold, 'number');
    const added = evaluateDrift(keyed, addWindowCounts(counts, counts));
    assert.deepEqual(added.dataset.driftedColumns, ['__proto__']);
  });

  it('judges a 200-value category in 500-row windows by chi-square, not by a JS distance its noise alone exceeds', async () => {
    // Uniform over 200 stores (the reference keeps the top 50 and "other"); `hot` sends that share to one store.
    let hotStore = 's0';
    const stores = (first: number, count: number, hot = 0) =>
      `(SELECT CASE WHEN u < ${hot} THEN '${hotStore}' ELSE 's' || CAST(floor(v * 200) AS BIGINT) END AS store, i - ${first} AS __row
        FROM (SELECT i, ((hash(i * 8 + 6) >> 11)::DOUBLE + 0.5) / 9007199254740992.0 AS u,
          ((hash(i * 8 + 7) >> 11)::DOUBLE + 0.5) / 9007199254740992.0 AS v FROM range(${first}, ${first + count}) AS t(i)))`;
    await db.run(`CREATE OR REPLACE TABLE stores_reference AS SELECT * FROM ${stores(0, 100_000)}`);
    const storeReference = await computeDriftReference(query, duckDbDialect, {
      from: 'stores_reference',
      columns: [{ name: 'store', numeric: false }],
      sample: { from: 'stores_reference', rowNumber: '__row', size: 100_000 },
    });
    hotStore = (storeReference.store as CategoricalReference).values[0]!.value;
    const judge = async (size: number, w: number, hot = 0, options = {}) => {
      const counts = await countWindow(query, duckDbDialect, stores(windowStart(size, w), size, hot), storeReference);
      const report = evaluateDrift(storeReference, counts, options);
      return { row: report.rows[0]!, column: report.columns[0]! };
    };
    let distanceAlarms = 0;
    let alarms = 0;
    for (let w = 0; w < 20; w++) {
      const { row, column } = await judge(500, w);
      assert.equal(row.metric, 'CHI_SQUARE_P_VALUE', `window ${w}`);
      assert.match(
        column.test.note ?? '',
        /chi-square instead of JENSEN_SHANNON_DISTANCE: .*500 window rows over 51 buckets/,
      );
      if (column.statistics.JENSEN_SHANNON_DISTANCE! >= 0.1) distanceAlarms++;
      if (row.is_anomaly) alarms++;
    }
    // Evidently's choice would have flagged nearly every same-distribution window; the test flags about 5 %.
    assert.ok(distanceAlarms >= 16, `JS distance ≥ 0.1 in ${distanceAlarms} of 20`);
    assert.ok(alarms <= 2, `${alarms} of 20 same-distribution windows flagged`);
    // A real change in the same small window is still flagged: a tenth of the traffic moving to one known store.
    assert.equal((await judge(500, 50, 0.1)).row.is_anomaly, true);
    // Windows large enough for the distance keep Evidently's choice and its meaning.
    const large = await judge(20_000, 60);
    assert.deepEqual(
      [large.row.metric, large.row.is_anomaly, large.column.test.note],
      ['JENSEN_SHANNON_DISTANCE', false, undefined],
    );
    // A threshold of the user's own stays on the distance, with the warning in the report.
    const own = await judge(500, 70, 0, { thresholds: { store: 0.105 } });
    assert.equal(own.row.metric, 'JENSEN_SHANNON_DISTANCE');
    assert.match(own.column.test.note ?? '', /your threshold is kept: raise it, or use a window of more rows/);
  });

  it('gives the same report for a window as for its two halves counted apart and added', async () => {
    const first = windowStart(8_000, 400);
    const whole = await countWindow(query, duckDbDialect, syntheticRows(first, 8_000), reference);
    const halves: WindowCounts[] = await Promise.all([
      countWindow(query, duckDbDialect, syntheticRows(first, 4_000), reference),
      countWindow(query, duckDbDialect, syntheticRows(first + 4_000, 4_000), reference),
    ]);
    const merged = evaluateDrift(reference, addWindowCounts(halves[0]!, halves[1]!));
    const direct = evaluateDrift(reference, whole);
    assert.deepEqual(
      merged.rows.map((r) => [r.input, r.is_anomaly]),
      direct.rows.map((r) => [r.input, r.is_anomaly]),
    );
    merged.rows.forEach((r, i) => assert.ok(Math.abs(r.value - direct.rows[i]!.value) < 1e-9, r.input));
  });

  it("flags the churn generator's drifted features (and total_charges, their product) and no other", async () => {
    const dir = tempDir('drift-churn');
    const csv = (name: string, options: Parameters<typeof generateChurnCsv>[0]) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, [...generateChurnCsv(options)].join('\n') + '\n');
      return `read_csv(${literal(file)})`;
    };
    const training = csv('training.csv', { rows: 20_000, seed: 1 });
    const described = await db.query<{ column_name: string; column_type: string }>(
      `DESCRIBE SELECT * FROM ${training}`,
    );
    const columns = described.map((c) => ({
      name: c.column_name,
      numeric: duckDbDialect.isNumericType(c.column_type),
    }));
    const churn = await computeDriftReference(query, duckDbDialect, { from: training, columns });
    const drifted = async (from: string) =>
      (await computeDrift(query, duckDbDialect, { from, reference: churn })).dataset.driftedColumns;
    assert.deepEqual(await drifted(csv('same.csv', { rows: 5_000, seed: 2 })), []);
    const charges = csv('charges.csv', {
      rows: 5_000,
      seed: 3,
      drift: { chargesFactor: 1.2, newPaymentMethodShare: 0.1 },
    });
    assert.deepEqual(await drifted(charges), ['monthly_charges', 'total_charges', 'payment_method']);
    const tenure = csv('tenure.csv', { rows: 5_000, seed: 4, drift: { tenureShift: -12, monthToMonthShare: 0.3 } });
    assert.deepEqual(await drifted(tenure), ['tenure_months', 'total_charges', 'contract']);
  });

  it('flags a feature whose missing values rise past maxNullShareIncrease, also when none of its values is left', async () => {
    // A window of 2,000 same-distribution rows where an upstream fault blanks `amount` in some of them.
    const windowWith = (blanked: number) =>
      `(SELECT CASE WHEN __row < ${blanked} THEN NULL ELSE amount END AS amount, latency, visits, is_member, plan, ` +
      `CASE WHEN __row < ${blanked} THEN NULL ELSE channel END AS channel FROM ${syntheticRows(windowStart(2_000, 7), 2_000)})`;
    const judge = (blanked: number, options = {}) =>
      computeDrift(query, duckDbDialect, { from: windowWith(blanked), reference, options });
    const amountOf = (report: DriftReport) => report.columns.find((c) => c.input === 'amount')!;

    // 5 % blank: under the default 10-point rise, and the values left are as before: no drift.
    const few = await judge(100);
    assert.deepEqual(few.dataset.driftedColumns, []);
    assert.deepEqual(amountOf(few).nulls, { reference: 0, current: 0.05, threshold: 0.1, drifted: false });

    // 30 % blank: both blanked features drift, though their remaining values' statistics say nothing.
    const many = await judge(600);
    assert.deepEqual(many.dataset.driftedColumns, ['amount', 'channel']);
    const amount = amountOf(many);
    assert.deepEqual(amount.nulls, { reference: 0, current: 0.3, threshold: 0.1, drifted: true });
    assert.equal(amount.test.metric, 'WASSERSTEIN_NORMED');
    assert.ok(amount.statistics.WASSERSTEIN_NORMED! < amount.test.threshold, 'the values left did not move');
    assert.match(
      amount.test.note!,
      /missing values rose from 0 % of the reference's rows to 30 % of the window's, more than 10 %$/,
    );
    // A looser bound for this model, as the input's maxNullShareIncrease.
    assert.deepEqual((await judge(600, { maxNullShareIncrease: 0.5 })).dataset.driftedColumns, []);

    // Every row blank: judged by its missing values alone (it was a failed check, MLOPS_ERR_DRIFT_WINDOW_EMPTY).
    const all = await judge(2_000);
    assert.deepEqual(all.dataset.driftedColumns, ['amount', 'channel']);
    const none = amountOf(all);
    assert.equal(none.currentRows, 0);
    assert.deepEqual(none.statistics, {});
    assert.match(
      none.test.note!,
      /to 100 % of the window's, more than 10 %: the window has no value of it to compare$/,
    );
    assert.equal(all.rows.find((r) => r.input === 'amount')!.is_anomaly, true);
    // Muted, it is reported and not judged.
    assert.deepEqual((await judge(2_000, { muted: ['amount', 'channel'] })).dataset.driftedColumns, []);
  });

  it('rejects a window without a reference feature, and one where a feature has no value, with catalogued errors', async () => {
    const from = `(SELECT amount, latency, visits, plan, channel FROM ${syntheticRows(windowStart(1_000, 500), 1_000)})`;
    await assert.rejects(
      computeDrift(query, duckDbDialect, {
        from,
        reference,
        currentColumns: ['amount', 'latency', 'visits', 'plan', 'channel'],
      }),
      (err: unknown) => isMlopsError(err, 'MLOPS_ERR_DRIFT_FEATURE_MISSING') && /is_member/.test(String(err)),
    );
    const empty = `(SELECT * FROM ${syntheticRows(0, 10)} WHERE false)`;
    await assert.rejects(
      computeDrift(query, duckDbDialect, { from: empty, reference }),
      (err: unknown) => isMlopsError(err, 'MLOPS_ERR_DRIFT_WINDOW_EMPTY') && /amount/.test(String(err)),
    );
  });
});
