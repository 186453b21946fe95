/**
 * BigQuery as a {@link Warehouse}, over `@google-cloud/bigquery`. Queries run as query jobs (`jobs.query`); only their
 * aggregate rows come back, and a cancelled step cancels its running jobs (./bigquery-query.ts). Point `apiEndpoint` at
 * goccy/bigquery-emulator in tests (docs/profiling.md, "BigQuery").
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { BigQueryOptions, TableField } from '@google-cloud/bigquery';
import { BigQuery } from '@google-cloud/bigquery';
import { exportBigQuery, exportedRows } from './bigquery-export';
import { runQuery } from './bigquery-query';
import { bigQueryDialect } from './sql-dialect';
import type { Row } from './duckdb';
import { ident, literal, withDuckDb } from './duckdb';
import type { Warehouse, WarehouseSession, WarehouseTable } from './warehouse';
import { rowNumberColumn, rowNumberedParquet } from './warehouse';
import { guardAuthenticatedRequests } from '../google/request-guard';
import { makeTempDir } from '../step-context';

export interface BigQueryWarehouseOptions {
  /** The project that runs (and is billed for) the queries, and the default project of table references. */
  projectId: string;
  /**
   * Base URL of the API, e.g. `http://127.0.0.1:9050` for the emulator (the scheme is required).
   * @default the public BigQuery endpoint
   */
  apiEndpoint?: string;
  /**
   * Location the query jobs run in, e.g. `US` or `europe-west1`.
   * @default chosen by BigQuery from the tables read
   */
  location?: string;
  /**
   * The dataset (`dataset` or `project.dataset`) that holds staged snapshots and scratch tables; sessions need it.
   * It is created in `location` when missing.
   */
  dataset?: string;
  /**
   * Days a staged snapshot table is kept after the last session that used it: each use moves its expiration time
   * forward, and BigQuery deletes a table nobody has used for that long (a later session stages it again).
   * @default 7
   */
  stagingDays?: number;
  /** Further client options: credentials, `keyFilename`, an `authClient`. */
  client?: BigQueryOptions;
}

const dayMs = 86_400_000;
const defaultStagingDays = 7;

/** Scratch tables expire on their own after a day, in case a worker dies before dropping them. */
const scratchExpiry = 'TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)';

/** RECORD columns, like REPEATED ones, are left out of the profile: no scalar statistic applies to them. */
const unprofiled = new Set(['RECORD', 'STRUCT']);

export class BigQueryWarehouse implements Warehouse {
  readonly dialect = bigQueryDialect;
  private readonly client: BigQuery;

  constructor(private readonly options: BigQueryWarehouseOptions) {
    // The snapshot upload (`table.load`) is the request whose callback can throw (../google/request-guard.ts).
    this.client = guardAuthenticatedRequests(new BigQuery(this.clientOptions()));
  }

  private clientOptions(): BigQueryOptions {
    const { projectId, apiEndpoint, location, client } = this.options;
    return { ...client, projectId, location, ...(apiEndpoint ? { apiEndpoint } : {}) };
  }

  /** Runs a statement; a step cancelled meanwhile cancels its query job (see {@link runQuery}). */
  async run(sql: string): Promise<void> {
    await runQuery(this.client, sql, this.options.location);
  }

  /**
   * A session over the warehouse dataset: snapshots are staged there once (keyed by snapshot id, so every later
   * activity on the same snapshot reuses the table), and scratch tables are dropped when the session closes.
   */
  async openSession(): Promise<WarehouseSession> {
    if (!this.options.dataset) throw new Error('The BigQuery warehouse needs a dataset for staging and scratch tables');
    const home = parseDatasetRef(this.options.dataset, this.options.projectId);
    const dataset = this.client.dataset(home.dataset, { projectId: home.project, location: this.options.location });
    await dataset.get({ autoCreate: true });
    const prefix = `mlops_tmp_${randomBytes(4).toString('hex')}_`;
    const scratch: string[] = [];
    let outputs = 0;
    const ref = (table: string) => [home.project, home.dataset, table].map((p) => bigQueryDialect.ident(p)).join('.');
    // Statements still running (side by side); closing waits for them, so a cancelled step has cancelled all its jobs
    // when it ends, and no scratch table is created after the drop.
    const running = new Set<Promise<unknown>>();
    const tracked = <T>(work: Promise<T>): Promise<T> => {
      running.add(work);
      const done = () => void running.delete(work);
      work.then(done, done);
      return work;
    };
    const session: WarehouseSession = {
      dialect: bigQueryDialect,
      query: (sql) => tracked(this.query(sql)),
      describe: (table) => this.describe(table),
      snapshotTable: async (snapshotId, file) => {
        const table = `mlops_snapshot_${snapshotId.replace(/[^A-Za-z0-9_]/g, '_')}`;
        // Kept for this session and the next `stagingDays`: moving the expiration first also finds the table gone.
        const expirationTime = String(Date.now() + (this.options.stagingDays ?? defaultStagingDays) * dayMs);
        const kept = await dataset
          .table(table)
          .setMetadata({ expirationTime })
          .then(
            () => true,
            (err: { code?: unknown }) => {
              if (err.code === 404) return false;
              throw err;
            },
          );
        if (!kept) {
          await this.stage(dataset.table(table), file);
          await dataset.table(table).setMetadata({ expirationTime });
        }
        return this.describe(`${home.project}.${home.dataset}.${table}`);
      },
      define: async (name, select) => {
        scratch.push(prefix + name);
        await tracked(
          this.run(`CREATE TABLE ${ref(prefix + name)} OPTIONS (expiration_timestamp = ${scratchExpiry}) AS
          ${select}`),
        );
        return ref(prefix + name);
      },
      writeParquet: async (select, parquetPath) => {
        const name = `out_${(outputs += 1)}`;
        await session.define(name, select);
        await this.download(home, prefix + name, parquetPath);
      },
      close: async () => {
        await Promise.allSettled([...running]);
        for (const table of scratch.splice(0)) await dataset.table(table).delete({ ignoreNotFound: true });
      },
    };
    return session;
  }

  /**
   * Loads the snapshot with its row numbers into a table: DuckDB writes the rows with `__row` as NDJSON, and a load
   * job (all or nothing) uploads it with an explicit schema, so no type is guessed from values. (A Parquet upload
   * would need no conversion, but goccy/bigquery-emulator v0.8.1 crashes on one without a schema.) Writing the same
   * snapshot twice gives the same table, so racing stagers agree.
   */
  private async stage(table: ReturnType<ReturnType<BigQuery['dataset']>['table']>, file: string): Promise<void> {
    const work = await makeTempDir('mlops-bq-stage-');
    try {
      const staged = path.join(work, 'snapshot.ndjson');
      const fields = await withDuckDb(async (db) => {
        await db.run("SET TimeZone = 'UTC'");
        const from = rowNumberedParquet(file);
        const described = await db.query<{ column_name: string; column_type: string }>(
          `DESCRIBE SELECT * FROM ${from}`,
        );
        const columns = described.map((c) => ({ name: c.column_name, ...stagedType(c.column_type) }));
        const select = columns.map(
          (c) => `${c.cast ? `CAST(${ident(c.name)} AS VARCHAR)` : ident(c.name)} AS ${ident(c.name)}`,
        );
        await db.run(`COPY (SELECT ${select.join(', ')} FROM ${from}) TO ${literal(staged)} (FORMAT json)`);
        return columns.map((c) => ({ name: c.name, type: c.type }));
      });
      await table.load(staged, {
        sourceFormat: 'NEWLINE_DELIMITED_JSON',
        schema: { fields },
        writeDisposition: 'WRITE_TRUNCATE',
      });
    } finally {
      await fs.rm(work, { recursive: true, force: true });
    }
  }

  /**
   * Reads a table page by page (as ingestion reads BigQuery sources, so memory holds one page) and writes it as
   * Parquet sorted by `__row`, without that column.
   */
  private async download(home: { project: string; dataset: string }, table: string, parquetPath: string) {
    const work = await makeTempDir('mlops-bq-download-');
    try {
      const ndjson = path.join(work, 'rows.ndjson');
      const uri = `bq://${home.project}.${home.dataset}.${table}`;
      const source = { kind: 'bigquery' as const, uri, project: home.project, location: this.options.location };
      const exported = await exportBigQuery(
        { ...source, table: { dataset: home.dataset, table } },
        ndjson,
        this.clientOptions(),
      );
      await withDuckDb((db) =>
        db.run(`COPY (SELECT * EXCLUDE (${rowNumberColumn}) FROM ${exportedRows(exported)}
          ORDER BY ${rowNumberColumn}) TO ${literal(parquetPath)} (FORMAT parquet)`),
      );
    } finally {
      await fs.rm(work, { recursive: true, force: true });
    }
  }

  async query(sql: string): Promise<Row[]> {
    return runQuery(this.client, sql, this.options.location);
  }

  /** `table` is `dataset.table` or `project.dataset.table`. */
  async describe(table: string): Promise<WarehouseTable> {
    const { project, dataset, name } = parseTableRef(table, this.options.projectId);
    const response: unknown[] = await this.client.dataset(dataset, { projectId: project }).table(name).getMetadata();
    const metadata = response[0] as { schema?: { fields?: TableField[] } };
    const fields = (metadata.schema?.fields ?? []).filter((f) => f.mode !== 'REPEATED' && !unprofiled.has(f.type!));
    return {
      from: [project, dataset, name].map((part) => bigQueryDialect.ident(part)).join('.'),
      columns: fields.map((f) => ({ name: f.name!, type: f.type! })),
    };
  }
}

const stagedTypes: [RegExp, string][] = [
  [/^(TINYINT|SMALLINT|INTEGER|BIGINT|UTINYINT|USMALLINT|UINTEGER)$/, 'INT64'],
  [/^(FLOAT|REAL|DOUBLE)$/, 'FLOAT64'],
  [/^DECIMAL\(\d+,[0-9]\)$/, 'NUMERIC'],
  [/^BOOLEAN$/, 'BOOL'],
  [/^VARCHAR$/, 'STRING'],
  [/^DATE$/, 'DATE'],
  [/^TIME$/, 'TIME'],
  [/^TIMESTAMP$/, 'DATETIME'],
  [/^TIMESTAMP WITH TIME ZONE$/, 'TIMESTAMP'],
];

/** The BigQuery type a snapshot column is staged as; other types (UBIGINT, HUGEINT, lists, structs) travel as text. */
function stagedType(duckType: string): { type: string; cast: boolean } {
  const found = stagedTypes.find(([pattern]) => pattern.test(duckType));
  return found ? { type: found[1], cast: false } : { type: 'STRING', cast: true };
}

function parseDatasetRef(ref: string, defaultProject: string): { project: string; dataset: string } {
  const parts = ref.split('.');
  if (parts.length === 1) return { project: defaultProject, dataset: parts[0]! };
  if (parts.length === 2) return { project: parts[0]!, dataset: parts[1]! };
  throw new Error(`Not a BigQuery dataset reference (dataset or project.dataset): ${ref}`);
}

function parseTableRef(table: string, defaultProject: string): { project: string; dataset: string; name: string } {
  const parts = table.split('.');
  if (parts.length === 2) return { project: defaultProject, dataset: parts[0]!, name: parts[1]! };
  if (parts.length === 3) return { project: parts[0]!, dataset: parts[1]!, name: parts[2]! };
  throw new Error(`Not a BigQuery table reference (dataset.table or project.dataset.table): ${table}`);
}
