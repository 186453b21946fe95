/**
 * A fitted transform as a select list: what preprocessing writes to the split files (in DuckDB or BigQuery), and what
 * src/models/transform-instance.ts must reproduce exactly for single requests (test/serving/model-server.test.ts checks).
 */
import type { FeatureTransform, FittedTransform } from '../contracts/datasets';
import type { SqlDialect } from '../warehouse/sql-dialect';
import { duckDbDialect } from '../warehouse/sql-dialect';

/**
 * Column of every split file holding the row's number in the snapshot (its `__row`): the evaluation takes the raw rows
 * of the test split from the snapshot with it, to score a champion through its own transform.
 */
export const sourceRowColumn = '__source_row';

/** The category a null counts as unless the spec imputes categorical nulls otherwise. */
export const missingCategory = '__missing__';

/**
 * A categorical value as text, with the empty string read as missing (null): CSV readers give an empty field as null
 * and JSON or Parquet writers often give it as "", and both mean "no value" (docs/preprocessing.md). The model
 * server's transform (src/serving/apply-transform.ts) treats "" the same way.
 */
export function categoryText(d: SqlDialect, column: string): string {
  return `nullif(${d.toText(column)}, '')`;
}

/** Select-list entries computing every model input column of `transform` from raw columns, in output order. */
export function transformSelectList(
  transform: Pick<FittedTransform, 'features'>,
  dialect: SqlDialect = duckDbDialect,
): string[] {
  return transform.features.flatMap((t) => featureSql(dialect, t));
}

/** The model input columns a feature writes, in order. */
export function outputColumnsOf(t: FeatureTransform): string[] {
  if (t.kind === 'numeric' || t.encoding === 'ordinal') return [t.output];
  return [...t.outputs, t.unknownOutput];
}

function featureSql(d: SqlDialect, t: FeatureTransform): string[] {
  const c = d.ident(t.name);
  if (t.kind === 'numeric') {
    let x = `coalesce(${d.toDouble(c)}, ${d.doubleLiteral(t.impute)})`;
    if (t.clip?.upper != null) x = `least(${x}, ${d.doubleLiteral(t.clip.upper)})`;
    if (t.clip?.lower != null) x = `greatest(${x}, ${d.doubleLiteral(t.clip.lower)})`;
    if (t.standardize !== false) x = `((${x} - ${d.doubleLiteral(t.mean)}) / ${d.doubleLiteral(t.std)})`;
    return [`${d.toDouble(`(${x})`)} AS ${d.ident(t.output)}`];
  }
  const value = `coalesce(${categoryText(d, c)}, ${d.literal(t.impute ?? missingCategory)})`;
  if (t.encoding === 'ordinal') {
    const cases = t.categories.map((v, i) => `WHEN ${d.literal(v)} THEN ${i}`).join(' ');
    return [`${d.toDouble(`CASE ${value} ${cases} ELSE ${t.unknownIndex} END`)} AS ${d.ident(t.output)}`];
  }
  const flag = (condition: string) => `${d.toDouble(`CASE WHEN ${condition} THEN 1 ELSE 0 END`)}`;
  // Unknown: none of the categories, as a CASE chain. DuckDB plans `NOT IN (<list>)` as a join holding its own memory:
  // a hundred text features' worth ran a split's write out of 1GB on 150 rows.
  const known = t.categories.map((v) => `WHEN ${d.literal(v)} THEN 0`).join(' ');
  const unknown = known ? `CASE ${value} ${known} ELSE 1 END` : '1';
  return [
    ...t.categories.map((v, i) => `${flag(`${value} = ${d.literal(v)}`)} AS ${d.ident(t.outputs[i]!)}`),
    `${d.toDouble(unknown)} AS ${d.ident(t.unknownOutput)}`,
  ];
}
