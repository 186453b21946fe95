import type { DuckDb } from '../warehouse/duckdb';
import { literal } from '../warehouse/duckdb';
import { textDictionaryOptionFor } from '../warehouse/parquet-write';
import type { BigQueryExport } from '../warehouse/bigquery-export';
import { exportedRows } from '../warehouse/bigquery-export';
import type { ParquetTable } from './file-to-parquet';
import { describeParquet } from './file-to-parquet';
import type { HashedBytes } from './hashing';
import { hashFile } from './hashing';

/** Bump when the canonical form changes: it changes every BigQuery snapshot id. */
const canonicalVersion = 'mlops-bigquery-rows-v1';
/** BigQuery rows can reach 100 MB; DuckDB's default JSON line limit is 16 MB (its read buffers grow with the limit). */
const maxRowBytes = 128 * 1024 * 1024;

/**
 * Writes exported BigQuery rows as the snapshot's Parquet, sorted by every column (`ORDER BY ALL`): BigQuery returns
 * rows in no fixed order, so sorting is what makes equal data give equal bytes. The content hash is sha256 over a
 * version tag, the column names and types, and the sorted rows re-serialized by DuckDB as NDJSON in UTC.
 */
export async function bigQueryRowsToParquet(
  db: DuckDb,
  exported: BigQueryExport,
  parquetPath: string,
  canonicalPath: string,
): Promise<ParquetTable & HashedBytes> {
  // Timestamps serialize in the session time zone; pin it so the hash does not depend on the worker's.
  await db.run("SET TimeZone = 'UTC'");
  const rows = exportedRows(exported, maxRowBytes);
  // A table of hundreds of text columns: their dictionaries share a budget (../warehouse/parquet-write.ts).
  const dictionaries = await textDictionaryOptionFor(db, rows);
  await db.run(
    `COPY (SELECT * FROM ${rows} ORDER BY ALL) TO ${literal(parquetPath)} (FORMAT parquet, COMPRESSION zstd${dictionaries})`,
  );
  await db.run(`COPY (SELECT * FROM read_parquet(${literal(parquetPath)})) TO ${literal(canonicalPath)} (FORMAT json)`);
  const table = await describeParquet(db, parquetPath);
  const hashed = await hashFile(canonicalPath, `${canonicalVersion}\n${JSON.stringify(exported.columns)}\n`);
  return { ...table, ...hashed };
}
