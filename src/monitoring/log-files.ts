/**
 * The prediction log's files by what their names say: the span of their rows, and for a compacted file its
 * generation. Which files a window reads is decided from a listing alone (compaction: log-compaction.ts).
 */
import { predictionLogCompactedSpan, predictionLogPartSpan } from '../artifacts/layout';

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
 * The files a reader reads for rows in (since, until]: per hour, its newest compacted generation when it has one, else
 * its parts, each only when its span meets the window; and every part no hour claims.
 */
export function readableLogParts(uris: string[], since: number, until: number): string[] {
  const { hours, unspanned } = logHours(uris);
  const meets = (f: SpannedFile) => f.first <= until && f.last > since;
  const files = [...hours.values()].flatMap((h) => (h.compacted.length ? [h.compacted.at(-1)!] : h.parts));
  return [...files.filter(meets).map((f) => f.uri), ...unspanned].sort();
}
