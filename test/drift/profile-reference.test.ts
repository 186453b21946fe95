/**
 * The drift reference the profile stores (format 3): counts that add up to the column, an exact grid for a column of
 * few values, a quantile grid and deciles for a continuous one, the top 50 categories plus "other", and a catalogued
 * error for a profile without it.
 */
import assert from 'node:assert/strict';
import { computeDriftReference, defaultDriftReferenceSettings } from '../../src/drift/reference';
import { computeProfile, defaultProfileSettings } from '../../src/profiling/compute-profile';
import type { DatasetProfile } from '../../src/profiling/dataset-profile';
import { profileDriftReference } from '../../src/profiling/profile-reference';
import { isMlopsError } from '../../src/errors';
import { withDuckDb } from '../../src/warehouse/duckdb';
import { duckDbDialect } from '../../src/warehouse/sql-dialect';

const rows = `(SELECT
    CASE WHEN i % 10 = 0 THEN NULL ELSE sin(i) * 100 END AS wave,
    i % 4 AS quarter,
    'c' || CAST(i % 80 AS VARCHAR) AS code,
    i AS __row
  FROM range(0, 4000) AS t(i))`;

describe('the drift reference stored in profile.json', () => {
  let profile: DatasetProfile;

  before(async () => {
    profile = await withDuckDb(
      (db) =>
        computeProfile(db, duckDbDialect, {
          snapshotId: 'drift-ref',
          target: 'quarter',
          from: rows,
          columns: [
            { name: 'wave', type: 'DOUBLE' },
            { name: 'quarter', type: 'BIGINT' },
            { name: 'code', type: 'VARCHAR' },
          ],
          rowNumbered: { from: rows, rowNumber: '__row' },
        }),
      { threads: 1 },
    );
  });

  it('keeps a quantile grid with decile bins whose counts add up to the non-null rows of a continuous column', () => {
    const wave = profileDriftReference(profile, 'profile.json').wave!;
    assert.equal(wave.kind, 'numeric');
    if (wave.kind !== 'numeric') return;
    assert.equal(wave.gridExact, false);
    assert.equal(wave.grid.length, 199);
    assert.equal(wave.binEdges.length, 9);
    assert.ok(wave.binEdges.every((e) => wave.grid.includes(e)));
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    assert.deepEqual([sum(wave.cells), sum(wave.binCounts), wave.nulls, wave.count], [3600, 3600, 400, 3600]);
    // Deciles: each bin holds a tenth of the rows.
    for (const n of wave.binCounts) assert.ok(Math.abs(n - 360) <= 2, `bin of ${n}`);
  });

  it('keeps every value of a column with few values, so its statistics are exact', () => {
    const quarter = profileDriftReference(profile, 'profile.json', ['quarter']).quarter!;
    assert.ok(quarter.kind === 'numeric');
    assert.deepEqual([quarter.gridExact, quarter.grid, quarter.binEdges], [true, [0, 1, 2, 3], [0, 1, 2, 3]]);
    assert.deepEqual(quarter.atLower, [0, 1000, 1000, 1000, 1000]);
  });

  it('keeps the 50 most frequent categories and counts the rest as other', () => {
    const code = profileDriftReference(profile, 'profile.json').code!;
    assert.ok(code.kind === 'categorical');
    assert.deepEqual([code.values.length, code.otherCount, code.distinct], [50, 30 * 50, 80]);
  });

  it("is the reference the drift check computes alone, made from the profile's statistics and top values without scanning them again", async () => {
    const queries: string[] = [];
    const columns = [
      { name: 'wave', type: 'DOUBLE' },
      { name: 'quarter', type: 'BIGINT' },
      { name: 'code', type: 'VARCHAR' },
    ];
    const [again, alone] = await withDuckDb(
      async (db) => {
        const logged = { query: (sql: string) => (queries.push(sql), db.query(sql)) };
        const input = { snapshotId: 'drift-ref', target: 'quarter', from: rows, columns };
        const sample = { from: rows, rowNumber: '__row' };
        return [
          await computeProfile(logged, duckDbDialect, { ...input, rowNumbered: sample }),
          await computeDriftReference((sql) => db.query(sql), duckDbDialect, {
            from: rows,
            columns: columns.map((c) => ({ name: c.name, numeric: c.name !== 'code' })),
            settings: defaultDriftReferenceSettings,
            sample: { ...sample, size: defaultProfileSettings.quantileSampleRows },
          }),
        ] as const;
      },
      { threads: 1 },
    );
    assert.deepEqual(profileDriftReference(again, 'profile.json'), alone);
    // One statistics query and one top-values query for the profile and its reference together (beside them, the
    // profile's own check of the text column for spelling variants).
    assert.equal(queries.filter((q) => q.includes('avg(')).length, 1);
    assert.equal(queries.filter((q) => q.includes('OVER (PARTITION BY col) AS distinct_values')).length, 1);
    assert.equal(queries.filter((q) => q.includes('AS normalized')).length, 1);
    // The profile still shows its own 10 most frequent values; the reference keeps 50.
    const code = again.columns.find((c) => c.name === 'code')!;
    assert.ok(code.kind === 'categorical');
    assert.deepEqual([code.top.length, code.otherCount], [10, 4000 - 10 * 50]);
  });

  it('rejects a profile of an older format with an error naming the file and the column', () => {
    const old = { ...profile, version: 2 } as unknown as DatasetProfile;
    assert.throws(
      () => profileDriftReference(old, 'profiles/s1/profile.json'),
      (err: unknown) =>
        isMlopsError(err, 'MLOPS_ERR_DRIFT_REFERENCE_MISSING') && /profiles\/s1\/profile\.json.*wave/.test(String(err)),
    );
  });
});
