import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ArtifactStore } from '../artifacts';
import { writeJson } from '../artifacts';
import type { ColumnSchema, ProfileDatasetInput, ProfileDatasetResult } from '../contracts/datasets';
import { ident, isNumericType, literal, withDuckDb } from '../warehouse/duckdb';
import type { DuckDb } from '../warehouse/duckdb';

export interface ProfileDeps {
  store: ArtifactStore;
}

export interface ColumnProfile {
  name: string;
  type: string;
  kind: 'numeric' | 'categorical';
  count: number;
  nulls: number;
  distinct: number;
  min?: number;
  max?: number;
  mean?: number;
  std?: number;
  quantiles?: Record<string, number>;
  top?: { value: string; count: number }[];
}

export interface DatasetProfile {
  snapshotId: string;
  rowCount: number;
  target: string;
  columns: ColumnProfile[];
}

const quantileLevels = [0.05, 0.25, 0.5, 0.75, 0.95];

/** Profiling ("visualize data"): per-column statistics computed in the warehouse, plus a report a person reads. */
export interface ProfileActivities {
  profileDataset: (input: ProfileDatasetInput) => Promise<ProfileDatasetResult>;
}

export function createProfileActivities({ store }: ProfileDeps): ProfileActivities {
  return {
    async profileDataset(input: ProfileDatasetInput): Promise<ProfileDatasetResult> {
      const profileUri = store.uri('profiles', input.snapshotId, 'profile.json');
      const reportUri = store.uri('profiles', input.snapshotId, 'report.html');
      if ((await store.exists(profileUri)) && (await store.exists(reportUri))) {
        const existing = JSON.parse((await store.read(profileUri)).toString('utf8')) as DatasetProfile;
        return { profileUri, reportUri, columnCount: existing.columns.length, reused: true };
      }
      const profile = await withLocalCopy(store, input.dataUri, (file) => computeProfile(file, input));
      await store.write(reportUri, renderReport(profile));
      await writeJson(store, profileUri, profile);
      return { profileUri, reportUri, columnCount: profile.columns.length, reused: false };
    },
  };
}

/** Runs `fn` on a local path of the artifact, downloading it first when the store is remote. */
export async function withLocalCopy<T>(
  store: ArtifactStore,
  uri: string,
  fn: (file: string) => Promise<T>,
): Promise<T> {
  const local = store.localPath(uri);
  if (local) return fn(local);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-artifact-'));
  try {
    const file = path.join(dir, path.basename(uri));
    await store.download(uri, file);
    return await fn(file);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function computeProfile(file: string, input: ProfileDatasetInput): Promise<DatasetProfile> {
  return withDuckDb(async (db) => {
    await db.run(`CREATE VIEW data AS SELECT * FROM read_parquet(${literal(file)})`);
    const columns = await db.query<{ column_name: string; column_type: string }>('DESCRIBE data');
    const [{ n } = { n: 0 }] = await db.query<{ n: number }>('SELECT count(*) AS n FROM data');
    const profiles: ColumnProfile[] = [];
    for (const c of columns) profiles.push(await profileColumn(db, { name: c.column_name, type: c.column_type }));
    return { snapshotId: input.snapshotId, rowCount: n, target: input.target, columns: profiles };
  });
}

async function profileColumn(db: DuckDb, column: ColumnSchema): Promise<ColumnProfile> {
  const c = ident(column.name);
  const numeric = isNumericType(column.type);
  const [base] = await db.query<{ count: number; nulls: number; distinct: number }>(
    `SELECT count(${c}) AS count, count(*) - count(${c}) AS nulls, approx_count_distinct(${c}) AS distinct FROM data`,
  );
  const profile: ColumnProfile = { ...column, kind: numeric ? 'numeric' : 'categorical', ...base! };
  if (numeric) {
    const [stats] = await db.query<{ min: number; max: number; mean: number; std: number; q: number[] }>(
      `SELECT min(${c})::DOUBLE AS min, max(${c})::DOUBLE AS max, avg(${c})::DOUBLE AS mean,
              stddev_samp(${c})::DOUBLE AS std, approx_quantile(${c}::DOUBLE, [${quantileLevels.join(', ')}]) AS q FROM data`,
    );
    const { q, ...rest } = stats!;
    Object.assign(profile, rest, {
      quantiles: Object.fromEntries(quantileLevels.map((level, i) => [`p${Math.round(level * 100)}`, q?.[i] ?? null])),
    });
  } else {
    profile.top = await db.query<{ value: string; count: number }>(
      `SELECT ${c}::VARCHAR AS value, count(*) AS count FROM data WHERE ${c} IS NOT NULL
       GROUP BY 1 ORDER BY count DESC, value LIMIT 10`,
    );
  }
  return profile;
}

function escapeHtml(value: string | number | undefined): string {
  return String(value ?? '').replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function formatNumber(value: number | undefined): string {
  return value === undefined || value === null ? '' : Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

function renderReport(profile: DatasetProfile): string {
  const rows = profile.columns
    .map((c) => {
      const detail =
        c.kind === 'numeric'
          ? `min ${formatNumber(c.min)} · p50 ${formatNumber(c.quantiles?.p50)} · max ${formatNumber(c.max)} · mean ${formatNumber(c.mean)} · std ${formatNumber(c.std)}`
          : (c.top ?? []).map((t) => `${escapeHtml(t.value)} (${t.count})`).join(', ');
      const role = c.name === profile.target ? ' <strong>target</strong>' : '';
      return `<tr><td>${escapeHtml(c.name)}${role}</td><td>${escapeHtml(c.type)}</td><td>${c.count}</td><td>${c.nulls}</td><td>${c.distinct}</td><td>${detail}</td></tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dataset profile ${escapeHtml(profile.snapshotId)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}</style>
</head><body>
<h1>Dataset profile</h1>
<p>Snapshot <code>${escapeHtml(profile.snapshotId)}</code> · ${profile.rowCount} rows · ${profile.columns.length} columns</p>
<table><thead><tr><th>column</th><th>type</th><th>non-null</th><th>nulls</th><th>distinct (approx.)</th><th>distribution</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}
