/**
 * Compaction of the prediction log. The model server writes a part every few seconds per process (~17,000 a day at
 * the default 5 s), and every window read lists and opens them all: a week's lookback of the live metric is over a
 * hundred thousand small files. Once an hour of the log is closed, its parts are merged into one Parquet file sorted by
 * time (`predictionLogCompacted`), which readers then read instead of them.
 *
 * Readers decide from the listing (`readableLogParts`, log-files.ts), and take no lock:
 * - an hour is the UTC hour of a part's earliest row; only parts named with the span of their rows are compacted
 *   (older names, and names a reader cannot parse, are always read and never merged);
 * - where an hour has a compacted file, readers read its newest generation instead of the parts it holds (listed in
 *   its sidecar, read only while the hour still has parts). A compacted file appears at once (the store's writes are
 *   atomic), so a reader sees a part or the merged file holding it, never both;
 * - a part that lands in an hour after it was compacted (a writer far behind) is read beside the compacted file, and
 *   merged by the next compaction, which writes a new generation from the previous one and the late parts;
 * - merged parts and superseded generations are removed only `retentionMs` after the generation that replaced them
 *   was written, so a reader that listed before the swap finishes on files that still exist.
 *
 * An hour is compacted once it ended `graceMs` before `before` (parts are written seconds after their rows).
 */
import path from 'node:path';
import fs from 'node:fs/promises';
import type { ArtifactStore } from '../artifacts';
import {
  predictionLogCompacted,
  predictionLogCompactedOfSources,
  predictionLogCompactedSources,
  predictionLogCompactedSpan,
  predictionLogFolder,
} from '../artifacts/layout';
import type { CompactPredictionLogInput, CompactPredictionLogResult } from '../contracts/monitoring';
import { makeTempDir, reportProgress, throwIfCancelled } from '../step-context';
import { literal, withDuckDb } from '../warehouse/duckdb';
import { textDictionaryOptionFor } from '../warehouse/parquet-write';
import type { CompactedSources, SpannedFile } from './log-files';
import { compactedSources, fileName, logHours } from './log-files';
import { withLocalParts } from './prediction-window';

export interface CompactionOptions {
  /** The compaction's clock (epoch milliseconds): generations are named by it and retention is counted from it. */
  now: number;
  /** How long after an hour's end its parts may still land. @default 15 minutes */
  graceMs?: number;
  /** How long replaced files stay for readers that listed before. @default 1 hour */
  retentionMs?: number;
  /** DuckDB threads for a merge. @default 2 */
  threads?: number;
}

export const defaultCompactionGraceMs = 15 * 60_000;
export const defaultCompactionRetentionMs = 60 * 60_000;

/** Compacts the closed hours of a model's log, and removes what earlier compactions replaced once retention passed. */
export async function compactPredictionLog(
  store: ArtifactStore,
  input: CompactPredictionLogInput,
  options: CompactionOptions,
): Promise<CompactPredictionLogResult> {
  const before = Date.parse(input.before);
  const grace = options.graceMs ?? defaultCompactionGraceMs;
  // What a generation written at or before this replaced can no longer be in a reader's hands.
  const settledBy = options.now - (options.retentionMs ?? defaultCompactionRetentionMs);
  const listing = await store.list(predictionLogFolder(store, input.modelName));
  const { hours } = logHours(listing);
  const present = new Set(listing);
  const result: CompactPredictionLogResult = { hoursCompacted: 0, partsMerged: 0, rowsWritten: 0, filesRemoved: 0 };
  const remove = async (uri: string) => {
    if (await store.remove(uri)) result.filesRemoved++;
  };
  for (const hour of [...hours.values()].sort((a, b) => a.hour.localeCompare(b.hour))) {
    throwIfCancelled();
    // Compacted, its parts removed and no older generation left: the state of every hour but the last few. Nothing is
    // read for it, so a run costs a listing however long the log is.
    if (hour.parts.length === 0 && hour.compacted.length <= 1) continue;
    const latest = hour.compacted.at(-1);
    const known = latest ? await compactedSources(store, latest.uri, present) : new Set<string>();
    // A generation whose sidecar is gone cannot say which parts it holds: the hour is left as it is.
    if (!known) continue;
    const late = hour.parts.filter((p) => !known.has(fileName(p)));
    const closed = Date.parse(`${hour.hour}:00:00.000Z`) + 3_600_000 + grace <= before;
    if (closed && (latest ? late.length > 0 : late.length > 1)) {
      // One hour that cannot be merged (a part that is not Parquet: every window over it fails too) must not stop the
      // hours after it; it is named in the result and tried again by the next run.
      const written = await mergeHour(store, input.modelName, latest, known, late, options).catch((err: unknown) => {
        throwIfCancelled();
        const why = err instanceof Error ? err.message : String(err);
        (result.failedHours ??= []).push(`${hour.hour}:00Z: ${why.length > 300 ? `${why.slice(0, 300)}…` : why}`);
        return undefined;
      });
      if (!written) continue;
      hour.compacted.push(written);
      present.add(written.uri).add(predictionLogCompactedSources(written.uri));
      result.hoursCompacted++;
      result.partsMerged += late.length;
      result.rowsWritten += written.rows;
      reportProgress({ hoursCompacted: result.hoursCompacted, hour: hour.hour });
    }
    // Retention: a generation superseded by a settled one goes, and so do the parts the newest settled one holds.
    for (const [i, c] of hour.compacted.entries()) {
      if ((hour.compacted[i + 1]?.generation ?? Infinity) > settledBy) continue;
      await remove(predictionLogCompactedSources(c.uri));
      await remove(c.uri);
    }
    const newestSettled = hour.compacted.filter((c) => c.generation <= settledBy).at(-1);
    if (newestSettled && hour.parts.length > 0) {
      const inIt =
        newestSettled === latest ? known : ((await compactedSources(store, newestSettled.uri, present)) ?? new Set());
      for (const p of hour.parts) if (inIt.has(fileName(p))) await remove(p.uri);
    }
  }
  // A sidecar whose compacted file never appeared (a compaction stopped between the two writes).
  for (const uri of listing) {
    const parquet = predictionLogCompactedOfSources(uri);
    const span = parquet ? predictionLogCompactedSpan(parquet) : undefined;
    if (parquet && span && !present.has(parquet) && span.generation <= settledBy) await remove(uri);
  }
  return result;
}

/**
 * Writes the hour's next generation: the previous one (if any) and the parts it lacks, sorted by time. The sidecar is
 * written first, then the Parquet file, which is what readers see; the rows are counted in and out before it is.
 */
async function mergeHour(
  store: ArtifactStore,
  modelName: string,
  previous: (SpannedFile & { generation: number }) | undefined,
  held: Set<string>,
  late: SpannedFile[],
  options: CompactionOptions,
): Promise<SpannedFile & { generation: number; rows: number }> {
  const inputs = [...(previous ? [previous] : []), ...late];
  const span = { first: Math.min(...inputs.map((f) => f.first)), last: Math.max(...inputs.map((f) => f.last)) };
  const target = predictionLogCompacted(store, modelName, span, options.now);
  const dir = await makeTempDir('mlops-compact-');
  try {
    const out = path.join(dir, 'compacted.parquet');
    const rows = await withLocalParts(
      store,
      inputs.map((f) => f.uri),
      (files) =>
        withDuckDb(
          async (db) => {
            // The day folder's `date=` is not a column of the parts: not read from the path, so not written either.
            const relation = `read_parquet([${files.map(literal).join(', ')}], union_by_name = true, hive_partitioning = false)`;
            const [counted] = await db.query<{ n: number }>(`SELECT count(*) AS n FROM ${relation}`);
            // A model of hundreds of text features logs a struct of as many text fields: their dictionaries share a
            // budget (../warehouse/parquet-write.ts; 600 of them ran a compaction out of 512MB).
            const dictionaries = await textDictionaryOptionFor(db, relation);
            await db.run(
              `COPY (SELECT * FROM ${relation} ORDER BY ts) TO ${literal(out)} (FORMAT parquet, COMPRESSION zstd${dictionaries})`,
            );
            const [written] = await db.query<{ n: number }>(`SELECT count(*) AS n FROM read_parquet(${literal(out)})`);
            if (counted?.n !== written?.n)
              throw new Error(`compacting ${target.parquet}: read ${counted?.n} rows but wrote ${written?.n}`);
            return written!.n;
          },
          { threads: options.threads ?? 2 },
        ),
    );
    const sources: CompactedSources = {
      sources: [...held, ...late.map(fileName)],
      rows,
    };
    await store.write(target.sources, `${JSON.stringify(sources)}\n`);
    await store.adopt(out, target.parquet);
    return { uri: target.parquet, ...span, generation: options.now, rows };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
