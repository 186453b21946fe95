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

export interface DuckDbOptions {
  /**
   * Threads of the instance; bounds CPU use on shared workers.
   * @default 2
   */
  threads?: number;
  /**
   * Connections behind the one handle. Each call runs on the first idle connection, in call order, so up to this many
   * statements run at once, each on its own thread, even with `threads: 1`: a single-threaded query is deterministic
   * (a parallel aggregate merges its partial states, and a parallel Parquet write its row groups, in varying order),
   * and independent queries issued together still use several cores. Connections share the catalog (tables, views).
   * @default 1
   */
  connections?: number;
}

/** Opens an in-memory DuckDB for the duration of `fn`. */
export async function withDuckDb<T>(fn: (db: DuckDb) => Promise<T>, options: DuckDbOptions = {}): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:', {
    threads: String(options.threads ?? 2),
    preserve_insertion_order: 'true',
    memory_limit: memoryLimit,
    temp_directory: spillDirectory,
  });
  const connections: DuckDBConnection[] = [];
  const pool = new ConnectionPool();
  try {
    for (let i = 0; i < Math.max(1, options.connections ?? 1); i++) connections.push(await instance.connect());
    return await fn(connections.length === 1 ? wrap(connections[0]!) : pool.open(connections.map(wrap)));
  } finally {
    // A statement still running on another connection (its caller gave up after an error) must end before the close.
    await pool.drain(() => connections.forEach((c) => c.interrupt()));
    for (const connection of connections) connection.closeSync();
    instance.closeSync();
  }
}

/** Hands each call to the first idle connection, queueing calls in order while all are busy. */
class ConnectionPool {
  private idle: DuckDb[] = [];
  private readonly waiting: ((db: DuckDb) => void)[] = [];
  private readonly running = new Set<Promise<unknown>>();

  open(handles: DuckDb[]): DuckDb {
    this.idle = [...handles];
    return {
      query: <T extends Row>(sql: string) => this.use((db) => db.query<T>(sql)),
      columns: (sql) => this.use((db) => db.columns(sql)),
      run: (sql) => this.use((db) => db.run(sql)),
    };
  }

  private async use<R>(call: (db: DuckDb) => Promise<R>): Promise<R> {
    const db = this.idle.pop() ?? (await new Promise<DuckDb>((resolve) => this.waiting.push(resolve)));
    const running = call(db);
    this.running.add(running);
    try {
      return await running;
    } finally {
      this.running.delete(running);
      const next = this.waiting.shift();
      if (next) next(db);
      else this.idle.push(db);
    }
  }

  async drain(interrupt: () => void): Promise<void> {
    this.waiting.length = 0;
    if (this.running.size === 0) return;
    interrupt();
    await Promise.allSettled([...this.running]);
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
