/**
 * The prediction log's files by what their names say: the span of their rows, and for a compacted file its
 * generation. Which files a window reads is decided from a listing, and for an hour that has both a compacted file and
 * parts, from the compacted file's sidecar (compaction: log-compaction.ts).
 */
import path from 'node:path';
import type { ArtifactStore } from '../artifacts';
import { predictionLogCompactedSources, predictionLogCompactedSpan, predictionLogPartSpan } from '../artifacts/layout';

/** A file of the log whose name gives the span of its rows (epoch milliseconds). */
export interface SpannedFile {
  uri: string;
  first: number;
  last: number;
}

/** One UTC hour of a model's log: the parts whose earliest row lies in it, and its compacted generations. */
export interface LogHour {
  /** `YYYY-MM-DDTHH`. */
  hour: string;
  parts: SpannedFile[];
  /** Oldest generation first. */
  compacted: (SpannedFile & { generation: number })[];
}

/**
 * The log's Parquet files by hour. `unspanned` holds the parts no hour can claim: named before the span was kept, with
 * a name a reader cannot parse, or lying in another day's folder than their rows' — read whole, never compacted.
 */
export function logHours(uris: string[]): { hours: Map<string, LogHour>; unspanned: string[] } {
  const hours = new Map<string, LogHour>();
  const unspanned: string[] = [];
  const hourOf = (first: number) => {
    const key = new Date(first).toISOString().slice(0, 13);
    let hour = hours.get(key);
    if (!hour) hours.set(key, (hour = { hour: key, parts: [], compacted: [] }));
    return hour;
  };
  for (const uri of uris) {
    if (!uri.endsWith('.parquet')) continue;
    const folderDay = /\/date=(\d{4}-\d{2}-\d{2})\/[^/]+$/.exec(uri)?.[1];
    const compacted = predictionLogCompactedSpan(uri);
    const span = compacted ?? predictionLogPartSpan(uri);
    if (span?.last === undefined || new Date(span.first).toISOString().slice(0, 10) !== folderDay) {
      unspanned.push(uri);
      continue;
    }
    const file = { uri, first: span.first, last: span.last };
    if (compacted) hourOf(span.first).compacted.push({ ...file, generation: compacted.generation });
    else hourOf(span.first).parts.push(file);
  }
  for (const hour of hours.values()) hour.compacted.sort((a, b) => a.generation - b.generation);
  return { hours, unspanned };
}

/**
 * What a compacted file's sidecar records: the file names of the parts merged into it, over all its generations, and
 * its rows (for a person reading it).
 */
export interface CompactedSources {
  sources: string[];
  rows: number;
}

/**
 * The file names of the parts a compacted file holds (its sidecar), or undefined when the sidecar is missing (not in
 * `present`, when given) or not one the compaction wrote.
 */
export async function compactedSources(
  store: ArtifactStore,
  parquet: string,
  present?: Set<string>,
): Promise<Set<string> | undefined> {
  const uri = predictionLogCompactedSources(parquet);
  if (present && !present.has(uri)) return undefined;
  try {
    const value = JSON.parse((await store.read(uri)).toString('utf8')) as Partial<CompactedSources>;
    if (!Array.isArray(value.sources) || !value.sources.every((s) => typeof s === 'string')) return undefined;
    return new Set(value.sources);
  } catch {
    return undefined;
  }
}

/**
 * The files a reader reads for rows in (since, until], each only when its span meets the window: per hour, its newest
 * compacted generation when it has one, and of its parts those that generation does not hold (its sidecar says which;
 * read only for an hour whose parts meet the window; without a readable sidecar none of the parts); the parts of an
 * hour without one; and every part no hour claims.
 */
export async function readableLogParts(
  store: ArtifactStore,
  uris: string[],
  since: number,
  until: number,
): Promise<string[]> {
  const { hours, unspanned } = logHours(uris);
  const meets = (f: SpannedFile) => f.first <= until && f.last > since;
  const perHour = await Promise.all(
    [...hours.values()].map(async (h): Promise<SpannedFile[]> => {
      const newest = h.compacted.at(-1);
      const parts = h.parts.filter(meets);
      if (!newest) return parts;
      if (parts.length === 0) return [newest];
      const held = (await compactedSources(store, newest.uri)) ?? new Set(parts.map(fileName));
      return [newest, ...parts.filter((p) => !held.has(fileName(p)))];
    }),
  );
  return [
    ...perHour
      .flat()
      .filter(meets)
      .map((f) => f.uri),
    ...unspanned,
  ].sort();
}

/** A file's name in its day folder: what a sidecar lists. */
export const fileName = (f: SpannedFile): string => path.posix.basename(f.uri);
