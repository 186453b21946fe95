/**
 * Which task a target asks for, when the pipeline input leaves `task` out (docs/pipeline-input.md, "Task inference"):
 * a numeric target with a fractional value, or with more than {@link regressionDistinctValues} distinct values, is
 * regression; every other target (text, boolean, a numeric code with few values) is classification.
 */
import type { Warehouse, WarehouseTable } from '../warehouse/warehouse';
import { isNumericType } from '../warehouse/duckdb';

export type Task = 'classification' | 'regression';

/** Integer targets with more distinct values than this are quantities, not class codes. */
export const regressionDistinctValues = 20;

/** Default most classes a classification target may have (preprocessing.maxClasses overrides it, up to 1000). */
export const defaultMaxClasses = 100;

export async function inferTask(
  w: Pick<Warehouse, 'query' | 'dialect'>,
  snapshot: WarehouseTable,
  target: string,
  targetType: string,
): Promise<Task> {
  if (!isNumericType(targetType)) return 'classification';
  const d = w.dialect;
  const y = d.toDouble(d.ident(target));
  const [row] = await w.query(
    `SELECT count(DISTINCT ${y}) AS distinct_values, count(CASE WHEN ${y} <> floor(${y}) THEN 1 END) AS fractional
     FROM ${snapshot.from} WHERE ${d.ident(target)} IS NOT NULL`,
  );
  const distinct = Number(row?.distinct_values ?? 0);
  return Number(row?.fractional ?? 0) > 0 || distinct > regressionDistinctValues ? 'regression' : 'classification';
}
