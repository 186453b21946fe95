/**
 * The capped correlations of a wide table (docs/profiling.md, "Wide tables") on BigQuery (goccy/bigquery-emulator)
 * and DuckDB: the same columns chosen by their correlation ratio with a categorical target, the same names left out.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { RunningEmulator } from '../../src/dev/emulators';
import { defaultProfileSettings, profileTable } from '../../src/profiling/compute-profile';
import type { DatasetProfile } from '../../src/profiling/dataset-profile';
import { BigQueryWarehouse } from '../../src/warehouse/bigquery-warehouse';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { duckDbWarehouse } from '../../src/warehouse/warehouse';
import { startTestBigQuery } from '../support/bigquery-emulator';
import { seededRandom } from '../support/seeded-random';
import { tempDir } from '../support/stack';

const width = 12;
const names = Array.from({ length: width }, (_, j) => `x${j}`);
/** x3, x7 and x11 differ by class; the others are noise. */
const related = ['x3', 'x7', 'x11'];

function dataset(): { values: number[]; label: string }[] {
  const r = seededRandom(12);
  return Array.from({ length: 200 }, () => {
    const label = r() < 0.5 ? 'a' : r() < 0.5 ? 'b' : 'c';
    const shift = { a: 0, b: 30, c: 60 }[label];
    return { values: names.map((n) => Math.round(r() * 1000 + (related.includes(n) ? shift * 10 : 0)) / 10), label };
  });
}

describe('capped correlations of a wide table on BigQuery (goccy/bigquery-emulator) and DuckDB', function () {
  this.timeout(120_000);
  const rows = dataset();
  const settings = { ...defaultProfileSettings, correlationColumns: 4 };
  let emulator: RunningEmulator | undefined;
  let onBigQuery: DatasetProfile;
  let onDuckDb: DatasetProfile;

  before(async function () {
    this.timeout(10 * 60_000);
    const data = rows.map(
      (r) => `              - { ${names.map((n, j) => `${n}: ${r.values[j]}`).join(', ')}, label: ${r.label} }`,
    );
    const seed = `projects:
  - id: test
    datasets:
      - id: profiling
        tables:
          - id: wide
            columns:
${names.map((n) => `              - { name: ${n}, type: FLOAT64 }`).join('\n')}
              - { name: label, type: STRING }
            data:
${data.join('\n')}
`;
    emulator = await startTestBigQuery(seed);
    const bigQuery = new BigQueryWarehouse({ projectId: 'test', apiEndpoint: emulator.url, location: 'US' });
    onBigQuery = await profileTable(bigQuery, {
      snapshotId: 'wide',
      target: 'label',
      table: 'profiling.wide',
      settings,
    });
    const csv = path.join(tempDir('wide-csv'), 'wide.csv');
    fs.writeFileSync(
      csv,
      [[...names, 'label'].join(','), ...rows.map((r) => [...r.values, r.label].join(','))].join('\n'),
    );
    const table = `read_csv(${literal(csv)}, header = true)`;
    onDuckDb = await withDuckDb(
      (db) => profileTable(duckDbWarehouse(db), { snapshotId: 'wide', target: 'label', table, settings }),
      {
        threads: 1,
      },
    );
  });
  after(async function () {
    await emulator?.stop();
  });

  it('chooses the same columns by their correlation ratio with the target and names the rest', function () {
    for (const profile of [onBigQuery, onDuckDb]) {
      assert.equal(profile.correlations.selection, 'target-eta');
      assert.equal(profile.correlations.columns.length, 4);
      for (const name of related) assert.ok(profile.correlations.columns.includes(name), name);
      assert.equal(profile.correlations.omitted.length, width - 4);
    }
    assert.deepEqual(onBigQuery.correlations.columns, onDuckDb.correlations.columns);
    assert.deepEqual(onBigQuery.correlations.omitted, onDuckDb.correlations.omitted);
    onBigQuery.correlations.matrix.flat().forEach((r, i) => {
      const expected = onDuckDb.correlations.matrix.flat()[i]!;
      assert.ok(
        r !== null && Math.abs(r - expected) <= 1e-9 * Math.max(1, Math.abs(expected)),
        `r ${r} vs ${expected}`,
      );
    });
  });
});
