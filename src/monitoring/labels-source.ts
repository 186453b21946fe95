/**
 * A labels source brought to local disk and named as a DuckDB table expression: the source forms ingest reads (a path
 * under the data roots or file://, http(s)://, gs://, bq:// table or query), with the same access rules. CSV is read
 * as text, so an id such as `007` keeps its zeros and a label is matched as it is written; Parquet, JSON lines and
 * BigQuery keep their column types.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { BigQueryOptions } from '@google-cloud/bigquery';
import type { StorageOptions } from '@google-cloud/storage';
import type { SourceAccess } from '../config';
import { fetchGcsObject } from '../ingest/gcs-source';
import { fetchHttp } from '../ingest/http-source';
import { fetchLocalFile } from '../ingest/local-source';
import type { SourceRef } from '../ingest/source-uri';
import { localName, parseSource } from '../ingest/source-uri';
import { makeTempDir } from '../step-context';
import { exportBigQuery, exportedRows } from '../warehouse/bigquery-export';
import { literal } from '../warehouse/duckdb';

/** Where labels may be read from: the data roots and hosts ingest may read, and the Google clients' options. */
export interface LabelsAccess {
  sources: SourceAccess;
  storage: StorageOptions;
  bigquery: BigQueryOptions;
}

/** Runs `fn` with a table expression over the source's rows; local copies are removed afterwards. */
export async function withLabelsRelation<T>(
  access: LabelsAccess,
  uri: string,
  fn: (relation: string) => Promise<T>,
): Promise<T> {
  const source = parseSource({ sourceUri: uri });
  const work = await makeTempDir('mlops-labels-');
  try {
    return await fn(await fetchRelation(access, source, work));
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

async function fetchRelation(access: LabelsAccess, source: SourceRef, work: string): Promise<string> {
  if (source.kind === 'bigquery')
    return exportedRows(await exportBigQuery(source, path.join(work, 'labels.ndjson'), access.bigquery));
  const file =
    source.kind === 'file'
      ? await fetchLocalFile(source.uri, source.path, access.sources.dataRoots)
      : source.kind === 'http'
        ? await fetchHttp(source.uri, work, localName(source), access.sources)
        : await fetchGcsObject(source, work, localName(source), access.storage);
  const at = literal(file.localPath);
  if (source.format === 'csv') return `read_csv(${at}, header = true, all_varchar = true)`;
  if (source.format === 'parquet') return `read_parquet(${at})`;
  return `read_json(${at}, format = 'newline_delimited')`;
}
