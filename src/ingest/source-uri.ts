/**
 * The source forms `ingestDataset` accepts, parsed once: a local path or `file://`, `http(s)://`, `gs://bucket/object`,
 * and BigQuery as `bq://project.dataset.table` or `bq://project?query=<url-encoded SQL>` (or `bq://project` plus the
 * `query` input field).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IngestDatasetInput } from '../contracts/datasets';
import { mlopsError } from '../errors';
import type { BigQuerySourceRef } from '../warehouse/bigquery-export';

export type { BigQuerySourceRef };

export type FileFormat = NonNullable<IngestDatasetInput['format']>;

export type SourceRef =
  | { kind: 'file'; uri: string; format: FileFormat; path: string }
  | { kind: 'http'; uri: string; format: FileFormat }
  | { kind: 'gcs'; uri: string; format: FileFormat; bucket: string; object: string }
  | BigQuerySourceRef;

export function parseSource(input: IngestDatasetInput): SourceRef {
  const uri = input.sourceUri;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === 'bq') return parseBigQueryUri(uri, input.query);
  if (input.query !== undefined) throw invalid(uri, 'source', 'the query field only goes with a bq://project URI');
  if (scheme === 'gs') {
    const match = /^gs:\/\/([^/?#]+)\/([^?#]+)$/.exec(uri);
    if (!match) throw invalid(uri, 'Cloud Storage', 'expected gs://bucket/object');
    return { kind: 'gcs', uri, format: formatOf(input), bucket: match[1]!, object: match[2]! };
  }
  if (scheme === undefined) return { kind: 'file', uri, format: formatOf(input), path: path.resolve(uri) };
  if (scheme === 'file') return { kind: 'file', uri, format: formatOf(input), path: localPathOf(uri) };
  if (scheme === 'http' || scheme === 'https') return { kind: 'http', uri, format: formatOf(input) };
  throw invalid(uri, 'source', `the scheme "${scheme}://" is not supported`);
}

/** A `file://` URI naming another host (`file://server/share/x.csv`) is not a local file: refused, not thrown raw. */
function localPathOf(uri: string): string {
  try {
    return fileURLToPath(uri);
  } catch (err) {
    throw invalid(uri, 'file', (err as Error).message);
  }
}

function formatOf(input: IngestDatasetInput): FileFormat {
  return input.format ?? inferFormat(input.sourceUri);
}

/** Splits on the last two dots, so domain-scoped projects (`example.com:project`) keep theirs. */
function parseBigQueryUri(uri: string, queryField: string | undefined): BigQuerySourceRef {
  const match = /^bq:\/\/([^/?#]+)\/?(?:\?([^#]*))?$/i.exec(uri);
  if (!match) throw invalid(uri, 'BigQuery', 'expected bq://project.dataset.table or bq://project?query=…');
  const params = new URLSearchParams(match[2] ?? '');
  const location = params.get('location') ?? undefined;
  const unknown = [...params.keys()].filter((k) => k !== 'location' && k !== 'query');
  if (unknown.length) throw invalid(uri, 'BigQuery', `unknown parameter ${unknown.join(', ')}`);
  const uriQuery = params.get('query') ?? undefined;
  if (uriQuery !== undefined && queryField !== undefined)
    throw invalid(uri, 'BigQuery', 'give the query once: in the URI or in the query field');
  const query = uriQuery ?? queryField;
  const parts = match[1]!.split('.');
  if (query !== undefined) {
    if (query.trim() === '') throw invalid(uri, 'BigQuery', 'the query is empty');
    if (parts.length > 1 && !match[1]!.includes(':'))
      throw invalid(uri, 'BigQuery', 'a query URI names only the project that runs it: bq://project?query=…');
    return { kind: 'bigquery', uri, project: match[1]!, query, location };
  }
  if (parts.length < 3 || parts.some((p) => p === '' || /[`\s]/.test(p)))
    throw invalid(uri, 'BigQuery', 'a table is named bq://project.dataset.table');
  const [dataset, table] = parts.slice(-2) as [string, string];
  return { kind: 'bigquery', uri, project: parts.slice(0, -2).join('.'), table: { dataset, table }, location };
}

export function inferFormat(uri: string): FileFormat {
  const clean = uri.split(/[?#]/)[0]!.toLowerCase();
  if (clean.endsWith('.csv') || clean.endsWith('.csv.gz')) return 'csv';
  if (clean.endsWith('.parquet')) return 'parquet';
  if (/\.(jsonl|ndjson)(\.gz)?$/.test(clean)) return 'jsonl';
  // The extension of the path: an http(s) URL's host and port (`127.0.0.1:8765`) are no extension.
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/.exec(clean);
  const name = scheme ? clean.slice(scheme[0].length) : clean;
  // A local path, file:// or gs:// URI ending in a separator names a folder (a gs:// one, a prefix of objects); an
  // http(s) URL's "/" is a page of the server.
  const folderLike = !scheme || clean.startsWith('file:') || clean.startsWith('gs:');
  if (folderLike && (name.endsWith('/') || name.endsWith(path.sep)))
    throw invalid(uri, 'source', 'it names a folder: name one .csv, .parquet or .jsonl file in it');
  throw mlopsError('MLOPS_ERR_DATA_FORMAT_UNSUPPORTED', { source: uri, format: path.extname(name) || '(none)' });
}

/** The name a downloaded copy keeps, so DuckDB still sees a `.gz` compression suffix. */
export function localName(ref: { uri: string; format: FileFormat }): string {
  const clean = ref.uri.split(/[?#]/)[0]!.toLowerCase();
  return `source.${ref.format}${clean.endsWith('.gz') ? '.gz' : ''}`;
}

function invalid(source: string, kind: string, reason: string) {
  return mlopsError('MLOPS_ERR_DATA_SOURCE_INVALID', { source, kind, reason });
}
