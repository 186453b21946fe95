/**
 * The data of bench/drift-vs-evidently.ts: a reference and a current Parquet file of 50 columns of mixed types (30
 * float columns, some with nulls; 5 integer columns, two of them with at most 5 values; 15 text categories of 2 to
 * 120 values), written by DuckDB. Every value is drawn from its row number with hash-based uniforms, so the files are
 * the same whatever the thread count, and reference and current rows never overlap. The current file shifts the
 * columns listed in {@link driftedColumns} (and one more by a shift too small to count as drift).
 */
import { literal, withDuckDb } from '../src/warehouse/duckdb';

interface BenchColumn {
  name: string;
  /** The value's SQL from the row's uniforms `u(k)`; `drift` is true in the current file's drifted columns. */
  sql: (u: (k: number) => string, drift: boolean) => string;
}

const normal = (u: (k: number) => string, a: number, b: number) => `(sqrt(-2 * ln(${u(a)})) * cos(2 * pi() * ${u(b)}))`;

/** Numeric column i (0 … 29): four shapes in turn; every fifth column has 3% nulls. */
function floatColumn(i: number): BenchColumn {
  const name = `num_${String(i).padStart(2, '0')}`;
  const drift = floatDrift[i];
  return {
    name,
    sql: (u, drifted) => {
      const d = drifted && drift ? drift : { shift: 0, scale: 1 };
      const z = normal(u, 2 * i, 2 * i + 1);
      const shapes = [
        `${10 + i} + ${d.shift} + ${1 + (i % 7)} * ${d.scale} * ${z}`,
        `exp(${0.1 * (i % 5)} + ${d.shift} + 0.6 * ${d.scale} * ${z})`,
        `${-5 + i} + ${d.shift} + ${d.scale} * 20 * ${u(2 * i)}`,
        `-ln(${u(2 * i)}) * ${2 + (i % 3)} * ${d.scale} + ${d.shift}`,
      ];
      const value = `round(${shapes[i % 4]!}, 6)`;
      return i % 5 === 4 ? `CASE WHEN ${u(100 + i)} < 0.03 THEN NULL ELSE ${value} END` : value;
    },
  };
}

/**
 * Drift of the current file, in the column's own terms: a shift of the normal's mean, of the log-normal's log mean, of
 * the uniform's range or of the exponential's origin, and a scale factor. num_25 (log-normal) moves its log mean by 0.02: measurable, too small to
 * be drift for either side.
 */
const floatDrift: Record<number, { shift: number; scale: number }> = {
  0: { shift: 0.5, scale: 1 },
  5: { shift: 0.4, scale: 1 },
  9: { shift: 0, scale: 1.6 },
  10: { shift: 3, scale: 1 },
  16: { shift: 0.6, scale: 1 },
  23: { shift: 0, scale: 1.5 },
  25: { shift: 0.02, scale: 1 },
};

const intColumns: BenchColumn[] = [
  { name: 'int_flag', sql: (u) => `CAST(${u(70)} < 0.3 AS INTEGER)` },
  { name: 'int_level', sql: (u, d) => `CAST(floor(4 * pow(${u(71)}, ${d ? 0.6 : 1.4})) AS INTEGER)` },
  { name: 'int_visits', sql: (u) => `CAST(floor(exp(2 + 0.8 * ${normal(u, 72, 73)})) AS BIGINT)` },
  { name: 'int_age', sql: (u, d) => `CAST(${d ? 23 : 18} + floor(60 * ${u(74)}) AS INTEGER)` },
  { name: 'int_items', sql: (u) => `CAST(floor(-ln(${u(75)}) * 12) AS INTEGER)` },
];

/** Cardinalities of the 15 text columns; the values are skewed (value k has share ∝ a power of its rank). */
const cardinalities = [2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 30, 40, 60, 90, 120];
const driftedCategories = new Set([1, 6, 12, 14]);

function textColumn(i: number): BenchColumn {
  const k = cardinalities[i]!;
  return {
    name: `cat_${String(i).padStart(2, '0')}`,
    sql: (u, drifted) => {
      // Drift flattens the skew: rarer values become more frequent.
      const power = drifted && driftedCategories.has(i) ? 1.1 : 2;
      return `'v' || CAST(floor(${k} * pow(${u(80 + i)}, ${power})) AS INTEGER)`;
    },
  };
}

export const benchColumns: BenchColumn[] = [
  ...Array.from({ length: 30 }, (_, i) => floatColumn(i)),
  ...intColumns,
  ...Array.from({ length: 15 }, (_, i) => textColumn(i)),
];

/** Columns whose distribution the current file changes enough to count as drift. */
export const driftedColumns = [
  ...Object.keys(floatDrift)
    .map(Number)
    .filter((i) => i !== 25)
    .map((i) => `num_${String(i).padStart(2, '0')}`),
  'int_level',
  'int_age',
  ...[...driftedCategories].map((i) => `cat_${String(i).padStart(2, '0')}`),
];

/** A uniform in (0, 1) from row i and stream k. */
const uniform = (k: number) => `((hash(i * 128 + ${k}) >> 11)::DOUBLE + 0.5) / 9007199254740992.0`;

function selectRows(first: number, rows: number, drift: boolean): string {
  const columns = benchColumns.map((c) => `${c.sql(uniform, drift)} AS ${c.name}`);
  return `SELECT ${columns.join(',\n  ')} FROM range(${first}, ${first + rows}) AS t(i)`;
}

/** The reference file: rows 0 … n−1, no drift. */
export function writeReferenceData(file: string, rows: number): Promise<void> {
  return writeRows(file, 0, rows, false);
}

/** A current file: rows from 10⁹ on (never reference rows), with the drift. */
export function writeCurrentData(file: string, rows: number): Promise<void> {
  return writeRows(file, 1e9, rows, true);
}

function writeRows(file: string, first: number, rows: number, drift: boolean): Promise<void> {
  return withDuckDb((db) => db.run(`COPY (${selectRows(first, rows, drift)}) TO ${literal(file)} (FORMAT parquet)`));
}
