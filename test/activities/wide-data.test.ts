/**
 * Very wide data at the default memory limit (MLOPS_DATA_MEMORY_LIMIT 512MB): a 3,000-column file is ingested,
 * profiled and preprocessed. Preprocessing ran out of memory on it: its statements each aggregated every column, and
 * several ran side by side (now at most 256 columns a statement, src/warehouse/column-groups.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPipelineActivities } from '../../src/activities';
import { LocalArtifactStore, readJson } from '../../src/artifacts';
import type { FittedTransform } from '../../src/contracts/datasets';
import { exportSnapshot } from '../../src/ingest/snapshot-export';
import type { DatasetProfile } from '../../src/profiling/dataset-profile';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { testDeps } from '../support/dependencies';
import { seededRandom } from '../support/seeded-random';
import { tempDir, testConfig } from '../support/stack';

const width = 3000;
const rows = 200;

/** Writes `lines` as the data file `file` in a folder of its own; a fresh store, and the activities that may read the file. */
function staged(folder: string, file: string, lines: string[]) {
  const csv = path.join(tempDir(folder), file);
  fs.writeFileSync(csv, `${lines.join('\n')}\n`);
  const config = testConfig({ MLOPS_DATA_ROOTS: path.dirname(csv) });
  const store = new LocalArtifactStore(tempDir(`${folder}-store`));
  return { csv, config, store, activities: createPipelineActivities(testDeps({ store, config })) };
}

const quoted = (v: string) => `"${v.replace(/"/g, '""')}"`;

describe('very wide data at the default memory limit', function () {
  this.timeout(300_000);

  it('ingests, profiles and preprocesses 3,000 columns, fitting every one of them', async function () {
    const r = seededRandom(3000);
    const names = Array.from({ length: width }, (_, j) => `g${j}`);
    const lines = [[...names, 'y'].join(',')];
    for (let i = 0; i < rows; i++) {
      const values = names.map(() => (r() * 2 - 1).toFixed(3));
      lines.push([...values, Number(values[0]) + Number(values[1]) > 0 ? 'up' : 'down'].join(','));
    }
    const { csv, config, store, activities } = staged('wide-data', 'genes.csv', lines);
    assert.equal(config.data.memoryLimit, '512MB');

    const snapshot = await activities.ingestDataset({ sourceUri: csv });
    assert.equal(snapshot.columns.length, width + 1);
    const profiled = await activities.profileDataset({
      snapshotId: snapshot.snapshotId,
      dataUri: snapshot.dataUri,
      target: 'y',
    });
    const profile = JSON.parse(fs.readFileSync(fileURLToPath(profiled.profileUri), 'utf8')) as DatasetProfile;
    assert.equal(profile.columns.length, width + 1);
    const last = profile.columns.find((c) => c.name === `g${width - 1}`);
    assert.ok(last && last.kind === 'numeric' && last.histogram.length > 0, 'the last column has its histogram');
    // The report draws the first 300 columns' charts and the target's; the others show their figures and say why.
    const report = fs.readFileSync(fileURLToPath(profiled.reportUri), 'utf8');
    assert.equal(report.match(/id="chart-column-\d+"/g)?.length, 301);
    assert.ok(report.includes('id="chart-column-299"') && report.includes(`id="chart-column-${width}"`));
    assert.equal(report.match(/Not drawn: the report draws the first 300 columns/g)?.length, width - 300);

    const prepared = await activities.preprocessDataset({
      ...snapshot,
      target: 'y',
      task: 'classification',
      split: { testFraction: 0.2, validationFraction: 0.2, seed: 1 },
    });
    assert.equal(prepared.featureColumns.length, width);
    const transform = await readJson<FittedTransform>(store, prepared.transformUri);
    const fitted = transform.features.filter((f) => f.kind === 'numeric');
    assert.equal(fitted.length, width);
    // Every feature fitted from its own column: spreads near that of uniform values on [-1, 1] (0.577).
    for (const f of fitted) assert.ok(f.kind === 'numeric' && f.std > 0.4 && f.std < 0.75, `${f.name}: ${f.std}`);
    assert.equal(prepared.rows.train + prepared.rows.validation + prepared.rows.test, rows);
  });

  it('ingests 600 text columns beside 5 numeric ones on 500 rows, keeping every value', async function () {
    // DuckDB's Parquet writer set aside 1 MiB for each text column's dictionary: the write ran out of 512MB on this
    // 3 MB file (src/ingest/file-to-parquet.ts, textDictionaryBudget).
    const r = seededRandom(600);
    const categories = Array.from({ length: 600 }, (_, j) =>
      Array.from({ length: 5 + (j % 56) }, (_, k) => [`cat ${k}`, `a, "b" ${k}`, `🙂 ${k}`][k % 3]!),
    );
    const names = [...categories.map((_, j) => `t${j}`), ...Array.from({ length: 5 }, (_, j) => `n${j}`)];
    const rows = Array.from({ length: 500 }, () => [
      ...categories.map((values) => values[Math.floor(r() * values.length)]!),
      ...Array.from({ length: 5 }, () => Number((r() * 100).toFixed(2))),
    ]);
    const lines = [
      names.join(','),
      ...rows.map((row) => row.map((v) => (typeof v === 'string' ? quoted(v) : v)).join(',')),
    ];
    const { csv, config, store, activities } = staged('wide-categories', 'categories.csv', lines);
    assert.equal(config.data.memoryLimit, '512MB');

    const snapshot = await activities.ingestDataset({ sourceUri: csv });
    assert.deepEqual(
      snapshot.columns,
      names.map((name, j) => ({ name, type: j < 600 ? 'VARCHAR' : 'DOUBLE' })),
    );
    const written = await withDuckDb((db) =>
      db.columns(`SELECT * FROM read_parquet(${literal(new URL(snapshot.dataUri).pathname)})`),
    );
    assert.deepEqual(
      written.columns,
      names.map((_, j) => rows.map((row) => row[j])),
    );
    // Exported as Parquet (`npm run datasets -- export`), with the same dictionaries' budget: the same values.
    const exported = path.join(tempDir('wide-categories-export'), 'categories.parquet');
    await exportSnapshot(store, snapshot.snapshotId, exported);
    const read = await withDuckDb((db) => db.columns(`SELECT * FROM read_parquet(${literal(exported)})`));
    assert.deepEqual(read.columns, written.columns);
  });

  it('ingests 3,000 text columns on 100 rows', async function () {
    // Besides the write's dictionaries, the column checks' one statement over every text column ran out of 512MB.
    const names = Array.from({ length: width }, (_, j) => `t${j}`);
    const lines = [
      names.join(','),
      ...Array.from({ length: 100 }, (_, i) => names.map((_, j) => `"v ${(i * j) % 7}"`).join(',')),
    ];
    const { csv, activities } = staged('wide-texts', 'texts.csv', lines);
    const snapshot = await activities.ingestDataset({ sourceUri: csv });
    assert.equal(snapshot.rowCount, 100);
    assert.ok(snapshot.columns.length === width && snapshot.columns.every((c) => c.type === 'VARCHAR'));
  });

  it('ingests JSON Lines objects of 700 keys as 700 columns', async function () {
    // DuckDB reads objects of more than 200 keys as one MAP column unless told otherwise: the snapshot was one column.
    const lines = Array.from({ length: 50 }, (_, i) =>
      JSON.stringify(Object.fromEntries(Array.from({ length: 700 }, (_, j) => [`t${j}`, `v ${(i + j) % 9}`]))),
    );
    const { csv: file, activities } = staged('wide-json', 'objects.jsonl', lines);
    const snapshot = await activities.ingestDataset({ sourceUri: file });
    assert.deepEqual(
      snapshot.columns,
      Array.from({ length: 700 }, (_, j) => ({ name: `t${j}`, type: 'VARCHAR' })),
    );
  });

  it('preprocesses a hundred text features one-hot encoded (700 model inputs) on 150 rows', async function () {
    // Each feature's "unknown" input was `NOT IN (<its categories>)`, which DuckDB plans as a join holding memory of
    // its own: the split's write ran out of 1GB.
    const names = Array.from({ length: 100 }, (_, j) => `c"${j} 🙂 'x'`);
    const values = ['a', 'B', ' b ', "o'q", '</script>', ''];
    const lines = [[...names.map(quoted), 'y'].join(',')];
    for (let i = 0; i < 150; i++)
      lines.push([...names.map((_, j) => quoted(values[(i + j) % 6]!)), i % 2 ? 'up' : 'down'].join(','));
    const { csv, activities } = staged('wide-text', 'texts.csv', lines);
    const snapshot = await activities.ingestDataset({ sourceUri: csv });
    const prepared = await activities.preprocessDataset({
      ...snapshot,
      target: 'y',
      task: 'classification',
      split: { testFraction: 0.2, validationFraction: 0.2, seed: 1 },
    });
    // Six categories each (the empty string is the missing category) and the unknown input.
    assert.equal(prepared.featureColumns.length, 100 * 7);
  });
});
