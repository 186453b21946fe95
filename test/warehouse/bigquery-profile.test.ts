import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { RunningEmulator } from '../../src/dev/emulators';
import { startTestBigQuery } from '../support/bigquery-emulator';
import { profileTable, quantileKey } from '../../src/profiling/compute-profile';
import type { ColumnProfile, DatasetProfile, NumericColumnProfile } from '../../src/profiling/dataset-profile';
import { bigQueryDialect } from '../../src/warehouse/sql-dialect';
import { BigQueryWarehouse } from '../../src/warehouse/bigquery-warehouse';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { duckDbWarehouse } from '../../src/warehouse/warehouse';
import { tempDir } from '../support/stack';

/** One row of the shared data set; null is SQL NULL. */
interface DataRow {
  id: number;
  x: number | null;
  y: number | null;
  k: number;
  city: string | null;
  label: boolean;
}

const cities = ['Lyon', 'Paris', 'Nantes', 'Lille', 'Brest', 'Metz', 'Nice', 'Caen', 'Dijon', 'Tours', 'Rouen', 'Pau'];

/**
 * 2,000 deterministic rows: a float column and an integer column correlated with it (both with NULLs), a constant
 * column (one histogram bin, undefined correlation), a skewed categorical column with NULLs and some spellings that
 * differ only in case or whitespace, and a boolean target.
 */
function dataset(): DataRow[] {
  let seed = 12345;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  return Array.from({ length: 2000 }, (_, i) => {
    const u = next();
    const x = Math.round((u * 200 - 50 + next() * next() * 30) * 1000) / 1000;
    const y = Math.round(x / 3 + next() * 40);
    const name = cities[Math.floor(next() ** 2 * cities.length)]!;
    const city = i % 17 === 1 ? name.toLowerCase() : i % 29 === 2 ? ` ${name.toUpperCase()}\t` : name;
    return {
      id: i + 1,
      x: i % 7 === 3 ? null : x,
      y: i % 11 === 5 ? null : y,
      k: 42,
      city: i % 13 === 0 ? null : city,
      label: next() < 0.3,
    };
  });
}

function csvOf(rows: DataRow[]): string {
  // Text quoted, so its surrounding whitespace is data.
  const cell = (v: string | number | boolean | null) =>
    v === null ? '' : typeof v === 'string' ? `"${v.replace(/"/g, '""')}"` : String(v);
  const lines = rows.map((r) => [r.id, r.x, r.y, r.k, r.city, r.label].map(cell).join(','));
  return `id,x,y,k,city,label\n${lines.join('\n')}\n`;
}

function seedYaml(rows: DataRow[]): string {
  // JSON strings are YAML strings that keep their whitespace.
  const value = (v: string | number | null) => (v === null ? 'null' : JSON.stringify(v));
  const data = rows.map(
    (r) =>
      `              - { id: ${r.id}, x: ${value(r.x)}, y: ${value(r.y)}, k: ${r.k}, city: ${value(r.city)}, label: ${r.label} }`,
  );
  return `projects:
  - id: test
    datasets:
      - id: profiling
        tables:
          - id: sample
            columns:
              - { name: id, type: INT64 }
              - { name: x, type: FLOAT64 }
              - { name: y, type: INT64 }
              - { name: k, type: INT64 }
              - { name: city, type: STRING }
              - { name: label, type: BOOL }
            data:
${data.join('\n')}
`;
}

function assertRelative(actual: number | null, expected: number | null, tolerance: number, what: string): void {
  if (expected === null || actual === null) return assert.equal(actual, expected, what);
  const scale = Math.max(Math.abs(expected), Number.MIN_VALUE);
  assert.ok(
    Math.abs(actual - expected) / scale <= tolerance,
    `${what}: ${actual} vs ${expected} (tolerance ${tolerance})`,
  );
}

/** A column without `type` (BIGINT vs INTEGER) and, for numeric ones, without quantiles and the float statistics. */
function exactPart(c: ColumnProfile): Partial<ColumnProfile> {
  if (c.kind === 'categorical') return { ...c, type: undefined };
  // A drift grid from quantiles follows the approximate quantiles (not compared, see below); float sums are compared
  // within 1e-9 by the next test.
  const drift = c.drift?.gridExact ? { ...c.drift, mean: null, std: null, sums: [] } : null;
  return { ...c, type: undefined, mean: undefined, std: undefined, quantiles: undefined, drift };
}

describe('profiling on BigQuery (goccy/bigquery-emulator) and DuckDB', function () {
  this.timeout(120_000);
  const rows = dataset();
  const quantileLevels = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];
  let emulator: RunningEmulator | undefined;
  let bigQuery: BigQueryWarehouse;
  let onBigQuery: DatasetProfile;
  let onDuckDb: DatasetProfile;

  before(async function () {
    this.timeout(30 * 60_000);
    // Dataset "profiling", not "ml": v0.7–v0.8.1 crash on a table in a dataset named ai, ml, obj or mysql (issue #517).
    emulator = await startTestBigQuery(seedYaml(rows));
    bigQuery = new BigQueryWarehouse({ projectId: 'test', apiEndpoint: emulator.url, location: 'US' });
    onBigQuery = await profileTable(bigQuery, { snapshotId: 'ds-same', target: 'label', table: 'profiling.sample' });

    const csv = path.join(tempDir('warehouse-csv'), 'sample.csv');
    fs.writeFileSync(csv, csvOf(rows));
    const types = `{'id': 'BIGINT', 'x': 'DOUBLE', 'y': 'BIGINT', 'k': 'BIGINT', 'city': 'VARCHAR', 'label': 'BOOLEAN'}`;
    const table = `read_csv(${literal(csv)}, header = true, columns = ${types})`;
    onDuckDb = await withDuckDb(
      (db) => profileTable(duckDbWarehouse(db), { snapshotId: 'ds-same', target: 'label', table }),
      { threads: 1 },
    );
  });
  after(async function () {
    await emulator?.stop();
  });

  it('profiles the same columns, with each warehouse naming its own types', function () {
    const types = (p: DatasetProfile) => p.columns.map((c) => [c.name, c.kind, c.type]);
    assert.deepEqual(types(onBigQuery), [
      ['id', 'numeric', 'INTEGER'],
      ['x', 'numeric', 'FLOAT'],
      ['y', 'numeric', 'INTEGER'],
      ['k', 'numeric', 'INTEGER'],
      ['city', 'categorical', 'STRING'],
      ['label', 'categorical', 'BOOLEAN'],
    ]);
    assert.deepEqual(types(onDuckDb), [
      ['id', 'numeric', 'BIGINT'],
      ['x', 'numeric', 'DOUBLE'],
      ['y', 'numeric', 'BIGINT'],
      ['k', 'numeric', 'BIGINT'],
      ['city', 'categorical', 'VARCHAR'],
      ['label', 'categorical', 'BOOLEAN'],
    ]);
  });

  it('gives equal counts, nulls, distinct counts, min, max, histograms and top values', function () {
    assert.equal(onBigQuery.rowCount, 2000);
    assert.equal(onDuckDb.rowCount, 2000);
    assert.deepEqual(onBigQuery.columns.map(exactPart), onDuckDb.columns.map(exactPart));
    assert.deepEqual(onBigQuery.targetDistribution, onDuckDb.targetDistribution);
    const x = onDuckDb.columns[1] as NumericColumnProfile;
    assert.deepEqual([x.nulls, x.distinctApproximate, x.histogram.length], [286, false, 20]);
    const k = onDuckDb.columns[3] as NumericColumnProfile;
    assert.deepEqual(k.histogram, [{ lower: 42, upper: 42, count: 2000 }]);
  });

  it('finds the same spellings that differ only in case or whitespace', function () {
    assert.deepEqual(onBigQuery.warnings, onDuckDb.warnings);
    const [city] = onDuckDb.warnings;
    assert.equal(onDuckDb.warnings.length, 1);
    assert.equal(city!.column, 'city');
    const expected = new Map<string, Map<string, number>>();
    for (const r of rows) {
      if (r.city === null) continue;
      const key = r.city.trim().toLowerCase();
      const spellings = expected.get(key) ?? new Map<string, number>();
      expected.set(key, spellings.set(r.city, (spellings.get(r.city) ?? 0) + 1));
    }
    const variants = [...expected].filter(([, spellings]) => spellings.size > 1);
    assert.equal(city!.groups.length + city!.moreGroups, variants.length);
    assert.equal(city!.groups.length, 5, 'the five largest groups are listed');
    assert.ok(
      city!.groups.some((g) => g.spellings.some((s) => /^ [A-Z]+\t$/.test(s.value))),
      'an upper-cased spelling with a space and a tab around it is a variant',
    );
    for (const group of city!.groups) {
      const spellings = expected.get(group.normalized)!;
      assert.equal(
        group.count,
        [...spellings.values()].reduce((a, b) => a + b, 0),
        `rows of ${group.normalized}`,
      );
      for (const s of group.spellings)
        assert.equal(s.count, spellings.get(s.value), `rows of ${JSON.stringify(s.value)}`);
    }
  });

  it('gives means, standard deviations and correlations equal to 1e-9 (relative)', function () {
    for (const [i, b] of onBigQuery.columns.entries()) {
      const d = onDuckDb.columns[i]!;
      if (b.kind !== 'numeric' || d.kind !== 'numeric') continue;
      assertRelative(b.mean, d.mean, 1e-12, `mean of ${b.name}`);
      assertRelative(b.std, d.std, 1e-9, `std of ${b.name}`);
      assertRelative(b.drift?.std ?? null, d.drift?.std ?? null, 1e-9, `drift reference std of ${b.name}`);
    }
    assert.deepEqual(onBigQuery.correlations.columns, onDuckDb.correlations.columns);
    onBigQuery.correlations.matrix.forEach((row, i) =>
      row.forEach((r, j) => assertRelative(r, onDuckDb.correlations.matrix[i]![j]!, 1e-9, `correlation ${i},${j}`)),
    );
    // The constant column k has no correlation; x and y are strongly correlated.
    assert.equal(onDuckDb.correlations.matrix[1]![3], null);
    assert.ok((onDuckDb.correlations.matrix[1]![2] ?? 0) > 0.8);
  });

  // The emulator's APPROX_QUANTILES returns wrong values (docs/profiling.md, "BigQuery"), so its quantiles are not
  // compared. DuckDB's estimates are checked against BigQuery's exact PERCENTILE_CONT on the same data instead.
  it("keeps DuckDB's quantiles within ±0.01 in rank of the exact quantiles PERCENTILE_CONT gives on the emulator", async function () {
    for (const c of onDuckDb.columns) {
      if (c.kind !== 'numeric') continue;
      const b = onBigQuery.columns.find((other) => other.name === c.name) as NumericColumnProfile;
      assert.deepEqual(Object.keys(b.quantiles), Object.keys(c.quantiles), `quantile levels of ${c.name} on BigQuery`);
      const bounds = quantileLevels.flatMap((q) => [Math.max(0, q - 0.01), Math.min(1, q + 0.01)]);
      const col = bigQueryDialect.ident(c.name);
      const items = bounds.map((p, i) => `PERCENTILE_CONT(CAST(${col} AS FLOAT64), ${p}) OVER () AS b${i}`);
      const [exact] = await bigQuery.query(`SELECT ${items.join(', ')} FROM \`test.profiling.sample\` LIMIT 1`);
      for (const [i, q] of quantileLevels.entries()) {
        const [low, high] = [exact![`b${2 * i}`] as number, exact![`b${2 * i + 1}`] as number];
        const estimate = c.quantiles[quantileKey(q)]!;
        assert.ok(low <= estimate && estimate <= high, `${c.name} p${q * 100}: ${estimate} outside [${low}, ${high}]`);
      }
    }
  });

  it('writes BigQuery quantiles as offsets of one APPROX_QUANTILES sketch size', function () {
    assert.equal(
      bigQueryDialect.approxQuantiles('x', [0.05, 0.5, 0.999]),
      '[APPROX_QUANTILES(x, 1000)[OFFSET(50)], APPROX_QUANTILES(x, 1000)[OFFSET(500)], APPROX_QUANTILES(x, 1000)[OFFSET(999)]]',
    );
    assert.equal(bigQueryDialect.ident('odd`name'), '`odd\\`name`');
  });
});
