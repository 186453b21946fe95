/**
 * A snapshot's rows written back out as a file (`npm run datasets -- export <id> <file>`): the exact data a model was
 * trained on, to open in a notebook or hand to another tool. CSV, Parquet or JSON Lines by the file's extension. The
 * file appears whole or not at all (written beside it, then renamed), and an existing file is only replaced when asked.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactStore } from '../artifacts';
import { withLocalCopy } from '../artifacts';
import { ApplicationFailure } from '@temporalio/common';
import { mlopsError } from '../errors';
import { literal, withDuckDb } from '../warehouse/duckdb';
import { textDictionaryOptionFor } from '../warehouse/parquet-write';
import { describeSnapshot } from './catalog';

export interface ExportSnapshotOptions {
  /** Replace a file already there. @default false */
  overwrite?: boolean;
}

export interface ExportedSnapshot {
  snapshotId: string;
  file: string;
  format: 'csv' | 'parquet' | 'jsonl';
  rows: number;
  bytes: number;
}

const formats: Record<string, ExportedSnapshot['format']> = {
  '.csv': 'csv',
  '.parquet': 'parquet',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
};

const copyOptions: Record<ExportedSnapshot['format'], string> = {
  csv: "(FORMAT csv, HEADER true, DELIMITER ',')",
  parquet: '(FORMAT parquet, COMPRESSION zstd)',
  jsonl: '(FORMAT json)',
};

export async function exportSnapshot(
  store: ArtifactStore,
  snapshotId: string,
  file: string,
  options: ExportSnapshotOptions = {},
): Promise<ExportedSnapshot> {
  const target = path.resolve(file);
  const existing = await fs.stat(target).catch(() => undefined);
  if (existing?.isDirectory())
    throw mlopsError('MLOPS_ERR_DATA_EXPORT_INVALID', { file: target, reason: 'it is a folder' });
  const format = formats[path.extname(target).toLowerCase()];
  if (!format)
    throw mlopsError('MLOPS_ERR_DATA_EXPORT_INVALID', {
      file: target,
      reason: `its extension "${path.extname(target) || '(none)'}" names no format this command writes`,
    });
  const folder = await fs.stat(path.dirname(target)).catch(() => undefined);
  if (!folder?.isDirectory())
    throw mlopsError('MLOPS_ERR_DATA_EXPORT_INVALID', { file: target, reason: 'its folder does not exist' });
  if (existing && !options.overwrite)
    throw mlopsError('MLOPS_ERR_DATA_EXPORT_INVALID', {
      file: target,
      reason: 'a file is already there (add --force to replace it)',
    });
  const { manifest } = await describeSnapshot(store, snapshotId);
  const partial = `${target}.partial-${process.pid}`;
  try {
    await withLocalCopy(store, manifest.dataUri, (parquet) =>
      withDuckDb(async (db) => {
        const relation = `read_parquet(${literal(parquet)})`;
        // Parquet of hundreds of text columns: their dictionaries share a budget (../warehouse/parquet-write.ts).
        const options =
          format === 'parquet'
            ? `(FORMAT parquet, COMPRESSION zstd${await textDictionaryOptionFor(db, relation)})`
            : copyOptions[format];
        await db.run(`COPY (SELECT * FROM ${relation}) TO ${literal(partial)} ${options}`);
      }),
    ).catch((err: unknown) => {
      // A catalogued error (out of memory, an unreadable snapshot) already names its cause and fix.
      if (err instanceof ApplicationFailure) throw err;
      // The folder refuses the file (permissions, a read-only or special file system such as /proc): say so of the
      // file asked for, not of the partial one.
      const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.replaceAll(partial, target);
      throw mlopsError('MLOPS_ERR_DATA_EXPORT_INVALID', {
        file: target,
        reason: `it cannot be written there (${reason})`,
      });
    });
    await fs.rename(partial, target);
  } finally {
    await fs.rm(partial, { force: true });
  }
  const { size } = await fs.stat(target);
  return { snapshotId: manifest.snapshotId, file: target, format, rows: manifest.rowCount, bytes: size };
}
