import { createHash } from 'node:crypto';
import type { ArtifactStore } from '../artifacts';
import { readJson, withLocalCopy, writeJson } from '../artifacts';
import { profileFiles, targetProfileFiles } from '../artifacts/layout';
import type { ProfileDatasetInput, ProfileDatasetResult } from '../contracts/datasets';
import { computeProfile } from '../profiling/compute-profile';
import type { DatasetProfile } from '../profiling/dataset-profile';
import { profileFormatVersion } from '../profiling/dataset-profile';
import { renderReport } from '../profiling/report';
import { duckDbDialect } from '../warehouse/sql-dialect';
import { literal, withDuckDb } from '../warehouse/duckdb';
import type { WarehouseSettings } from '../warehouse/open-warehouse';
import { defaultDataThreads, withWarehouseSession } from '../warehouse/open-warehouse';
import { rowNumberColumn, rowNumberedParquet } from '../warehouse/warehouse';

export interface ProfileDeps extends WarehouseSettings {
  store: ArtifactStore;
}

/** Profiling ("visualize data"): per-column statistics computed in the warehouse, plus a report a person reads. */
export interface ProfileActivities {
  profileDataset: (input: ProfileDatasetInput) => Promise<ProfileDatasetResult>;
}

export function createProfileActivities({ store, ...settings }: ProfileDeps): ProfileActivities {
  return {
    async profileDataset(input: ProfileDatasetInput): Promise<ProfileDatasetResult> {
      // The snapshot's first profile, whose target is the first run's; a run with another target gets its own.
      let { profile: profileUri, report: reportUri } = profileFiles(store, input.snapshotId);
      let existing = await readCurrentProfile(store, profileUri, reportUri);
      if (existing && existing.target !== input.target) {
        const targetHash = createHash('sha256').update(input.target).digest('hex').slice(0, 16);
        ({ profile: profileUri, report: reportUri } = targetProfileFiles(store, input.snapshotId, targetHash));
        existing = await readCurrentProfile(store, profileUri, reportUri);
      }
      if (existing) return { ...summary(existing, profileUri, reportUri), reused: true };
      const profile = await withLocalCopy(store, input.dataUri, (file) =>
        input.warehouse === 'bigquery'
          ? profileInBigQuery(settings, file, input)
          : profileParquet(file, input, settings.duckDbThreads ?? defaultDataThreads),
      );
      await store.write(reportUri, await renderReport(profile));
      await writeJson(store, profileUri, profile);
      return { ...summary(profile, profileUri, reportUri), reused: false };
    },
  };
}

/** The step's result: where the profile is, and its warnings without their counts (the profile has them). */
function summary(profile: DatasetProfile, profileUri: string, reportUri: string): Omit<ProfileDatasetResult, 'reused'> {
  const warnings = profile.warnings.map(({ kind, column, target, message }) => ({ kind, column, target, message }));
  return { profileUri, reportUri, columnCount: profile.columns.length, ...(warnings.length > 0 && { warnings }) };
}

/**
 * The stored profile and report, unless missing, written in an older profile format, or written before profiles had
 * `warnings` (those are recomputed: the same numbers, the same drift reference, plus the warnings).
 */
async function readCurrentProfile(
  store: ArtifactStore,
  profileUri: string,
  reportUri: string,
): Promise<DatasetProfile | undefined> {
  if (!(await store.exists(profileUri)) || !(await store.exists(reportUri))) return undefined;
  const existing = await readJson<Partial<DatasetProfile>>(store, profileUri);
  return existing.version === profileFormatVersion && existing.warnings ? (existing as DatasetProfile) : undefined;
}

/**
 * Profiles a Parquet file in an embedded DuckDB. Each instance has one thread: DuckDB merges parallel partial
 * aggregates (t-digests, float sums) in varying order, which changes the last digits of quantiles and means between
 * runs, and profile.json must be the same bytes for the same snapshot. Several cores are used instead by splitting the
 * columns between single-threaded instances that query at the same time; a column's numbers do not depend on which
 * query computes them.
 */
function profileParquet(file: string, input: ProfileDatasetInput, instances: number): Promise<DatasetProfile> {
  return withDuckDb(
    async (db) => {
      const from = `read_parquet(${literal(file)})`;
      const described = await db.query<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM ${from}`);
      const columns = described.map((c) => ({ name: c.column_name, type: c.column_type }));
      const { snapshotId, target } = input;
      const rowNumbered = {
        from: rowNumberedParquet(file),
        rowNumber: rowNumberColumn,
      };
      return computeProfile(db, duckDbDialect, {
        snapshotId,
        target,
        from,
        columns,
        concurrency: instances,
        rowNumbered,
      });
    },
    { threads: 1, instances },
  );
}

/** Profiles the snapshot staged in BigQuery: the same queries in BigQuery's dialect; only aggregates come back. */
function profileInBigQuery(settings: WarehouseSettings, file: string, input: ProfileDatasetInput) {
  return withWarehouseSession('bigquery', settings, input.snapshotId, async (w) => {
    const staged = await w.snapshotTable(input.snapshotId, file);
    const columns = staged.columns.filter((c) => c.name !== rowNumberColumn);
    return computeProfile(w, w.dialect, {
      snapshotId: input.snapshotId,
      target: input.target,
      from: staged.from,
      columns,
      rowNumbered: { from: staged.from, rowNumber: rowNumberColumn },
    });
  });
}
