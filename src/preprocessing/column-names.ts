/**
 * Column names preprocessing must keep apart: the names the pipeline's own SQL and split files use, which no snapshot
 * column may take, and the model input columns of the fitted features, which must all differ. DuckDB and BigQuery
 * compare column names regardless of ASCII case ("city=Paris" and "city=paris" are one name to DuckDB, which renames
 * the second to "city=paris_1" when writing), so both checks compare that way too.
 */
import type { FeatureTransform } from '../contracts/datasets';
import { rowNumberColumn } from '../warehouse/warehouse';
import { sourceRowColumn } from './transform-sql';

/** The label column of every split file. */
export const labelColumn = '__label';

/** A row draw and the columns of its two steps (`withRowDraw` in src/warehouse/sql-dialect.ts). */
const drawColumns = (name: string) => [name, `${name}_1`, `${name}_2`];

/**
 * Names a snapshot column may not have, because the pipeline adds a column of that name beside the snapshot's own:
 * the row number (`__row`, and DuckDB's `file_row_number`, which `read_parquet(…, file_row_number = true)` refuses to
 * add to a file that has it), the split draw and the stratified split (split-sql.ts), the training sample (fit.ts),
 * the split files' label and source row, and the challenger's label when the gate re-scores a champion
 * (src/evaluation/rescore.ts).
 */
export const reservedColumns: readonly string[] = [
  rowNumberColumn,
  'file_row_number',
  ...drawColumns('__u'),
  '__split',
  '__rank',
  '__n',
  ...drawColumns('__draw'),
  ...drawColumns('__sample'),
  labelColumn,
  sourceRowColumn,
  '__challenger_label',
];

/** A column name as the warehouses compare it: ASCII letters folded to lower case, every other character kept. */
export function columnKey(name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

const reservedKeys = new Set(reservedColumns.map(columnKey));

/** The names among `columns` that are reserved (in any ASCII case), in their order. */
export function reservedColumnsIn(columns: readonly string[]): string[] {
  return columns.filter((name) => reservedKeys.has(columnKey(name)));
}

/**
 * The features with every one-hot column named apart from each other model input column, regardless of ASCII case.
 * A numeric or ordinal feature's column keeps its input column's name; a one-hot (or unknown-value) column whose name
 * is taken, or reserved, gets "#2", "#3", … in order: "city=paris#2" beside "city=Paris", "city=x#2" beside an input
 * column "city=x", "city=__unknown__#2" for the unknown bucket of a feature with a value "__unknown__". Serving reads
 * a one-hot column by its category's position, so the name is only the split files' and the trainers'.
 */
export function distinctOutputNames(features: readonly FeatureTransform[]): FeatureTransform[] {
  const taken = new Set(reservedKeys);
  for (const t of features) if (t.kind === 'numeric' || t.encoding === 'ordinal') taken.add(columnKey(t.output));
  const claim = (name: string): string => {
    let candidate = name;
    for (let n = 2; taken.has(columnKey(candidate)); n++) candidate = `${name}#${n}`;
    taken.add(columnKey(candidate));
    return candidate;
  };
  return features.map((t) =>
    t.kind === 'categorical' && t.encoding !== 'ordinal'
      ? { ...t, outputs: t.outputs.map(claim), unknownOutput: claim(t.unknownOutput) }
      : t,
  );
}

/** True when two of `columns` have the same name regardless of ASCII case (a result stored before the check). */
export function hasDuplicateColumns(columns: readonly string[]): boolean {
  return new Set(columns.map(columnKey)).size !== columns.length;
}
