/**
 * The prediction log in a BigQuery table (streaming inserts through `@google-cloud/bigquery`), beside or instead of
 * the Parquet files. The table is created on first write when missing, partitioned by day on `ts`. Features and
 * outputs are JSON text (STRING), so one table schema fits every model.
 */
import type { BigQuery } from '@google-cloud/bigquery';
import { PartialSinkWrite } from './prediction-log';
import type { LoggedBatch, PredictionSink } from './prediction-log';

const schema = [
  { name: 'request_id', type: 'STRING', mode: 'REQUIRED' },
  { name: 'ts', type: 'TIMESTAMP', mode: 'REQUIRED' },
  { name: 'model', type: 'STRING', mode: 'REQUIRED' },
  { name: 'version', type: 'INTEGER', mode: 'REQUIRED' },
  { name: 'instance', type: 'INTEGER', mode: 'REQUIRED' },
  { name: 'features', type: 'STRING' },
  { name: 'output', type: 'STRING' },
  { name: 'latency_ms', type: 'FLOAT' },
];

/** Rows per streaming insert request (BigQuery's advice: about 500; each request at most 10 MB). */
const insertRows = 500;
/** Insert requests in flight at once: a default 20,000-row batch is 40 requests, each a round trip to BigQuery. */
const insertsAtOnce = 4;

export class BigQueryPredictionSink implements PredictionSink {
  #ready: Promise<void> | undefined;

  constructor(
    readonly bigquery: BigQuery,
    readonly dataset: string,
    readonly table: string,
  ) {}

  readonly takesRows = true;

  async write(batch: LoggedBatch): Promise<void> {
    this.#ready ??= this.#ensureTable().catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    await this.#ready;
    const table = this.bigquery.dataset(this.dataset).table(this.table);
    // Features and output are already JSON text. A batch can hold tens of thousands of rows; a streaming insert
    // request is limited (10 MB, 50,000 rows), so they go in requests of `insertRows`, `insertsAtOnce` at a time.
    // After a refused request no more are sent; the rows of the requests that succeeded count as written.
    const rows = batch.rowList;
    let next = 0;
    let written = 0;
    let failure: { error: unknown } | undefined;
    const sender = async () => {
      while (!failure && next < rows.length) {
        const part = rows.slice(next, (next += insertRows));
        try {
          await table.insert(part);
          written += part.length;
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: insertsAtOnce }, sender));
    if (failure) throw new PartialSinkWrite(written, failure.error);
  }

  async #ensureTable(): Promise<void> {
    const dataset = this.bigquery.dataset(this.dataset);
    const [datasetExists] = await dataset.exists();
    if (!datasetExists) await dataset.create();
    const table = dataset.table(this.table);
    const [exists] = await table.exists();
    if (!exists) await table.create({ schema, timePartitioning: { type: 'DAY', field: 'ts' } });
  }
}
