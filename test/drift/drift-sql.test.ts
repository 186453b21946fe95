/**
 * The counting query's cells: every value lands in the cell of the grid that holds it, with its equality to the
 * cell's lower point, whatever the grid's size (the search pads it to 2ᵐ − 1 points) and for the awkward values (on a
 * point, between two adjacent doubles, infinities, NaN, null).
 */
import assert from 'node:assert/strict';
import { cellCountsSql, valueCountsSql } from '../../src/drift/drift-sql';
import { readCellCounts } from '../../src/drift/reference';
import type { CellCounts } from '../../src/drift/reference';
import { withDuckDb } from '../../src/warehouse/duckdb';
import { duckDbDialect } from '../../src/warehouse/sql-dialect';

/** Cells as the definition gives them: cell c holds g[c−1] ≤ x < g[c]; NaN (never below a point) the last one. */
function expectedCells(grid: number[], values: (number | null)[]): CellCounts {
  const k = grid.length;
  const counts: CellCounts = {
    cells: new Array<number>(k + 1).fill(0),
    atLower: new Array<number>(k + 1).fill(0),
    sums: new Array<number>(k + 1).fill(0),
    nulls: 0,
  };
  for (const x of values) {
    if (x === null) {
      counts.nulls++;
      continue;
    }
    const cell = grid.filter((g) => !(x < g)).length;
    counts.cells[cell]!++;
    if (cell > 0 && x === grid[cell - 1]) counts.atLower[cell]!++;
    counts.sums[cell]! += x;
  }
  return counts;
}

/** Values on, just below, just above and between the points, beyond both ends, and the special ones. */
function probes(grid: number[]): (number | null)[] {
  const around = grid.flatMap((g, i) => [
    g,
    g - Math.abs(g) * 1e-15 - 1e-300,
    g + 1e-9,
    (g + (grid[i + 1] ?? g + 2)) / 2,
  ]);
  return [...around, grid[0]! - 1e6, grid.at(-1)! + 1e6, -Infinity, Infinity, Number.NaN, null];
}

const literal = (x: number | null) => (x === null ? 'NULL' : `'${x}'::DOUBLE`);

type Rows = Record<string, unknown>[];

/**
 * The rows of the counting statements `sqls` makes for a relation as if it had 100,000 columns (one scan, checked) and
 * for one as narrow as its columns (a scan per column, checked).
 */
async function wideAndNarrow(sqls: (width: number | undefined) => string[]): Promise<[Rows, Rows]> {
  const wide = sqls(100_000);
  assert.equal(wide.length, 1);
  assert.match(wide[0]!, /unnest/);
  const narrow = sqls(undefined);
  assert.doesNotMatch(narrow.join('\n'), /unnest/);
  return withDuckDb(async (db): Promise<[Rows, Rows]> => [
    (await Promise.all(wide.map((sql) => db.query(sql)))).flat(),
    (await Promise.all(narrow.map((sql) => db.query(sql)))).flat(),
  ]);
}

describe('drift counting SQL on DuckDB', () => {
  for (const size of [1, 2, 3, 7, 8, 9, 200, 255, 256]) {
    it(`puts every value in the cell that holds it on a grid of ${size} points`, async () => {
      const grid = Array.from({ length: size }, (_, i) => -3 + i * 0.37 + (i % 3) * 0.01);
      const values = probes(grid);
      const from = `(SELECT x FROM (VALUES ${values.map((v) => `(${literal(v)})`).join(', ')}) AS v(x))`;
      const sqls = cellCountsSql(duckDbDialect, from, [{ index: 0, name: 'x', grid }]);
      const rows = await withDuckDb(async (db) => (await Promise.all(sqls.map((sql) => db.query(sql)))).flat());
      const counted = readCellCounts(rows, 0, size);
      const expected = expectedCells(grid, values);
      assert.deepEqual(counted.cells, expected.cells);
      assert.deepEqual(counted.atLower, expected.atLower);
      assert.equal(counted.nulls, expected.nulls);
      // NaN and the infinities make some sums non-finite on both sides; compare the finite ones.
      counted.sums.forEach((s, c) => {
        if (Number.isFinite(expected.sums[c]!)) assert.ok(Math.abs(s - expected.sums[c]!) < 1e-9, `sum of cell ${c}`);
      });
    });
  }

  it('counts many columns in one scan of a wide relation, each on its own grid, as the scan per column does', async () => {
    const sizes = [0, 1, 3, 8, 200, 256];
    const grids = sizes.map((size) => Array.from({ length: size }, (_, i) => -3 + i * 0.37 + (i % 3) * 0.01));
    // Every column holds the probes of its own grid (the grid of 0 points those of one point), padded with nulls.
    const columns = grids.map((grid) => probes(grid.length ? grid : [0.5]));
    const rows = Math.max(...columns.map((c) => c.length));
    const tuples = Array.from({ length: rows }, (_, r) => `(${columns.map((c) => literal(c[r] ?? null)).join(', ')})`);
    const names = sizes.map((_, j) => `x${j}`);
    const from = `(SELECT * FROM (VALUES ${tuples.join(', ')}) AS v(${names.join(', ')}))`;
    const gridColumns = grids.map((grid, j) => ({ index: j, name: names[j]!, grid }));
    const [wideRows, narrowRows] = await wideAndNarrow((width) =>
      cellCountsSql(duckDbDialect, from, gridColumns, width),
    );
    assert.deepEqual(wideRows, narrowRows);
    grids.forEach((grid, j) => {
      const counted = readCellCounts(wideRows, j, grid.length);
      const expected = expectedCells(grid, [...columns[j]!, ...new Array<null>(rows - columns[j]!.length).fill(null)]);
      assert.deepEqual(counted.cells, expected.cells, `cells of x${j}`);
      assert.deepEqual(counted.atLower, expected.atLower, `values on a lower point of x${j}`);
      assert.equal(counted.nulls, expected.nulls, `nulls of x${j}`);
    });
  });

  it('counts categorical values of many columns in one scan of a wide relation as the scan per column does', async () => {
    // A NUL character ends DuckDB's SQL text unless the literal writes it apart (a category of uploaded data may hold
    // one: the drift check of its model failed at every run).
    const nul = 'n\u0000ul 🙂';
    const q = duckDbDialect.literal;
    const from = `(SELECT * FROM (VALUES ('a', 'x', 1), ('b', ${q(nul)}, 2), ('a', 'y', 2), (NULL, 'x', 3), ('c', 'z''q', NULL), (${q(nul)}, ${q(nul)}, 4)) AS v(s, t, n))`;
    const columns = [
      { index: 0, name: 's', values: ['a', 'b'] },
      { index: 1, name: 't', values: ["z'q", 'x', nul] },
      { index: 2, name: 'n', values: [] },
    ];
    const [wideRows, narrowRows] = await wideAndNarrow((width) => valueCountsSql(duckDbDialect, from, columns, width));
    // Rows of one column and value differ in missing only; their order is the warehouse's.
    const sorted = (rows: Record<string, unknown>[]) =>
      rows
        .map((r) => [r.col, r.value, r.missing, r.n])
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    assert.deepEqual(sorted(wideRows), sorted(narrowRows));
    assert.deepEqual(
      sorted(wideRows),
      sorted(
        [
          [0, 'a', false, 2],
          [0, 'b', false, 1],
          [0, null, false, 2],
          [0, null, true, 1],
          [1, 'x', false, 2],
          [1, "z'q", false, 1],
          [1, nul, false, 2],
          [1, null, false, 1],
          [2, null, false, 5],
          [2, null, true, 1],
        ].map(([col, value, missing, n]) => ({ col, value, missing, n })),
      ),
    );
  });
});
