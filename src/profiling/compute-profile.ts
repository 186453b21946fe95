/**
 * Computes a dataset profile in the warehouse: five kinds of aggregate query (column statistics, exact distinct counts,
 * histograms, top values, correlations), whose few result rows are assembled here into a {@link DatasetProfile}.
 */
import type { ColumnReference } from '../drift/reference';
import { computeDriftReference, defaultDriftReferenceSettings } from '../drift/reference';
import type { Row } from '../warehouse/duckdb';
import { duckDbMemoryLimit } from '../warehouse/duckdb-memory';
import type { Warehouse } from '../warehouse/warehouse';
import type {
  CategoricalColumnProfile,
  ColumnProfile,
  CorrelationMatrix,
  DatasetProfile,
  HistogramBin,
  NumericColumnProfile,
  ProfileSettings,
  TargetDistribution,
  ValueCount,
} from './dataset-profile';
import { profileFormatVersion } from './dataset-profile';
import type { BinnedColumn, ProfiledColumn } from './profile-sql';
import {
  columnStatsSql,
  columnsPerQuery,
  distinctSql,
  histogramSql,
  sampledQuantilesQuery,
  slices,
  spellingVariantsSql,
  topValuesSql,
} from './profile-sql';
import type { CorrelatedColumns } from './correlations';
import { correlateColumns } from './correlations';
import { ApplicationFailure } from '@temporalio/common';
import { mlopsError } from '../errors';
import { defaultSpellingVariantSettings, spellingVariantWarnings, variantCheckedColumns } from './spelling-variants';
import type { SqlDialect } from '../warehouse/sql-dialect';
import { runQuantileQuery } from '../warehouse/sql-dialect';

export const defaultProfileSettings: Readonly<ProfileSettings> = Object.freeze({
  quantileLevels: [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99],
  histogramBins: 20,
  topCategories: 10,
  targetClasses: 50,
  exactDistinctBelow: 10_000,
  quantileSampleRows: 100_000,
  drift: defaultDriftReferenceSettings,
  spellingVariants: defaultSpellingVariantSettings,
  // 4,950 pairs: the largest heatmap a person can still scan; tables up to 100 numeric columns keep every pair.
  correlationColumns: 100,
});

export interface ComputeProfileInput {
  snapshotId: string;
  target: string;
  /** A table expression of the dialect, e.g. `read_parquet('…')` or a view name. */
  from: string;
  columns: { name: string; type: string }[];
  settings?: ProfileSettings;
  /**
   * Queries the client may run at once. Above 1, the column statistics, correlations and histograms are each split
   * into at least this many queries over disjoint columns (more for a wide table, see `columnsPerQuery`), and queries
   * that need no other query's result are sent together.
   * Each column's numbers are the same either way (for DuckDB: on single-threaded instances, see `withDuckDb`).
   * @default 1 (one query at a time, the fewest queries)
   */
  concurrency?: number;
  /**
   * The same table with a row number column (e.g. DuckDB's `read_parquet(…, file_row_number = true)`), for exact
   * quantiles over a uniform sample of `settings.quantileSampleRows` rows. Without it quantiles are approximate over
   * every row.
   */
  rowNumbered?: { from: string; rowNumber: string };
}

/** Runs SQL and returns its (few) result rows; a warehouse client of the dialect. */
export type AggregateQuery = Pick<Warehouse, 'query'>;

export interface ProfileTableInput {
  snapshotId: string;
  target: string;
  /** A table reference of the warehouse (see {@link Warehouse.describe}). */
  table: string;
  settings?: ProfileSettings;
}

/** Profiles a table in any warehouse: the same queries, written in the warehouse's dialect. */
export async function profileTable(warehouse: Warehouse, input: ProfileTableInput): Promise<DatasetProfile> {
  const { from, columns } = await warehouse.describe(input.table);
  const { snapshotId, target, settings } = input;
  return computeProfile(warehouse, warehouse.dialect, { snapshotId, target, from, columns, settings });
}

export async function computeProfile(
  client: AggregateQuery,
  d: SqlDialect,
  input: ComputeProfileInput,
): Promise<DatasetProfile> {
  const settings = { ...defaultProfileSettings, ...input.settings };
  const columns = input.columns.map((c, index): ProfiledColumn => ({ ...c, index, numeric: d.isNumericType(c.type) }));
  const db = outOfMemoryNamed(client, input, columns);
  const { stats, exact, binned, histograms, tops, correlated, variants } = await queryAggregates(
    db,
    d,
    input,
    settings,
    columns,
  );
  const drift = await driftReferences(db, d, input, settings, columns, { stats, tops: [...tops.values()].flat() });
  const rowCount = num(stats.row_count) ?? 0;
  const profiles = columns.map((c): ColumnProfile => {
    const count = num(stats[`c${c.index}_count`]) ?? 0;
    const reference = drift[c.name];
    if (reference?.kind === 'categorical') {
      const top = tops.get(c.index) ?? [];
      return { ...categoricalProfile(c, count, rowCount, top, settings.topCategories), drift: reference };
    }
    const bins = binned.find((b) => b.index === c.index);
    const histogram = bins ? toHistogram(bins, histograms.get(c.index) ?? []) : [];
    const profile = numericProfile(c, count, rowCount, stats, settings.quantileLevels, histogram);
    const numericDrift = reference?.kind === 'numeric' && reference.count > 0 ? reference : null;
    return { ...profile, ...exactOr(num(exact[`c${c.index}_distinct`])), drift: numericDrift };
  });
  return {
    version: profileFormatVersion,
    snapshotId: input.snapshotId,
    rowCount,
    target: input.target,
    settings,
    columns: profiles,
    correlations: correlationMatrix(correlated),
    targetDistribution: targetDistribution(profiles, input.target, tops, settings.targetClasses),
    warnings: spellingVariantWarnings(columns, variants, input.target),
  };
}

/**
 * Each column's drift reference: grid cells counted over every row, grid quantiles exact over the same kind of sample
 * as the profile's quantiles (approximate without row numbers).
 */
function driftReferences(
  db: AggregateQuery,
  d: SqlDialect,
  input: ComputeProfileInput,
  settings: ProfileSettings,
  columns: ProfiledColumn[],
  counted: { stats: Row; tops: Row[] },
): Promise<Record<string, ColumnReference>> {
  const sample = input.rowNumbered && { ...input.rowNumbered, size: settings.quantileSampleRows };
  return computeDriftReference((sql) => db.query(sql), d, {
    from: input.from,
    columns: columns.map((c) => ({ name: c.name, numeric: c.numeric })),
    settings: driftSettings(settings),
    sample: sample || undefined,
    // The statistics and top values just counted: the reference reads the rows only for its grids and cells.
    counted,
  });
}

const driftSettings = (settings: ProfileSettings) => settings.drift ?? defaultDriftReferenceSettings;

/**
 * Histograms need the statistics' min and max, exact distinct counts their estimates, spelling variants the distinct
 * counts of the top values; top values and correlations need nothing, so they are sent right after the statistics.
 */
async function queryAggregates(
  client: AggregateQuery,
  d: SqlDialect,
  input: ComputeProfileInput,
  settings: ProfileSettings,
  columns: ProfiledColumn[],
) {
  const { from } = input;
  const parts = Math.max(1, input.concurrency ?? 1);
  const db = limited(client, parts);
  const numeric = columns.filter((c) => c.numeric);
  const approximate = input.rowNumbered ? [] : settings.quantileLevels;
  const statsQueries = splitColumns(columns, parts).map((group) =>
    db.query(columnStatsSql(d, from, group, approximate)),
  );
  const per = (items: ProfiledColumn[]) => slices(items, parts, columnsPerQuery);
  const counted = columns
    .filter((c) => !c.numeric)
    // As many values as the profile shows, and as the drift reference keeps (it reads them from this query).
    .map((c) => ({
      ...c,
      limit: Math.max(
        c.name === input.target ? settings.targetClasses : settings.topCategories,
        driftSettings(settings).categories,
      ),
    }));
  const topValues = queryGroups(
    db,
    slices(counted, 1, columnsPerQuery).map((group) => topValuesSql(d, from, group, columns.length)),
  );
  const target = columns.find((c) => c.name === input.target);
  const independent = Promise.all([
    topValues,
    correlateColumns(db, d, {
      from,
      numeric,
      target,
      targetClasses: async () => num((await topValues).get(target?.index ?? -1)?.[0]?.distinct_values) ?? 0,
      maxColumns: settings.correlationColumns,
      maxClasses: settings.targetClasses,
      parts,
    }),
    topValues.then((tops) => spellingVariants(db, d, from, settings, columns, tops)),
  ]);
  // Awaited below; until then a failure must not count as unhandled when the statistics fail first.
  independent.catch(() => undefined);
  const stats = merged(await Promise.all(statsQueries));
  const fewDistinct = numeric.filter((c) => (num(stats[`c${c.index}_distinct`]) ?? 0) < settings.exactDistinctBelow);
  const binned = numeric.flatMap((c) => binning(c, stats, settings.histogramBins));
  const sampled = input.rowNumbered && numeric.length ? sampledQuantiles(db, d, input, settings, numeric, stats) : [];
  const [exact, histograms, [tops, correlated, variants], quantiles] = await Promise.all([
    Promise.all(per(fewDistinct).map((group) => db.query(distinctSql(d, from, group)))).then(merged),
    queryGroups(
      db,
      slices(binned, parts, columnsPerQuery).map((group) => histogramSql(d, from, group, columns.length)),
    ),
    independent,
    sampled,
  ]);
  return { stats: { ...stats, ...merged(quantiles) }, exact, binned, histograms, tops, correlated, variants };
}

/** The rows of `spellingVariantsSql` for the text columns whose distinct count (from the top values) is in bounds. */
function spellingVariants(
  db: AggregateQuery,
  d: SqlDialect,
  from: string,
  settings: ProfileSettings,
  columns: ProfiledColumn[],
  tops: Map<number, Row[]>,
): Promise<Row[]> {
  const limits = settings.spellingVariants;
  const distinct = (c: ProfiledColumn) => num(tops.get(c.index)?.[0]?.distinct_values) ?? 0;
  const checked = variantCheckedColumns(columns, distinct, limits);
  const queries = slices(checked, 1, columnsPerQuery).map((group) =>
    db.query(spellingVariantsSql(d, from, group, limits, columns.length)),
  );
  return Promise.all(queries).then((rows) => rows.flat());
}

/** Exact quantiles over a uniform sample of the rows (all of them when they are few), split like the statistics. */
function sampledQuantiles(
  db: AggregateQuery,
  d: SqlDialect,
  input: ComputeProfileInput,
  settings: ProfileSettings,
  numeric: ProfiledColumn[],
  stats: Row,
): Promise<Row[][]> {
  const sample = { ...input.rowNumbered!, size: settings.quantileSampleRows, rows: num(stats.row_count) ?? 0 };
  const groups = slices(numeric, Math.max(1, input.concurrency ?? 1), columnsPerQuery);
  return Promise.all(
    groups.map(async (group) => {
      const quantiles = sampledQuantilesQuery(d, sample, group, settings.quantileLevels);
      return [Object.fromEntries(await runQuantileQuery((sql) => db.query(sql), quantiles))];
    }),
  );
}

/**
 * At least `parts` groups of the columns (more when a group would hold over `columnsPerQuery` numeric columns), in
 * column order: numeric and other columns are spread separately, since a numeric column costs far more (quantiles,
 * moments; another column is counted only). Always at least one group, for the row count.
 */
function splitColumns(columns: ProfiledColumn[], initialParts: number): ProfiledColumn[][] {
  const numericCount = columns.filter((c) => c.numeric).length;
  const parts = Math.max(initialParts, Math.ceil(numericCount / columnsPerQuery));
  const part = new Map<ProfiledColumn, number>();
  for (const kind of [true, false]) {
    const ofKind = columns.filter((c) => c.numeric === kind);
    ofKind.forEach((c, i) => part.set(c, Math.floor((i * parts) / ofKind.length)));
  }
  const groups = Array.from({ length: parts }, (_, i) => columns.filter((c) => part.get(c) === i));
  const nonEmpty = groups.filter((g) => g.length > 0);
  return nonEmpty.length ? nonEmpty : [[]];
}

function merged(results: Row[][]): Row {
  return Object.assign({}, ...results.map(([row = {}]) => row)) as Row;
}

/** The client, running at most `concurrency` queries at once and starting them in call order. */
function limited(client: AggregateQuery, concurrency: number): AggregateQuery {
  let running = 0;
  const waiting: (() => void)[] = [];
  return {
    async query(sql) {
      if (running < concurrency) running++;
      else await new Promise<void>((start) => waiting.push(start));
      try {
        return await client.query(sql);
      } finally {
        const next = waiting.shift();
        if (next) next();
        else running--;
      }
    },
  };
}

/** Replaces the distinct estimate by the exact count, where one was made. */
function exactOr(exactDistinct: number | null): Partial<NumericColumnProfile> {
  return exactDistinct === null ? {} : { distinct: exactDistinct, distinctApproximate: false };
}

async function queryGroups(db: AggregateQuery, queries: string[]): Promise<Map<number, Row[]>> {
  return groupRows((await Promise.all(queries.map((sql) => db.query(sql)))).flat());
}

function numericProfile(
  c: ProfiledColumn,
  count: number,
  rowCount: number,
  stats: Row,
  levels: number[],
  histogram: HistogramBin[],
): Omit<NumericColumnProfile, 'drift'> {
  const p = `c${c.index}_`;
  const q = Array.isArray(stats[`${p}quantiles`]) ? (stats[`${p}quantiles`] as unknown[]) : [];
  return {
    name: c.name,
    type: c.type,
    kind: 'numeric',
    count,
    nulls: rowCount - count,
    distinct: num(stats[`${p}distinct`]) ?? 0,
    distinctApproximate: true,
    min: num(stats[`${p}min`]),
    max: num(stats[`${p}max`]),
    mean: num(stats[`${p}mean`]),
    std: num(stats[`${p}std`]),
    quantiles: Object.fromEntries(levels.map((level, i) => [quantileKey(level), num(q[i])])),
    histogram,
  };
}

function categoricalProfile(
  c: ProfiledColumn,
  count: number,
  rowCount: number,
  rows: Row[],
  topCategories: number,
): Omit<CategoricalColumnProfile, 'drift'> {
  const top = toValueCounts(rows).slice(0, topCategories);
  return {
    name: c.name,
    type: c.type,
    kind: 'categorical',
    count,
    nulls: rowCount - count,
    distinct: num(rows[0]?.distinct_values) ?? 0,
    distinctApproximate: false,
    top,
    otherCount: count - sum(top),
  };
}

function targetDistribution(
  profiles: ColumnProfile[],
  target: string,
  tops: Map<number, Row[]>,
  targetClasses: number,
): TargetDistribution | null {
  const index = profiles.findIndex((c) => c.name === target);
  const column = profiles[index];
  if (!column) return null;
  if (column.kind === 'numeric')
    return { name: target, kind: 'numeric', histogram: column.histogram, nulls: column.nulls };
  const classes = toValueCounts(tops.get(index) ?? []).slice(0, targetClasses);
  return { name: target, kind: 'categorical', classes, otherCount: column.count - sum(classes), nulls: column.nulls };
}

function correlationMatrix({ columns, omitted, selection, pairs }: CorrelatedColumns): CorrelationMatrix {
  const r = (a: ProfiledColumn, b: ProfiledColumn) => {
    if (a.index === b.index) return 1;
    const [i, j] = a.index < b.index ? [a.index, b.index] : [b.index, a.index];
    return num(pairs[`r_${i}_${j}`]);
  };
  return {
    method: 'pearson',
    columns: columns.map((c) => c.name),
    matrix: columns.map((a) => columns.map((b) => r(a, b))),
    omitted: omitted.map((c) => c.name),
    selection,
  };
}

/**
 * The client, with DuckDB running out of memory as a catalogued, non-retryable error: the same table would run out
 * again on a retry.
 */
function outOfMemoryNamed(
  client: AggregateQuery,
  input: ComputeProfileInput,
  columns: ProfiledColumn[],
): AggregateQuery {
  return {
    async query(sql) {
      try {
        return await client.query(sql);
      } catch (error) {
        // DuckDB's error as the warehouse catalogues it (or as DuckDB gives it, on a handle of its own).
        const catalogued = error instanceof ApplicationFailure && error.type === 'MLOPS_ERR_DATA_OUT_OF_MEMORY';
        const message = error instanceof Error ? error.message : String(error);
        if (!catalogued && !/^Out of Memory Error/m.test(message)) throw error;
        const reason = catalogued
          ? (/\): (.*)/.exec(message.split('\n')[0]!)?.[1] ?? message)
          : message.split('\n')[0]!;
        throw mlopsError('MLOPS_ERR_PROFILE_OUT_OF_MEMORY', {
          snapshotId: input.snapshotId,
          columns: String(columns.length),
          numeric: String(columns.filter((c) => c.numeric).length),
          limit: duckDbMemoryLimit(),
          reason,
        });
      }
    },
  };
}

/** Bins for a column with values; a constant column gets one bin. */
function binning(c: ProfiledColumn, stats: Row, bins: number): BinnedColumn[] {
  const min = num(stats[`c${c.index}_min`]);
  const max = num(stats[`c${c.index}_max`]);
  if (min === null || max === null) return [];
  return [{ ...c, min, max, bins: max > min ? bins : 1 }];
}

function toHistogram(c: BinnedColumn, rows: Row[]): HistogramBin[] {
  const counts = new Map(rows.map((r) => [num(r.bin), num(r.n) ?? 0]));
  const width = (c.max - c.min) / c.bins;
  return Array.from({ length: c.bins }, (_, i) => ({
    lower: c.min + i * width,
    upper: i === c.bins - 1 ? c.max : c.min + (i + 1) * width,
    count: counts.get(i) ?? 0,
  }));
}

function toValueCounts(rows: Row[]): ValueCount[] {
  return rows.map((r) => ({ value: String(r.value), count: num(r.n) ?? 0 }));
}

function groupRows(rows: Row[]): Map<number, Row[]> {
  const groups = new Map<number, Row[]>();
  for (const row of rows) {
    const col = num(row.col) ?? -1;
    groups.set(col, [...(groups.get(col) ?? []), row]);
  }
  return groups;
}

/** A finite number, or null (SQL NULL, and NaN such as corr() of a constant column, which JSON cannot hold). */
function num(value: unknown): number | null {
  const n = typeof value === 'bigint' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
}

function sum(counts: ValueCount[]): number {
  return counts.reduce((total, v) => total + v.count, 0);
}

/** `p1`, `p5`, `p50`, … (`p99.9` for finer levels). */
export function quantileKey(level: number): string {
  return `p${Number((level * 100).toPrecision(12))}`;
}
