/**
 * Re-scoring the champion on the challenger's test rows: the raw rows of the challenger's test split are taken from
 * the snapshot by row number and put through the champion's own fitted transform, so both models answer the same
 * rows, each with its own preprocessing (the champion may have been fitted on another snapshot, split or spec).
 */
import type { FittedTransform } from '../contracts/datasets';
import { sourceRowColumn, transformSelectList } from '../preprocessing/transform-sql';
import { ident, literal, rowMajor, withDuckDb } from '../warehouse/duckdb';
import { rowNumberColumn, rowNumberedParquet } from '../warehouse/warehouse';

export interface RowsForModel {
  /** Row-major `[rows × champion inputs]`. */
  features: Float32Array;
  /** The challenger's labels of the same rows (class indices of the challenger's classes, or values). */
  labels: Float64Array;
  rows: number;
}

/**
 * The champion's model input for the challenger's test rows, in row-number order, with the challenger's labels.
 * Undefined when the snapshot lacks a column the champion's transform needs.
 */
export async function championInputs(
  snapshotFile: string,
  testFile: string,
  challengerLabel: string,
  champion: FittedTransform,
): Promise<RowsForModel | undefined> {
  const label = '__challenger_label';
  const row = ident(rowNumberColumn);
  return withDuckDb(async (db) => {
    const names = new Set(
      (await db.query(`DESCRIBE SELECT * FROM ${rowNumberedParquet(snapshotFile)}`)).map((r) => String(r.column_name)),
    );
    if (champion.features.some((f) => !names.has(f.name))) return undefined;
    const rows = `(SELECT s.*, t.${ident(challengerLabel)} AS ${label} FROM ${rowNumberedParquet(snapshotFile)} AS s
      JOIN read_parquet(${literal(testFile)}) AS t ON s.${row} = t.${ident(sourceRowColumn)})`;
    const select = [...transformSelectList(champion), `${ident(label)}::DOUBLE`].join(', ');
    const { columns } = await db.columns(`SELECT ${select} FROM ${rows} AS joined ORDER BY ${row}`);
    const n = columns.length - 1;
    const count = columns[0]?.length ?? 0;
    const features = rowMajor(columns, n, Float32Array);
    return { features, labels: Float64Array.from(columns[n] as number[]), rows: count };
  });
}

/**
 * The champion's class probabilities laid out in the challenger's class order: a class the champion never saw gets
 * probability 0 (so it counts against the champion, as it should).
 */
export function alignClasses(
  probabilities: Float32Array,
  rows: number,
  championClasses: string[],
  challengerClasses: string[],
): Float64Array {
  const from = challengerClasses.map((c) => championClasses.indexOf(c));
  const out = new Float64Array(rows * challengerClasses.length);
  for (let i = 0; i < rows; i++)
    from.forEach((j, c) => {
      out[i * challengerClasses.length + c] = j < 0 ? 0 : probabilities[i * championClasses.length + j]!;
    });
  return out;
}
