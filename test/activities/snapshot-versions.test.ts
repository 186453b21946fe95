/**
 * Dataset snapshots as versioned data: what changed between two (`npm run datasets -- diff`), and a snapshot's rows
 * back as a file (`npm run datasets -- export`), on snapshots the real ingest step wrote.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createIngestActivities } from '../../src/activities/ingest';
import { LocalArtifactStore } from '../../src/artifacts';
import type { DatasetSnapshot } from '../../src/contracts/datasets';
import { diffSnapshots, renderSnapshotDiff } from '../../src/ingest/snapshot-diff';
import { exportSnapshot } from '../../src/ingest/snapshot-export';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { npmScriptWith } from '../support/models-script';
import { tempDir, testSources } from '../support/stack';

interface Versions {
  root: string;
  store: LocalArtifactStore;
  ingest: (file: string) => Promise<DatasetSnapshot>;
  /** A file of the test's own, in a folder ingest may read. */
  file: (name: string, content?: string) => string;
}

function versions(): Versions {
  const root = tempDir('versions-store');
  const store = new LocalArtifactStore(root);
  const ingest = createIngestActivities({ store, sources: testSources() }).ingestDataset;
  const folder = tempDir('versions-src');
  return {
    root,
    store,
    ingest: (sourceUri) => ingest({ sourceUri }),
    file: (name, content) => {
      const file = path.join(folder, name);
      if (content !== undefined) fs.writeFileSync(file, content);
      return file;
    },
  };
}

/** 200 customers: region north/south/east by id, spend from the id, an active flag. */
function customers(
  ids: number[],
  row: (id: number) => string = (id) => `${id},${regionOf(id)},${id / 4},${id % 2 === 0}`,
) {
  return `id,region,spend,active\n${ids.map(row).join('\n')}\n`;
}
const regionOf = (id: number) => ['north', 'south', 'east'][id % 3]!;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

async function assertFails(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, code);
    assert.match(err.message, message);
    assert.equal(err.nonRetryable, true);
    return true;
  });
}

describe('dataset snapshots as versions', function () {
  it('diffs two snapshots: columns added, removed and retyped, rows only in one, and what changed in each column', async function () {
    const v = versions();
    const before = await v.ingest(v.file('v1.csv', customers(range(0, 200))));
    // v2: the first 20 customers gone, 10 new ones from a new region, every tenth spend blank, a plan column added.
    const v2Rows = (id: number) =>
      `${id},${id >= 200 ? 'west' : regionOf(id)},${id % 10 === 5 ? '' : id / 4},${id % 2 === 0},basic`;
    const after = await v.ingest(
      v.file(
        'v2.csv',
        `id,region,spend,active,plan\n${[...range(20, 200), ...range(200, 210)].map(v2Rows).join('\n')}\n`,
      ),
    );
    const diff = await diffSnapshots(v.store, before.snapshotId, after.snapshotId);

    assert.deepEqual(diff.columns, { added: [{ name: 'plan', type: 'VARCHAR' }], removed: [], retyped: [] });
    // 180 rows kept, 18 of them with a blank spend now: 20 + 18 only before, 10 + 18 only after.
    assert.deepEqual(diff.rows, {
      onlyInFrom: 38,
      onlyInTo: 28,
      inBoth: 162,
      comparedOn: ['id', 'region', 'spend', 'active'],
    });
    assert.deepEqual(
      diff.changed.map((c) => c.name),
      ['id', 'region', 'spend'],
    );
    const [id, region, spend] = diff.changed;
    assert.deepEqual(id!.range, { from: { min: 0, max: 199, mean: 99.5 }, to: { min: 20, max: 209, mean: 114.5 } });
    assert.deepEqual(region!.categories, {
      from: 3,
      to: 4,
      added: { count: 1, top: [{ value: 'west', rows: 10 }] },
      removed: { count: 0, top: [] },
    });
    assert.deepEqual(spend!.nulls, { from: 0, to: 19 / 190 });
    assert.equal(diff.unchangedColumns, 1, 'active');

    const text = renderSnapshotDiff(diff);
    assert.match(text, new RegExp(`^From ${before.snapshotId} \\(200 rows, \\S+v1\\.csv, `));
    assert.match(
      text,
      new RegExp(
        `\nrows: 162 in both, 38 only in ${before.snapshotId} \\(removed or changed\\), 28 only in ${after.snapshotId} \\(added or changed\\); compared on 4 column\\(s\\)\n`,
      ),
    );
    assert.match(text, /\ncolumns:\n {2}\+ "plan" VARCHAR\n/);
    assert.match(text, /\n {2}"region": 3 → 4 distinct values; new: "west" \(10 rows\)\n/);
    assert.match(text, /\n {2}"spend": missing 0 % → 10 %; mean 24\.875 → /);
    assert.match(text, /\nunchanged columns: 1\n$/);
  });

  it('compares columns of any type and odd names, and counts a retyped column apart from the rows compared', async function () {
    const v = versions();
    const write = async (name: string, n: number, step: number, spendType: string) => {
      const file = v.file(name);
      await withDuckDb((db) =>
        db.run(
          `COPY (SELECT i AS "odd ""name""", [i, i + ${step}] AS pair, {'k': i} AS info, DATE '2026-01-01' + i::INTEGER AS day, i::${spendType} AS spend FROM range(${n}) t(i)) TO ${literal(file)} (FORMAT parquet)`,
        ),
      );
      return v.ingest(file);
    };
    const a = await write('a.parquet', 50, 1, 'BIGINT');
    const b = await write('b.parquet', 60, 2, 'DOUBLE');
    const diff = await diffSnapshots(v.store, a.snapshotId, b.snapshotId);
    assert.deepEqual(diff.columns.retyped, [{ name: 'spend', from: 'BIGINT', to: 'DOUBLE' }]);
    assert.deepEqual(diff.rows.comparedOn, ['odd "name"', 'pair', 'info', 'day']);
    // Every pair differs ([i, i+1] against [i, i+2]), so no row is in both.
    assert.deepEqual([diff.rows.inBoth, diff.rows.onlyInFrom, diff.rows.onlyInTo], [0, 50, 60]);
    const byName = new Map(diff.changed.map((c) => [c.name, c]));
    assert.deepEqual(byName.get('pair')!.categories!.added.count, 60);
    assert.deepEqual(byName.get('info')!.categories!.added, {
      count: 10,
      top: range(50, 55).map((i) => ({ value: `{'k': ${i}}`, rows: 1 })),
    });
    assert.deepEqual(byName.get('day')!.range, {
      from: { min: '2026-01-01', max: '2026-02-19' },
      to: { min: '2026-01-01', max: '2026-03-01' },
    });
    assert.match(renderSnapshotDiff(diff), /\n {2}~ "spend" BIGINT → DOUBLE\n/);
    assert.match(renderSnapshotDiff(diff), /\n {2}"odd \\"name\\"": mean 24\.5 → 29\.5; max 49 → 59\n/);
  });

  it('exports a snapshot as CSV, Parquet and JSON Lines that ingest back to the same rows and types', async function () {
    const v = versions();
    const hostile = customers(range(0, 100), (id) =>
      id % 7 === 0 ? `${id},"a, ""quoted"" value",,true` : `${id},${regionOf(id)},${id / 3},${id % 2 === 0}`,
    );
    const original = await v.ingest(v.file('hostile.csv', hostile));
    for (const extension of ['csv', 'parquet', 'jsonl']) {
      const file = v.file(`back.${extension}`);
      const done = await exportSnapshot(v.store, original.snapshotId, file);
      assert.deepEqual([done.rows, done.format, done.file], [100, extension, file]);
      const again = await v.ingest(file);
      assert.deepEqual(again.columns, original.columns, extension);
      const diff = await diffSnapshots(v.store, original.snapshotId, again.snapshotId);
      assert.deepEqual(
        [diff.rows.inBoth, diff.rows.onlyInFrom, diff.rows.onlyInTo, diff.changed.length],
        [100, 0, 0, 0],
        extension,
      );
    }
  });

  it('refuses an export that would replace a file, has no format or no folder, leaving nothing behind', async function () {
    const v = versions();
    const snapshot = await v.ingest(v.file('few.csv', customers(range(0, 10))));
    const existing = v.file('taken.csv', 'keep me\n');
    await assertFails(
      exportSnapshot(v.store, snapshot.snapshotId, existing),
      'MLOPS_ERR_DATA_EXPORT_INVALID',
      /taken\.csv: a file is already there \(add --force to replace it\)/,
    );
    assert.equal(fs.readFileSync(existing, 'utf8'), 'keep me\n');
    await assertFails(
      exportSnapshot(v.store, snapshot.snapshotId, v.file('rows.xlsx')),
      'MLOPS_ERR_DATA_EXPORT_INVALID',
      /its extension "\.xlsx" names no format this command writes/,
    );
    await assertFails(
      exportSnapshot(v.store, snapshot.snapshotId, path.join(v.file('missing'), 'rows.csv')),
      'MLOPS_ERR_DATA_EXPORT_INVALID',
      /its folder does not exist/,
    );
    await assertFails(
      exportSnapshot(v.store, 'ds-0000000000000000', v.file('rows.csv')),
      'MLOPS_ERR_DATA_SNAPSHOT_NOT_FOUND',
      /"ds-0000000000000000" is not in the artifact store/,
    );
    // A folder the file cannot be created in (as /proc, whatever the user's rights): named, the partial file not.
    await assertFails(
      exportSnapshot(v.store, snapshot.snapshotId, '/proc/rows.csv'),
      'MLOPS_ERR_DATA_EXPORT_INVALID',
      /Cannot export the snapshot to \/proc\/rows\.csv: it cannot be written there \((?!.*partial)/,
    );
    await assertFails(
      exportSnapshot(v.store, snapshot.snapshotId, path.dirname(existing)),
      'MLOPS_ERR_DATA_EXPORT_INVALID',
      /: it is a folder$/m,
    );
    assert.deepEqual(fs.readdirSync(path.dirname(existing)).sort(), ['few.csv', 'taken.csv']);
    const replaced = await exportSnapshot(v.store, snapshot.snapshotId, existing, { overwrite: true });
    assert.equal(fs.readFileSync(existing, 'utf8').split('\n')[0], 'id,region,spend,active');
    assert.equal(replaced.rows, 10);
  });

  it('answers list --source, diff and export from the npm run datasets command line', async function () {
    const v = versions();
    const first = await v.ingest(v.file('sales.csv', customers(range(0, 30))));
    const second = await v.ingest(v.file('other.csv', customers(range(0, 40))));
    const env = { MLOPS_ARTIFACT_ROOT: v.root };
    const listed = await npmScriptWith(env, 'datasets', 'list', '--source', 'sales.csv');
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      listed.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
      [first.snapshotId],
    );
    const diff = await npmScriptWith(env, 'datasets', 'diff', first.snapshotId, second.snapshotId, '--json');
    assert.equal(diff.code, 0, diff.stderr);
    assert.deepEqual((JSON.parse(diff.stdout) as { rows: object }).rows, {
      onlyInFrom: 0,
      onlyInTo: 10,
      inBoth: 30,
      comparedOn: ['id', 'region', 'spend', 'active'],
    });
    const target = v.file('out.parquet');
    const exported = await npmScriptWith(env, 'datasets', 'export', second.snapshotId, target);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(
      exported.stdout,
      new RegExp(`^Wrote 40 rows of ${second.snapshotId} to \\S+out\\.parquet \\(parquet, \\d+ bytes\\)\n$`),
    );
    const refused = await npmScriptWith(env, 'datasets', 'export', second.snapshotId, target);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^MLOPS_ERR_DATA_EXPORT_INVALID: .*a file is already there/);
    const usage = await npmScriptWith(env, 'datasets', 'diff', first.snapshotId);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /npm run datasets -- diff <from-id> <to-id>/);
    // Asked for, the usage is no mistake: stdout and exit 0.
    const help = await npmScriptWith(env, 'datasets', '--help');
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /npm run datasets -- diff <from-id> <to-id>/);
  });
});
