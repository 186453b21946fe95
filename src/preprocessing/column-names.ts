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

/** A model input column and what writes it. */
interface OutputColumn {
  name: string;
  origin: string;
}

function outputsOf(t: FeatureTransform): OutputColumn[] {
  if (t.kind === 'numeric' || t.encoding === 'ordinal')
    return [
      {
        name: t.output,
        origin: `input column "${t.name}" (a ${t.kind === 'numeric' ? 'numeric' : 'ordinal'} feature)`,
      },
    ];
  return [
    ...t.categories.map((v, i) => ({
      name: t.outputs[i]!,
      origin: `the one-hot column of feature "${t.name}" for its value ${JSON.stringify(v)}`,
    })),
    { name: t.unknownOutput, origin: `the unknown-value column of feature "${t.name}"` },
  ];
}

/**
 * One line per model input column name that two or more outputs of `features` share (regardless of ASCII case), naming
 * the input column or the feature and value behind each; none when every name is distinct.
 */
export function outputColumnClashes(features: readonly FeatureTransform[]): string[] {
  const byKey = new Map<string, OutputColumn[]>();
  for (const output of features.flatMap(outputsOf)) {
    const key = columnKey(output.name);
    byKey.set(key, [...(byKey.get(key) ?? []), output]);
  }
  return [...byKey.values()]
    .filter((outputs) => outputs.length > 1)
    .map((outputs) => {
      const names = [...new Set(outputs.map((o) => JSON.stringify(o.name)))].join(' and ');
      return `- ${names}: ${outputs.map((o) => o.origin).join(' and ')}`;
    });
}

/** True when two of `columns` have the same name regardless of ASCII case (a result stored before the check). */
export function hasDuplicateColumns(columns: readonly string[]): boolean {
  return new Set(columns.map(columnKey)).size !== columns.length;
}
