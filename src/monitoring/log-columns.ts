/**
 * Reading the prediction log's Parquet parts (layout: `src/serving/prediction-batch.ts`) in DuckDB: the parts as one
 * relation, which fields its `features` and `output` groups have (the union over the parts read), and the SQL that
 * takes a feature, the label, the value or a class probability out of a row. A field the parts do not have reads as
 * NULL, so the queries built here never fail on a model's other versions or on an empty window.
 *
 * Parts of the earlier layout (features and output as JSON text, before 2026-12-02) are read too: DuckDB unites such
 * parts with newer ones as JSON (a group becomes its JSON object), and the values are then taken out by JSON path.
 */
import { mlopsError } from '../errors';
import type { DuckDb } from '../warehouse/duckdb';
import { literal } from '../warehouse/duckdb';

export interface LogLayout {
  /** The groups are JSON objects (parts of the earlier layout among those read): values are read by JSON path. */
  json: boolean;
  /** DuckDB type of each field of `features` (DOUBLE for a numeric feature, JSON for a categorical one). */
  features: Map<string, string>;
  label: boolean;
  value: boolean;
  /** The fields of `output.probabilities`. */
  classes: Set<string>;
}

/** The parts as one relation; their columns are united by name (a model's versions can differ in features). */
export function logParts(files: string[]): string {
  return `read_parquet([${files.map(literal).join(', ')}], union_by_name = true)`;
}

/** The fields the parts' groups have. A part in another layout is a catalogued error naming the folder. */
export async function logLayout(db: DuckDb, files: string[], folder: string): Promise<LogLayout> {
  if (!files.length) return { json: false, features: new Map(), label: false, value: false, classes: new Set() };
  return relationLayout(db, logParts(files), folder);
}

/** The fields of the `features` and `output` groups of a relation of log rows (`folder` names it in an error). */
export async function relationLayout(db: DuckDb, relation: string, folder: string): Promise<LogLayout> {
  const layout: LogLayout = { json: false, features: new Map(), label: false, value: false, classes: new Set() };
  const fields = async (expr: string) => {
    const rows = await db.query(`DESCRIBE SELECT s.* FROM (SELECT ${expr} AS s FROM ${relation})`);
    return new Map(rows.map((r) => [String(r.column_name), String(r.column_type)]));
  };
  const top = new Map(
    (await db.query(`DESCRIBE SELECT * FROM ${relation}`)).map((r) => [String(r.column_name), String(r.column_type)]),
  );
  const type = (name: string) => top.get(name) ?? '';
  if (type('output') === 'JSON' && ['JSON', ''].includes(type('features'))) return { ...layout, json: true };
  const struct = (name: string) => type(name).startsWith('STRUCT(');
  if (!struct('output') || (top.has('features') && !struct('features')))
    throw mlopsError('MLOPS_ERR_MONITOR_LOG_LAYOUT', {
      folder,
      found: clip([...top].map(([n, t]) => `${n} ${t}`).join(', ')),
    });
  if (top.has('features')) layout.features = await fields('features');
  const output = await fields('output');
  layout.label = output.has('label');
  layout.value = output.has('value');
  if (output.get('probabilities')?.startsWith('STRUCT('))
    layout.classes = new Set((await fields('output.probabilities')).keys());
  return layout;
}

/** At most 400 characters (a folder's columns can be many). */
const clip = (text: string) => (text.length > 400 ? `${text.slice(0, 400)}…` : text);

const field = (group: string, name: string) => `struct_extract(${group}, ${literal(name)})`;

/** A JSON path to one key, quoted so dots, quotes and brackets in the name stay part of it. */
const key = (...names: string[]) => literal(`$${names.map((n) => `.${JSON.stringify(n)}`).join('')}`);

/** A JSON number at `path` of `json` as DOUBLE; any other JSON value as NULL. */
const jsonNumber = (json: string, path: string) =>
  `CASE WHEN json_type(${json}, ${path}) IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT') THEN TRY_CAST(json_extract_string(${json}, ${path}) AS DOUBLE) END`;

/**
 * A feature of row `w` as the drift queries count it: a numeric one as DOUBLE (where the log holds it as JSON, only
 * JSON numbers count: text, booleans, objects and arrays are null), a categorical one as text (a number or boolean as
 * its JSON text).
 */
export function featureValue(layout: LogLayout, w: string, name: string, kind: 'numeric' | 'categorical'): string {
  if (layout.json)
    return kind === 'numeric'
      ? jsonNumber(`${w}.features`, key(name))
      : `json_extract_string(${w}.features, ${key(name)})`;
  const type = layout.features.get(name);
  if (type === undefined) return kind === 'numeric' ? 'NULL::DOUBLE' : 'NULL::VARCHAR';
  const column = field(`${w}.features`, name);
  if (type === 'DOUBLE')
    return kind === 'numeric'
      ? column
      : `CASE WHEN ${column} = trunc(${column}) AND abs(${column}) < 1e15 THEN CAST(CAST(${column} AS BIGINT) AS VARCHAR) ELSE CAST(${column} AS VARCHAR) END`;
  return kind === 'numeric' ? jsonNumber(column, "'$'") : `json_extract_string(${column}, '$')`;
}

/** Whether rows read with `layout` have the feature: the key is in a row's JSON, or the parts have the field. */
export function featurePresent(layout: LogLayout, w: string, name: string): string {
  if (layout.json) return `json_extract(${w}.features, ${key(name)}) IS NOT NULL`;
  return layout.features.has(name) ? 'true' : 'false';
}

/** The predicted label of row `w` (a classifier's), else NULL. */
export function predictedLabel(layout: LogLayout, w: string): string {
  if (layout.json) return `json_extract_string(${w}.output, '$.label')`;
  return layout.label ? field(`${w}.output`, 'label') : 'NULL::VARCHAR';
}

/** The predicted value of row `w` (a regressor's) as DOUBLE, else NULL. */
export function predictedValue(layout: LogLayout, w: string): string {
  if (layout.json) return jsonNumber(`${w}.output`, "'$.value'");
  return layout.value ? `CAST(${field(`${w}.output`, 'value')} AS DOUBLE)` : 'NULL::DOUBLE';
}

/** The probability of class `name` at row `w` as DOUBLE, else NULL. */
export function classProbability(layout: LogLayout, w: string, name: string): string {
  if (layout.json) return `TRY_CAST(json_extract(${w}.output, ${key('probabilities', name)}) AS DOUBLE)`;
  return layout.classes.has(name) ? `CAST(${field(`${w}.output.probabilities`, name)} AS DOUBLE)` : 'NULL::DOUBLE';
}
