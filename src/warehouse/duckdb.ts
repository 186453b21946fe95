/**
 * Embedded DuckDB: the default warehouse. Each call opens an in-memory database, runs its SQL over Parquet/CSV files
 * and closes it, so no handle outlives an activity (and a cancelled activity leaves nothing open).
 */
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';

export type Row = Record<string, unknown>;

export interface DuckDb {
  /** Runs SQL and returns rows as plain objects (BIGINT and HUGEINT become numbers). */
  query<T extends Row = Row>(sql: string): Promise<T[]>;
  /** Runs SQL and returns each result column as an array. */
  columns(sql: string): Promise<{ names: string[]; columns: unknown[][] }>;
  run(sql: string): Promise<void>;
}

/**
 * Memory one activity's DuckDB may hold before it spills to disk: without a limit the buffer pool may take 80% of RAM
 * and the worker's memory grows with the data instead of staying flat.
 */
const memoryLimit = '512MB';
const spillDirectory = path.join(os.tmpdir(), 'mlops-duckdb-spill');

/** Opens an in-memory DuckDB for the duration of `fn`. `threads` bounds CPU use on shared workers. */
export async function withDuckDb<T>(fn: (db: DuckDb) => Promise<T>, options: { threads?: number } = {}): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:', {
    threads: String(options.threads ?? 2),
    preserve_insertion_order: 'true',
    memory_limit: memoryLimit,
    temp_directory: spillDirectory,
  });
  const connection = await instance.connect();
  try {
    return await fn(wrap(connection));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

function wrap(connection: DuckDBConnection): DuckDb {
  return {
    async query<T extends Row>(sql: string): Promise<T[]> {
      const reader = await connection.runAndReadAll(sql);
      return reader.getRowObjectsJS().map((row) => normalizeRow(row) as T);
    },
    async columns(sql: string) {
      const reader = await connection.runAndReadAll(sql);
      return { names: reader.columnNames(), columns: reader.getColumnsJS().map((col) => col.map(normalizeValue)) };
    },
    async run(sql: string) {
      await connection.run(sql);
    },
  };
}

function normalizeRow(row: Record<string, unknown>): Row {
  const out: Row = {};
  for (const [key, value] of Object.entries(row)) out[key] = normalizeValue(value);
  return out;
}

function normalizeValue(value: unknown): unknown {
  return typeof value === 'bigint' ? Number(value) : value;
}

/** Quotes an identifier for SQL. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes a string literal for SQL. */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

const numericTypes =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|REAL|DECIMAL.*)$/;

/** True for DuckDB column types that are treated as numeric features. */
export function isNumericType(type: string): boolean {
  return numericTypes.test(type);
}
