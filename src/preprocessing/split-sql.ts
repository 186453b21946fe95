/**
 * Builds the `assigned` table: the snapshot's rows with a usable target, optionally deduplicated, each with its file
 * row number (`__row`) and split (`__split`). Every choice is a function of the row number and the seed, so the same
 * snapshot and spec always give the same splits.
 */
import type { ColumnSchema } from '../contracts/datasets';
import type { DuckDb } from '../warehouse/duckdb';
import { ident, literal } from '../warehouse/duckdb';

export interface SplitOptions {
  target: string;
  columns: ColumnSchema[];
  split: { testFraction: number; validationFraction: number; seed: number };
  dedupe: boolean;
  stratify: boolean;
}

export interface DroppedRows {
  missingTarget: number;
  duplicates: number;
}

export async function assignSplits(db: DuckDb, file: string, o: SplitOptions): Promise<DroppedRows> {
  const target = ident(o.target);
  await db.run(`CREATE VIEW source AS
    SELECT *, file_row_number AS __row FROM read_parquet(${literal(file)}, file_row_number = true)`);
  // Identical rows are identical in every snapshot column (nulls equal); the first by file row number is kept.
  const partition = o.columns.map((c) => ident(c.name)).join(', ');
  await db.run(`CREATE VIEW kept AS SELECT * FROM source WHERE ${target} IS NOT NULL
    ${o.dedupe ? `QUALIFY row_number() OVER (PARTITION BY ${partition} ORDER BY __row) = 1` : ''}`);
  // Without window functions the split is a per-row expression: a view re-reads the Parquet file instead of holding
  // the whole table in memory, so memory stays flat as rows grow.
  const kind = o.stratify || o.dedupe ? 'TABLE' : 'VIEW';
  await db.run(`CREATE ${kind} assigned AS ${o.stratify ? stratifiedSql(o) : hashedSql(o)}`);
  const [counts] = await db.query<{ source: number; kept: number; usable: number }>(
    `SELECT (SELECT count(*) FROM source) AS source, (SELECT count(*) FROM kept) AS kept,
            (SELECT count(*) FROM source WHERE ${target} IS NOT NULL) AS usable`,
  );
  return { missingTarget: counts!.source - counts!.usable, duplicates: counts!.usable - counts!.kept };
}

/** Each row draws u in [0, 1) from a hash of its row number and the seed; split shares hold in expectation. */
function hashedSql({ split, dedupe }: SplitOptions): string {
  const { testFraction, validationFraction, seed } = split;
  // A single-threaded scan keeps file order; only dedupe's window function reorders rows and needs the sort back.
  const restoreOrder = dedupe ? ' ORDER BY __row' : '';
  return `SELECT * EXCLUDE (__u), CASE WHEN __u < ${testFraction} THEN 'test'
      WHEN __u < ${testFraction + validationFraction} THEN 'validation' ELSE 'train' END AS __split
    FROM (SELECT *, (hash(__row, ${seed}::BIGINT) % 1000000) / 1000000.0 AS __u FROM kept)${restoreOrder}`;
}

/**
 * Within each class of n rows, ordered by the same hash (then row number): the first round(n × testFraction) go to
 * test, the next round(n × validationFraction) to validation, the rest to train. Rounding is half up.
 */
function stratifiedSql({ split, target }: SplitOptions): string {
  const { testFraction, validationFraction, seed } = split;
  const nTest = `floor(__n * ${testFraction} + 0.5)`;
  const nValidation = `floor(__n * ${validationFraction} + 0.5)`;
  const byClass = `PARTITION BY ${ident(target)}::VARCHAR`;
  return `SELECT * EXCLUDE (__rank, __n), CASE WHEN __rank < ${nTest} THEN 'test'
      WHEN __rank < ${nTest} + ${nValidation} THEN 'validation' ELSE 'train' END AS __split
    FROM (SELECT *, row_number() OVER (${byClass} ORDER BY hash(__row, ${seed}::BIGINT), __row) - 1 AS __rank,
                 count(*) OVER (${byClass}) AS __n FROM kept)
    ORDER BY __row`;
}
