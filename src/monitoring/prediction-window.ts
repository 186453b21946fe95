/**
 * A window (since, until] of a model version's prediction log as a relation with one column per feature, for the
 * drift counting queries. The log's Parquet parts are read by DuckDB where they lie (a local store) or from local
 * copies (a remote one); only the day partitions the window touches are read. Features are taken out of the logged
 * JSON instance by name: numeric ones as DOUBLE (JSON numbers only), categorical ones as text.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactStore } from '../artifacts';
import { predictionLogFolder } from '../artifacts/layout';
import type { ColumnReference } from '../drift/reference';
import { predictionColumn } from '../evaluation/prediction-reference';
import { makeTempDir } from '../step-context';
import { ident, literal } from '../warehouse/duckdb';

export interface LogWindow {
  modelName: string;
  version: number;
  since?: string;
  until: string;
}

/** The Parquet parts of the model's log in the day partitions the window touches, or undefined when there is no log. */
export async function logPartsOf(store: ArtifactStore, w: LogWindow): Promise<string[] | undefined> {
  const all = (await store.list(predictionLogFolder(store, w.modelName))).filter((u) => u.endsWith('.parquet'));
  if (!all.length) return undefined;
  const first = w.since ? w.since.slice(0, 10) : '';
  const last = w.until.slice(0, 10);
  return all.filter((uri) => {
    const day = /\/date=(\d{4}-\d{2}-\d{2})\//.exec(uri)?.[1];
    return day !== undefined && day >= first && day <= last;
  });
}

/** Runs `fn` with local paths of the parts (in place for a local store; copied into a temporary folder otherwise). */
export async function withLocalParts<T>(
  store: ArtifactStore,
  parts: string[],
  fn: (files: string[]) => Promise<T>,
): Promise<T> {
  const local = parts.map((p) => store.localPath(p));
  if (local.every((p) => p !== undefined)) return fn(local);
  const dir = await makeTempDir('mlops-monitor-');
  try {
    const files = await Promise.all(
      parts.map(async (uri, i) => {
        const file = path.join(dir, `part-${i}.parquet`);
        await store.download(uri, file);
        return file;
      }),
    );
    return await fn(files);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** `$."name"`: a JSON path to one key, quoted so dots, quotes and brackets in a feature name stay part of the name. */
function keyPath(name: string): string {
  return literal(`$.${JSON.stringify(name)}`);
}

/** The window's rows of the version (raw log columns), as a DuckDB table expression. */
export function windowRows(files: string[], w: LogWindow): string {
  const since = w.since ? ` AND ts > CAST(${literal(w.since)} AS TIMESTAMPTZ)` : '';
  return `(SELECT * FROM read_parquet([${files.map(literal).join(', ')}]) WHERE version = ${Math.trunc(w.version)} AND ts <= CAST(${literal(w.until)} AS TIMESTAMPTZ)${since})`;
}

/**
 * One column per feature, extracted from the logged instance. A numeric feature takes only JSON numbers (text such
 * as "12" or "1e400", booleans, objects and arrays count as null, as the model server refuses them); a categorical
 * one takes any scalar as text.
 */
export function featureColumns(rows: string, reference: Record<string, ColumnReference>): string {
  const columns = Object.entries(reference).map(([name, ref]) => {
    const text = `json_extract_string(features, ${keyPath(name)})`;
    const numeric = `CASE WHEN json_type(features, ${keyPath(name)}) IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT') THEN TRY_CAST(${text} AS DOUBLE) END`;
    return `${ref.kind === 'numeric' ? numeric : text} AS ${ident(name)}`;
  });
  return `(SELECT ${columns.join(', ')} FROM ${rows} AS w)`;
}

/**
 * The logged output as one column named like the version's prediction reference: the predicted label (text) of a
 * classifier, the value (a JSON number) of a regressor; anything else counts as null.
 */
export function outputColumn(rows: string, reference: ColumnReference): string {
  const value = `CASE WHEN json_type(output, '$.value') IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT') THEN TRY_CAST(json_extract_string(output, '$.value') AS DOUBLE) END`;
  const column = reference.kind === 'numeric' ? value : `json_extract_string(output, '$.label')`;
  return `(SELECT ${column} AS ${ident(predictionColumn)} FROM ${rows} AS w)`;
}

/** Rows of the window, and for each feature the rows whose instance has the key at all (null values included). */
export function presenceSql(rows: string, names: string[]): string {
  const present = names.map((n, i) => `count(json_extract(features, ${keyPath(n)})) AS p${i}`);
  return `SELECT count(*) AS n${present.map((p) => `, ${p}`).join('')} FROM ${rows} AS w`;
}
