import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { createPipelineActivities } from '../../src/activities';
import { LocalArtifactStore, readJson } from '../../src/artifacts';
import type { ProfileDatasetResult } from '../../src/contracts/datasets';
import type {
  CategoricalColumnProfile,
  ColumnProfile,
  DatasetProfile,
  NumericColumnProfile,
} from '../../src/profiling/dataset-profile';
import { computeProfile, defaultProfileSettings } from '../../src/profiling/compute-profile';
import { duckDbDialect } from '../../src/warehouse/sql-dialect';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { launchChromium } from '../support/browser';
import { exampleDataset, repoRoot, tempDir } from '../support/stack';
import { testDeps } from '../support/dependencies';

const hostile = '</script><img src=x onerror=alert(1)>';

interface Profiled {
  result: ProfileDatasetResult;
  profile: DatasetProfile;
  profileBytes: Buffer;
  reportFile: string;
}

/** Ingests a CSV into a fresh local store and profiles it with the real activities. */
async function ingestAndProfile(csv: string, target: string): Promise<Profiled> {
  const activities = createPipelineActivities(testDeps({ store: new LocalArtifactStore(tempDir('profile-store')) }));
  const snapshot = await activities.ingestDataset({ sourceUri: csv });
  const result = await activities.profileDataset({
    snapshotId: snapshot.snapshotId,
    dataUri: snapshot.dataUri,
    target,
  });
  const profileBytes = fs.readFileSync(fileURLToPath(result.profileUri));
  const profile = JSON.parse(profileBytes.toString('utf8')) as DatasetProfile;
  return { result, profile, profileBytes, reportFile: fileURLToPath(result.reportUri) };
}

function column<K extends ColumnProfile['kind']>(profile: DatasetProfile, name: string, kind: K) {
  const found = profile.columns.find((c) => c.name === name);
  assert.ok(found, `column ${name} is profiled`);
  assert.equal(found.kind, kind, `column ${name} is ${kind}`);
  return found as Extract<ColumnProfile, { kind: K }>;
}

function assertClose(actual: number | null | undefined, expected: number, tolerance: number, what: string): void {
  assert.ok(typeof actual === 'number', `${what} is a number (got ${actual})`);
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not within ${tolerance} of ${expected}`);
}

/** Charts a report should draw: one per column with values, the target distribution and the correlation heatmap. */
function expectedChartCount(profile: DatasetProfile): number {
  const columns = profile.columns.filter((c) => (c.kind === 'numeric' ? c.histogram.length : c.top.length) > 0);
  const t = profile.targetDistribution;
  const target = t && (t.kind === 'numeric' ? t.histogram.length : t.classes.length) > 0 ? 1 : 0;
  return columns.length + target + (profile.correlations.columns.length > 1 ? 1 : 0);
}

function pearson(pairs: [number, number][]): number {
  const n = pairs.length;
  const [mx, my] = [pairs.reduce((s, p) => s + p[0], 0) / n, pairs.reduce((s, p) => s + p[1], 0) / n];
  let [sxy, sxx, syy] = [0, 0, 0];
  for (const [x, y] of pairs) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

describe('profileDataset', function () {
  this.timeout(120_000);
  let churn: Profiled;
  /** The source CSV's rows, read by DuckDB the way ingest reads it; only the tests look at rows. */
  let churnRows: Record<string, unknown>[];
  const readChurn = `read_csv(${literal(exampleDataset)}, header = true, auto_detect = true, sample_size = -1)`;

  before(async () => {
    churn = await ingestAndProfile(exampleDataset, 'churned');
    churnRows = await withDuckDb((db) => db.query(`SELECT * FROM ${readChurn}`));
  });

  it('profiles every column of the churn dataset and keeps the result fields', () => {
    assert.equal(churn.result.columnCount, 10);
    assert.equal(churn.result.reused, false);
    assert.match(churn.result.profileUri, /\/profiles\/ds-[0-9a-f]{16}\/profile\.json$/);
    assert.match(churn.result.reportUri, /\/profiles\/ds-[0-9a-f]{16}\/report\.html$/);
    assert.equal(churn.profile.rowCount, 5000);
    assert.deepEqual(
      churn.profile.columns.map((c) => [c.name, c.kind]),
      [
        ['tenure_months', 'numeric'],
        ['monthly_charges', 'numeric'],
        ['total_charges', 'numeric'],
        ['contract', 'categorical'],
        ['payment_method', 'categorical'],
        ['internet_service', 'categorical'],
        ['support_calls', 'numeric'],
        ['senior', 'categorical'],
        ['region', 'categorical'],
        ['churned', 'categorical'],
      ],
    );
  });

  it('reports the same count, nulls, distinct, min, max, mean and std as a plain DuckDB query on the source CSV', async () => {
    for (const c of churn.profile.columns) {
      const x = `"${c.name}"`;
      const d = c.kind === 'numeric' ? `${x}::DOUBLE` : 'NULL::DOUBLE';
      const [expected] = await withDuckDb((db) =>
        db.query<{ n: number; nulls: number; distinct: number; mean: number; std: number; min: number; max: number }>(
          `SELECT count(${x}) AS n, count(*) - count(${x}) AS nulls, count(DISTINCT ${x}) AS distinct,
                  avg(${d}) AS mean, stddev_samp(${d}) AS std, min(${d}) AS min, max(${d}) AS max FROM ${readChurn}`,
        ),
      );
      assert.equal(c.count, expected!.n, `${c.name} count`);
      assert.equal(c.nulls, expected!.nulls, `${c.name} nulls`);
      assert.equal(c.distinct, expected!.distinct, `${c.name} distinct (all below the exact-count threshold)`);
      assert.equal(c.distinctApproximate, false);
      if (c.kind !== 'numeric') continue;
      assert.equal(c.min, expected!.min, `${c.name} min`);
      assert.equal(c.max, expected!.max, `${c.name} max`);
      assertClose(c.mean, expected!.mean, 1e-9 * Math.abs(expected!.mean), `${c.name} mean`);
      assertClose(c.std, expected!.std, 1e-9 * expected!.std, `${c.name} std`);
    }
    assert.equal(column(churn.profile, 'total_charges', 'numeric').nulls, 317);
  });

  it('computes exact quantiles when the rows fit in the quantile sample', async () => {
    assert.equal(churn.profile.settings.quantileSampleRows, 100_000);
    for (const c of churn.profile.columns.filter((c): c is NumericColumnProfile => c.kind === 'numeric')) {
      const levels = churn.profile.settings.quantileLevels;
      const [exact] = await withDuckDb((db) =>
        db.query<{ q: number[] }>(`SELECT quantile_cont("${c.name}", [${levels.join(', ')}]) AS q FROM ${readChurn}`),
      );
      levels.forEach((level, i) =>
        assertClose(c.quantiles[`p${Math.round(level * 100)}`], exact!.q[i]!, 1e-9, `${c.name} p${level * 100}`),
      );
    }
  });

  it('keeps every quantile of a 300,000-row snapshot within one percentile rank of the exact quantile', async function () {
    this.timeout(120_000);
    const source = path.join(tempDir('profile-large'), 'large.parquet');
    await withDuckDb((db) =>
      db.run(`COPY (SELECT range / 3.0 AS in_row_order, (hash(range) % 100000) / 100.0 AS uniform,
          ln(1 + hash(range + 1) % 1000000) AS skewed,
          CASE WHEN range % 7 = 0 THEN NULL ELSE (hash(range + 2) % 1000) END AS with_nulls, range % 2 = 0 AS flag
        FROM range(300000)) TO ${literal(source)} (FORMAT parquet)`),
    );
    const { profile } = await ingestAndProfile(source, 'flag');
    for (const c of profile.columns.filter((c): c is NumericColumnProfile => c.kind === 'numeric')) {
      for (const level of profile.settings.quantileLevels) {
        const [lo, hi] = [Math.max(0, level - 0.01), Math.min(1, level + 0.01)];
        const [exact] = await withDuckDb((db) =>
          db.query<{ lo: number; hi: number }>(
            `SELECT quantile_cont("${c.name}", ${lo}) AS lo, quantile_cont("${c.name}", ${hi}) AS hi
             FROM read_parquet(${literal(source)})`,
          ),
        );
        const sampled = c.quantiles[`p${Math.round(level * 100)}`];
        assert.ok(typeof sampled === 'number', `${c.name} has p${level * 100}`);
        assert.ok(
          sampled >= exact!.lo && sampled <= exact!.hi,
          `${c.name} p${level * 100} = ${sampled} lies outside the exact quantiles [${exact!.lo}, ${exact!.hi}] at ${lo}…${hi}`,
        );
      }
    }
  });

  it('bins each numeric column into 20 equal-width bins that match a recount in JavaScript', () => {
    for (const c of churn.profile.columns.filter((c): c is NumericColumnProfile => c.kind === 'numeric')) {
      const [min, max] = [c.min!, c.max!];
      const counts = new Array<number>(20).fill(0);
      for (const row of churnRows) {
        const x = row[c.name];
        if (x === null || x === undefined) continue;
        counts[Math.min(Math.floor(((Number(x) - min) * 20) / (max - min)), 19)]! += 1;
      }
      assert.equal(c.histogram.length, 20, `${c.name} has 20 bins`);
      assert.deepEqual(
        c.histogram.map((b) => b.count),
        counts,
        `${c.name} bin counts`,
      );
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        c.count,
        `${c.name} bins add up to the non-null count`,
      );
      assert.equal(c.histogram[0]!.lower, min);
      assert.equal(c.histogram[19]!.upper, max);
      for (const b of c.histogram) assertClose(b.upper - b.lower, (max - min) / 20, 1e-9 * (max - min), 'bin width');
    }
  });

  it('counts the most frequent categories and the target classes exactly', () => {
    for (const c of churn.profile.columns.filter((c): c is CategoricalColumnProfile => c.kind === 'categorical')) {
      const counts = new Map<string, number>();
      for (const row of churnRows)
        if (row[c.name] !== null) counts.set(String(row[c.name]), (counts.get(String(row[c.name])) ?? 0) + 1);
      const expected = [...counts]
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .slice(0, 10)
        .map(([value, count]) => ({ value, count }));
      assert.deepEqual(c.top, expected, `${c.name} top values`);
      assert.equal(c.distinct, counts.size, `${c.name} distinct`);
      assert.equal(c.otherCount, c.count - expected.reduce((n, v) => n + v.count, 0));
    }
    const churned = churnRows.filter((r) => r.churned === true).length;
    assert.deepEqual(churn.profile.targetDistribution, {
      name: 'churned',
      kind: 'categorical',
      classes: [
        { value: 'false', count: 5000 - churned },
        { value: 'true', count: churned },
      ],
      otherCount: 0,
      nulls: 0,
    });
  });

  it('computes Pearson correlations that match a recomputation in JavaScript', () => {
    const { columns, matrix } = churn.profile.correlations;
    assert.deepEqual(columns, ['tenure_months', 'monthly_charges', 'total_charges', 'support_calls']);
    for (const [i, a] of columns.entries()) {
      for (const [j, b] of columns.entries()) {
        const pairs = churnRows
          .filter((r) => r[a] !== null && r[b] !== null)
          .map((r): [number, number] => [Number(r[a]), Number(r[b])]);
        assertClose(matrix[i]![j], i === j ? 1 : pearson(pairs), 1e-9, `r(${a}, ${b})`);
      }
    }
  });

  it('computes exact statistics, bins and correlations on a small hand-made dataset', async () => {
    // 24 rows: x = 1…20 then 4 nulls; y = 3x − 2; z = 100 − 2x; k = 7; label has 12 values; flag every third row;
    // empty has no value at all.
    const labelCounts = [5, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1];
    const labels = labelCounts.flatMap((n, i) => Array<string>(n).fill(`v${String(i + 1).padStart(2, '0')}`));
    const lines = ['x,y,z,k,label,flag,empty'];
    for (let i = 0; i < 24; i++) {
      const x = i < 20 ? i + 1 : undefined;
      const cells = x === undefined ? ['', '', ''] : [x, 3 * x - 2, 100 - 2 * x];
      lines.push([...cells, 7, labels[i] ?? '', i % 3 === 0, ''].join(','));
    }
    const csv = path.join(tempDir('tiny'), 'tiny.csv');
    fs.writeFileSync(csv, `${lines.join('\n')}\n`);
    const { profile } = await ingestAndProfile(csv, 'flag');

    const x = column(profile, 'x', 'numeric');
    assert.deepEqual([x.count, x.nulls, x.distinct, x.distinctApproximate], [20, 4, 20, false]);
    assert.deepEqual([x.min, x.max, x.mean], [1, 20, 10.5]);
    assertClose(x.std, Math.sqrt(35), 1e-12, 'std of 1…20');
    assert.deepEqual(
      x.histogram.map((b) => b.count),
      Array<number>(20).fill(1),
    );
    assert.equal(x.histogram[10]!.lower, 1 + (10 * 19) / 20);
    // Quantiles are exact on so few rows: linear interpolation over 1…20 gives 1 + 19·q.
    for (const [key, q] of Object.entries({ p1: 0.01, p5: 0.05, p25: 0.25, p50: 0.5, p75: 0.75, p95: 0.95, p99: 0.99 }))
      assertClose(x.quantiles[key], 1 + 19 * q, 1e-12, `x ${key}`);

    const k = column(profile, 'k', 'numeric');
    assert.deepEqual([k.min, k.max, k.mean, k.std], [7, 7, 7, 0]);
    assert.deepEqual(k.histogram, [{ lower: 7, upper: 7, count: 24 }]);

    const names = profile.correlations.columns;
    assert.deepEqual(names, ['x', 'y', 'z', 'k']);
    const r = (a: string, b: string) => profile.correlations.matrix[names.indexOf(a)]![names.indexOf(b)];
    assertClose(r('x', 'y'), 1, 1e-12, 'r(x, y)');
    assertClose(r('x', 'z'), -1, 1e-12, 'r(x, z)');
    assert.equal(r('x', 'k'), null, 'r with a constant column is undefined');

    const label = column(profile, 'label', 'categorical');
    assert.deepEqual([label.count, label.nulls, label.distinct], [23, 1, 12]);
    assert.deepEqual(
      label.top.map((v) => `${v.value}:${v.count}`),
      ['v01:5', 'v02:3', 'v03:2', 'v04:2', 'v05:2', 'v06:2', 'v07:2', 'v08:1', 'v09:1', 'v10:1'],
    );
    assert.equal(label.otherCount, 2);
    const empty = column(profile, 'empty', 'categorical');
    assert.deepEqual([empty.count, empty.nulls, empty.distinct, empty.top, empty.otherCount], [0, 24, 0, [], 0]);
    assert.deepEqual(profile.targetDistribution, {
      name: 'flag',
      kind: 'categorical',
      classes: [
        { value: 'false', count: 16 },
        { value: 'true', count: 8 },
      ],
      otherCount: 0,
      nulls: 0,
    });
  });

  // DuckDB's HyperLogLog is coarse: errors of 10–25% occur (docs/profiling.md), hence exact counts below the threshold.
  it('estimates the distinct count of a numeric column above the exact-count threshold within 25%', async () => {
    const settings = { ...defaultProfileSettings, exactDistinctBelow: 1000 };
    const columns = churn.profile.columns.map(({ name, type }) => ({ name, type }));
    const profile = await withDuckDb((db) =>
      computeProfile(db, duckDbDialect, { snapshotId: 'csv', target: 'churned', from: readChurn, columns, settings }),
    );
    const charges = column(profile, 'monthly_charges', 'numeric');
    const exact = column(churn.profile, 'monthly_charges', 'numeric').distinct;
    assert.ok(exact >= 1000, 'monthly_charges has more distinct values than the threshold');
    assert.equal(charges.distinctApproximate, true);
    assertClose(charges.distinct, exact, 0.25 * exact, 'distinct estimate');
    // Without row numbers the quantiles are approximate over every row; the activity's are exact (5,000 rows).
    const withoutQuantiles = (c: NumericColumnProfile) => ({ ...c, quantiles: undefined });
    assert.deepEqual(
      withoutQuantiles(column(profile, 'tenure_months', 'numeric')),
      withoutQuantiles(column(churn.profile, 'tenure_months', 'numeric')),
    );
  });

  it('writes a byte-identical profile.json when the same snapshot is profiled into another store', async () => {
    const again = await ingestAndProfile(exampleDataset, 'churned');
    assert.equal(again.result.reused, false);
    assert.equal(again.profile.snapshotId, churn.profile.snapshotId);
    assert.ok(again.profileBytes.equals(churn.profileBytes), 'profile.json differs between two runs');
  });

  it('gives the same profile when its queries are split between concurrent single-threaded instances', async () => {
    const columns = churn.profile.columns.map(({ name, type }) => ({ name, type }));
    const profileWith = (concurrency: number) =>
      withDuckDb(
        (db) =>
          computeProfile(db, duckDbDialect, {
            snapshotId: 'csv',
            target: 'churned',
            from: readChurn,
            columns,
            concurrency,
          }),
        { threads: 1, instances: concurrency },
      );
    const [one, three] = [await profileWith(1), await profileWith(3)];
    assert.deepEqual(three, one);
  });

  it('reuses the stored profile and report on a second call', async () => {
    const store = new LocalArtifactStore(tempDir('profile-store'));
    const activities = createPipelineActivities(testDeps({ store }));
    const snapshot = await activities.ingestDataset({ sourceUri: exampleDataset });
    const input = { snapshotId: snapshot.snapshotId, dataUri: snapshot.dataUri, target: 'churned' };
    const first = await activities.profileDataset(input);
    const second = await activities.profileDataset(input);
    assert.deepEqual(second, { ...first, reused: true });
  });

  it('profiles a snapshot again for another target, beside its first profile, and reuses each for its own target', async () => {
    const store = new LocalArtifactStore(tempDir('profile-store'));
    const activities = createPipelineActivities(testDeps({ store }));
    const snapshot = await activities.ingestDataset({ sourceUri: exampleDataset });
    const input = (target: string) => ({ snapshotId: snapshot.snapshotId, dataUri: snapshot.dataUri, target });
    const churned = await activities.profileDataset(input('churned'));
    const contract = await activities.profileDataset(input('contract'));
    assert.equal(contract.reused, false);
    assert.notEqual(contract.profileUri, churned.profileUri);
    const read = (uri: string) => readJson<DatasetProfile>(store, uri);
    const [first, second] = [await read(churned.profileUri), await read(contract.profileUri)];
    assert.equal(first.target, 'churned', 'the first profile (the drift references) is left as it was');
    assert.equal(second.target, 'contract');
    const classes = (p: DatasetProfile) =>
      p.targetDistribution?.kind === 'categorical' ? p.targetDistribution.classes.map((c) => c.value).sort() : [];
    assert.deepEqual(classes(second), ['month-to-month', 'one-year', 'two-year']);
    assert.deepEqual(classes(first), ['false', 'true']);
    assert.deepEqual(await activities.profileDataset(input('contract')), { ...contract, reused: true });
    assert.deepEqual(await activities.profileDataset(input('churned')), { ...churned, reused: true });
  });

  it('escapes a hostile column name and category value in the report', async () => {
    const { profile, reportFile } = await hostileProfile();
    assert.deepEqual(
      column(profile, hostile, 'categorical').top.map((v) => v.value),
      ['plain', hostile],
    );
    const html = fs.readFileSync(reportFile, 'utf8');
    assert.ok(!html.includes(hostile), 'the raw string appears in the report');
    assert.ok(!/<img/i.test(html.replace(/<script[\s\S]*?<\/script>/gi, '')), 'an <img> element appears in the markup');
    assert.equal(html.match(/<\/script>/gi)?.length, 3, 'only the report’s own three scripts end');
    assert.ok(html.includes('&#60;/script&#62;&#60;img src=x onerror=alert(1)&#62;'), 'the name is shown as text');
  });

  describe('the report in headless Chromium', function () {
    let browser: Browser;
    before(async () => {
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
    });

    it('draws every chart of the churn report without page errors, console errors or network requests', async () => {
      const { page, problems } = await openReport(browser, churn.reportFile);
      const expected = expectedChartCount(churn.profile);
      assert.equal(expected, 12, '10 column charts, the target distribution and the correlation heatmap');
      assert.equal(await page.locator('.chart').count(), expected);
      assert.equal(await page.locator('.chart.vega-embed svg.marks').count(), expected);
      assert.ok((await page.locator('.chart svg .mark-rect path').count()) > 100, 'bars and heatmap cells are drawn');
      assert.deepEqual(problems, []);
      // UPDATE_SCREENSHOTS=1 refreshes docs/profile-report.png; otherwise the screenshot stays in the test's temp folder.
      const shotDir = process.env.UPDATE_SCREENSHOTS === '1' ? path.join(repoRoot, 'docs') : tempDir('screenshots');
      await page.screenshot({ path: path.join(shotDir, 'profile-report.png'), fullPage: true });
      await page.close();
    });

    it('shows a hostile column name and category value as text without running them', async () => {
      const { profile, reportFile } = await hostileProfile();
      const { page, problems } = await openReport(browser, reportFile);
      assert.equal(await page.locator('.chart.vega-embed svg.marks').count(), expectedChartCount(profile));
      assert.equal(await page.locator('img').count(), 0);
      assert.ok(
        (await page.locator('h3').allInnerTexts()).some((t) => t.includes(hostile)),
        'heading shows the name',
      );
      assert.ok(
        (await page.locator('.chart svg text').allTextContents()).some((t) => t.includes('</script>')),
        'a chart label shows the value',
      );
      assert.deepEqual(problems, []);
      await page.close();
    });
  });
});

describe('profile warnings about spellings that differ only in case or whitespace', function () {
  this.timeout(120_000);

  it('warns about a text column whose values differ only in case or whitespace, with the rows of each spelling', async () => {
    const rows = [
      ...repeat(6, 'High'),
      ...repeat(3, 'high'),
      ...repeat(2, '" high "'),
      ...repeat(1, '"HIGH  "'),
      ...repeat(4, 'Low'),
      ...repeat(1, 'low'),
      ...repeat(3, 'Medium'),
    ];
    const csv = writeCsv('variants', ['risk,n,ok', ...rows.map((risk, i) => `${risk},${i},${i % 2 === 0}`)]);
    const { profile, reportFile } = await ingestAndProfile(csv, 'ok');

    assert.equal(profile.warnings.length, 1);
    const { message, ...warning } = profile.warnings[0]!;
    assert.deepEqual(warning, {
      kind: 'spelling-variants',
      column: 'risk',
      target: false,
      rows: 17,
      groups: [
        {
          normalized: 'high',
          count: 12,
          spellings: [
            { value: 'High', count: 6 },
            { value: 'high', count: 3 },
            { value: ' high ', count: 2 },
            { value: 'HIGH  ', count: 1 },
          ],
          moreSpellings: 0,
        },
        {
          normalized: 'low',
          count: 5,
          spellings: [
            { value: 'Low', count: 4 },
            { value: 'low', count: 1 },
          ],
          moreSpellings: 0,
        },
      ],
      moreGroups: 0,
    });
    assert.match(message, /^Column "risk" has values that differ only in letter case or whitespace/);
    assert.ok(message.includes('"High" (6 rows), "high" (3), " high " (2), "HIGH  " (1); "Low" (4 rows), "low" (1)'));
    assert.ok(message.includes('(2 groups, 17 rows)'));
    assert.ok(message.includes('in the source data'), 'the message says how to fix it');
    // The profile itself stays faithful to the data: each spelling is its own value.
    assert.equal(column(profile, 'risk', 'categorical').distinct, 7);

    const html = fs.readFileSync(reportFile, 'utf8');
    assert.ok(html.includes('<section id="warnings"><h2>Warnings</h2>'), 'the report has a warnings section');
    assert.ok(
      html.includes('<code>&#34; high &#34;</code> <small>2</small>'),
      'a spelling shows quoted, with its rows',
    );
    assert.ok(html.includes('<a class="badge warn" href="#warnings">spelling variants</a>'), 'the column is marked');
  });

  it('says so when the target column has classes that differ only in case', async () => {
    const answers = [...repeat(5, 'Yes'), ...repeat(2, 'yes'), ...repeat(4, 'No'), null];
    const jsonl = writeFile(
      'target-variants',
      'rows.jsonl',
      answers.map((answer, i) => JSON.stringify({ n: i, answer })),
    );
    const { profile, reportFile } = await ingestAndProfile(jsonl, 'answer');

    assert.equal(column(profile, 'answer', 'categorical').type, 'VARCHAR');
    assert.equal(profile.warnings.length, 1);
    const [warning] = profile.warnings;
    assert.equal(warning!.column, 'answer');
    assert.equal(warning!.target, true);
    assert.deepEqual(warning!.groups, [
      {
        normalized: 'yes',
        count: 7,
        spellings: [
          { value: 'Yes', count: 5 },
          { value: 'yes', count: 2 },
        ],
        moreSpellings: 0,
      },
    ]);
    assert.match(warning!.message, /^Target column "answer" has classes that differ only in letter case or whitespace/);
    assert.ok(warning!.message.includes('"Yes" (5 rows), "yes" (2) (1 group, 7 rows)'));
    // What the warning is about: the target distribution counts one answer as two classes.
    assert.deepEqual(profile.targetDistribution?.kind === 'categorical' && profile.targetDistribution.classes, [
      { value: 'Yes', count: 5 },
      { value: 'No', count: 4 },
      { value: 'yes', count: 2 },
    ]);
    const html = fs.readFileSync(reportFile, 'utf8');
    assert.ok(html.includes('<article class="warning"><h3>answer <span class="badge">target</span></h3>'));
  });

  it('does not warn about values that are distinct once normalized, or about non-text columns', async () => {
    const cities = ['Paris', 'Lyon', 'Saint Denis', 'Saint-Denis', 'SaintDenis', 'paris-nord', 'Pa ris', 'Lyon 2'];
    const csv = writeCsv('clean', [
      'city,code,flag',
      ...cities.map((c, i) => `"${c}",${i},${i % 2 ? 'true' : 'FALSE'}`),
    ]);
    const { profile, reportFile } = await ingestAndProfile(csv, 'flag');
    assert.equal(column(profile, 'city', 'categorical').distinct, cities.length);
    assert.deepEqual(profile.warnings, []);
    assert.ok(!fs.readFileSync(reportFile, 'utf8').includes('id="warnings"'), 'no warnings section');
  });

  it('lists the five largest groups and five most frequent spellings of each, and counts the rest', async () => {
    const values: string[] = [];
    // g1…g7: 10 − k rows spelled gk and one spelled Gk, so 11 − k rows in all.
    for (let k = 1; k <= 7; k++) values.push(...repeat(10 - k, `g${k}`), `G${k}`);
    // One row each of seven spellings of "ab": 7 rows, tied with g4 and listed before it (by normalized value).
    const ab = [' AB ', ' ab', 'AB', 'Ab', 'aB', 'ab', 'ab '];
    values.push(...ab);
    const csv = writeCsv('many', ['v', ...values.map((v) => `"${v}"`)]);
    const { profile } = await ingestAndProfile(csv, 'v');
    const [warning] = profile.warnings;
    assert.deepEqual(
      warning!.groups.map((g) => [g.normalized, g.count, g.spellings.length, g.moreSpellings]),
      [
        ['g1', 10, 2, 0],
        ['g2', 9, 2, 0],
        ['g3', 8, 2, 0],
        ['ab', 7, 5, 2],
        ['g4', 7, 2, 0],
      ],
    );
    // Ties in rows go by value: code point order puts the spaced spellings and capitals first.
    assert.deepEqual(
      warning!.groups[3]!.spellings.map((s) => s.value),
      [' AB ', ' ab', 'AB', 'Ab', 'aB'],
    );
    assert.equal(warning!.moreGroups, 3);
    assert.equal(warning!.rows, 10 + 9 + 8 + 7 + 7 + 6 + 5 + 4);
    assert.ok(warning!.message.includes('" ab" (1), "AB" (1), "Ab" (1), "aB" (1) and 2 more spellings'));
    assert.ok(warning!.message.includes('; and 3 more groups (8 groups, 56 rows)'));
  });

  it('leaves out text columns with as many distinct values as the bound, which keeps identifiers cheap', async () => {
    const csv = writeCsv('bound', ['a,b', 'x,x', 'X,X', 'y,x']);
    const from = `read_csv(${literal(csv)}, header = true)`;
    const columns = [
      { name: 'a', type: 'VARCHAR' },
      { name: 'b', type: 'VARCHAR' },
    ];
    const spellingVariants = { ...defaultProfileSettings.spellingVariants, distinctBelow: 3 };
    const settings = { ...defaultProfileSettings, spellingVariants };
    const profile = await withDuckDb((db) =>
      computeProfile(db, duckDbDialect, { snapshotId: 'bound', target: 'a', from, columns, settings }),
    );
    assert.equal(column(profile, 'a', 'categorical').distinct, 3);
    assert.deepEqual(
      profile.warnings.map((w) => [w.column, w.rows]),
      [['b', 3]],
      'a (3 distinct values) is not checked, b (2) is',
    );
  });

  it('handles emoji, Unicode case, quotes, long values, empty text and NULLs, counting no NULL as a spelling', async () => {
    const long = 'a'.repeat(10_000);
    const spellings: (string | null)[] = [
      '😀',
      '😀 ',
      'Ünïcödé',
      'üNÏCÖDÉ',
      'say "hi"',
      "SAY 'hi'",
      'SAY "HI"',
      long,
      `A${long.slice(1)}`,
      'x\u00a0y',
      'x y',
      '</script><img src=x onerror=alert(1)>',
      '</SCRIPT><IMG SRC=X ONERROR=ALERT(1)>',
      '',
      ' ',
      'only once',
    ];
    const values = [...spellings, null, null, null, '😀'];
    const jsonl = writeFile(
      'hostile-variants',
      'rows.jsonl',
      values.map((v, i) => JSON.stringify({ i, v })),
    );
    const { profile, reportFile } = await ingestAndProfile(jsonl, 'i');

    const v = column(profile, 'v', 'categorical');
    assert.equal(v.nulls, 3);
    assert.equal(profile.warnings.length, 1);
    const [warning] = profile.warnings;
    // An independent recount: JavaScript's lower case and whitespace, over the non-null values.
    const normalize = (s: string) =>
      s
        .replace(/[\s\p{Z}]+/gu, ' ')
        .trim()
        .toLowerCase();
    const groups = new Map<string, Map<string, number>>();
    for (const value of values) {
      if (value === null) continue;
      const group = groups.get(normalize(value)) ?? new Map<string, number>();
      groups.set(normalize(value), group.set(value, (group.get(value) ?? 0) + 1));
    }
    const variants = [...groups].filter(([, g]) => g.size > 1);
    assert.equal(variants.length, 7, 'emoji, Unicode, quotes, long, no-break space, script and empty');
    assert.equal(warning!.groups.length + warning!.moreGroups, variants.length);
    const variantRows = variants.reduce((n, [, g]) => n + [...g.values()].reduce((a, b) => a + b, 0), 0);
    assert.equal(warning!.rows, variantRows);
    assert.equal(
      warning!.rows,
      values.filter((x) => x !== null).length - 2,
      "every row but 'only once' and \"SAY 'hi'\"",
    );
    for (const group of warning!.groups) {
      const expected = groups.get(group.normalized);
      assert.ok(expected, `group ${JSON.stringify(group.normalized.slice(0, 20))} is a group of the recount`);
      assert.deepEqual(new Map(group.spellings.map((s) => [s.value, s.count])), expected);
    }
    assert.equal(warning!.groups[0]!.normalized, '😀', 'the largest group');
    assert.ok(warning!.message.length < 2000, `the message stays short (${warning!.message.length} characters)`);
    assert.ok(warning!.message.includes(`"${'a'.repeat(60)}"…`), 'a long value is cut in the message');

    const html = fs.readFileSync(reportFile, 'utf8');
    assert.ok(!/<img/i.test(html.replace(/<script[\s\S]*?<\/script>/gi, '')), 'an <img> element appears in the markup');
    assert.equal(html.match(/<\/script>/gi)?.length, 3, 'only the report’s own three scripts end');
  });

  it('recomputes a stored profile written before profiles had warnings', async () => {
    const csv = writeCsv('stale', ['risk,n', 'High,1', 'high,2', 'Low,3']);
    const activities = createPipelineActivities(testDeps({ store: new LocalArtifactStore(tempDir('profile-store')) }));
    const snapshot = await activities.ingestDataset({ sourceUri: csv });
    const input = { snapshotId: snapshot.snapshotId, dataUri: snapshot.dataUri, target: 'n' };
    const first = await activities.profileDataset(input);
    const file = fileURLToPath(first.profileUri);
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<DatasetProfile>;
    delete stored.warnings;
    fs.writeFileSync(file, JSON.stringify(stored));
    const second = await activities.profileDataset(input);
    assert.equal(second.reused, false);
    const again = JSON.parse(fs.readFileSync(file, 'utf8')) as DatasetProfile;
    assert.deepEqual(
      again.warnings.map((w) => w.column),
      ['risk'],
    );
    assert.equal((await activities.profileDataset(input)).reused, true);
  });
});

function repeat<T>(n: number, value: T): T[] {
  return Array<T>(n).fill(value);
}

function writeCsv(name: string, lines: string[]): string {
  return writeFile(name, `${name}.csv`, lines);
}

function writeFile(dir: string, name: string, lines: string[]): string {
  const file = path.join(tempDir(dir), name);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** A dataset whose target column name and one category value try to end the script element and run code. */
async function hostileProfile(): Promise<Profiled> {
  const csv = path.join(tempDir('hostile'), 'hostile.csv');
  fs.writeFileSync(csv, `n,${hostile},"quote""s"\n1,${hostile},"a""b'c&d"\n2,plain,x\n3,plain,y\n`);
  return ingestAndProfile(csv, hostile);
}

/** Opens a report from disk, records what a reader should never see, and waits until its charts are drawn. */
async function openReport(browser: Browser, file: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const problems: string[] = [];
  const url = `file://${file}`;
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  page.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  page.on('request', (request) => {
    if (request.url() !== url) problems.push(`request: ${request.url()}`);
  });
  await page.goto(url);
  await page.waitForSelector('body:not([data-charts="pending"])');
  assert.equal(await page.getAttribute('body', 'data-charts'), 'ready', problems.join('\n'));
  return { page, problems };
}
