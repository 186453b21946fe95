/**
 * Synthetic traffic for measuring drift detection: DuckDB relations whose rows are drawn in SQL from the row number
 * (hash-based uniforms, Box–Muller normals), so any window is reproducible and costs only its own rows. Six columns of
 * the kinds the presets tell apart: a normal and a log-normal float, an integer with ten values, a 0/1 integer, a
 * six-value category and a two-value category.
 */
import type { DriftReport } from '../../src/drift/compute-drift';
import { countWindow, evaluateDrift } from '../../src/drift/compute-drift';
import type { PresetName } from '../../src/drift/presets';
import type { ColumnReference } from '../../src/drift/reference';
import { computeDriftReference } from '../../src/drift/reference';
import type { DuckDb } from '../../src/warehouse/duckdb';
import { duckDbDialect } from '../../src/warehouse/sql-dialect';

export const syntheticColumns = [
  { name: 'amount', numeric: true },
  { name: 'latency', numeric: true },
  { name: 'visits', numeric: true },
  { name: 'is_member', numeric: true },
  { name: 'plan', numeric: false },
  { name: 'channel', numeric: false },
];

/** The normal column's interquartile range (σ = 2): 2 · 1.34898. */
export const amountIqr = 2 * 1.3489795;

/** A uniform in (0, 1) from row i and stream s. */
const uniform = (s: number) => `((hash(i * 8 + ${s}) >> 11)::DOUBLE + 0.5) / 9007199254740992.0`;

/** Rows [first, first + count) of the traffic; `shift` is added to `amount` (a mean shift). */
export function syntheticRows(first: number, count: number, shift = 0): string {
  const normal = (a: number, b: number) => `sqrt(-2 * ln(${uniform(a)})) * cos(2 * pi() * ${uniform(b)})`;
  return `(SELECT
    ${10 + shift} + 2 * ${normal(0, 1)} AS amount,
    exp(0.5 * ${normal(2, 3)}) AS latency,
    CAST(floor(${uniform(4)} * 10) AS BIGINT) AS visits,
    CAST(${uniform(5)} < 0.3 AS INTEGER) AS is_member,
    CASE WHEN ${uniform(6)} < 0.30 THEN 'basic' WHEN ${uniform(6)} < 0.55 THEN 'plus' WHEN ${uniform(6)} < 0.75 THEN 'pro'
      WHEN ${uniform(6)} < 0.87 THEN 'team' WHEN ${uniform(6)} < 0.95 THEN 'edu' ELSE 'enterprise' END AS plan,
    CASE WHEN ${uniform(7)} < 0.6 THEN 'web' ELSE 'app' END AS channel,
    i - ${first} AS __row
  FROM range(${first}, ${first + count}) AS t(i))`;
}

/** The stored reference of `rows` training rows from row `first` on, grid quantiles exact on up to 100,000. */
export async function syntheticReference(
  db: DuckDb,
  rows: number,
  first = 0,
): Promise<Record<string, ColumnReference>> {
  const name = 'synthetic_reference';
  await db.run(`CREATE OR REPLACE TABLE ${name} AS SELECT * FROM ${syntheticRows(first, rows)}`);
  return computeDriftReference((sql) => db.query(sql), duckDbDialect, {
    from: name,
    columns: syntheticColumns,
    sample: { from: name, rowNumber: '__row', size: 100_000 },
  });
}

/** First row of window w of `size` rows: far past the reference rows (below 10⁹), windows disjoint. */
export function windowStart(size: number, w: number): number {
  return 1_000_000_000 + size * w;
}

/** Window w of `size` rows (amount shifted by `shift`), counted once in DuckDB and judged by each preset. */
export async function windowDrift(
  db: DuckDb,
  reference: Record<string, ColumnReference>,
  size: number,
  w: number,
  shift = 0,
): Promise<Record<PresetName, DriftReport>> {
  const counts = await countWindow(
    (sql) => db.query(sql),
    duckDbDialect,
    syntheticRows(windowStart(size, w), size, shift),
    reference,
  );
  return {
    evidently: evaluateDrift(reference, counts, { preset: 'evidently' }),
    vertex: evaluateDrift(reference, counts, { preset: 'vertex' }),
  };
}
