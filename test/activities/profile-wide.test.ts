/**
 * Wide tables: every column is profiled in queries of bounded width, the correlations cover the columns most related
 * to the target up to `correlationColumns`, and the rest are named in the profile and the report.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPipelineActivities } from '../../src/activities';
import { LocalArtifactStore } from '../../src/artifacts';
import type { ProfileDatasetResult } from '../../src/contracts/datasets';
import { computeProfile, defaultProfileSettings } from '../../src/profiling/compute-profile';
import type { DatasetProfile } from '../../src/profiling/dataset-profile';
import { profileDriftReference } from '../../src/profiling/profile-reference';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { duckDbDialect } from '../../src/warehouse/sql-dialect';
import { testDeps } from '../support/dependencies';
import { seededRandom } from '../support/seeded-random';
import { repoRoot, tempDir } from '../support/stack';

const rows = 300;
const width = 250;
/** Columns x201 … x250 have means that differ by class; the others are noise. */
const related = Array.from({ length: 50 }, (_, i) => `x${201 + i}`);

interface Profiled {
  result: ProfileDatasetResult;
  profile: DatasetProfile;
  bytes: Buffer;
  report: string;
}

/** 300 rows × 250 numeric columns and a yes/no text target, as the tester's CSV that ran out of memory. */
function writeWideCsv(): string {
  const r = seededRandom(250);
  const names = Array.from({ length: width }, (_, j) => `x${j + 1}`);
  const lines = [[...names, 'label'].join(',')];
  for (let i = 0; i < rows; i++) {
    const yes = r() < 0.4;
    const values = names.map((name) => (r() * 100 + (related.includes(name) && yes ? 60 : 0)).toFixed(3));
    lines.push([...values, yes ? 'yes' : 'no'].join(','));
  }
  const file = path.join(tempDir('wide'), 'wide.csv');
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

async function ingestAndProfile(csv: string): Promise<Profiled> {
  const activities = createPipelineActivities(testDeps({ store: new LocalArtifactStore(tempDir('wide-store')) }));
  const snapshot = await activities.ingestDataset({ sourceUri: csv });
  const result = await activities.profileDataset({
    snapshotId: snapshot.snapshotId,
    dataUri: snapshot.dataUri,
    target: 'label',
  });
  const bytes = fs.readFileSync(fileURLToPath(result.profileUri));
  const report = fs.readFileSync(fileURLToPath(result.reportUri), 'utf8');
  return { result, profile: JSON.parse(bytes.toString('utf8')) as DatasetProfile, bytes, report };
}

describe('profiling a table of 250 numeric columns', function () {
  this.timeout(180_000);
  let csv: string;
  let wide: Profiled;

  before(async () => {
    csv = writeWideCsv();
    wide = await ingestAndProfile(csv);
  });

  it('profiles every column, with statistics, quantiles, a histogram and a drift reference for each numeric one', () => {
    assert.equal(wide.result.columnCount, width + 1);
    assert.equal(wide.profile.rowCount, rows);
    for (const c of wide.profile.columns) {
      assert.equal(c.count, rows, c.name);
      if (c.kind !== 'numeric') continue;
      assert.ok(c.mean !== null && c.std !== null && c.min !== null && c.max !== null, `${c.name} has moments`);
      assert.ok(
        Object.values(c.quantiles).every((q) => q !== null),
        `${c.name} has quantiles`,
      );
      assert.equal(
        c.histogram.reduce((n, b) => n + b.count, 0),
        rows,
        `${c.name} histogram`,
      );
    }
    assert.equal(Object.keys(profileDriftReference(wide.profile, 'profile.json')).length, width + 1);
  });

  it('correlates the 100 columns that differ most between the target classes and names the other 150', () => {
    const { correlations, settings } = wide.profile;
    assert.equal(settings.correlationColumns, 100);
    assert.equal(correlations.selection, 'target-eta');
    assert.equal(correlations.columns.length, 100);
    assert.equal(correlations.omitted.length, 150);
    const numeric = wide.profile.columns.filter((c) => c.kind === 'numeric').map((c) => c.name);
    const inOrder = (names: string[]) => numeric.filter((n) => names.includes(n));
    assert.deepEqual(correlations.columns, inOrder(correlations.columns), 'correlated columns keep dataset order');
    assert.deepEqual(correlations.omitted, inOrder(correlations.omitted), 'omitted columns keep dataset order');
    assert.deepEqual([...correlations.columns, ...correlations.omitted].sort(), [...numeric].sort());
    for (const name of related) assert.ok(correlations.columns.includes(name), `${name} is correlated`);
    assert.equal(correlations.matrix.length, 100);
    assert.ok(
      correlations.matrix.every((row, i) => row.length === 100 && row[i] === 1 && row.every((r) => r !== null)),
    );
  });

  it('computes the same correlations as a plain DuckDB query on the source CSV', async () => {
    const { columns, matrix } = wide.profile.correlations;
    const [a, b, c] = [columns.indexOf('x201'), columns.indexOf('x250'), columns.length - 1];
    const [row] = await withDuckDb((db) =>
      db.query(
        `SELECT corr(x201, x250) AS ab, corr(x201, "${columns[c]}") AS ac FROM read_csv(${literal(csv)}, header = true)`,
      ),
    );
    assert.ok(Math.abs(matrix[a]![b]! - Number(row!.ab)) < 1e-9);
    assert.ok(Math.abs(matrix[a]![c]! - Number(row!.ac)) < 1e-9);
    assert.equal(matrix[b]![a], matrix[a]![b]);
  });

  it('says in the report which columns have no correlations, with a heatmap of small unlabelled cells', () => {
    assert.match(wide.report, /Only 100 of 250 numeric columns are correlated \(at most 100\)/);
    assert.match(wide.report, /150 numeric columns without correlations/);
    for (const name of wide.profile.correlations.omitted) assert.ok(wide.report.includes(`<code>${name}</code>`), name);
    assert.ok(wide.report.length < 4_000_000, `report of ${wide.report.length} characters`);
  });

  it('writes a byte-identical profile.json when the same snapshot is profiled into another store', async () => {
    const again = await ingestAndProfile(csv);
    assert.ok(again.bytes.equals(wide.bytes), 'profile.json differs between two runs');
  });
});

describe('choosing the correlated columns of a wide table', function () {
  this.timeout(60_000);
  const table = `(SELECT i AS __row, ${Array.from({ length: 30 }, (_, j) => `sin(i * ${j + 1}) + i * ${j % 7 === 0 ? j / 10 : 0} AS v${j}`).join(', ')}, i AS y FROM range(0, 200) t(i))`;
  const columns = [
    ...Array.from({ length: 30 }, (_, j) => ({ name: `v${j}`, type: 'DOUBLE' })),
    { name: 'y', type: 'BIGINT' },
  ];
  const profile = (target: string) =>
    withDuckDb(
      (db) =>
        computeProfile(db, duckDbDialect, {
          snapshotId: 'numeric-target',
          target,
          from: table,
          columns,
          settings: { ...defaultProfileSettings, correlationColumns: 5 },
          concurrency: 2,
        }),
      { threads: 1, instances: 2 },
    );

  it('keeps a numeric target and the columns with the largest |r| with it', async () => {
    const { correlations } = await profile('y');
    assert.equal(correlations.selection, 'target-pearson');
    // v7, v14, v21 and v28 grow with i, as the target does; the others (v0 included) are sin(i·k) alone.
    assert.deepEqual(correlations.columns, ['v7', 'v14', 'v21', 'v28', 'y']);
    assert.equal(correlations.columns.length + correlations.omitted.length, 31);
  });

  it('takes the first columns in dataset order when the target is not in the table', async () => {
    const { correlations } = await profile('absent');
    assert.equal(correlations.selection, 'dataset-order');
    assert.deepEqual(correlations.columns, ['v0', 'v1', 'v2', 'v3', 'v4']);
  });
});

describe('a profile that runs out of DuckDB memory', () => {
  it('fails with a catalogued, non-retryable error naming the column counts', function () {
    // In a process of its own, tried up to three times: DuckDB has crashed its process (SIGSEGV) instead of reporting
    // the out-of-memory error once in a CI run; the error's mapping is what this test checks.
    let outcome: { type?: string; nonRetryable?: boolean; message?: string; ok?: boolean } | undefined;
    const crashes: string[] = [];
    for (let attempt = 0; attempt < 3 && !outcome; attempt++) {
      const result = spawnSync(
        process.execPath,
        ['--import', 'tsx', path.join(repoRoot, 'test', 'support', 'profile-oom-child.ts')],
        { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 },
      );
      if (result.status === 0) outcome = JSON.parse(result.stdout.trim().split('\n').pop()!) as typeof outcome;
      else crashes.push(`${result.signal ?? result.status}: ${result.stderr.slice(-300)}`);
    }
    assert.ok(outcome, `the profiling process crashed every time: ${crashes.join(' | ')}`);
    assert.equal(outcome.type, 'MLOPS_ERR_PROFILE_OUT_OF_MEMORY', JSON.stringify(outcome));
    assert.equal(outcome.nonRetryable, true);
    assert.match(
      outcome.message!,
      // The limit named is the worker's setting; this instance's was lowered by SQL after it opened.
      /snapshot "tight" \(20 columns, 20 numeric\) ran out of DuckDB memory \(512MB per instance, MLOPS_DATA_MEMORY_LIMIT\): failed to allocate/,
    );
  });
});
