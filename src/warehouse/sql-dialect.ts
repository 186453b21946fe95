/**
 * The parts of the profiling and preprocessing SQL that differ between warehouses. Everything else (count, min, max,
 * avg, stddev, corr, least, greatest, coalesce, CASE, GROUP BY, window functions, QUALIFY) is SQL that DuckDB and
 * BigQuery share.
 */
import { scansPerStatement } from './column-groups';
import { duckDbIdent, duckDbLiteral } from './duckdb-text';

export interface SqlDialect {
  readonly name: 'duckdb' | 'bigquery';
  /** Quotes an identifier. */
  ident(name: string): string;
  /** Quotes a string literal. */
  literal(value: string): string;
  /** A double-precision literal read as exactly the JavaScript number. */
  doubleLiteral(value: number): string;
  /** Casts an expression to a double-precision float. */
  toDouble(expr: string): string;
  /**
   * An array literal of doubles, each read as exactly the JavaScript number, and the element of an array expression at
   * a 1-based integer position (NULL outside the array). Optional: drift counting searches the grid as an array where
   * a dialect has them (DuckDB), and uses a CASE tree of the same comparisons elsewhere (BigQuery, where the emulator
   * stalled on the search).
   */
  arrays?: { doubleArray(values: readonly number[]): string; arrayAt(array: string, position: string): string };
  /** Casts an expression to text (category values). */
  toText(expr: string): string;
  /** Every match of an RE2 pattern (a string literal) in a text expression replaced by a literal text. */
  replaceAllMatches(expr: string, pattern: string, replacement: string): string;
  /** An aggregate returning an array of approximate quantiles of a double expression, one per level, in order. */
  approxQuantiles(expr: string, levels: readonly number[]): string;
  /**
   * A query for exact quantiles, interpolated between the two nearest values (DuckDB's `quantile_cont`, BigQuery's
   * `PERCENTILE_CONT`, which give the same numbers), of double expressions over the rows of `fromClause` (`FROM …`,
   * with any `WHERE`). It holds every value, so callers bound the rows (to a sample).
   */
  exactQuantiles(items: QuantileItem[], fromClause: string): QuantileQuery;
  /**
   * A table expression with a row (`col`, `value`) for every row of `from` (a relation of `width` columns) and every
   * item whose `column` is not null: the item's `index` and its `value` expression (all of one type). A UNION ALL of
   * one scan per item; on DuckDB, where the scans of a wide relation would hold more than `columnScansPerStatement`
   * columns' state (column-groups.ts), one scan that turns each row's items into rows (1.7× slower on
   * narrow data, so only then).
   */
  columnValues(from: string, items: readonly ColumnValueItem[], width: number): string;
  /** An aggregate estimating the number of distinct non-null values. */
  approxDistinct(expr: string): string;
  /**
   * The 0-based index of the equal-width bin holding a non-null double expression, for `bins` bins between `min` and
   * `max`; the maximum falls into the last bin.
   */
  binIndex(expr: string, min: number, max: number, bins: number): string;
  /** True for column types profiled as numeric. */
  isNumericType(type: string): boolean;
  /**
   * A key for `PARTITION BY` that is equal exactly when the column's values are (nulls equal): BigQuery cannot
   * partition by a FLOAT64, so it compares such values by their round-trip text.
   */
  partitionKey(column: string, type: string): string;
}

export interface ColumnValueItem {
  index: number;
  /** The column (an identifier, quoted) whose nulls give no row. */
  column: string;
  value: string;
}

export interface QuantileItem {
  /** Names the item's quantiles in {@link QuantileQuery.read}'s result. */
  name: string;
  expr: string;
  levels: readonly number[];
}

export interface QuantileQuery {
  sql: string;
  /** Each item's quantiles from the query's one row, in the order of its levels (null where there is no value). */
  read(row: Record<string, unknown>): Map<string, (number | null)[]>;
}

/** Runs a {@link QuantileQuery} with `query` (a warehouse's) and reads its one row. */
export async function runQuantileQuery(
  query: (sql: string) => Promise<Record<string, unknown>[]>,
  quantiles: QuantileQuery,
): Promise<Map<string, (number | null)[]>> {
  const [row = {}] = await query(quantiles.sql);
  return quantiles.read(row);
}

/**
 * The largest prime below 2²⁶, for {@link withRowDraw}: every product in it stays below 2⁵², exact even where integer
 * arithmetic goes through doubles (goccy/bigquery-emulator's MOD does; BigQuery's would raise on 64-bit overflow).
 * Row numbers are taken modulo it, so rows 67,108,859 apart share their draw: no bias, only a very long period.
 */
const drawModulus = 67_108_859;

/**
 * `relation` (a table expression) with one more column, `name`: a number in [0, 1) drawn from the integer row number
 * `row` and a seed, the same on every warehouse. Integer arithmetic only, so DuckDB and BigQuery assign every row to
 * the same split. The row goes through a seeded affine step and two squarings modulo a prime; the seed only chooses the
 * three constants (with SplitMix64, in JavaScript), so small seeds and small row numbers mix as well as large ones.
 *
 * Each step is a column of its own subquery (`<name>_1`, `<name>_2`, kept in the result), so each is computed once
 * per row: written as one expression, the first step appears five times, and DuckDB computes every repetition when the
 * draw is filtered on (measured: 0.077 s → 0.034 s per million rows).
 */
export function withRowDraw(d: SqlDialect, relation: string, row: string, seed: number, name: string): string {
  const [a, b, c] = drawConstants(seed);
  const m = drawModulus;
  const [x1, x2] = [`${name}_1`, `${name}_2`];
  const step1 = `SELECT *, MOD(MOD(${row}, ${m}) * ${a} + ${b}, ${m}) AS ${x1} FROM ${relation} AS ${name}_in`;
  const step2 = `SELECT *, MOD(${x1} * ${x1} + ${c}, ${m}) AS ${x2} FROM (${step1}) AS ${x1}_out`;
  return `(SELECT *, ${d.toDouble(`MOD(${x2} * ${x2} + ${x1}, ${m})`)} / ${m} AS ${name} FROM (${step2}) AS ${x2}_out)`;
}

/**
 * `relation` (a table expression) cut to a uniform sample of about `size` of its `rows` rows, drawn with
 * {@link withRowDraw} (so the same rows on every run and every warehouse); `relation` itself when there are no more
 * than `size` rows.
 */
export function sampledRows(
  d: SqlDialect,
  relation: string,
  row: string,
  sample: { seed: number; size: number; rows: number },
): string {
  if (sample.rows <= sample.size) return relation;
  const drawn = withRowDraw(d, relation, row, sample.seed, '__sample');
  return `(SELECT * FROM ${drawn} AS sampled WHERE __sample < ${sample.size / sample.rows})`;
}

/** Three constants in [1, modulus − 1] from the seed: SplitMix64 outputs, reduced. */
function drawConstants(seed: number): [number, number, number] {
  const golden = 0x9e3779b97f4a7c15n;
  let state = BigInt.asUintN(64, BigInt(Math.trunc(seed)) + golden);
  const next = () => {
    state = BigInt.asUintN(64, state + golden);
    let z = BigInt.asUintN(64, (state ^ (state >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return Number((z ^ (z >> 31n)) % BigInt(drawModulus - 1)) + 1;
  };
  return [next(), next(), next()];
}

const duckDbNumericTypes =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL.*)$/;

/** DuckDB, the embedded default warehouse. */
export const duckDbDialect: SqlDialect = {
  name: 'duckdb',
  ident: duckDbIdent,
  literal: duckDbLiteral,
  // A plain numeric literal may be read as a DECIMAL first and rounded on its way to DOUBLE; the shortest round-trip
  // string is parsed exactly.
  doubleLiteral: (value) => `'${finite(value)}'::DOUBLE`,
  toDouble: (expr) => `CAST(${expr} AS DOUBLE)`,
  // Without the 'g' option DuckDB replaces the first match only.
  replaceAllMatches: (expr, pattern, replacement) => `regexp_replace(${expr}, ${pattern}, ${replacement}, 'g')`,
  arrays: {
    doubleArray: (values) => `[${values.map((v) => duckDbDialect.doubleLiteral(v)).join(', ')}]::DOUBLE[]`,
    arrayAt: (array, position) => `list_extract(${array}, ${position})`,
  },
  toText: (expr) => `CAST(${expr} AS VARCHAR)`,
  // approx_quantile is a t-digest: parallelizable, unlike the exact quantile (docs/profiling.md has its tolerance).
  approxQuantiles: (expr, levels) => `approx_quantile(${expr}, [${levels.map(String).join(', ')}])`,
  exactQuantiles: (items, fromClause) => ({
    sql: `SELECT ${items.map((q, i) => `quantile_cont(${q.expr}, [${q.levels.map(String).join(', ')}]) AS q${i}`).join(', ')} ${fromClause}`,
    read: (row) =>
      new Map(
        items.map((q, i) => [q.name, ((row[`q${i}`] as unknown[] | null) ?? q.levels.map(() => null)).map(asNumber)]),
      ),
  }),
  columnValues: (from, items, width) => {
    if (items.length <= scansPerStatement(width)) return unionOfScans(from, items);
    const cells = items.map(
      (i) => `{'col': ${i.index}, 'value': CASE WHEN ${i.column} IS NOT NULL THEN ${i.value} END}`,
    );
    return `(SELECT cell.col AS col, cell.value AS value FROM (SELECT unnest([${cells.join(', ')}]) AS cell FROM ${from}) AS cells WHERE cell.value IS NOT NULL)`;
  },
  approxDistinct: (expr) => `approx_count_distinct(${expr})`,
  binIndex: (expr, min, max, bins) =>
    max > min
      ? `least(CAST(floor((${expr} - ${sqlNumber(min)}) * ${bins} / ${sqlNumber(max - min)}) AS INTEGER), ${bins - 1})`
      : '0',
  isNumericType: (type) => duckDbNumericTypes.test(type),
  partitionKey: (column) => column,
};

const bigQueryNumericTypes = /^(INT64|INTEGER|FLOAT64|FLOAT|NUMERIC|BIGNUMERIC|DECIMAL|BIGDECIMAL)(\(.*\))?$/;

/**
 * BigQuery (GoogleSQL). Its `APPROX_QUANTILES(x, n)` returns n + 1 boundaries (minimum, n − 1 quantiles, maximum) and
 * ignores NULLs; each level reads its boundary by offset (the same call text per level; whether BigQuery shares the
 * sketch between them is not verified).
 * goccy/bigquery-emulator (v0.8.1) runs it but returns wrong values (unsorted, NULLs kept; `IGNORE NULLS` crashes
 * it), so emulator tests must not compare approximate quantiles (docs/profiling.md, "BigQuery"); exact ones
 * (`PERCENTILE_CONT`) it computes right.
 */
export const bigQueryDialect: SqlDialect = {
  name: 'bigquery',
  ident: (name) => `\`${name.replace(/[\\`]/g, (c) => `\\${c}`)}\``,
  literal: (value) =>
    `'${value
      .replace(/[\\']/g, (c) => `\\${c}`)
      .replace(/\n/g, '\\n')
      .replace(/\r/g, '\\r')}'`,
  doubleLiteral: (value) => `CAST('${finite(value)}' AS FLOAT64)`,
  toDouble: (expr) => `CAST(${expr} AS FLOAT64)`,
  replaceAllMatches: (expr, pattern, replacement) => `REGEXP_REPLACE(${expr}, ${pattern}, ${replacement})`,
  toText: (expr) => `CAST(${expr} AS STRING)`,
  approxQuantiles: (expr, levels) => {
    const n = quantileDivisions(levels);
    return `[${levels.map((level) => bigQueryQuantileAt(expr, n, level)).join(', ')}]`;
  },
  // PERCENTILE_CONT is analytic only: each value is computed over the one window of all rows (fine for a bounded
  // sample), then taken once. Scalars, not an array: a BigQuery array cannot hold the NULL of a column without values.
  exactQuantiles: (items, fromClause) => {
    const column = (i: number, l: number) => `q${i}_${l}`;
    const windows = items.flatMap((q, i) =>
      q.levels.map((level, l) => `PERCENTILE_CONT(${q.expr}, ${sqlNumber(level)}) OVER () AS ${column(i, l)}`),
    );
    const taken = items.flatMap((q, i) => q.levels.map((_, l) => `ANY_VALUE(${column(i, l)}) AS ${column(i, l)}`));
    return {
      sql: `SELECT ${taken.join(', ')} FROM (SELECT ${windows.join(', ')} ${fromClause}) AS percentiles`,
      read: (row) => new Map(items.map((q, i) => [q.name, q.levels.map((_, l) => asNumber(row[column(i, l)]))])),
    };
  },
  columnValues: (from, items) => unionOfScans(from, items),
  approxDistinct: (expr) => `APPROX_COUNT_DISTINCT(${expr})`,
  binIndex: (expr, min, max, bins) =>
    max > min
      ? `LEAST(CAST(FLOOR((${expr} - ${sqlNumber(min)}) * ${bins} / ${sqlNumber(max - min)}) AS INT64), ${bins - 1})`
      : '0',
  isNumericType: (type) => bigQueryNumericTypes.test(type.toUpperCase()),
  // The type is BigQuery's or the snapshot's (DuckDB's) name for the column's type.
  partitionKey: (column, type) => (/^(FLOAT64|FLOAT|DOUBLE|REAL)$/i.test(type) ? `FORMAT('%.17g', ${column})` : column),
};

function bigQueryQuantileAt(expr: string, divisions: number, level: number): string {
  return `APPROX_QUANTILES(${expr}, ${divisions})[OFFSET(${Math.round(level * divisions)})]`;
}

/** The fewest divisions (100, 1,000 or 10,000) that put every level on a boundary of `APPROX_QUANTILES`. */
function quantileDivisions(levels: readonly number[]): number {
  const n = [100, 1000, 10_000].find((d) => levels.every((l) => Math.abs(l * d - Math.round(l * d)) < 1e-9));
  if (n === undefined) throw new Error(`Quantile levels ${levels.join(', ')} are finer than 1/10000`);
  return n;
}

function asNumber(value: unknown): number | null {
  return typeof value === 'number' ? value : null;
}

function finite(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`Cannot write ${value} as an SQL number`);
  return String(value);
}

/** A finite number as an SQL literal (exponent form keeps full double precision). */
export function sqlNumber(value: number): string {
  finite(value);
  return Number.isInteger(value) && Math.abs(value) < 2 ** 53 ? String(value) : value.toExponential();
}

/** {@link SqlDialect.columnValues} as a UNION ALL of one scan of `from` per item. */
function unionOfScans(from: string, items: readonly ColumnValueItem[]): string {
  const branches = items.map(
    (i) => `SELECT ${i.index} AS col, ${i.value} AS value FROM ${from} WHERE ${i.column} IS NOT NULL`,
  );
  return `(\n  ${branches.join('\n  UNION ALL ')}\n)`;
}
