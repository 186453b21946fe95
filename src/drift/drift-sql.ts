/**
 * The counting queries of drift: one pass over a relation (the training snapshot for the reference, a window of
 * served rows for the current side) that returns, per numeric column, the rows in each cell of a fixed grid of points
 * and per categorical column the rows of each stored value. Only these aggregates leave the warehouse. The SQL is
 * shared by DuckDB and BigQuery; only literals and casts come from the dialect.
 */
import { scansPerStatement } from '../warehouse/column-groups';
import type { SqlDialect } from '../warehouse/sql-dialect';

/** A numeric column and its grid: sorted distinct points g₀ < g₁ < … < gₖ₋₁. */
export interface GridColumn {
  /** Names the column's rows in the result. */
  index: number;
  name: string;
  grid: readonly number[];
}

/** A categorical column and the values counted one by one; every other value is counted as "other". */
export interface ValuesColumn {
  index: number;
  name: string;
  values: readonly string[];
}

/**
 * A relation (col, code, __x) of one numeric column: its value as a double `__x`, and the cell code of the value on
 * the grid of k points: cell 0 is (−∞, g₀), cell c is [g_{c−1}, g_c), cell k is [g_{k−1}, ∞). The code is 2c, or
 * 2c + 1 when the value equals the cell's lower point g_{c−1} exactly; −1 for null.
 *
 * The cell is the number of points g with NOT (x < g), found by a binary search over the grid held as an array (its
 * length padded to 2ᵐ − 1 with the last point): one step per level, each a column of its own subquery so it is computed
 * once per row. NaN counts every point (cell k), as the comparison tree ({@link treeCodes}) places it. log₂ k steps
 * a row; a CASE tree of the same comparisons cost DuckDB about 3× the CPU, half of it spent planning its thousands of
 * nodes (docs/benchmarks.md).
 */
function cellCodes(d: SqlDialect, arrays: NonNullable<SqlDialect['arrays']>, from: string, c: GridColumn): string {
  const k = c.grid.length;
  const x = d.toDouble(d.ident(c.name));
  const head = `SELECT ${c.index} AS col, CASE WHEN __x IS NULL THEN -1`;
  if (k === 0) return `${head} ELSE 0 END AS code, __x FROM (SELECT ${x} AS __x FROM ${from}) AS c${c.index}`;
  const levels = searchLevels(k);
  const padded = paddedGrid(c.grid, 2 ** levels - 1);
  const point = (position: string) => arrays.arrayAt('__g', position);
  const values = `(SELECT ${x} AS __x FROM ${from}) AS v${c.index}`;
  let search = `SELECT __x, 0 AS __p, __g FROM ${values}, (SELECT ${arrays.doubleArray(padded)} AS __g) AS grid`;
  for (let step = 2 ** (levels - 1); step >= 1; step /= 2) {
    const right = `CASE WHEN NOT (__x < ${point(`__p + ${step}`)}) THEN ${step} ELSE 0 END`;
    search = `SELECT __x, __p + ${right} AS __p, __g FROM (${search}) AS s${step}`;
  }
  const lower = `CASE WHEN __p > 0 AND __x = ${point('__p')} THEN 1 ELSE 0 END`;
  const code = `${head} ELSE 2 * __p + ${lower} END AS code, __x`;
  return `${code} FROM (SELECT __x, LEAST(__p, ${k}) AS __p, __g FROM (${search}) AS s0) AS c${c.index}`;
}

/** The grid padded to `size` points with its last one (a grid of none with zeros: its cell is always 0). */
function paddedGrid(grid: readonly number[], size: number): number[] {
  return [...grid, ...new Array<number>(size - grid.length).fill(grid.length ? grid[grid.length - 1]! : 0)];
}

/** Steps of the binary search over k points: the grid is padded to 2^levels − 1 points. */
function searchLevels(k: number): number {
  let levels = 0;
  while (2 ** levels - 1 < k) levels++;
  return levels;
}

/**
 * The cell counts of {@link cellCodes} for many columns in one scan of `from` (DuckDB): each row's columns become rows
 * (col, its value), and the binary search runs over one array holding every column's grid, each padded to the same
 * 2^levels − 1 points (with its last point; a column without points holds zeros, and its cell is always 0) at its own
 * offset. For a wide relation, where one scan per column would read the relation's metadata once per column: a
 * drift check of 2,000 columns took 185 s that way.
 */
function oneScanCellCounts(
  d: SqlDialect,
  arrays: NonNullable<SqlDialect['arrays']>,
  from: string,
  columns: readonly GridColumn[],
): string {
  const levels = Math.max(0, ...columns.map((c) => searchLevels(c.grid.length)));
  const size = 2 ** levels - 1;
  const points = columns.flatMap((c) => paddedGrid(c.grid, size));
  const all = arrays.doubleArray(points);
  const cells = columns.map(
    (c, j) => `{'col': ${c.index}, 'o': ${j * size}, 'k': ${c.grid.length}, 'x': ${d.toDouble(d.ident(c.name))}}`,
  );
  const point = (position: string) => arrays.arrayAt('__g', `__o + ${position}`);
  const values = `SELECT cell.col AS __c, cell.o AS __o, cell.k AS __k, cell.x AS __x FROM (SELECT unnest([${cells.join(', ')}]) AS cell FROM ${from}) AS cells`;
  let search = `SELECT __c, __o, __k, __x, 0 AS __p, __g FROM (${values}) AS v, (SELECT ${all} AS __g) AS grid`;
  for (let step = 2 ** (levels - 1); step >= 1; step /= 2) {
    const right = `CASE WHEN NOT (__x < ${point(`__p + ${step}`)}) THEN ${step} ELSE 0 END`;
    search = `SELECT __c, __o, __k, __x, __p + ${right} AS __p, __g FROM (${search}) AS s${step}`;
  }
  const lower = `CASE WHEN __p > 0 AND __x = ${point('__p')} THEN 1 ELSE 0 END`;
  const code = `CASE WHEN __x IS NULL THEN -1 ELSE 2 * __p + ${lower} END`;
  const coded = `SELECT __c AS col, ${code} AS code, __x FROM (SELECT __c, __o, __x, LEAST(__p, __k) AS __p, __g FROM (${search}) AS s0) AS c`;
  return `SELECT col, code, count(*) AS n, sum(__x) AS s FROM (${coded}) AS cells GROUP BY col, code ORDER BY col, code`;
}

/**
 * Columns in consecutive groups whose one-scan statement ({@link oneScanCellCounts}) stays under
 * {@link maxSqlLength}: each padded point is about 30 characters of SQL.
 */
function pointGroups(columns: readonly GridColumn[]): GridColumn[][] {
  const groups: GridColumn[][] = [];
  let levels = 0;
  for (const c of columns) {
    const group = groups[groups.length - 1];
    const wider = Math.max(levels, searchLevels(c.grid.length));
    if (!group || (group.length + 1) * (2 ** wider - 1) * 30 + (group.length + 1) * 120 > maxSqlLength) {
      groups.push([c]);
      levels = searchLevels(c.grid.length);
    } else {
      group.push(c);
      levels = wider;
    }
  }
  return groups;
}

/**
 * The same cell code as {@link cellCodes} from a balanced CASE tree over the grid (log₂ k comparisons a row, each
 * point written once), for a dialect without arrays.
 */
function treeCodes(d: SqlDialect, from: string, c: GridColumn): string {
  const x = '__x';
  const tree = (lo: number, hi: number): string => {
    if (lo === hi)
      return lo === 0
        ? '0'
        : `CASE WHEN ${x} = ${d.doubleLiteral(c.grid[lo - 1]!)} THEN ${2 * lo + 1} ELSE ${2 * lo} END`;
    const mid = Math.floor((lo + hi) / 2);
    return `CASE WHEN ${x} < ${d.doubleLiteral(c.grid[mid]!)} THEN ${tree(lo, mid)} ELSE ${tree(mid + 1, hi)} END`;
  };
  const code = `CASE WHEN ${x} IS NULL THEN -1 ELSE ${tree(0, c.grid.length)} END`;
  return `SELECT ${c.index} AS col, ${code} AS code, ${x} FROM (SELECT ${d.toDouble(d.ident(c.name))} AS ${x} FROM ${from}) AS c${c.index}`;
}

/** The longest SQL text of one counting query; more columns are split over several queries. */
const maxSqlLength = 400_000;

/**
 * Queries returning rows (col, code, n, s): for each numeric column its non-empty cell codes (see {@link cellCodes}),
 * the rows in each and the sum of their values; code −1 counts the column's nulls.
 */
export function cellCountsSql(
  d: SqlDialect,
  from: string,
  columns: readonly GridColumn[],
  width = columns.length,
): string[] {
  const { arrays } = d;
  // A wide relation on DuckDB: one scan per statement, not one per column.
  if (arrays && d.name === 'duckdb' && columns.length > scansPerStatement(width))
    return pointGroups(columns).map((group) => oneScanCellCounts(d, arrays, from, group));
  const branches = columns.map((c) => (arrays ? cellCodes(d, arrays, from, c) : treeCodes(d, from, c)));
  return lengthGroups(branches, (branch) => branch.length, maxBranches(d, width)).map(
    (group) =>
      `SELECT col, code, count(*) AS n, sum(__x) AS s FROM (\n  ${group.join('\n  UNION ALL ')}\n) AS cells GROUP BY col, code ORDER BY col, code`,
  );
}

/**
 * Queries returning rows (col, value, missing, n): for each categorical column the rows of each listed value (as
 * text), of any other value (value NULL, missing false) and of NULL (missing true).
 */
export function valueCountsSql(
  d: SqlDialect,
  from: string,
  columns: readonly ValuesColumn[],
  width = columns.length,
): string[] {
  // A wide relation on DuckDB: one scan per statement, not one per column.
  if (d.name === 'duckdb' && columns.length > scansPerStatement(width))
    return lengthGroups(columns, listedLength).map((group) => oneScanValueCounts(d, from, group));
  const branches = columns.map((c) => {
    const v = '__v';
    const listed = c.values.length ? `${v} IN (${c.values.map((value) => d.literal(value)).join(', ')})` : 'FALSE';
    return `SELECT ${c.index} AS col, CASE WHEN ${listed} THEN ${v} END AS value, ${v} IS NULL AS missing FROM (SELECT ${d.toText(d.ident(c.name))} AS ${v} FROM ${from}) AS v${c.index}`;
  });
  return lengthGroups(branches, (branch) => branch.length, maxBranches(d, width)).map(
    (group) =>
      `SELECT col, value, missing, count(*) AS n FROM (\n  ${group.join('\n  UNION ALL ')}\n) AS valued GROUP BY col, value, missing ORDER BY col, value`,
  );
}

/**
 * The value counts of {@link valueCountsSql} for many columns in one scan of `from` (DuckDB): each row's columns become
 * rows (col, its value as text), and a value is counted by itself where (col, value) is one of the listed pairs.
 */
function oneScanValueCounts(d: SqlDialect, from: string, columns: readonly ValuesColumn[]): string {
  const cells = columns.map((c) => `{'col': ${c.index}, 'v': ${d.toText(d.ident(c.name))}}`);
  const pairs = columns.flatMap((c) => c.values.map((value) => `(${c.index}, ${d.literal(value)})`));
  const listed = pairs.length
    ? `(VALUES ${pairs.join(', ')}) AS listed(__lc, __lv)`
    : '(SELECT NULL::INTEGER AS __lc, NULL::VARCHAR AS __lv WHERE false) AS listed';
  const values = `SELECT cell.col AS __c, cell.v AS __v FROM (SELECT unnest([${cells.join(', ')}]) AS cell FROM ${from}) AS cells`;
  return `SELECT __c AS col, CASE WHEN __lv IS NOT NULL THEN __v END AS value, __v IS NULL AS missing, count(*) AS n FROM (${values}) AS v LEFT JOIN ${listed} ON __lc = __c AND __lv = __v GROUP BY 1, 2, 3 ORDER BY col, value`;
}

/** About the SQL characters a column's listed values take in {@link oneScanValueCounts}. */
function listedLength(c: ValuesColumn): number {
  return 120 + c.values.reduce((n, value) => n + value.length + 16, 0);
}

/**
 * Consecutive groups of at most `max` items whose SQL (`length` of each, estimated or exact) stays under
 * {@link maxSqlLength}; a longer item stands alone.
 */
function lengthGroups<T>(items: readonly T[], length: (item: T) => number, max = Infinity): T[][] {
  const groups: T[][] = [];
  let total = 0;
  for (const item of items) {
    const size = length(item);
    if (!groups.length || total + size > maxSqlLength || groups[groups.length - 1]!.length >= max) {
      groups.push([]);
      total = 0;
    }
    groups[groups.length - 1]!.push(item);
    total += size;
  }
  return groups;
}

/** Branches per statement: on DuckDB bounded by the relation's width (column-groups.ts); BigQuery by length only. */
function maxBranches(d: SqlDialect, width: number): number {
  return d.name === 'duckdb' ? scansPerStatement(width) : Infinity;
}
