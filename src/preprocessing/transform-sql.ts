/**
 * A fitted transform as a DuckDB select list: what preprocessing writes to the split files, and what
 * src/serving/apply-transform.ts must reproduce exactly for single requests (test/serving/model-server.test.ts checks).
 */
import type { FeatureTransform, FittedTransform } from '../contracts/datasets';
import { ident, literal } from '../warehouse/duckdb';

/** The category a null counts as unless the spec imputes categorical nulls otherwise. */
export const missingCategory = '__missing__';

/** Select-list entries computing every model input column of `transform` from raw columns, in output order. */
export function transformSelectList(transform: Pick<FittedTransform, 'features'>): string[] {
  return transform.features.flatMap(featureSql);
}

/** The model input columns a feature writes, in order. */
export function outputColumnsOf(t: FeatureTransform): string[] {
  if (t.kind === 'numeric' || t.encoding === 'ordinal') return [t.output];
  return [...t.outputs, t.unknownOutput];
}

/**
 * A DOUBLE literal that DuckDB reads as exactly the JavaScript number: a plain numeric literal may be read as a DECIMAL
 * first and rounded on the way to DOUBLE, while both sides parse the shortest round-trip string exactly.
 */
export function doubleSql(x: number): string {
  return `'${String(x)}'::DOUBLE`;
}

function featureSql(t: FeatureTransform): string[] {
  const c = ident(t.name);
  if (t.kind === 'numeric') {
    let x = `coalesce(${c}::DOUBLE, ${doubleSql(t.impute)})`;
    if (t.clip?.upper != null) x = `least(${x}, ${doubleSql(t.clip.upper)})`;
    if (t.clip?.lower != null) x = `greatest(${x}, ${doubleSql(t.clip.lower)})`;
    if (t.standardize !== false) x = `((${x} - ${doubleSql(t.mean)}) / ${doubleSql(t.std)})`;
    return [`(${x})::DOUBLE AS ${ident(t.output)}`];
  }
  const value = `coalesce(${c}::VARCHAR, ${literal(t.impute ?? missingCategory)})`;
  if (t.encoding === 'ordinal') {
    const cases = t.categories.map((v, i) => `WHEN ${literal(v)} THEN ${i}`).join(' ');
    return [`(CASE ${value} ${cases} ELSE ${t.unknownIndex} END)::DOUBLE AS ${ident(t.output)}`];
  }
  const known = t.categories.map(literal).join(', ');
  return [
    ...t.categories.map(
      (v, i) => `(CASE WHEN ${value} = ${literal(v)} THEN 1.0 ELSE 0.0 END)::DOUBLE AS ${ident(t.outputs[i]!)}`,
    ),
    `(CASE WHEN ${value} IN (${known}) THEN 0.0 ELSE 1.0 END)::DOUBLE AS ${ident(t.unknownOutput)}`,
  ];
}
