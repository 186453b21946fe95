/**
 * A window (since, until] of a model version's prediction log in the BigQuery table the model server streams it to
 * (src/serving/bigquery-prediction-sink.ts: one table for every model, features and output as JSON text), written
 * in the BigQuery dialect for the same drift counting queries as the Parquet log's DuckDB relation
 * (./prediction-window.ts). Features are taken out of the logged JSON instance by name with the same rules: numeric
 * ones as FLOAT64 from JSON numbers only, categorical ones as text from any scalar.
 *
 * Values are read with the JSONPath functions on the JSON text (JSON_QUERY, JSON_VALUE), and the keys an instance
 * has with JSON_KEYS of the parsed text: goccy/bigquery-emulator (v0.8.1) fails on a JSON value that holds a JSON
 * null (`PARSE_JSON(…)[key]`, `JSON_TYPE`), so those forms are not used.
 */
import type { BigQuery } from '@google-cloud/bigquery';
import { mlopsError } from '../errors';
import { runQuery } from '../warehouse/bigquery-query';
import type { Row } from '../warehouse/duckdb';
import { bigQueryDialect as bq } from '../warehouse/sql-dialect';
import type { ColumnReference } from '../drift/reference';
import { predictionColumn } from '../evaluation/prediction-reference';
import type { LogWindow } from './prediction-window';

/**
 * `$."name"`: a JSON path to one key, quoted so dots and spaces in a feature name stay part of the name (the emulator
 * cannot parse a quoted key holding `'`, `[`, `"` or `\`: docs/monitoring.md, "Limits").
 */
function keyPath(name: string): string {
  return bq.literal(`$.${JSON.stringify(name)}`);
}

/**
 * The window's rows of the version (raw log columns) in `table` (`project.dataset.table`), as a BigQuery table
 * expression. The table holds every model's log, so rows are also filtered by model.
 */
export function bigQueryWindowRows(table: string, w: LogWindow): string {
  const since = w.since ? ` AND ts > TIMESTAMP(${bq.literal(w.since)})` : '';
  return `(SELECT features, output FROM ${bq.ident(table)} WHERE model = ${bq.literal(w.modelName)} AND version = ${Math.trunc(w.version)} AND ts <= TIMESTAMP(${bq.literal(w.until)})${since})`;
}

/**
 * A JSON number at `path` of the JSON text `json` as FLOAT64, else NULL: JSON_QUERY gives the value's JSON text,
 * which reads as a number only when the value is one (a string keeps its quotes; true, null, objects and arrays do
 * not read), like DuckDB's `json_type(…) IN (numeric types)`.
 */
function jsonNumber(json: string, path: string): string {
  return `SAFE_CAST(JSON_QUERY(${json}, ${path}) AS FLOAT64)`;
}

/**
 * A JSON scalar at `path` as text, else NULL: a string's contents, a number's or boolean's JSON text, like DuckDB's
 * `json_extract_string` on scalars. An object or array (the model server refuses them, so it never logs one) is NULL
 * here but its JSON text in DuckDB: `COALESCE(JSON_VALUE(…), JSON_QUERY(…))` would match that in BigQuery, but the
 * emulator's JSON_QUERY gives such values as JSON, not text, and the query then fails there.
 */
function jsonText(json: string, path: string): string {
  return `JSON_VALUE(${json}, ${path})`;
}

/** One column per feature, extracted from the logged instance (see ./prediction-window.ts `featureColumns`). */
export function bigQueryFeatureColumns(rows: string, reference: Record<string, ColumnReference>): string {
  const columns = Object.entries(reference).map(([name, ref]) => {
    const value = ref.kind === 'numeric' ? jsonNumber('features', keyPath(name)) : jsonText('features', keyPath(name));
    return `${value} AS ${bq.ident(name)}`;
  });
  return `(SELECT ${columns.join(', ')} FROM ${rows} AS w)`;
}

/** The logged output as one column named like the prediction reference: a classifier's label, a regressor's value. */
export function bigQueryOutputColumn(rows: string, reference: ColumnReference): string {
  const column = reference.kind === 'numeric' ? jsonNumber('output', `'$.value'`) : jsonText('output', `'$.label'`);
  return `(SELECT ${column} AS ${bq.ident(predictionColumn)} FROM ${rows} AS w)`;
}

/**
 * Rows of the window, and for each feature the rows whose instance has the key at all (null values included).
 * JSON_QUERY cannot tell a null value from a missing key, so the instance's top-level keys are read with JSON_KEYS,
 * which writes a key with special characters quoted (`"a.b"`); both forms are looked for.
 */
export function bigQueryPresenceSql(rows: string, names: string[]): string {
  const keys = `JSON_KEYS(SAFE.PARSE_JSON(features, wide_number_mode => 'round'), 1)`;
  const present = names.map((n, i) => {
    const forms = [...new Set([n, JSON.stringify(n)])].map((k) => bq.literal(k)).join(', ');
    return `count(CASE WHEN EXISTS(SELECT 1 FROM UNNEST(__keys) AS k WHERE k IN (${forms})) THEN 1 END) AS p${i}`;
  });
  return `SELECT count(*) AS n${present.map((p) => `, ${p}`).join('')} FROM (SELECT ${keys} AS __keys FROM ${rows} AS w) AS keyed`;
}

/** The BigQuery table of the prediction log (`MLOPS_SERVE_LOG_BIGQUERY_TABLE`) and the client that reads it. */
export interface BigQueryLogTable {
  client: BigQuery;
  /** The project of the table (and of the query jobs). */
  project: string;
  dataset: string;
  table: string;
  /** Where the query jobs run; default chosen by BigQuery. */
  location?: string;
}

/** `project.dataset.table`, for {@link bigQueryWindowRows}. */
export function tablePath(log: BigQueryLogTable): string {
  return `${log.project}.${log.dataset}.${log.table}`;
}

/**
 * Whether the model server has created the table yet (it does on its first write, in a dataset that must exist). A
 * missing dataset or project is a misconfigured worker, not an empty log: it fails, or a scheduled check would skip
 * every run in silence.
 */
export async function logTableExists(log: BigQueryLogTable): Promise<boolean> {
  const dataset = log.client.dataset(log.dataset, { projectId: log.project });
  const [datasetFound] = await dataset.exists();
  if (!datasetFound) {
    const reason = `the dataset ${log.project}.${log.dataset} does not exist (or the project ${log.project} does not)`;
    throw mlopsError('MLOPS_ERR_MONITOR_LOG_TABLE_UNREACHABLE', { table: tablePath(log), reason });
  }
  const [exists] = await dataset.table(log.table).exists();
  return exists;
}

/** Runs one query on the log's warehouse (a cancelled step cancels its job) and returns its rows. */
export function queryLog(log: BigQueryLogTable, sql: string): Promise<Row[]> {
  return runQuery(log.client, sql, log.location);
}
