/**
 * The counting queries of drift: one pass over a relation (the training snapshot for the reference, a window of
 * served rows for the current side) that returns, per numeric column, the rows in each cell of a fixed grid of points
 * and per categorical column the rows of each stored value. Only these aggregates leave the warehouse. The SQL is
 * shared by DuckDB and BigQuery; only literals and casts come from the dialect.
 */
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
 * The cell code of a double expression `x` (a column reference: it is repeated) on a grid of k points: cell 0 is
 * (−∞, g₀), cell c is [g_{c−1}, g_c), cell k is [g_{k−1}, ∞). The code is 2c, or 2c + 1 when x equals the cell's
 * lower point g_{c−1} exactly. A balanced CASE tree: log₂ k comparisons a row, each point written once.
 */
export function cellCode(d: SqlDialect, x: string, grid: readonly number[]): string {
  const tree = (lo: number, hi: number): string => {
    if (lo === hi)
      return lo === 0
        ? '0'
        : `CASE WHEN ${x} = ${d.doubleLiteral(grid[lo - 1]!)} THEN ${2 * lo + 1} ELSE ${2 * lo} END`;
    const mid = Math.floor((lo + hi) / 2);
    return `CASE WHEN ${x} < ${d.doubleLiteral(grid[mid]!)} THEN ${tree(lo, mid)} ELSE ${tree(mid + 1, hi)} END`;
  };
  return tree(0, grid.length);
}

/** The longest SQL text of one counting query; more columns are split over several queries. */
const maxSqlLength = 400_000;

/**
 * Queries returning rows (col, code, n, s): for each numeric column its non-empty cell codes (see {@link cellCode}),
 * the rows in each and the sum of their values; code −1 counts the column's nulls.
 */
export function cellCountsSql(d: SqlDialect, from: string, columns: readonly GridColumn[]): string[] {
  const branches = columns.map((c) => {
    const x = '__x';
    return `SELECT ${c.index} AS col, CASE WHEN ${x} IS NULL THEN -1 ELSE ${cellCode(d, x, c.grid)} END AS code, ${x} FROM (SELECT ${d.toDouble(d.ident(c.name))} AS ${x} FROM ${from}) AS c${c.index}`;
  });
  return chunked(branches).map(
    (group) =>
      `SELECT col, code, count(*) AS n, sum(__x) AS s FROM (\n  ${group.join('\n  UNION ALL ')}\n) AS cells GROUP BY col, code ORDER BY col, code`,
  );
}

/**
 * Queries returning rows (col, value, missing, n): for each categorical column the rows of each listed value (as
 * text), of any other value (value NULL, missing false) and of NULL (missing true).
 */
export function valueCountsSql(d: SqlDialect, from: string, columns: readonly ValuesColumn[]): string[] {
  const branches = columns.map((c) => {
    const v = '__v';
    const listed = c.values.length ? `${v} IN (${c.values.map((value) => d.literal(value)).join(', ')})` : 'FALSE';
    return `SELECT ${c.index} AS col, CASE WHEN ${listed} THEN ${v} END AS value, ${v} IS NULL AS missing FROM (SELECT ${d.toText(d.ident(c.name))} AS ${v} FROM ${from}) AS v${c.index}`;
  });
  return chunked(branches).map(
    (group) =>
      `SELECT col, value, missing, count(*) AS n FROM (\n  ${group.join('\n  UNION ALL ')}\n) AS valued GROUP BY col, value, missing ORDER BY col, value`,
  );
}

/** Consecutive groups of branches, each under {@link maxSqlLength} characters (a longer branch stands alone). */
function chunked(branches: string[]): string[][] {
  const groups: string[][] = [];
  let length = 0;
  for (const branch of branches) {
    if (!groups.length || length + branch.length > maxSqlLength) {
      groups.push([]);
      length = 0;
    }
    groups[groups.length - 1]!.push(branch);
    length += branch.length;
  }
  return groups;
}
