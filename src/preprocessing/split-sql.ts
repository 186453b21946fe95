/**
 * Builds the `assigned` relation: the snapshot's rows with a usable target, optionally deduplicated, each with its
 * file row number (`__row`) and what decides its split. Every choice is a function of the row number and the seed,
 * computed the same way on every warehouse, so the same snapshot and spec always give the same splits, on DuckDB or
 * BigQuery. Callers select a split with {@link AssignedRows.where}.
 */
import type { ColumnSchema } from '../contracts/datasets';
import { mergedOverColumnGroups } from '../warehouse/column-groups';
import { withRowDraw } from '../warehouse/sql-dialect';
import type { WarehouseSession, WarehouseTable } from '../warehouse/warehouse';
import { rowNumberColumn } from '../warehouse/warehouse';

export interface SplitOptions {
  target: string;
  /** The snapshot's columns (the relation also has `__row`). */
  columns: ColumnSchema[];
  split: { testFraction: number; validationFraction: number; seed: number };
  dedupe: boolean;
  stratify: boolean;
}

export interface DroppedRows {
  missingTarget: number;
  duplicates: number;
}

export type SplitName = 'train' | 'validation' | 'test';
const splitNames: readonly SplitName[] = ['train', 'validation', 'test'];

export interface AssignedRows {
  /** Table expression of the relation: the snapshot columns and `__row`, plus `__u` or `__split`. */
  assigned: string;
  /** A predicate over the relation's columns selecting one split's rows. */
  where: (split: SplitName) => string;
}

export interface SplitCounts {
  /** Rows in each split. */
  rows: Record<SplitName, number>;
  droppedRows: DroppedRows;
  /** Non-null values of each of the `features` asked for, over all splits, in their order. */
  featureValues: number[];
}

export async function assignSplits(
  w: WarehouseSession,
  snapshot: WarehouseTable,
  o: SplitOptions,
): Promise<AssignedRows> {
  const d = w.dialect;
  const target = d.ident(o.target);
  const row = d.ident(rowNumberColumn);
  const columns = [...o.columns.map((c) => d.ident(c.name)), row].join(', ');
  // Identical rows are identical in every snapshot column (nulls equal); the first by file row number is kept.
  const partition = o.columns.map((c) => d.partitionKey(d.ident(c.name), c.type)).join(', ');
  const kept = `SELECT ${columns} FROM ${snapshot.from} WHERE ${target} IS NOT NULL${
    o.dedupe ? ` QUALIFY row_number() OVER (PARTITION BY ${partition} ORDER BY ${row}) = 1` : ''
  }`;
  // Without window functions the split is a per-row expression: DuckDB keeps it as a view that re-reads the Parquet
  // file instead of holding the whole table in memory, so memory stays flat as rows grow.
  const select = o.stratify ? stratifiedSql(d, columns, kept, o) : hashedSql(d, columns, kept, o);
  const assigned = await w.define('assigned', select, { materialize: o.stratify || o.dedupe });
  const where = o.stratify ? (split: SplitName) => `__split = '${split}'` : drawRanges(o.split);
  return { assigned, where };
}

/**
 * The rows of each split, the rows left out and the non-null values of each feature: they can run beside other
 * queries over `assigned`.
 */
export async function countSplits(
  w: WarehouseSession,
  snapshot: WarehouseTable,
  { assigned, where }: AssignedRows,
  targetColumn: string,
  features: string[],
): Promise<SplitCounts> {
  const target = w.dialect.ident(targetColumn);
  // Aliases that no project, dataset or table is likely to be named: BigQuery resolves a table path's first part
  // against the query's column names.
  const counted = splitNames.map((s) => [`${s}_rows`, `count(CASE WHEN ${where(s)} THEN 1 END)`]);
  const rowsSql = `SELECT (SELECT count(*) FROM ${snapshot.from}) AS source_rows,
            (SELECT count(*) FROM ${snapshot.from} WHERE ${target} IS NOT NULL) AS usable_rows`;
  // Wide data in statements of a few hundred columns each (column-groups.ts); the first has the row counts too.
  const counts = await mergedOverColumnGroups(
    features,
    async (group, offset) => {
      const values = group.map((f, i) => [`feature_values_${offset + i}`, `count(${w.dialect.ident(f)})`]);
      const aggregates = [...(offset === 0 ? counted : []), ...values];
      const inner = `SELECT ${aggregates.map(([alias, sql]) => `${sql} AS ${alias}`).join(', ')} FROM ${assigned}`;
      const outer = aggregates.map(([alias]) => `split_rows.${alias}`);
      const select = offset === 0 ? [rowsSql, ...outer].join(', ') : `SELECT ${outer.join(', ')}`;
      const [row] = await w.query(`${select} FROM (${inner}) AS split_rows`);
      return row ?? {};
    },
    { atLeastOne: true },
  );
  const n = (key: string) => Number(counts[key] ?? 0);
  const rows = { train: n('train_rows'), validation: n('validation_rows'), test: n('test_rows') };
  return {
    rows,
    featureValues: features.map((_, i) => n(`feature_values_${i}`)),
    droppedRows: {
      missingTarget: n('source_rows') - n('usable_rows'),
      duplicates: n('usable_rows') - (rows.train + rows.validation + rows.test),
    },
  };
}

type Dialect = WarehouseSession['dialect'];

/**
 * Each row draws u in [0, 1) from its row number and the seed: test below testFraction, validation below
 * testFraction + validationFraction, train above. Split shares hold in expectation. The split is selected by ranges of
 * `__u` rather than a split-name column, which a filter would compute and compare as text for every row.
 */
function hashedSql(d: Dialect, columns: string, kept: string, { split, dedupe }: SplitOptions): string {
  // A single-threaded DuckDB scan keeps file order; only dedupe's window function reorders rows and needs the sort.
  const restoreOrder = dedupe ? ` ORDER BY ${d.ident(rowNumberColumn)}` : '';
  const drawn = withRowDraw(d, `(${kept})`, d.ident(rowNumberColumn), split.seed, '__u');
  return `SELECT ${columns}, __u FROM ${drawn} AS drawn${restoreOrder}`;
}

function drawRanges({ testFraction, validationFraction }: SplitOptions['split']): AssignedRows['where'] {
  const validationEnd = testFraction + validationFraction;
  return (split) =>
    split === 'test'
      ? `__u < ${testFraction}`
      : split === 'validation'
        ? `__u >= ${testFraction} AND __u < ${validationEnd}`
        : `__u >= ${validationEnd}`;
}

/**
 * Within each class of n rows, ordered by the same draw (then row number): the first round(n × testFraction) go to
 * test, the next round(n × validationFraction) to validation, the rest to train. Rounding is half up.
 */
function stratifiedSql(d: Dialect, columns: string, kept: string, { split, target }: SplitOptions): string {
  const { testFraction, validationFraction, seed } = split;
  const row = d.ident(rowNumberColumn);
  const nTest = `floor(__n * ${testFraction} + 0.5)`;
  const nValidation = `floor(__n * ${validationFraction} + 0.5)`;
  const byClass = `PARTITION BY ${d.toText(d.ident(target))}`;
  return `SELECT ${columns}, CASE WHEN __rank < ${nTest} THEN 'test'
      WHEN __rank < ${nTest} + ${nValidation} THEN 'validation' ELSE 'train' END AS __split
    FROM (SELECT ${columns}, row_number() OVER (${byClass} ORDER BY __draw, ${row}) - 1 AS __rank,
                 count(*) OVER (${byClass}) AS __n FROM ${withRowDraw(d, `(${kept})`, row, seed, '__draw')} AS drawn) AS ranked
    ORDER BY ${row}`;
}
