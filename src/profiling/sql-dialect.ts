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

/** A finite number as an SQL literal (exponent form keeps full double precision). */
export function sqlNumber(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`Cannot write ${value} as an SQL number`);
  return Number.isInteger(value) && Math.abs(value) < 2 ** 53 ? String(value) : value.toExponential();
}
