/**
 * Opens the warehouse an activity asked for: the embedded DuckDB or a BigQuery session over the configured dataset.
 */
import type { WarehouseName } from '../contracts/datasets';
import { mlopsError } from '../errors';
import { bigQueryFailure } from '../google/api-errors';
import type { BigQueryWarehouseOptions } from './bigquery-warehouse';
import { BigQueryWarehouse } from './bigquery-warehouse';
import { withDuckDb } from './duckdb';
import type { WarehouseSession } from './warehouse';
import { duckDbSession } from './warehouse';

/**
 * The default of {@link WarehouseSettings.duckDbThreads}: a fixed number rather than the machine's cores, so a shared
 * pipeline worker stays responsive (config `MLOPS_DATA_THREADS`).
 */
export const defaultDataThreads = 2;

export interface WarehouseSettings {
  /** The BigQuery warehouse's project, dataset, location and endpoint (config `bigquery`), and client options. */
  bigquery?: Partial<BigQueryWarehouseOptions>;
  /**
   * DuckDB statements of one activity that may run at once, each on one thread (see duckDbSession).
   * @default {@link defaultDataThreads}
   */
  duckDbThreads?: number;
}

export async function withWarehouseSession<T>(
  name: WarehouseName | undefined,
  settings: WarehouseSettings,
  source: string,
  fn: (session: WarehouseSession) => Promise<T>,
): Promise<T> {
  if ((name ?? 'duckdb') === 'duckdb')
    return withDuckDb((db) => fn(duckDbSession(db)), {
      threads: 1,
      connections: settings.duckDbThreads ?? defaultDataThreads,
    });
  const { projectId, dataset } = settings.bigquery ?? {};
  if (!projectId || !dataset) {
    const missing = [!projectId && 'MLOPS_GCP_PROJECT', !dataset && 'MLOPS_BIGQUERY_DATASET'].filter(Boolean);
    throw mlopsError('MLOPS_ERR_WAREHOUSE_NOT_CONFIGURED', {
      warehouse: 'bigquery',
      source,
      missing: missing.join(' and '),
    });
  }
  const warehouse = new BigQueryWarehouse({ ...settings.bigquery, projectId, dataset });
  const where = `warehouse dataset ${dataset}`;
  try {
    const session = await warehouse.openSession();
    try {
      return await fn(session);
    } finally {
      await session.close();
    }
  } catch (err) {
    // Our own errors and those of DuckDB (writing the split files) pass through; the API's are classified.
    const e = err as { code?: unknown; errors?: unknown };
    throw typeof e.code === 'number' || Array.isArray(e.errors) ? bigQueryFailure(where, err) : err;
  }
}
