/**
 * The parts of the profiling SQL that differ between warehouses. Everything else in `profile-sql.ts` is plain SQL
 * (count, min, max, avg, stddev_samp, corr, GROUP BY, window functions) that DuckDB and BigQuery share.
 */
export interface SqlDialect {
  readonly name: string;
  /** Quotes an identifier. */
  ident(name: string): string;
  /** Casts an expression to a double-precision float. */
  toDouble(expr: string): string;
  /** Casts an expression to text (category values). */
  toText(expr: string): string;
  /** An aggregate returning an array of approximate quantiles of a double expression, one per level, in order. */
  approxQuantiles(expr: string, levels: readonly number[]): string;
  /** An aggregate estimating the number of distinct non-null values. */
  approxDistinct(expr: string): string;
  /**
   * The 0-based index of the equal-width bin holding a non-null double expression, for `bins` bins between `min` and
   * `max`; the maximum falls into the last bin.
   */
  binIndex(expr: string, min: number, max: number, bins: number): string;
  /** True for column types profiled as numeric. */
  isNumericType(type: string): boolean;
}

const duckDbNumericTypes =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL.*)$/;

/** DuckDB, the embedded default warehouse. */
export const duckDbDialect: SqlDialect = {
  name: 'duckdb',
  ident: (name) => `"${name.replace(/"/g, '""')}"`,
  toDouble: (expr) => `CAST(${expr} AS DOUBLE)`,
  toText: (expr) => `CAST(${expr} AS VARCHAR)`,
  // approx_quantile is a t-digest: parallelizable, unlike the exact quantile (docs/profiling.md has its tolerance).
  approxQuantiles: (expr, levels) => `approx_quantile(${expr}, [${levels.map(String).join(', ')}])`,
  approxDistinct: (expr) => `approx_count_distinct(${expr})`,
  binIndex: (expr, min, max, bins) =>
    max > min
      ? `least(CAST(floor((${expr} - ${sqlNumber(min)}) * ${bins} / ${sqlNumber(max - min)}) AS INTEGER), ${bins - 1})`
      : '0',
  isNumericType: (type) => duckDbNumericTypes.test(type),
};

const bigQueryNumericTypes = /^(INT64|INTEGER|FLOAT64|FLOAT|NUMERIC|BIGNUMERIC|DECIMAL|BIGDECIMAL)(\(.*\))?$/;

/**
 * BigQuery (GoogleSQL). Its `APPROX_QUANTILES(x, n)` returns n + 1 boundaries (minimum, n − 1 quantiles, maximum) and
 * ignores NULLs; each level reads its boundary by offset (the same call text per level; whether BigQuery shares the
 * sketch between them is not verified).
 * goccy/bigquery-emulator (v0.8.1) runs it but returns wrong values (unsorted, NULLs kept; `IGNORE NULLS` crashes
 * it), so emulator tests must not compare quantiles (docs/profiling.md, "BigQuery").
 */
export const bigQueryDialect: SqlDialect = {
  name: 'bigquery',
  ident: (name) => `\`${name.replace(/[\\`]/g, (c) => `\\${c}`)}\``,
  toDouble: (expr) => `CAST(${expr} AS FLOAT64)`,
  toText: (expr) => `CAST(${expr} AS STRING)`,
  approxQuantiles: (expr, levels) => {
    const n = quantileDivisions(levels);
    const at = (level: number) => `APPROX_QUANTILES(${expr}, ${n})[OFFSET(${Math.round(level * n)})]`;
    return `[${levels.map(at).join(', ')}]`;
  },
  approxDistinct: (expr) => `APPROX_COUNT_DISTINCT(${expr})`,
  binIndex: (expr, min, max, bins) =>
    max > min
      ? `LEAST(CAST(FLOOR((${expr} - ${sqlNumber(min)}) * ${bins} / ${sqlNumber(max - min)}) AS INT64), ${bins - 1})`
      : '0',
  isNumericType: (type) => bigQueryNumericTypes.test(type.toUpperCase()),
};

/** The fewest divisions (100, 1,000 or 10,000) that put every level on a boundary of `APPROX_QUANTILES`. */
function quantileDivisions(levels: readonly number[]): number {
  const n = [100, 1000, 10_000].find((d) => levels.every((l) => Math.abs(l * d - Math.round(l * d)) < 1e-9));
  if (n === undefined) throw new Error(`Quantile levels ${levels.join(', ')} are finer than 1/10000`);
  return n;
}

/** A finite number as an SQL literal (exponent form keeps full double precision). */
export function sqlNumber(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`Cannot write ${value} as an SQL number`);
  return Number.isInteger(value) && Math.abs(value) < 2 ** 53 ? String(value) : value.toExponential();
}
