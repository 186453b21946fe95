/**
 * BigQuery as a {@link Warehouse}, over `@google-cloud/bigquery`. Queries run as query jobs (`jobs.query`); only their
 * aggregate rows come back. Point `apiEndpoint` at goccy/bigquery-emulator in tests (docs/profiling.md, "BigQuery").
 */
import type { TableField } from '@google-cloud/bigquery';
import { BigQuery } from '@google-cloud/bigquery';
import { bigQueryDialect } from '../profiling/sql-dialect';
import type { Row } from './duckdb';
import type { Warehouse, WarehouseTable } from './warehouse';

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
}

/** RECORD columns, like REPEATED ones, are left out of the profile: no scalar statistic applies to them. */
const unprofiled = new Set(['RECORD', 'STRUCT']);

export class BigQueryWarehouse implements Warehouse {
  readonly dialect = bigQueryDialect;
  private readonly client: BigQuery;

  constructor(private readonly options: BigQueryWarehouseOptions) {
    const { projectId, apiEndpoint, location } = options;
    this.client = new BigQuery({ projectId, location, ...(apiEndpoint ? { apiEndpoint } : {}) });
  }

  async query(sql: string): Promise<Row[]> {
    const [rows] = await this.client.query({ query: sql, location: this.options.location });
    return rows as Row[];
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

function parseTableRef(table: string, defaultProject: string): { project: string; dataset: string; name: string } {
  const parts = table.split('.');
  if (parts.length === 2) return { project: defaultProject, dataset: parts[0]!, name: parts[1]! };
  if (parts.length === 3) return { project: parts[0]!, dataset: parts[1]!, name: parts[2]! };
  throw new Error(`Not a BigQuery table reference (dataset.table or project.dataset.table): ${table}`);
}
