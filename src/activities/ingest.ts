import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { ArtifactStore } from '../artifacts';
import { readJson, writeJson } from '../artifacts';
import type { DatasetSnapshot, IngestDatasetInput, SnapshotManifest } from '../contracts/datasets';
import { mlopsError } from '../errors';
import { literal, withDuckDb } from '../warehouse/duckdb';

export interface IngestDeps {
  store: ArtifactStore;
}

type Format = NonNullable<IngestDatasetInput['format']>;

/** Data ingestion: a source file or URL becomes a content-addressed dataset snapshot (Parquet + manifest). */
export interface IngestActivities {
  ingestDataset: (input: IngestDatasetInput) => Promise<DatasetSnapshot>;
}

export function createIngestActivities({ store }: IngestDeps): IngestActivities {
  return {
    async ingestDataset(input: IngestDatasetInput): Promise<DatasetSnapshot> {
      const format = input.format ?? inferFormat(input.sourceUri);
      const work = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-ingest-'));
      try {
        const { localPath, contentHash, bytes } = await fetchSource(input.sourceUri, work);
        const snapshotId = `ds-${contentHash.slice(0, 16)}`;
        const manifestUri = store.uri('datasets', snapshotId, 'manifest.json');
        if (await store.exists(manifestUri))
          return toSnapshot(await readJson<SnapshotManifest>(store, manifestUri), manifestUri, true);

        const parquetPath = path.join(work, 'data.parquet');
        const { rowCount, columns } = await convertToParquet(input.sourceUri, localPath, format, parquetPath);
        const dataUri = store.uri('datasets', snapshotId, 'data.parquet');
        await store.upload(parquetPath, dataUri);
        const manifest: SnapshotManifest = {
          snapshotId,
          contentHash,
          source: { uri: input.sourceUri, format, bytes },
          rowCount,
          columns,
          dataUri,
          createdAt: new Date().toISOString(),
        };
        await writeJson(store, manifestUri, manifest);
        return toSnapshot(manifest, manifestUri, false);
      } finally {
        await fs.rm(work, { recursive: true, force: true });
      }
    },
  };
}

function toSnapshot(manifest: SnapshotManifest, manifestUri: string, reused: boolean): DatasetSnapshot {
  const { snapshotId, dataUri, rowCount, columns } = manifest;
  return { snapshotId, dataUri, manifestUri, rowCount, columns, reused };
}

function inferFormat(uri: string): Format {
  const clean = uri.split(/[?#]/)[0]!.toLowerCase();
  if (clean.endsWith('.csv') || clean.endsWith('.csv.gz')) return 'csv';
  if (clean.endsWith('.parquet')) return 'parquet';
  if (clean.endsWith('.jsonl') || clean.endsWith('.ndjson')) return 'jsonl';
  throw mlopsError('MLOPS_ERR_DATA_FORMAT_UNSUPPORTED', { source: uri, format: path.extname(clean) || '(none)' });
}

/**
 * Brings the source to a local file while hashing it in the same pass (the file is read once, in chunks, so memory
 * does not grow with its size). Local files are hashed in place.
 */
async function fetchSource(
  uri: string,
  work: string,
): Promise<{ localPath: string; contentHash: string; bytes: number }> {
  if (/^https?:\/\//.test(uri)) return downloadHttp(uri, work);
  const localPath = uri.startsWith('file://') ? fileURLToPath(uri) : path.resolve(uri);
  const stat = await fs.stat(localPath).catch(() => undefined);
  if (!stat?.isFile()) throw mlopsError('MLOPS_ERR_DATA_SOURCE_NOT_FOUND', { source: uri });
  const hash = createHash('sha256');
  await pipeline(createReadStream(localPath), hash);
  return { localPath, contentHash: hash.digest('hex'), bytes: stat.size };
}

async function downloadHttp(
  uri: string,
  work: string,
): Promise<{ localPath: string; contentHash: string; bytes: number }> {
  const response = await fetch(uri);
  if (response.status === 404 || response.status === 410 || response.status === 403) {
    throw mlopsError('MLOPS_ERR_DATA_SOURCE_NOT_FOUND', { source: `${uri} (HTTP ${response.status})` });
  }
  // Other failures (5xx, 429, resets) are transient: a plain Error lets Temporal retry the activity.
  if (!response.ok || !response.body) throw new Error(`GET ${uri} answered HTTP ${response.status}`);
  const localPath = path.join(work, `download-${randomBytes(4).toString('hex')}`);
  const hash = createHash('sha256');
  let bytes = 0;
  const body = Readable.fromWeb(response.body);
  body.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  await pipeline(body, createWriteStream(localPath));
  return { localPath, contentHash: hash.digest('hex'), bytes };
}

async function convertToParquet(source: string, localPath: string, format: Format, parquetPath: string) {
  const reader = {
    csv: `read_csv(${literal(localPath)}, header = true, auto_detect = true, sample_size = -1)`,
    parquet: `read_parquet(${literal(localPath)})`,
    jsonl: `read_json(${literal(localPath)}, format = 'newline_delimited')`,
  }[format];
  return withDuckDb(async (db) => {
    try {
      await db.run(`CREATE TABLE source AS SELECT * FROM ${reader}`);
    } catch (err) {
      throw mlopsError('MLOPS_ERR_DATA_UNREADABLE', { source, reason: firstLine((err as Error).message) });
    }
    const [{ n } = { n: 0 }] = await db.query<{ n: number }>('SELECT count(*) AS n FROM source');
    if (n === 0) throw mlopsError('MLOPS_ERR_DATA_EMPTY', { source });
    const described = await db.query<{ column_name: string; column_type: string }>('DESCRIBE source');
    await db.run(`COPY source TO ${literal(parquetPath)} (FORMAT parquet, COMPRESSION zstd)`);
    return { rowCount: n, columns: described.map((c) => ({ name: c.column_name, type: c.column_type })) };
  });
}

function firstLine(message: string): string {
  return message.split('\n').slice(0, 3).join(' ').slice(0, 600);
}
