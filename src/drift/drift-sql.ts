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
  let levels = 0;
  while (2 ** levels - 1 < k) levels++;
  const padded = [...c.grid, ...new Array<number>(2 ** levels - 1 - k).fill(c.grid[k - 1]!)];
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
  const branches = columns.map((c) => (arrays ? cellCodes(d, arrays, from, c) : treeCodes(d, from, c)));
  return chunked(branches, maxBranches(d, width)).map(
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
  const branches = columns.map((c) => {
    const v = '__v';
    const listed = c.values.length ? `${v} IN (${c.values.map((value) => d.literal(value)).join(', ')})` : 'FALSE';
    return `SELECT ${c.index} AS col, CASE WHEN ${listed} THEN ${v} END AS value, ${v} IS NULL AS missing FROM (SELECT ${d.toText(d.ident(c.name))} AS ${v} FROM ${from}) AS v${c.index}`;
  });
  return chunked(branches, maxBranches(d, width)).map(
    (group) =>
      `SELECT col, value, missing, count(*) AS n FROM (\n  ${group.join('\n  UNION ALL ')}\n) AS valued GROUP BY col, value, missing ORDER BY col, value`,
  );
}

/** Branches per statement: on DuckDB bounded by the relation's width (column-groups.ts); BigQuery by length only. */
function maxBranches(d: SqlDialect, width: number): number {
  return d.name === 'duckdb' ? scansPerStatement(width) : Infinity;
}

/**
 * Consecutive groups of at most `max` branches, each under {@link maxSqlLength} characters (a longer branch stands
 * alone).
 */
function chunked(branches: string[], max: number): string[][] {
  const groups: string[][] = [];
  let length = 0;
  for (const branch of branches) {
    if (!groups.length || length + branch.length > maxSqlLength || groups[groups.length - 1]!.length >= max) {
      groups.push([]);
      length = 0;
    }
    groups[groups.length - 1]!.push(branch);
    length += branch.length;
  }
  return groups;
}
