/**
 * BigQuery sources: a table (read page by page with `tabledata.list`, which runs no job and bills nothing) or a query
 * (a query job, whose result pages are read with `jobs.getQueryResults`); views and other non-table types are read
 * through a `SELECT *` query. Rows arrive in the API's raw form and are written as NDJSON to a local file, one page
 * at a time, so memory holds one page whatever the result size. The BigQuery schema becomes an explicit DuckDB column
 * list: types are never guessed from values.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { BigQueryOptions, TableField } from '@google-cloud/bigquery';
import { BigQuery } from '@google-cloud/bigquery';
import type { SnapshotSource } from '../contracts/datasets';
import { reportProgress, stepSignal } from '../step-context';
import { ident, literal } from './duckdb';
import { bigQueryFailure } from '../google/api-errors';
import { checkCredentials } from '../google/credentials';
import { cancelJob } from './bigquery-query';

/** A parsed `bq://` source: a table or a query. */
export interface BigQuerySourceRef {
  kind: 'bigquery';
  uri: string;
  /** The project of the table, or the project that runs the query job. */
  project: string;
  table?: { dataset: string; table: string };
  query?: string;
  /** Job location, e.g. `EU`; BigQuery infers it from the tables when absent. */
  location?: string;
}

/** Rows per page request; the API also caps a page at about 10 MB. */
const pageRows = 10_000;
/** How long one getQueryResults call waits server-side for a running query before answering "not yet". */
const queryWaitMs = 10_000;

export interface BigQueryColumn {
  name: string;
  /** The DuckDB type the column is read as. */
  type: string;
}

export interface BigQueryExport {
  ndjsonPath: string;
  columns: BigQueryColumn[];
  rows: number;
  lineage: Pick<SnapshotSource, 'table' | 'query' | 'jobId'>;
}

interface RawRow {
  f: { v: unknown }[];
}

interface RowPage {
  schema?: { fields?: TableField[] };
  rows?: RawRow[];
  pageToken?: string;
  jobComplete?: boolean;
}

export async function exportBigQuery(
  ref: BigQuerySourceRef,
  ndjsonPath: string,
  options: BigQueryOptions,
): Promise<BigQueryExport> {
  const client = new BigQuery({ ...options, projectId: options.projectId ?? ref.project, location: ref.location });
  try {
    await checkCredentials(`BigQuery source ${ref.uri}`, options.authClient);
    if (ref.table) {
      const table = client.dataset(ref.table.dataset, { projectId: ref.project }).table(ref.table.table);
      const response: unknown[] = await table.getMetadata();
      const { type, schema } = response[0] as { type?: string; schema?: { fields?: TableField[] } };
      const name = `${ref.project}.${ref.table.dataset}.${ref.table.table}`;
      if (type !== 'TABLE' && type !== 'SNAPSHOT') {
        return {
          ...(await exportQuery(client, ref, `SELECT * FROM \`${name}\``, ndjsonPath)),
          lineage: { table: name },
        };
      }
      const fields = schema?.fields ?? [];
      const pages = tablePages((qs) => table.request({ uri: '/data', qs }).then(([body]) => body as RowPage));
      const rows = await writeRows(pages, () => fields, ndjsonPath);
      return { ndjsonPath, columns: duckColumns(fields), rows: rows.count, lineage: { table: name } };
    }
    return await exportQuery(client, ref, ref.query!, ndjsonPath);
  } catch (err) {
    throw bigQueryFailure(ref.uri, err);
  }
}

async function exportQuery(
  client: BigQuery,
  ref: BigQuerySourceRef,
  query: string,
  ndjsonPath: string,
): Promise<BigQueryExport> {
  const [job] = await client.createQueryJob({ query, location: ref.location, jobPrefix: 'mlops-ingest-' });
  const location = job.location ?? ref.location;
  const jobId = `${job.projectId ?? client.projectId}:${location ? `${location}.` : ''}${job.id}`;
  const get = (qs: Record<string, unknown>) =>
    new Promise<RowPage>((resolve, reject) =>
      client.request(
        { uri: `/queries/${job.id}`, qs: { ...qs, location: job.location, timeoutMs: queryWaitMs } },
        (err, body) => (err ? reject(err) : resolve(body as RowPage)),
      ),
    );
  let fields: TableField[] = [];
  // A cancelled step cancels its query job, so BigQuery stops (and stops billing) too, and ends once that is answered.
  const signal = stepSignal();
  let cancelled: Promise<void> | undefined;
  const cancel = () => void (cancelled ??= cancelJob(job));
  signal?.addEventListener('abort', cancel, { once: true });
  // Cancelled while the job was being created: the listener came too late to see it.
  if (signal?.aborted) cancel();
  const rows = await writeRows(
    tablePages(async (qs) => {
      signal?.throwIfAborted();
      const page = await get(qs);
      if (page.schema?.fields) fields = page.schema.fields;
      return page;
    }),
    () => fields,
    ndjsonPath,
  ).finally(async () => {
    signal?.removeEventListener('abort', cancel);
    await cancelled;
  });
  return { ndjsonPath, columns: duckColumns(fields), rows: rows.count, lineage: { query, jobId } };
}

/** Pages until the last one; a query page answered before the job finished has no rows and is asked again. */
async function* tablePages(fetchPage: (qs: Record<string, unknown>) => Promise<RowPage>): AsyncGenerator<RowPage> {
  let pageToken: string | undefined;
  for (;;) {
    const page = await fetchPage({
      maxResults: pageRows,
      'formatOptions.useInt64Timestamp': true,
      ...(pageToken ? { pageToken } : {}),
    });
    if (page.jobComplete === false) continue;
    yield page;
    if (!page.pageToken || !page.rows?.length) return;
    pageToken = page.pageToken;
  }
}

async function writeRows(
  pages: AsyncGenerator<RowPage>,
  fields: () => TableField[],
  ndjsonPath: string,
): Promise<{ count: number }> {
  const out = createWriteStream(ndjsonPath);
  let count = 0;
  try {
    for await (const page of pages) {
      for (const row of page.rows ?? []) {
        // Backpressure: wait for the file to drain instead of buffering the whole result.
        if (!out.write(`${JSON.stringify(record(fields(), row))}\n`)) await once(out, 'drain');
        count++;
      }
      reportProgress({ rowsRead: count });
    }
  } finally {
    out.end();
    await finished(out);
  }
  return { count };
}

/** A raw `{f: [{v}]}` row as a JSON object; scalars stay strings, which DuckDB casts to the declared types. */
function record(fields: TableField[], row: RawRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  fields.forEach((field, i) => {
    const v = row.f[i]?.v ?? null;
    out[field.name!] =
      v === null
        ? null
        : field.mode === 'REPEATED'
          ? (v as { v: unknown }[]).map((x) => cell(field, x.v))
          : cell(field, v);
  });
  return out;
}

/** Non-null scalars of the raw format are strings. */
function cell(field: TableField, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (field.type) {
    case 'RECORD':
    case 'STRUCT':
      return record(field.fields ?? [], v as RawRow);
    case 'TIMESTAMP':
      return timestampText(v as string);
    case 'JSON':
      return JSON.parse(v as string) as unknown;
    default:
      return v;
  }
}

/**
 * TIMESTAMP arrives as microseconds since the epoch (`formatOptions.useInt64Timestamp`), or as float seconds from
 * servers that ignore that option; both become ISO 8601 UTC with microseconds.
 */
export function timestampText(raw: string): string {
  const micros = /^-?\d+$/.test(raw) ? BigInt(raw) : BigInt(Math.round(Number(raw) * 1e6));
  let seconds = micros / 1_000_000n;
  let fraction = micros % 1_000_000n;
  if (fraction < 0n) {
    seconds -= 1n;
    fraction += 1_000_000n;
  }
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${whole}.${fraction.toString().padStart(6, '0')}Z`;
}

const duckScalar: Record<string, string> = {
  INTEGER: 'BIGINT',
  INT64: 'BIGINT',
  FLOAT: 'DOUBLE',
  FLOAT64: 'DOUBLE',
  NUMERIC: 'DECIMAL(38,9)',
  // 76 digits do not fit DuckDB's widest DECIMAL (38); kept exact as text.
  BIGNUMERIC: 'VARCHAR',
  BIGDECIMAL: 'VARCHAR',
  BOOLEAN: 'BOOLEAN',
  BOOL: 'BOOLEAN',
  STRING: 'VARCHAR',
  // Base64 text, as the API sends it.
  BYTES: 'VARCHAR',
  DATE: 'DATE',
  DATETIME: 'TIMESTAMP',
  TIME: 'TIME',
  TIMESTAMP: 'TIMESTAMPTZ',
  GEOGRAPHY: 'VARCHAR',
  JSON: 'JSON',
  INTERVAL: 'VARCHAR',
  RANGE: 'VARCHAR',
};

function duckType(field: TableField): string {
  const base =
    field.type === 'RECORD' || field.type === 'STRUCT'
      ? `STRUCT(${(field.fields ?? []).map((f) => `${ident(f.name!)} ${duckType(f)}`).join(', ')})`
      : (duckScalar[field.type ?? ''] ?? 'VARCHAR');
  return field.mode === 'REPEATED' ? `${base}[]` : base;
}

function duckColumns(fields: TableField[]): BigQueryColumn[] {
  return fields.map((f) => ({ name: f.name!, type: duckType(f) }));
}

/**
 * The exported NDJSON rows as a DuckDB table expression, read with the BigQuery schema's types. `lineLimitBytes` raises
 * DuckDB's 16 MB line limit, at the cost of read buffers that grow with it.
 */
export function exportedRows(exported: BigQueryExport, lineLimitBytes?: number): string {
  const columns = exported.columns.map((c) => `${literal(c.name)}: ${literal(c.type)}`).join(', ');
  const limit = lineLimitBytes ? `, maximum_object_size = ${lineLimitBytes}` : '';
  return `read_json(${literal(exported.ndjsonPath)}, format = 'newline_delimited', columns = {${columns}}${limit})`;
}
