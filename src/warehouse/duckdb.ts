/**
 * Embedded DuckDB: the default warehouse. Each call opens an in-memory database, runs its SQL over Parquet/CSV files
 * and closes it, so no handle outlives an activity (and a cancelled activity leaves nothing open).
 */
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import { mlopsError } from '../errors';
import { stepScratchDir, stepSignal } from '../step-context';
import { duckDbMemoryLimit } from './duckdb-memory';
import { duckDbIdent, duckDbLiteral } from './duckdb-text';

export type Row = Record<string, unknown>;

export interface DuckDb {
  /** Runs SQL and returns rows as plain objects (BIGINT and HUGEINT become numbers). */
  query<T extends Row = Row>(sql: string): Promise<T[]>;
  /** Runs SQL and returns each result column as an array. */
  columns(sql: string): Promise<{ names: string[]; columns: unknown[][] }>;
  run(sql: string): Promise<void>;
}

/**
 * DuckDB's "Out of Memory Error" as the catalogued error naming the limit and the setting (not retried: the same data
 * need the same memory); undefined for any other error. Its advice (`SET memory_limit`) is for a DuckDB shell.
 */
export function outOfMemoryError(err: unknown): Error | undefined {
  const message = err instanceof Error ? err.message : String(err);
  const found = /Out of Memory Error: ([^\n]*)/.exec(message);
  if (!found) return undefined;
  return mlopsError('MLOPS_ERR_DATA_OUT_OF_MEMORY', { limit: duckDbMemoryLimit(), detail: found[1]!.trim() });
}

/** Rethrows DuckDB's out-of-memory error as the catalogued one, any other as it is. */
function rethrow(err: unknown): never {
  throw outOfMemoryError(err) ?? err;
}
const spillDirectory = path.join(os.tmpdir(), 'mlops-duckdb-spill');
const interruptRetryMs = 20;

export interface DuckDbOptions {
  /**
   * Threads of each instance; bounds CPU use on shared workers.
   * @default 2
   */
  threads?: number;
  /**
   * Separate in-memory instances behind the one handle. Each call runs on the first idle instance, in call order, so
   * up to this many statements run at once: single-threaded instances use several cores while each query stays
   * deterministic (a parallel aggregate merges its partial states in varying order). Instances share no session state
   * (settings, tables), so calls must be independent reads or writes of files. Each has the whole memory limit.
   * @default 1
   */
  instances?: number;
  /**
   * Connections to one instance behind the one handle, dispatched like `instances`: up to this many statements run at
   * once, each on its own thread even with `threads: 1`, and unlike separate instances they share the catalog (tables,
   * views) and the memory limit. For independent statements over relations the caller has created.
   * @default 1
   */
  connections?: number;
  /**
   * Where sorts and large aggregates spill.
   * @default `<os tmpdir>/mlops-duckdb-spill`
   */
  tempDirectory?: string;
}

/**
 * Opens an in-memory DuckDB (or several, see {@link DuckDbOptions.instances}, or several connections to one) for the
 * duration of `fn`.
 */
export async function withDuckDb<T>(fn: (db: DuckDb) => Promise<T>, options: DuckDbOptions = {}): Promise<T> {
  const count = Math.max(1, options.instances ?? 1);
  const perInstance = Math.max(1, options.connections ?? 1);
  if (count > 1 && perInstance > 1)
    throw new Error('withDuckDb: use several instances or several connections, not both');
  const settings = {
    threads: String(options.threads ?? 2),
    preserve_insertion_order: 'true',
    memory_limit: duckDbMemoryLimit(),
    // Inside a step, spills go to the attempt's scratch folder, which a later worker start sweeps if this one dies.
    temp_directory: options.tempDirectory ?? stepScratchDir() ?? spillDirectory,
  };
  const instances: DuckDBInstance[] = [];
  const connections: DuckDBConnection[] = [];
  const handles = new HandlePool();
  // A cancelled step interrupts its statements; they then fail, and the step with them. Repeatedly: a statement
  // being started when the signal fires would miss a single interrupt.
  const signal = stepSignal();
  let interrupting: NodeJS.Timeout | undefined;
  const interruptAll = () => connections.forEach((c) => c.interrupt());
  const interrupt = () => {
    interruptAll();
    interrupting ??= setInterval(interruptAll, interruptRetryMs);
  };
  signal?.addEventListener('abort', interrupt);
  try {
    signal?.throwIfAborted();
    for (let i = 0; i < count; i++) {
      instances.push(await DuckDBInstance.create(':memory:', settings));
      for (let c = 0; c < perInstance; c++) connections.push(await instances[i]!.connect());
    }
    return await fn(connections.length === 1 ? wrap(connections[0]!) : handles.open(connections.map(wrap)));
  } finally {
    signal?.removeEventListener('abort', interrupt);
    clearInterval(interrupting);
    // A query still running on another handle (its caller gave up on an error) must end before the close.
    await handles.close(() => connections.forEach((c) => c.interrupt()));
    for (const connection of connections) connection.closeSync();
    for (const instance of instances) instance.closeSync();
  }
}

/** Hands each call to the first idle handle, in call order; calls wait while every handle is busy. */
class HandlePool {
  private idle: DuckDb[] = [];
  private waiting: ((db: DuckDb | undefined) => void)[] = [];
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;

  open(handles: DuckDb[]): DuckDb {
    this.idle = [...handles];
    return {
      query: (sql) => this.use((db) => db.query(sql)),
      columns: (sql) => this.use((db) => db.columns(sql)),
      run: (sql) => this.use((db) => db.run(sql)),
    };
  }

  async close(interrupt: () => void): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake(undefined);
    let settled = this.running.size === 0;
    const ended = Promise.allSettled(this.running).then(() => (settled = true));
    // DuckDB forgets an interrupt that arrives before its query has started, so it is repeated until all have ended.
    while (!settled) {
      interrupt();
      await Promise.race([ended, sleep(interruptRetryMs)]);
    }
  }

  private async use<R>(call: (db: DuckDb) => Promise<R>): Promise<R> {
    const db = this.idle.shift() ?? (await new Promise<DuckDb | undefined>((wake) => this.waiting.push(wake)));
    if (!db || this.closed) throw new Error('DuckDB was closed before the statement could run');
    const running = call(db);
    this.running.add(running);
    try {
      return await running;
    } finally {
      this.running.delete(running);
      this.release(db);
    }
  }

  private release(db: DuckDb): void {
    const next = this.waiting.shift();
    if (next) next(db);
    else this.idle.push(db);
  }
}

function wrap(connection: DuckDBConnection): DuckDb {
  return {
    async query<T extends Row>(sql: string): Promise<T[]> {
      const reader = await connection.runAndReadAll(sql).catch(rethrow);
      return reader.getRowObjectsJS().map((row) => normalizeRow(row) as T);
    },
    async columns(sql: string) {
      const reader = await connection.runAndReadAll(sql).catch(rethrow);
      return { names: reader.columnNames(), columns: reader.getColumnsJS().map((col) => col.map(normalizeValue)) };
    },
    async run(sql: string) {
      await connection.run(sql).catch(rethrow);
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

/**
 * The first `width` columns of a `columns()` answer as one row-major array (`rows × width`: a model's input, a
 * table of outputs), each value through `Number` (NULL becomes 0, as a typed array stores it).
 */
export function rowMajor<A extends Float32Array | Float64Array>(
  columns: unknown[][],
  width: number,
  array: new (length: number) => A,
): A {
  const rows = columns[0]?.length ?? 0;
  const out = new array(rows * width);
  for (let j = 0; j < width; j++) {
    const column = columns[j]!;
    for (let i = 0; i < rows; i++) out[i * width + j] = Number(column[i]);
  }
  return out;
}

/** Quotes an identifier for SQL. */
export const ident = duckDbIdent;

/** Quotes a string literal for SQL (a NUL character too). */
export const literal = duckDbLiteral;

const numericTypes =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|REAL|DECIMAL.*)$/;

/** True for DuckDB column types that are treated as numeric features. */
export function isNumericType(type: string): boolean {
  return numericTypes.test(type);
}
