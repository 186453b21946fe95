/**
 * Options of DuckDB's Parquet writer shared by every step that writes Parquet of user-shaped columns (ingestion, the
 * prediction log's compaction, a snapshot's export).
 *
 * DuckDB's Parquet writer (1.5) sets aside a dictionary buffer of 1 MiB for every text column before it reads a value,
 * inside the memory limit, and grows it as the column's distinct values need: 450 text columns took the default 512MB
 * on a 9 MB file, where 3,000 numeric columns take 300MB. A table of more text columns than this budget holds at 1 MiB
 * each shares it among them (STRING_DICTIONARY_PAGE_SIZE_LIMIT, 128 KiB a column at 1,000): a column whose distinct
 * values outgrow its share in a row group is written plain instead, the same values in more bytes. Narrower tables are
 * written as they always were.
 */
import type { DuckDb } from './duckdb';

const textDictionaryBudget = 128 * 1024 * 1024;
const textDictionaryDefault = 1024 * 1024;
const textDictionaryMinimum = 16 * 1024;

/**
 * The writer option (`, STRING_DICTIONARY_PAGE_SIZE_LIMIT n`, or nothing) for a table of columns of these DuckDB
 * types; a nested type counts each of its text fields (a prediction log's typed features are one struct).
 */
export function textDictionaryOption(types: readonly string[]): string {
  const text = types.reduce((n, type) => n + (type.match(/\b(VARCHAR|BLOB|JSON)\b/g)?.length ?? 0), 0);
  const share = Math.floor(textDictionaryBudget / Math.max(1, text));
  if (share >= textDictionaryDefault) return '';
  return `, STRING_DICTIONARY_PAGE_SIZE_LIMIT ${Math.max(textDictionaryMinimum, share)}`;
}

/**
 * The writer option for what `relation` reads, from its types (detected from a sample where `relation` is a file's
 * reader); nothing where they cannot be described (the write then reports the relation's own error).
 */
export async function textDictionaryOptionFor(db: DuckDb, relation: string): Promise<string> {
  const described = await db
    .query<{ column_type: string }>(`DESCRIBE SELECT * FROM ${relation}`)
    .catch((): { column_type: string }[] => []);
  return textDictionaryOption(described.map((c) => c.column_type));
}
