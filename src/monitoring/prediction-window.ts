/**
 * A window (since, until] of a model version's prediction log as a relation with one column per feature, for the
 * drift counting queries. The log's Parquet parts are read by DuckDB where they lie (a local store) or from local
 * copies (a remote one); only the day partitions the window touches are read. Features are read from the typed
 * `features` group by name (`log-columns.ts`): numeric ones as DOUBLE, categorical ones as text.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactStore } from '../artifacts';
import { predictionLogFolder } from '../artifacts/layout';
import type { ColumnReference } from '../drift/reference';
import { predictionColumn } from '../evaluation/prediction-reference';
import { makeTempDir } from '../step-context';
import { ident, literal } from '../warehouse/duckdb';
import { readableLogParts } from './log-files';
import { featurePresent, featureValue, logParts, predictedLabel, predictedValue } from './log-columns';
import type { LogLayout } from './log-columns';

export interface LogWindow {
  modelName: string;
  version: number;
  since?: string;
  until: string;
}

/**
 * The Parquet parts of the model's log that may hold rows of the window, or undefined when there is no log. Only the
 * day partitions the window touches are listed (the whole log when it has no start, or spans more than a year), and a
 * file whose name gives the span of its rows is skipped when that span lies outside (since, until]: a bake of ten
 * minutes reads its ten minutes of parts, not its day's thousands. A compacted hour is read from its compacted file
 * instead of the parts it holds (`readableLogParts`, log-files.ts).
 */
export async function logPartsOf(store: ArtifactStore, w: LogWindow): Promise<string[] | undefined> {
  const parquet = (uris: string[]) => uris.filter((u) => u.endsWith('.parquet'));
  const days = w.since ? utcDays(w.since, w.until) : [];
  const byDay = days.length > 0 && days.length <= maxListedDays;
  const listed = byDay
    ? (await Promise.all(days.map((day) => store.list(predictionLogFolder(store, w.modelName, day))))).flat()
    : await store.list(predictionLogFolder(store, w.modelName));
  const first = w.since ? w.since.slice(0, 10) : '';
  const last = w.until.slice(0, 10);
  const inDays = parquet(listed).filter((uri) => {
    const day = /\/date=(\d{4}-\d{2}-\d{2})\//.exec(uri)?.[1];
    return day !== undefined && day >= first && day <= last;
  });
  // Nothing in the window's days: whether the model has a log at all decides between "no rows" and "no log".
  if (inDays.length === 0) {
    const whole = byDay ? await store.list(predictionLogFolder(store, w.modelName)) : listed;
    return parquet(whole).length === 0 ? undefined : [];
  }
  return readableLogParts(store, inDays, w.since ? Date.parse(w.since) : -Infinity, Date.parse(w.until));
}

/** Day partitions listed one by one at most; a longer window lists the whole log once. */
const maxListedDays = 366;

/** The UTC days (YYYY-MM-DD) from the day of `since` to the day of `until`, both included. */
function utcDays(since: string, until: string): string[] {
  const days: string[] = [];
  const end = Date.parse(`${until.slice(0, 10)}T00:00:00Z`);
  for (let t = Date.parse(`${since.slice(0, 10)}T00:00:00Z`); t <= end && days.length <= maxListedDays; t += 86_400_000)
    days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

/** Parts downloaded at once from a remote store. */
const parallelDownloads = 16;

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
    // A few downloads at a time: a week's lookback can hold a hundred thousand parts.
    const files = parts.map((_, i) => path.join(dir, `part-${i}.parquet`));
    let next = 0;
    const fetcher = async () => {
      for (let i = next++; i < parts.length; i = next++) await store.download(parts[i]!, files[i]!);
    };
    await Promise.all(Array.from({ length: Math.min(parallelDownloads, parts.length) }, fetcher));
    return await fn(files);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The window's rows of the version (raw log columns), as a DuckDB table expression. */
export function windowRows(files: string[], w: LogWindow): string {
  const since = w.since ? ` AND ts > CAST(${literal(w.since)} AS TIMESTAMPTZ)` : '';
  return `(SELECT * FROM ${logParts(files)} WHERE version = ${Math.trunc(w.version)} AND ts <= CAST(${literal(w.until)} AS TIMESTAMPTZ)${since})`;
}

/**
 * One column per feature of the reference, read from the logged features: a numeric feature as DOUBLE, a categorical
 * one as text; a feature the log does not have is all null.
 */
export function featureColumns(layout: LogLayout) {
  return (rows: string, reference: Record<string, ColumnReference>): string => {
    const columns = Object.entries(reference).map(
      ([name, ref]) =>
        `${featureValue(layout, 'w', name, ref.kind === 'numeric' ? 'numeric' : 'categorical')} AS ${ident(name)}`,
    );
    return `(SELECT ${columns.join(', ')} FROM ${rows} AS w)`;
  };
}

/**
 * The logged output as one column named like the version's prediction reference: the predicted label (text) of a
 * classifier, the value of a regressor.
 */
export function outputColumn(layout: LogLayout) {
  return (rows: string, reference: ColumnReference): string => {
    const column = reference.kind === 'numeric' ? predictedValue(layout, 'w') : predictedLabel(layout, 'w');
    return `(SELECT ${column} AS ${ident(predictionColumn)} FROM ${rows} AS w)`;
  };
}

/**
 * Rows of the window, and for each feature the rows that have it (null values included; the model server logs every
 * feature of the version).
 */
export function presenceSql(layout: LogLayout) {
  return (rows: string, names: string[]): string => {
    const present = names.map((n, i) => `count(*) FILTER (WHERE ${featurePresent(layout, 'w', n)}) AS p${i}`);
    return `SELECT count(*) AS n${present.map((p) => `, ${p}`).join('')} FROM ${rows} AS w`;
  };
}
