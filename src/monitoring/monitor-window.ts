/**
 * One monitoring check of a served model: the window (since, until] of the alias's version's prediction log is
 * counted (in DuckDB over the Parquet log, or in BigQuery over the log table) on the stored reference of the
 * version's training snapshot (profile.json), judged with the drift presets, and written as drift.json and
 * report.html under monitoring/<model>/<runId>/. A window with fewer rows than the minimum, or a model without any
 * prediction log yet, is a reported skip; the watermark (monitoring/<model>/watermark.json) moves to the window's end
 * only after a judged window, so skipped rows count again in the next one.
 */
import type { ArtifactStore } from '../artifacts';
import { readJson, writeJson } from '../artifacts';
import {
  legacyMonitoringWatermark,
  monitoringFiles,
  monitoringWatermark,
  monitoringWindowClaim,
  predictionLogFolder,
  profileFiles,
} from '../artifacts/layout';
import type { FittedTransform } from '../contracts/datasets';
import { namesText } from '../contracts/message-text';
import type { CheckModelDriftInput, CheckModelDriftResult, PredictionDrift } from '../contracts/monitoring';
import { countWindow, driftReportJson, evaluateDrift } from '../drift/compute-drift';
import type { ColumnReference } from '../drift/reference';
import { renderDriftReport } from '../drift/report';
import { mlopsError } from '../errors';
import { predictionColumn } from '../evaluation/prediction-reference';
import type { DatasetProfile } from '../profiling/dataset-profile';
import { profileDriftReference } from '../profiling/profile-reference';
import type { ModelVersionRecord } from '../registry/model-registry';
import { resolveAlias } from '../registry/model-registry';
import type { Row } from '../warehouse/duckdb';
import { withDuckDb } from '../warehouse/duckdb';
import type { SqlDialect } from '../warehouse/sql-dialect';
import { bigQueryDialect, duckDbDialect } from '../warehouse/sql-dialect';
import type { BigQueryLogTable } from './bigquery-log-window';
import {
  bigQueryFeatureColumns,
  bigQueryOutputColumn,
  bigQueryPresenceSql,
  bigQueryWindowRows,
  logTableExists,
  queryLog,
  tablePath,
} from './bigquery-log-window';
import type { LogWindow } from './prediction-window';
import { logLayout } from './log-columns';
import { featureColumns, logPartsOf, outputColumn, presenceSql, windowRows, withLocalParts } from './prediction-window';
import { setOwn } from '../contracts/own-property';

/** Where the window is counted: the Parquet log (DuckDB, `threads`) or the BigQuery log table, when configured. */
export interface LogAccess {
  threads: number;
  bigQueryLog?: BigQueryLogTable;
}

/** The stored watermark: `watermark` is where the next window starts; `since` is where the run `runId` started. */
export interface WatermarkRecord {
  watermark: string;
  since?: string;
  runId: string;
  updatedAt: string;
}

export async function checkModelDrift(
  store: ArtifactStore,
  input: CheckModelDriftInput,
  access: LogAccess = { threads: 1 },
): Promise<CheckModelDriftResult> {
  refuseFutureWindow(input);
  const version = await resolveAlias(store, input.modelName, input.alias);
  const reference = await versionReference(store, version, input);
  const predictionRef = await outputReference(store, version);
  const since = await windowStart(store, input);
  const w: LogWindow = { modelName: input.modelName, version: version.version, since, until: iso(input.until) };
  const base = { version: version.version, since, until: w.until, minRows: input.minRows };
  const skip = (skipped: string, rows: number): CheckModelDriftResult => ({
    ...base,
    skipped,
    rows,
    driftShare: 0,
    driftedFeatures: [],
    datasetDrift: false,
    watermark: since,
  });
  const counted = await countSource(store, access, w, { reference, predictionRef, input });
  if (counted === 'no log') return skip(`no prediction log yet for model "${input.modelName}"`, 0);
  // A run whose window would end where the last judged one ended, or before (an earlier run with a shorter lag
  // judged further): nothing to judge, and the watermark stays.
  if (since !== undefined && since >= w.until)
    return skip(
      Date.parse(since) > Date.now()
        ? `the stored watermark ${since} (${monitoringWatermark(store, input.modelName, input.alias)}) is in the future: a run given an \`until\` after its start judged up to there, and every run skips until then; delete that file to judge from the start of the log again`
        : `the window would end at ${w.until}, not after the end of the last judged window (${since}), which a run with a shorter lag reached; the next run starts there`,
      0,
    );
  const rows = counted?.rows ?? 0;
  if (!counted || rows < input.minRows)
    return skip(
      `${rows} rows of version ${version.version} in the window, fewer than the minimum ${input.minRows}`,
      rows,
    );
  const claim = await claimWindow(store, input, since);
  if ('reason' in claim) return { ...skip(claim.reason, rows), watermark: claim.watermark };
  const report = evaluateDrift(counted.reference, counted.counts, {
    preset: input.preset,
    thresholds: input.thresholds,
    muted: input.muted,
    datasetDriftShare: input.datasetDriftShare,
    maxNullShareIncrease: input.maxNullShareIncrease,
  });
  const prediction = predictionDriftOf(predictionRef, counted.predictionCounts, input);
  const files = monitoringFiles(store, input.modelName, input.runId);
  const window = `${since ?? 'start of the log'} … ${w.until} (${rows} rows)`;
  await store.write(files.drift, driftReportJson(prediction ? { ...report, prediction } : report));
  await store.write(
    files.report,
    await renderDriftReport({ title: `${input.modelName} v${version.version}`, window, report }),
  );
  const mark: WatermarkRecord = { watermark: w.until, since, runId: input.runId, updatedAt: new Date().toISOString() };
  await writeJson(store, monitoringWatermark(store, input.modelName, input.alias), mark);
  // The watermark now says the window was judged; the claim has done its work.
  await releaseClaim(store, input, since, claim.generation);
  return {
    ...base,
    rows,
    driftShare: report.dataset.share,
    driftShareThreshold: report.dataset.threshold,
    driftedFeatures: report.dataset.driftedColumns,
    datasetDrift: report.dataset.drifted,
    ...(prediction && { predictionDrift: prediction }),
    reportUris: { drift: files.drift, report: files.report },
    watermark: w.until,
  };
}

/**
 * The stored reference of the version's features (from its transform): a missing profile, or one without a drift
 * reference for a feature, is a catalogued error.
 */
async function versionReference(
  store: ArtifactStore,
  version: ModelVersionRecord,
  input: Pick<CheckModelDriftInput, 'muted' | 'thresholds'>,
): Promise<Record<string, ColumnReference>> {
  const muted = input.muted ?? [];
  const uri = profileFiles(store, version.snapshotId).profile;
  if (!(await store.exists(uri)))
    throw mlopsError('MLOPS_ERR_MONITOR_PROFILE_MISSING', { model: version.modelName, version: version.version, uri });
  const transform = await readJson<Pick<FittedTransform, 'features'>>(store, version.transformUri);
  const features = transform.features.map((f) => f.name);
  checkFeatureNames(version, features, input);
  const profile = await readJson<DatasetProfile>(store, uri);
  const reference = profileDriftReference(
    profile,
    uri,
    features.filter((f) => !muted.includes(f)),
  );
  // Muted features are still reported when the profile has them.
  for (const f of muted) {
    const column = profile.columns.find((c) => c.name === f);
    if (features.includes(f) && column?.drift) setOwn(reference, f, column.drift);
  }
  return reference;
}

/**
 * Refuses per-feature settings for names the version does not take: a misspelt name would otherwise mute nothing, or
 * leave the feature at the default threshold, without a word.
 */
export function checkFeatureNames(
  version: ModelVersionRecord,
  features: readonly string[],
  input: Pick<CheckModelDriftInput, 'muted' | 'thresholds'>,
): void {
  const known = new Set(features);
  const unknownMuted = (input.muted ?? []).filter((f) => !known.has(f));
  // A threshold may also name the output (`prediction`), judged beside the features.
  const unknownThresholds = Object.keys(input.thresholds ?? {}).filter((f) => !known.has(f) && f !== predictionColumn);
  if (unknownMuted.length === 0 && unknownThresholds.length === 0) return;
  const fields = [unknownMuted.length > 0 && 'muted', unknownThresholds.length > 0 && 'thresholds'].filter(Boolean);
  throw mlopsError('MLOPS_ERR_MONITOR_UNKNOWN_FEATURE', {
    model: version.modelName,
    version: version.version,
    names: namesText([...new Set([...unknownMuted, ...unknownThresholds])]),
    fields: fields.join(' and '),
    features: namesText(features, 20),
  });
}

/**
 * The window's start: the input's, else the alias's stored watermark (where this same run started, when it is a
 * retry). Production falls back to the model's watermark from before they were kept per alias.
 */
async function windowStart(store: ArtifactStore, input: CheckModelDriftInput): Promise<string | undefined> {
  return startFrom(input, await storedWatermark(store, input));
}

/** Where the run's window starts, given the stored watermark: a retried run (same runId) starts where it started. */
function startFrom(input: CheckModelDriftInput, stored: WatermarkRecord | undefined): string | undefined {
  if (input.since) return iso(input.since);
  if (!stored) return undefined;
  return stored.runId === input.runId ? stored.since : stored.watermark;
}

/** The alias's stored watermark (production falls back to the model's file of before aliases); none yet: undefined. */
async function storedWatermark(
  store: ArtifactStore,
  input: CheckModelDriftInput,
): Promise<WatermarkRecord | undefined> {
  let uri = monitoringWatermark(store, input.modelName, input.alias);
  if (!(await store.exists(uri)) && input.alias === 'production')
    uri = legacyMonitoringWatermark(store, input.modelName);
  return (await store.exists(uri)) ? readJson<WatermarkRecord>(store, uri) : undefined;
}

/** A claim this old was left by a run that died judging its window (the check's start-to-close is 30 minutes). */
const staleClaimMs = 35 * 60_000;

interface WindowClaim {
  runId: string;
  claimedAt: string;
}

/**
 * Claims the window that starts at `since` for this run, so that two runs started side by side (a check by hand beside
 * the scheduled run) do not both judge it, writing two reports and sending two incidents. Returns the generation of
 * the claim this run holds (taken now, held already by a retried attempt of the same run, or taken over from a run
 * that died holding it), or why this run skips, with the watermark it found.
 *
 * Each step that takes a claim creates a file that must not exist yet, so of two runs only one takes it, also when
 * both find the same dead run's claim: that one is taken over by creating the next generation.
 */
async function claimWindow(
  store: ArtifactStore,
  input: CheckModelDriftInput,
  since: string | undefined,
): Promise<{ generation: number } | { reason: string; watermark: string | undefined }> {
  const window = `the window from ${since ?? 'the start of the log'}`;
  const mine = (): string => JSON.stringify({ runId: input.runId, claimedAt: new Date().toISOString() });
  const claimUri = (g: number) => monitoringWindowClaim(store, input.modelName, input.alias, since, g);
  let generation = 0;
  for (;;) {
    const uri = claimUri(generation);
    if (await store.createOnly(uri, mine())) break;
    // A newer generation exists: the window was taken over; that one holds it.
    if (await store.exists(claimUri(generation + 1))) {
      generation += 1;
      continue;
    }
    const held = await readJson<WindowClaim>(store, uri).catch(() => undefined);
    if (held?.runId === input.runId) {
      // A retried attempt of this run: its time is renewed, so the attempt is not taken for a dead run's.
      await store.write(uri, mine());
      break;
    }
    const expires = held ? Date.parse(held.claimedAt) + staleClaimMs : 0;
    if (held && Date.now() < expires)
      return {
        reason:
          `run ${held.runId} is judging ${window} (since ${held.claimedAt}); this run leaves it to that one. If that ` +
          `run is gone, the next run after ${new Date(expires).toISOString()} takes the window over (or delete ${uri})`,
        watermark: since,
      };
    // A dead run's claim (or one that cannot be read): taken over by whichever run creates the next generation.
    generation += 1;
  }
  // Another run may have judged it between this run's read of the watermark and its claim.
  const stored = await storedWatermark(store, input);
  const current = startFrom(input, stored);
  if (current === since) return { generation };
  await releaseClaim(store, input, since, generation);
  return {
    reason: `${window} was judged meanwhile by run ${stored?.runId ?? '(unknown)'}; the next window starts at ${current}`,
    watermark: current,
  };
}

/** Removes a window's claim files up to the generation this run held (the watermark says the window is judged). */
async function releaseClaim(
  store: ArtifactStore,
  input: CheckModelDriftInput,
  since: string | undefined,
  generation: number,
): Promise<void> {
  for (let g = generation; g >= 0; g--)
    await store.remove(monitoringWindowClaim(store, input.modelName, input.alias, since, g));
}

/** Clocks of the workflow's history and of a worker may differ by this much. */
const clockSkewMs = 60_000;

/** A window may not end after now: its watermark would skip every later run's rows until then. */
function refuseFutureWindow(input: CheckModelDriftInput): void {
  const now = Date.now();
  if (Date.parse(input.until) <= now + clockSkewMs) return;
  throw mlopsError('MLOPS_ERR_MONITOR_WINDOW_IN_FUTURE', {
    model: input.modelName,
    until: iso(input.until),
    now: new Date(now).toISOString(),
  });
}

function iso(time: string): string {
  return new Date(time).toISOString();
}

interface CountedLog {
  rows: number;
  reference: Record<string, ColumnReference>;
  counts: Awaited<ReturnType<typeof countWindow>>;
  /** The window's outputs counted on the version's prediction reference, when it has one. */
  predictionCounts?: Awaited<ReturnType<typeof countWindow>>;
}

/**
 * The drift reference of the version's output (its predictions on the validation split, stored in its evaluation by
 * evaluations since prediction drift exists); undefined for older versions, whose output drift is then not judged.
 */
async function outputReference(
  store: ArtifactStore,
  version: ModelVersionRecord,
): Promise<ColumnReference | undefined> {
  if (!(await store.exists(version.evaluationUri))) return undefined;
  const evaluation = await readJson<{ predictionReference?: ColumnReference }>(store, version.evaluationUri);
  return evaluation.predictionReference;
}

/**
 * The output's drift judged like a feature's (the preset's test for its kind and reference size; a threshold for
 * `prediction` in the input's thresholds applies). Reported beside the features; it does not count in the dataset
 * drift share.
 */
function predictionDriftOf(
  reference: ColumnReference | undefined,
  counts: CountedLog['predictionCounts'],
  input: CheckModelDriftInput,
): PredictionDrift | undefined {
  if (!reference || !counts) return undefined;
  const report = evaluateDrift({ [predictionColumn]: reference }, counts, {
    preset: input.preset,
    thresholds: input.thresholds,
  });
  const row = report.rows.find((r) => r.input === predictionColumn)!;
  return { metric: row.metric, value: row.value, threshold: row.threshold, drifted: row.is_anomaly };
}

/** What counting a window needs besides where the log is. */
interface CountSpec {
  reference: Record<string, ColumnReference>;
  predictionRef: ColumnReference | undefined;
  input: CheckModelDriftInput;
}

/**
 * Counts the window where the input says the log is: the Parquet parts of the days it touches in one DuckDB, or the
 * BigQuery log table in BigQuery (only aggregates come back). 'no log' when the model has none there yet; undefined
 * when the Parquet log has no part in the window's days.
 */
async function countSource(
  store: ArtifactStore,
  access: LogAccess,
  w: LogWindow,
  spec: CountSpec,
): Promise<CountedLog | 'no log' | undefined> {
  if (spec.input.log === 'bigquery') {
    const log = access.bigQueryLog;
    if (!log) throw mlopsError('MLOPS_ERR_MONITOR_LOG_TABLE_MISSING', { model: spec.input.modelName });
    if (!(await logTableExists(log))) return 'no log';
    const source: LogSource = {
      dialect: bigQueryDialect,
      query: (sql) => queryLog(log, sql),
      rows: bigQueryWindowRows(tablePath(log), w),
      presenceSql: bigQueryPresenceSql,
      featureColumns: bigQueryFeatureColumns,
      outputColumn: bigQueryOutputColumn,
    };
    return countLog(source, spec);
  }
  const parts = await logPartsOf(store, w);
  if (!parts) return 'no log';
  if (!parts.length) return undefined;
  return withLocalParts(store, parts, (files) =>
    withDuckDb(
      async (db) => {
        const layout = await logLayout(db, files, predictionLogFolder(store, w.modelName));
        return countLog(
          {
            dialect: duckDbDialect,
            query: (sql) => db.query(sql),
            rows: windowRows(files, w),
            presenceSql: presenceSql(layout),
            featureColumns: featureColumns(layout),
            outputColumn: outputColumn(layout),
            readOnce: async (relation) => {
              await db.run(`CREATE TEMP TABLE window_features AS SELECT * FROM ${relation}`);
              return 'window_features';
            },
          },
          spec,
        );
      },
      { threads: access.threads },
    ),
  );
}

/** A window of the log as the drift queries need it, in one warehouse's SQL. */
interface LogSource {
  dialect: SqlDialect;
  query: (sql: string) => Promise<Row[]>;
  /** The window's raw log rows, a table expression. */
  rows: string;
  presenceSql: (rows: string, names: string[]) => string;
  featureColumns: (rows: string, reference: Record<string, ColumnReference>) => string;
  outputColumn: (rows: string, reference: ColumnReference) => string;
  /**
   * The feature columns as a table read once, where counting would otherwise read the window once per column (a
   * narrow statement scans its relation for each column): DuckDB holds reader state for every Parquet part of each
   * scan, and an hour of log not yet compacted is 720 parts per server process. Absent: the relation is counted as
   * it is (BigQuery's log is one table).
   */
  readOnce?: (relation: string) => Promise<string>;
}

/**
 * Counts the window: its rows, then (when there are enough) each feature's cells or values. A feature that no logged
 * instance of the window has is a catalogued error, unless it is muted (it is then left out).
 */
async function countLog(source: LogSource, { reference, predictionRef, input }: CountSpec): Promise<CountedLog> {
  const { rows, query, dialect } = source;
  const names = Object.keys(reference);
  const [presence = {}] = await query(source.presenceSql(rows, names));
  const n = Number(presence.n ?? 0);
  if (n < input.minRows) return { rows: n, reference, counts: {} };
  const absent = names.filter((_, i) => Number(presence[`p${i}`] ?? 0) === 0);
  const missing = absent.filter((f) => !(input.muted ?? []).includes(f));
  if (missing.length) throw mlopsError('MLOPS_ERR_DRIFT_FEATURE_MISSING', { features: missing.join(', ') });
  const kept = Object.fromEntries(Object.entries(reference).filter(([name]) => !absent.includes(name)));
  const features = source.featureColumns(rows, kept);
  const counts = await countWindow(query, dialect, source.readOnce ? await source.readOnce(features) : features, kept);
  const outputs = predictionRef && { [predictionColumn]: predictionRef };
  const predictionCounts =
    outputs && (await countWindow(query, dialect, source.outputColumn(rows, predictionRef), outputs));
  return { rows: n, reference: kept, counts, predictionCounts };
}
