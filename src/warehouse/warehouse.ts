/**
 * A warehouse the profiling SQL runs in: DuckDB (embedded, the default) or BigQuery. Both return aggregate rows only,
 * so the same profile code runs on either; `dialect` holds what differs in their SQL.
 */
import type { SqlDialect } from '../profiling/sql-dialect';
import { duckDbDialect } from '../profiling/sql-dialect';
import type { DuckDb, Row } from './duckdb';

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
