/**
 * The stored drift reference of a column: what a later window is compared with, computed once from the training
 * snapshot (or from the model's predictions on the validation split) and kept in profile.json. A numeric column keeps
 * a grid of points with exact counts per grid cell (and their value sums), from which every numeric statistic is
 * computed; a categorical column keeps its most frequent values with exact counts. docs/monitoring.md describes it.
 */
import type { QuantileQuery, SqlDialect } from '../warehouse/sql-dialect';
import { sampledRows } from '../warehouse/sql-dialect';
import type { GridColumn } from './drift-sql';
import { cellCountsSql } from './drift-sql';
import { at } from './statistics';
import { setOwn } from '../contracts/own-property';

export interface DriftReferenceSettings {
  /**
   * Grid size k: a column with at most k distinct values keeps every value as a grid point (the grid is exact); any
   * other column keeps its quantiles at levels 1/k … (k−1)/k (distinct ones).
   */
  gridPoints: number;
  /** Binned statistics (PSI, JS, L∞) use the reference's quantiles at levels 1/b … (b−1)/b as bin edges. */
  binQuantiles: number;
  /** Most frequent values kept per categorical column; the rest form the "other" bucket. */
  categories: number;
}

export const defaultDriftReferenceSettings: Readonly<DriftReferenceSettings> = Object.freeze({
  gridPoints: 200,
  binQuantiles: 10,
  categories: 50,
});

/** Exact counts of a numeric column over the cells of a grid (see {@link NumericReference.grid}). */
export interface CellCounts {
  /** Non-null rows in each of the k + 1 cells: (−∞, g₀), [g₀, g₁), …, [gₖ₋₁, ∞). */
  cells: number[];
  /** Rows equal to each cell's lower point (0 for cell 0). */
  atLower: number[];
  /** Sum of the values in each cell. */
  sums: number[];
  nulls: number;
}

export interface NumericReference extends CellCounts {
  kind: 'numeric';
  /** Non-null rows. */
  count: number;
  /** Distinct non-null values (estimated above `gridPoints` · 1.5). */
  distinct: number;
  mean: number | null;
  /** Population standard deviation (divides by n), as Evidently's normed Wasserstein uses. */
  std: number | null;
  /** Sorted distinct points. */
  grid: number[];
  /** True when the grid holds every distinct value of the column (statistics on the grid are then exact). */
  gridExact: boolean;
  /** Interior bin edges of the binned statistics (a subset of the grid): the grid when exact, else the b-quantiles. */
  binEdges: number[];
  /** Rows per bin: (−∞, e₀), [e₀, e₁), …, [eₘ₋₁, ∞). */
  binCounts: number[];
}

export interface CategoricalReference {
  kind: 'categorical';
  count: number;
  nulls: number;
  /** Exact number of distinct non-null values. */
  distinct: number;
  /** The most frequent values (by count, then value), as text. */
  values: { value: string; count: number }[];
  /** Non-null rows with any other value. */
  otherCount: number;
}

export type ColumnReference = NumericReference | CategoricalReference;

export interface ReferenceColumn {
  name: string;
  numeric: boolean;
}

export interface ComputeReferenceInput {
  /** A table expression of the dialect. */
  from: string;
  columns: ReferenceColumn[];
  settings?: DriftReferenceSettings;
  /**
   * The same rows with an integer row number column and a sample size: the grid quantiles are then exact over a
   * uniform sample of that many rows (the same rows on every run and warehouse); without it they are approximate.
   */
  sample?: { from: string; rowNumber: string; size: number };
  /**
   * The same rows' statistics and top values, already counted (the profile's queries, see
   * `src/profiling/profile-sql.ts`), so they are not scanned again: `stats` holds `row_count` and, by the column's
   * position in `columns`, `c<i>_count`, and for a numeric column `c<i>_mean`, `c<i>_std_pop` (population standard
   * deviation) and `c<i>_distinct` (the dialect's approximate distinct count); `tops` holds rows
   * `(col, value, n, distinct_values)`, each categorical column's most frequent values first (ties by value), at least
   * `settings.categories` of them where it has that many.
   */
  counted?: { stats: Record<string, unknown>; tops: Record<string, unknown>[] };
}

export type Query = (sql: string) => Promise<Record<string, unknown>[]>;

/** The drift reference of each column, keyed by column name. Aggregate queries only. */
export async function computeDriftReference(
  query: Query,
  d: SqlDialect,
  input: ComputeReferenceInput,
): Promise<Record<string, ColumnReference>> {
  const settings = input.settings ?? defaultDriftReferenceSettings;
  const columns = input.columns.map((c, index) => ({ ...c, index }));
  const [stats = {}] = input.counted ? [input.counted.stats] : await query(statsSql(d, input.from, columns));
  const numeric = columns.filter((c) => c.numeric && num(stats[`c${c.index}_count`]) > 0);
  const grids = await numericGrids(query, d, input, settings, numeric, stats);
  const cells = await countCells(query, d, input.from, grids, columns.length);
  const categorical = columns.filter((c) => !c.numeric);
  const tops = input.counted
    ? input.counted.tops
    : categorical.length
      ? await query(topValuesSql(d, input.from, categorical, settings.categories, columns.length))
      : [];
  const result: Record<string, ColumnReference> = {};
  for (const c of columns) {
    const count = num(stats[`c${c.index}_count`]);
    const nulls = num(stats.row_count) - count;
    const grid = grids.find((g) => g.index === c.index);
    if (c.numeric) setOwn(result, c.name, numericReference(c.index, stats, count, nulls, grid, cells));
    else
      setOwn(
        result,
        c.name,
        categoricalReference(tops.filter((r) => num(r.col) === c.index).slice(0, settings.categories), count, nulls),
      );
  }
  return result;
}

function statsSql(d: SqlDialect, from: string, columns: (ReferenceColumn & { index: number })[]): string {
  const items = ['count(*) AS row_count'];
  for (const c of columns) {
    const col = d.ident(c.name);
    items.push(`count(${col}) AS c${c.index}_count`);
    if (!c.numeric) continue;
    const x = d.toDouble(col);
    items.push(`avg(${x}) AS c${c.index}_mean`, `stddev_pop(${x}) AS c${c.index}_std_pop`);
    items.push(`${d.approxDistinct(col)} AS c${c.index}_distinct`);
  }
  return `SELECT ${items.join(', ')} FROM ${from}`;
}

interface Grid extends GridColumn {
  exact: boolean;
  binEdges: number[];
  distinct: number;
}

/** Few distinct values: all of them (exact); else the quantile grid. */
async function numericGrids(
  query: Query,
  d: SqlDialect,
  input: ComputeReferenceInput,
  settings: DriftReferenceSettings,
  columns: (ReferenceColumn & { index: number })[],
  stats: Record<string, unknown>,
): Promise<Grid[]> {
  const few = columns.filter((c) => num(stats[`c${c.index}_distinct`]) <= settings.gridPoints * 1.5);
  const width = input.columns.length;
  const distinctRows = few.length ? await query(distinctValuesSql(d, input.from, few, width)) : [];
  const values = new Map<number, number[]>();
  for (const r of distinctRows) values.set(num(r.col), [...(values.get(num(r.col)) ?? []), num(r.x)]);
  const exact = columns.filter((c) => (values.get(c.index)?.length ?? Infinity) <= settings.gridPoints);
  const rest = columns.filter((c) => !exact.includes(c));
  const levels = Array.from({ length: settings.gridPoints - 1 }, (_, i) => (i + 1) / settings.gridPoints);
  const rows = num(stats.row_count);
  const quantiles = rest.length
    ? await gridQuantiles(query, d, input, rest, levels, rows)
    : new Map<number, number[]>();
  const binStep = settings.gridPoints / settings.binQuantiles;
  return columns.map((c) => {
    const isExact = exact.includes(c);
    const points = isExact ? values.get(c.index)! : distinctSorted(quantiles.get(c.index) ?? []);
    const all = quantiles.get(c.index) ?? [];
    const binEdges = isExact
      ? points
      : distinctSorted(all.filter((_, i) => Number.isInteger((i + 1) / binStep) && (i + 1) / binStep > 0));
    const distinct = isExact ? points.length : num(stats[`c${c.index}_distinct`]);
    return { index: c.index, name: c.name, grid: points, exact: isExact, binEdges, distinct };
  });
}

function distinctValuesSql(
  d: SqlDialect,
  from: string,
  columns: (ReferenceColumn & { index: number })[],
  width: number,
): string {
  const values = d.columnValues(
    from,
    columns.map((c) => ({ index: c.index, column: d.ident(c.name), value: d.toDouble(d.ident(c.name)) })),
    width,
  );
  return `SELECT DISTINCT col, value AS x FROM ${values} AS distinct_values ORDER BY col, x`;
}

async function gridQuantiles(
  query: Query,
  d: SqlDialect,
  input: ComputeReferenceInput,
  columns: (ReferenceColumn & { index: number })[],
  levels: number[],
  /** Rows of `input.from` (the statistics' count), which `input.sample.from` numbers. */
  rows: number,
): Promise<Map<number, number[]>> {
  const result = new Map<number, number[]>();
  if (!input.sample) {
    const items = columns.map((c) => `${d.approxQuantiles(d.toDouble(d.ident(c.name)), levels)} AS q${c.index}`);
    const [row = {}] = await query(`SELECT ${items.join(', ')} FROM ${input.from}`);
    for (const c of columns) result.set(c.index, numbers(row[`q${c.index}`]));
    return result;
  }
  const sampled = sampledRows(d, input.sample.from, d.ident(input.sample.rowNumber), {
    seed: gridSeed,
    size: input.sample.size,
    rows,
  });
  const items = columns.map((c) => ({ name: String(c.index), expr: d.toDouble(d.ident(c.name)), levels }));
  // Each exact quantile holds its column's sample: a bounded number of columns per query bounds the memory (and the
  // SQL, 199 levels a column) for a table of any width.
  const groups = Array.from({ length: Math.ceil(items.length / quantileColumnsPerQuery) }, (_, i) =>
    items.slice(i * quantileColumnsPerQuery, (i + 1) * quantileColumnsPerQuery),
  );
  const queries = groups.map((group): QuantileQuery => d.exactQuantiles(group, `FROM ${sampled} AS sample`));
  const answers = await Promise.all(queries.map((q) => query(q.sql)));
  queries.forEach((q, i) => {
    for (const [name, values] of q.read(answers[i]![0] ?? {})) result.set(Number(name), values.filter(isFiniteNumber));
  });
  return result;
}

/**
 * Columns per grid quantile query: 25 samples of up to 100,000 values in DuckDB; on BigQuery 25 × 199 windows, under
 * its 10,000 result columns and 1 MB of SQL.
 */
const quantileColumnsPerQuery = 25;

/** Seeds the grid sample's draw (the profile's quantile sample uses its own). */
const gridSeed = 0x64726966;

async function countCells(
  query: Query,
  d: SqlDialect,
  from: string,
  grids: Grid[],
  width: number,
): Promise<Record<string, unknown>[]> {
  const rows = await Promise.all(cellCountsSql(d, from, grids, width).map((sql) => query(sql)));
  return rows.flat();
}

/** Reads the rows of {@link cellCountsSql} for one column into cell counts on a grid of `points` points. */
export function readCellCounts(rows: Record<string, unknown>[], index: number, points: number): CellCounts {
  const counts: CellCounts = {
    cells: new Array<number>(points + 1).fill(0),
    atLower: new Array<number>(points + 1).fill(0),
    sums: new Array<number>(points + 1).fill(0),
    nulls: 0,
  };
  for (const r of rows) {
    if (num(r.col) !== index) continue;
    const code = num(r.code);
    const n = num(r.n);
    if (code < 0) {
      counts.nulls += n;
      continue;
    }
    const cell = Math.floor(code / 2);
    counts.cells[cell] = at(counts.cells, cell) + n;
    if (code % 2 === 1) counts.atLower[cell] = at(counts.atLower, cell) + n;
    counts.sums[cell] = at(counts.sums, cell) + num(r.s);
  }
  return counts;
}

function numericReference(
  index: number,
  stats: Record<string, unknown>,
  count: number,
  nulls: number,
  grid: Grid | undefined,
  cellRows: Record<string, unknown>[],
): NumericReference {
  const points = [...(grid?.grid ?? [])];
  const counts = readCellCounts(cellRows, index, points.length);
  const binEdges = grid?.binEdges ?? [];
  return {
    kind: 'numeric',
    count,
    distinct: grid?.distinct ?? 0,
    mean: nullable(stats[`c${index}_mean`]),
    std: nullable(stats[`c${index}_std_pop`]),
    grid: points,
    gridExact: grid?.exact ?? true,
    binEdges,
    binCounts: binCountsOf(counts.cells, points, binEdges),
    ...counts,
    nulls,
  };
}

/** Sums grid cells into the bins of `binEdges` (a subset of the grid points). */
export function binCountsOf(cells: readonly number[], grid: readonly number[], binEdges: readonly number[]): number[] {
  const bins = new Array<number>(binEdges.length + 1).fill(0);
  let bin = 0;
  cells.forEach((n, cell) => {
    const lower = cell === 0 ? -Infinity : at(grid, cell - 1);
    while (bin < binEdges.length && at(binEdges, bin) <= lower) bin++;
    bins[bin] = at(bins, bin) + n;
  });
  return bins;
}

function topValuesSql(
  d: SqlDialect,
  from: string,
  columns: (ReferenceColumn & { index: number })[],
  limit: number,
  width: number,
) {
  const values = d.columnValues(
    from,
    columns.map((c) => ({ index: c.index, column: d.ident(c.name), value: d.toText(d.ident(c.name)) })),
    width,
  );
  return `SELECT col, value, n, distinct_values FROM (
  SELECT col, value, n,
    row_number() OVER (PARTITION BY col ORDER BY n DESC, value) AS position,
    count(*) OVER (PARTITION BY col) AS distinct_values
  FROM (SELECT col, value, count(*) AS n FROM ${values} AS valued GROUP BY col, value) AS counted
) AS ranked WHERE position <= ${limit} ORDER BY col, position`;
}

function categoricalReference(rows: Record<string, unknown>[], count: number, nulls: number): CategoricalReference {
  const values = rows.map((r) => ({ value: String(r.value), count: num(r.n) }));
  const kept = values.reduce((total, v) => total + v.count, 0);
  return {
    kind: 'categorical',
    count,
    nulls,
    distinct: num(rows[0]?.distinct_values),
    values,
    otherCount: count - kept,
  };
}

function distinctSorted(values: number[]): number[] {
  return [...new Set(values.filter(isFiniteNumber))].sort((a, b) => a - b);
}

function numbers(value: unknown): number[] {
  return Array.isArray(value)
    ? (value as unknown[]).map((v) => (typeof v === 'bigint' ? Number(v) : v)).filter(isFiniteNumber)
    : [];
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** A count or sum from a result row as a number (0 for NULL). */
export function num(value: unknown): number {
  const n = typeof value === 'bigint' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}

function nullable(value: unknown): number | null {
  const n = typeof value === 'bigint' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
}
