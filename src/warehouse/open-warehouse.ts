/**
 * Opens the warehouse an activity asked for: the embedded DuckDB or a BigQuery session over the configured dataset.
 */
import type { WarehouseName } from '../contracts/datasets';
import { mlopsError } from '../errors';
import { bigQueryFailure, googleApiFailure } from '../google/api-errors';
import { checkCredentials } from '../google/credentials';
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
  await checkCredentials(`the BigQuery warehouse (dataset ${dataset})`, settings.bigquery?.client?.authClient);
  const warehouse = new BigQueryWarehouse({ ...settings.bigquery, projectId, dataset });
  const where = `warehouse dataset ${dataset}`;
  try {
    const session = await warehouse.openSession().catch((err: unknown) => {
      throw notFound(err) ? mlopsError('MLOPS_ERR_WAREHOUSE_NOT_FOUND', { dataset, reason: notFound(err) }) : err;
    });
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

/** The message of a 404 / notFound API error (a project that does not exist), else undefined. */
function notFound(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: unknown };
  if (typeof e.code !== 'number' && !Array.isArray(e.errors)) return undefined;
  const { status, reasons, message } = googleApiFailure(err);
  return status === 404 || reasons.includes('notFound') ? message : undefined;
}
