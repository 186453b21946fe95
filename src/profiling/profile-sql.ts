/**
 * The profiling queries, generated for a dialect. Each returns aggregates only (one row, or a few rows per column),
 * never the data's rows. Result columns are named by position (`c3_mean`), so any column name is safe in them.
 */
import type { QuantileQuery, SqlDialect } from '../warehouse/sql-dialect';
import { sampledRows } from '../warehouse/sql-dialect';

/**
 * Most numeric columns per query of each per-column kind (statistics, exact distinct counts, sampled quantiles,
 * histograms, top values, spelling variants). DuckDB allocates a vector of 2,048 values (16 KiB) per aggregate argument
 * whatever the row count, and an exact quantile holds its column's sample (up to 100,000 values); BigQuery refuses a
 * query over 1 MB of SQL or 10,000 result columns. 100 columns keep a query to about 700 aggregates.
 */
export const columnsPerQuery = 100;

/**
 * Most column pairs per correlation query: 1,000 `corr()` hold about 32 MB in DuckDB (one query of 9,950 ran out of
 * 512 MB; 4,950 ran in 133 ms on 300 rows) and stay under BigQuery's 1 MB of SQL with 300-character column names.
 */
export const pairsPerQuery = 1_000;

/**
 * The items in contiguous, nearly equal, non-empty slices: `parts` of them (to run at once), or more so that none holds
 * over `max`.
 */
export function slices<T>(items: T[], parts: number, max: number): T[][] {
  const count = Math.max(parts, Math.ceil(items.length / max));
  const size = Math.ceil(items.length / count);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export interface ProfiledColumn {
  /** Position in the dataset; names result columns and rows. */
  index: number;
  name: string;
  type: string;
  numeric: boolean;
}

/**
 * One row: count, nulls and distinct for every column; min, max, mean, std (sample and population) and (with `levels`)
 * approximate quantiles for numeric ones.
 */
export function columnStatsSql(d: SqlDialect, from: string, columns: ProfiledColumn[], levels: number[]): string {
  const items = ['count(*) AS row_count'];
  for (const c of columns) {
    const col = d.ident(c.name);
    const x = d.toDouble(col);
    const p = `c${c.index}_`;
    items.push(`count(${col}) AS ${p}count`);
    if (!c.numeric) continue;
    items.push(
      `${d.approxDistinct(col)} AS ${p}distinct`,
      `${d.toDouble(`min(${col})`)} AS ${p}min`,
      `${d.toDouble(`max(${col})`)} AS ${p}max`,
      `avg(${x}) AS ${p}mean`,
      `stddev_samp(${x}) AS ${p}std`,
      // The drift reference's spread (src/drift/reference.ts), counted here so the reference scans nothing again.
      `stddev_pop(${x}) AS ${p}std_pop`,
    );
    if (levels.length) items.push(`${d.approxQuantiles(x, levels)} AS ${p}quantiles`);
  }
  return `SELECT ${items.join(',\n  ')}\nFROM ${from}`;
}

/**
 * The exact quantiles of each numeric column (named `c3_quantiles`) over a uniform sample of at most `size` of the
 * `rows` rows of `from` (see {@link sampledRows}), the same on every run and on every warehouse.
 */
export function sampledQuantilesQuery(
  d: SqlDialect,
  sample: { from: string; rowNumber: string; size: number; rows: number },
  columns: ProfiledColumn[],
  levels: number[],
): QuantileQuery {
  const items = columns.map((c) => ({ name: `c${c.index}_quantiles`, expr: d.toDouble(d.ident(c.name)), levels }));
  const rows = sampledRows(d, sample.from, d.ident(sample.rowNumber), { ...sample, seed: sampleSeed });
  return d.exactQuantiles(items, `FROM ${rows} AS sample`);
}

/** Seeds the quantile sample's draw. */
const sampleSeed = 0x71756e74;

/** One row: the exact number of distinct non-null values of each column (`c3_distinct`). */
export function distinctSql(d: SqlDialect, from: string, columns: ProfiledColumn[]): string {
  const items = columns.map((c) => `count(DISTINCT ${d.ident(c.name)}) AS c${c.index}_distinct`);
  return `SELECT ${items.join(',\n  ')}\nFROM ${from}`;
}

/** One row: `r_<i>_<j>` is the Pearson correlation of each pair of numeric columns i < j. */
export function correlationSql(d: SqlDialect, from: string, pairs: [ProfiledColumn, ProfiledColumn][]): string {
  const items = pairs.map(
    ([a, b]) => `corr(${d.toDouble(d.ident(a.name))}, ${d.toDouble(d.ident(b.name))}) AS r_${a.index}_${b.index}`,
  );
  return `SELECT ${items.join(',\n  ')}\nFROM ${from}`;
}

/**
 * Rows (class, and per column `c3_n`, `c3_mean`, `c3_var`): each numeric column's non-null count, mean and population
 * variance within each non-null value of `target`, ordered by it; enough for the correlation ratio of the column with
 * a categorical target. The caller bounds the classes.
 */
export function classMomentsSql(
  d: SqlDialect,
  from: string,
  target: ProfiledColumn,
  columns: ProfiledColumn[],
): string {
  const t = d.ident(target.name);
  const items = columns.flatMap((c) => {
    const x = d.toDouble(d.ident(c.name));
    const p = `c${c.index}_`;
    return [`count(${x}) AS ${p}n`, `avg(${x}) AS ${p}mean`, `var_pop(${x}) AS ${p}var`];
  });
  return `SELECT ${d.toText(t)} AS class,\n  ${items.join(',\n  ')}\nFROM ${from} WHERE ${t} IS NOT NULL GROUP BY 1 ORDER BY 1`;
}

/** Every pair of the columns, each once, in column order. */
export function columnPairs(columns: ProfiledColumn[]): [ProfiledColumn, ProfiledColumn][] {
  return columns.flatMap((a, k) => columns.slice(k + 1).map((b): [ProfiledColumn, ProfiledColumn] => [a, b]));
}

export interface BinnedColumn extends ProfiledColumn {
  min: number;
  max: number;
  bins: number;
}

/**
 * Rows (col, bin, n): the non-empty bins of every numeric column, each column read once. `width`: the columns of
 * `from` (for {@link SqlDialect.columnValues}), as in the other per-column counts below.
 */
export function histogramSql(d: SqlDialect, from: string, columns: BinnedColumn[], width: number): string {
  const values = d.columnValues(
    from,
    columns.map((c) => {
      const col = d.ident(c.name);
      return { index: c.index, column: col, value: d.binIndex(d.toDouble(col), c.min, c.max, c.bins) };
    }),
    width,
  );
  return `SELECT col, value AS bin, count(*) AS n FROM ${values} AS binned GROUP BY col, value ORDER BY col, value`;
}

export interface CountedColumn extends ProfiledColumn {
  /** Most frequent values to return. */
  limit: number;
}

/**
 * Rows (col, value, n, distinct_values): the `limit` most frequent non-null values of each column (ties by value),
 * with the column's exact number of distinct values.
 */
export function topValuesSql(d: SqlDialect, from: string, columns: CountedColumn[], width: number): string {
  const values = d.columnValues(from, textValues(d, columns), width);
  const limit = `CASE col ${columns.map((c) => `WHEN ${c.index} THEN ${c.limit}`).join(' ')} END`;
  return `SELECT col, value, n, distinct_values FROM (
  SELECT col, value, n,
    row_number() OVER (PARTITION BY col ORDER BY n DESC, value) AS position,
    count(*) OVER (PARTITION BY col) AS distinct_values
  FROM (SELECT col, value, count(*) AS n FROM ${values} AS valued GROUP BY col, value) counted
) ranked WHERE position <= ${limit} ORDER BY col, position`;
}

/**
 * Rows (col, normalized, value, n, group_rows, spellings, group_position, group_count, variant_rows): the spellings
 * of each text column's values that normalize alike (lower case, every run of whitespace as one space, none at either
 * end) while differing as written. Per column, the `groups` largest such groups (most rows first, ties by normalized
 * value) and in each the `spellings` most frequent spellings (ties by value) come back, with each group's spelling
 * count and rows, and the column's group count and rows in any group. Null is no spelling. Each distinct value is
 * normalized once, after counting, so the cost is the count's (the top values') plus one regexp per distinct value.
 */
export function spellingVariantsSql(
  d: SqlDialect,
  from: string,
  columns: ProfiledColumn[],
  limits: { groups: number; spellings: number },
  width: number,
): string {
  const values = d.columnValues(from, textValues(d, columns), width);
  return `SELECT col, normalized, value, n, group_rows, spellings, group_position, group_count, variant_rows FROM (
  SELECT col, normalized, value, n, group_rows, spellings, spelling_position,
    dense_rank() OVER (PARTITION BY col ORDER BY group_rows DESC, normalized) AS group_position,
    sum(CASE WHEN spelling_position = 1 THEN 1 ELSE 0 END) OVER (PARTITION BY col) AS group_count,
    sum(n) OVER (PARTITION BY col) AS variant_rows
  FROM (
    SELECT col, normalized, value, n,
      count(*) OVER (PARTITION BY col, normalized) AS spellings,
      sum(n) OVER (PARTITION BY col, normalized) AS group_rows,
      row_number() OVER (PARTITION BY col, normalized ORDER BY n DESC, value) AS spelling_position
    FROM (
      SELECT col, value, n, lower(trim(${collapseWhitespace(d, 'value')})) AS normalized FROM (
        SELECT col, value, count(*) AS n FROM ${values} AS valued GROUP BY col, value
      ) counted
    ) spelled
  ) grouped WHERE spellings > 1
) ranked WHERE group_position <= ${limits.groups} AND spelling_position <= ${limits.spellings}
ORDER BY col, group_position, spelling_position`;
}

/** Every run of whitespace (ASCII, and Unicode spaces such as the no-break space) as one space (RE2 in both warehouses). */
function collapseWhitespace(d: SqlDialect, expr: string): string {
  return d.replaceAllMatches(expr, d.literal('[\\s\\v\\pZ]+'), d.literal(' '));
}

/** Each column's values as text, for {@link SqlDialect.columnValues}. */
function textValues(d: SqlDialect, columns: ProfiledColumn[]) {
  return columns.map((c) => {
    const col = d.ident(c.name);
    return { index: c.index, column: col, value: d.toText(col) };
  });
}
