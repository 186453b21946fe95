/**
 * The dataset catalogue and lineage, read from the artifact store alone: snapshots are `datasets/<id>/manifest.json`,
 * and what derives from a snapshot is found by the places it is written to:
 *
 *   profiles/<id>/profile.json               its profile (and report.html)
 *   preprocessed/<id>/<specHash>/result.json  its preprocessed outputs
 *   registry/<model>/versions/<n>/version.json model versions whose `snapshotId` is the id
 */
import type { ArtifactStore } from '../artifacts';
import { readJson } from '../artifacts';
import {
  isModelVersionRecord,
  isPreprocessedResult,
  isSnapshotManifest,
  preprocessedFolder,
  profileFiles,
  profileFolder,
  registryFolder,
  snapshotFiles,
  snapshotsFolder,
} from '../artifacts/layout';
import type { SnapshotManifest } from '../contracts/datasets';
import { mlopsError } from '../errors';
import type { ModelVersionRecord } from '../registry/model-registry';

export interface SnapshotSummary {
  snapshotId: string;
  rowCount: number;
  columnCount: number;
  source: string;
  createdAt: string;
}

export interface SnapshotLineage {
  manifestUri: string;
  manifest: SnapshotManifest;
  profile?: { profileUri: string; reportUri?: string };
  preprocessed: { specHash: string; resultUri: string; featureCount?: number; rows?: Record<string, number> }[];
  modelVersions: { modelName: string; version: number; versionUri: string; createdAt: string }[];
}

const snapshotIdPattern = /^ds-[0-9a-f]{16}$/;

/** Every complete snapshot (those with a manifest), oldest first. */
export async function listSnapshots(store: ArtifactStore): Promise<SnapshotSummary[]> {
  const manifests = (await store.list(snapshotsFolder(store))).filter(isSnapshotManifest);
  const summaries = await Promise.all(
    manifests.map(async (uri) => {
      const m = await readJson<SnapshotManifest>(store, uri);
      return {
        snapshotId: m.snapshotId,
        rowCount: m.rowCount,
        columnCount: m.columns.length,
        source: m.source.query ? `${m.source.uri} (query)` : m.source.uri,
        createdAt: m.createdAt,
      };
    }),
  );
  return summaries.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.snapshotId.localeCompare(b.snapshotId));
}

/** A snapshot's manifest and what derives from it; `MLOPS_ERR_DATA_SNAPSHOT_NOT_FOUND` for an unknown id. */
export async function describeSnapshot(store: ArtifactStore, snapshotId: string): Promise<SnapshotLineage> {
  const manifestUri = snapshotIdPattern.test(snapshotId) ? snapshotFiles(store, snapshotId).manifest : undefined;
  if (!manifestUri || !(await store.exists(manifestUri)))
    throw mlopsError('MLOPS_ERR_DATA_SNAPSHOT_NOT_FOUND', { snapshotId, root: store.root });
  const [manifest, profile, preprocessed, modelVersions] = await Promise.all([
    readJson<SnapshotManifest>(store, manifestUri),
    findProfile(store, snapshotId),
    findPreprocessed(store, snapshotId),
    findModelVersions(store, snapshotId),
  ]);
  return { manifestUri, manifest, profile, preprocessed, modelVersions };
}

async function findProfile(store: ArtifactStore, snapshotId: string): Promise<SnapshotLineage['profile']> {
  const files = await store.list(profileFolder(store, snapshotId));
  const expected = profileFiles(store, snapshotId);
  if (!files.includes(expected.profile)) return undefined;
  return { profileUri: expected.profile, reportUri: files.includes(expected.report) ? expected.report : undefined };
}

async function findPreprocessed(store: ArtifactStore, snapshotId: string): Promise<SnapshotLineage['preprocessed']> {
  const results = (await store.list(preprocessedFolder(store, snapshotId))).filter(isPreprocessedResult);
  return Promise.all(
    results.map(async (resultUri) => {
      const result = await readJson<{ specHash?: string; featureColumns?: string[]; rows?: Record<string, number> }>(
        store,
        resultUri,
      );
      const specHash = result.specHash ?? resultUri.split('/').at(-2)!;
      return { specHash, resultUri, featureCount: result.featureColumns?.length, rows: result.rows };
    }),
  );
}

async function findModelVersions(store: ArtifactStore, snapshotId: string): Promise<SnapshotLineage['modelVersions']> {
  const records = (await store.list(registryFolder(store))).filter(isModelVersionRecord);
  const versions = await Promise.all(
    records.map(async (versionUri) => ({ versionUri, record: await readJson<ModelVersionRecord>(store, versionUri) })),
  );
  return versions
    .filter(({ record }) => record.snapshotId === snapshotId)
    .map(({ versionUri, record }) => ({
      modelName: record.modelName,
      version: record.version,
      versionUri,
      createdAt: record.createdAt,
    }))
    .sort((a, b) => a.modelName.localeCompare(b.modelName) || a.version - b.version);
}

/** `list` as a fixed-width table. */
export function renderSnapshotTable(snapshots: SnapshotSummary[]): string {
  if (snapshots.length === 0) return 'No dataset snapshots in this artifact store.\n';
  const rows = [
    ['ID', 'ROWS', 'COLUMNS', 'SOURCE', 'CREATED'],
    ...snapshots.map((s) => [s.snapshotId, String(s.rowCount), String(s.columnCount), s.source, s.createdAt]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** `show` as text: the manifest, then what derives from the snapshot. */
export function renderSnapshotLineage(lineage: SnapshotLineage): string {
  const { manifest: m } = lineage;
  const source = m.source;
  const lines = [
    `Snapshot ${m.snapshotId}`,
    `  data:        ${m.dataUri}`,
    `  manifest:    ${lineage.manifestUri}`,
    `  created:     ${m.createdAt}`,
    `  rows:        ${m.rowCount}`,
    `  hash:        sha256 ${m.contentHash} (of ${source.hashOf ?? 'source-bytes'})`,
    `  source:      ${source.uri} (${[source.kind, source.format, `${source.bytes} bytes`].filter(Boolean).join(', ')})`,
    ...(source.table ? [`  table:       ${source.table}`] : []),
    ...(source.query ? [`  query:       ${source.query}`] : []),
    ...(source.jobId ? [`  job:         ${source.jobId}`] : []),
    ...(source.generation ? [`  generation:  ${source.generation}`] : []),
    ...(source.etag ? [`  etag:        ${source.etag}`] : []),
    `  columns (${m.columns.length}):`,
    ...m.columns.map((c) => `    ${c.name}: ${c.type}`),
    ...(m.warnings?.length ? ['  warnings:', ...m.warnings.map((w) => `    ${w.message}`)] : []),
    'Derived from it:',
    `  profile:       ${lineage.profile ? lineage.profile.profileUri : 'none'}`,
    ...(lineage.profile?.reportUri ? [`  report:        ${lineage.profile.reportUri}`] : []),
    `  preprocessed:  ${lineage.preprocessed.length ? '' : 'none'}`.trimEnd(),
    ...lineage.preprocessed.map(
      (p) =>
        `    ${p.specHash}  ${p.featureCount ?? '?'} features` +
        `${p.rows ? `, rows ${Object.values(p.rows).join('/')}` : ''}  ${p.resultUri}`,
    ),
    `  models:        ${lineage.modelVersions.length ? '' : 'none'}`.trimEnd(),
    ...lineage.modelVersions.map((v) => `    ${v.modelName} v${v.version}  ${v.versionUri}`),
  ];
  return `${lines.join('\n')}\n`;
}
