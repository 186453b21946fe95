/**
 * A warehouse the profiling and preprocessing SQL runs in: DuckDB (embedded, the default) or BigQuery. Both return
 * aggregate rows only, so the same code runs on either; `dialect` holds what differs in their SQL.
 */
import type { SqlDialect } from './sql-dialect';
import { duckDbDialect } from './sql-dialect';
import type { DuckDb, Row } from './duckdb';
import { literal } from './duckdb';

export type WarehouseKind = 'duckdb' | 'bigquery';

/** The column every staged snapshot row carries: its 0-based row number in the snapshot's Parquet file. */
export const rowNumberColumn = '__row';

export interface WarehouseColumn {
  name: string;
  /** The warehouse's type name, e.g. `BIGINT` (DuckDB) or `INTEGER` (BigQuery). */
  type: string;
}

export interface WarehouseTable {
  /** A table expression of the dialect, usable after `FROM`. */
  from: string;
  columns: WarehouseColumn[];
}

export interface Warehouse {
  readonly dialect: SqlDialect;
  /** Runs a query and returns its (few, aggregate) rows as plain objects; integers and floats as numbers. */
  query(sql: string): Promise<Row[]>;
  /** The table expression and profiled columns of a table reference (a DuckDB table expression, a BigQuery table). */
  describe(table: string): Promise<WarehouseTable>;
}

/** An open DuckDB as a warehouse; `table` is any DuckDB table expression, e.g. `read_parquet('…')` or a table name. */
export function duckDbWarehouse(db: DuckDb): Warehouse {
  return {
    dialect: duckDbDialect,
    query: (sql) => db.query(sql),
    async describe(table) {
      const described = await db.query<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM ${table}`);
      return { from: table, columns: described.map((c) => ({ name: c.column_name, type: c.column_type })) };
    },
  };
}

/** A snapshot's Parquet file as a DuckDB table expression with each row's 0-based file row number as `__row`. */
export function rowNumberedParquet(file: string): string {
  return `(SELECT * EXCLUDE (file_row_number), file_row_number AS ${rowNumberColumn}
    FROM read_parquet(${literal(file)}, file_row_number = true))`;
}

/**
 * One activity's use of a warehouse: the snapshot as a table, scratch relations and Parquet output. Whatever it
 * creates for scratch is gone after {@link WarehouseSession.close}.
 */
export interface WarehouseSession extends Warehouse {
  /**
   * The snapshot's rows as a table expression, each with its row number in the snapshot file as `__row`; the
   * snapshot's Parquet file is `file` on this machine.
   */
  snapshotTable(snapshotId: string, file: string): Promise<WarehouseTable>;
  /**
   * Creates a relation from a query and returns its table expression. Without `materialize`, a warehouse may keep it
   * as a view that reruns the query on each use (DuckDB does, so the rows are never all in memory).
   */
  define(name: string, select: string, options?: { materialize?: boolean }): Promise<string>;
  /**
   * Writes the rows of `select`, which has a `__row` column, to a local Parquet file in `__row` order, with every
   * column but `__row`.
   */
  writeParquet(select: string, parquetPath: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * An open DuckDB as a session. Its statements must each run on one thread (withDuckDb `threads: 1`; open several
 * `connections` to run independent ones at once): aggregates and Parquet files are then the same bits on every run,
 * and relations are produced in `__row` order, which `writeParquet` relies on instead of sorting again.
 */
export function duckDbSession(db: DuckDb): WarehouseSession {
  return {
    ...duckDbWarehouse(db),
    async snapshotTable(_snapshotId, file) {
      await db.run(`CREATE VIEW snapshot AS SELECT * FROM ${rowNumberedParquet(file)}`);
      return duckDbWarehouse(db).describe('snapshot');
    },
    async define(name, select, options = {}) {
      await db.run(`CREATE ${options.materialize ? 'TABLE' : 'VIEW'} ${name} AS ${select}`);
      return name;
    },
    async writeParquet(select, parquetPath) {
      await db.run(
        `COPY (SELECT * EXCLUDE (${rowNumberColumn}) FROM (${select})) TO ${literal(parquetPath)} (FORMAT parquet)`,
      );
    },
    close: async () => {},
  };
}
