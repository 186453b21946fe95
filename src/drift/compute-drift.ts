/**
 * Drift of a window of rows against the stored reference: the window is counted in the warehouse per reference grid
 * cell and stored value (one pass, aggregates only), and every statistic is computed here from the two sides' counts.
 * The window is any relation with one column per feature (and optionally a prediction column), given as a table
 * expression of the dialect, so it does not depend on where or how the prediction log is stored.
 */
import { mlopsError } from '../errors';
import type { SqlDialect } from '../warehouse/sql-dialect';
import { cellCountsSql, valueCountsSql } from './drift-sql';
import type { DriftMetric, Preset, PresetName, TestChoice } from './presets';
import { defaultRule, defaultThreshold, isAnomaly, presets } from './presets';
import type { CategoricalReference, CellCounts, ColumnReference, NumericReference, Query } from './reference';
import { binCountsOf, num, readCellCounts } from './reference';
import type { KsMethod } from './statistics';
import {
  at,
  chiSquareHomogeneity,
  jensenShannon,
  kolmogorovSmirnov,
  lInfinity,
  psi,
  twoProportionZ,
  wasserstein,
} from './statistics';
import { shareText } from '../contracts/message-text';
import { ownValue, setOwn } from '../contracts/own-property';

export const driftReportVersion = 1;

export interface DriftOptions {
  /** @default 'evidently' */
  preset?: PresetName;
  /** Per-column thresholds of the deciding statistic. */
  thresholds?: Record<string, number>;
  /** Per-column choice of the deciding statistic (its threshold: `thresholds`, else Evidently's default). */
  tests?: Record<string, DriftMetric>;
  /** Columns whose drift is reported but never counted as an anomaly. */
  muted?: string[];
  /** Dataset drift when at least this share of unmuted columns drift (the preset's by default). */
  datasetDriftShare?: number;
  /**
   * A column drifts when its share of missing values (nulls) in the window exceeds the reference's by more than this,
   * in absolute terms (0.1: 2 % → 12.1 %), whatever its values do: an upstream outage that blanks a feature shows
   * here, not in the distribution of the values left. @default 0.1
   */
  maxNullShareIncrease?: number;
}

/** The default of `DriftOptions.maxNullShareIncrease`. */
export const defaultMaxNullShareIncrease = 0.1;

export interface ComputeDriftInput {
  /** The current window as a table expression of the dialect. */
  from: string;
  /** The stored reference of each column to compare (from profile.json). */
  reference: Record<string, ColumnReference>;
  /** The window's column names; when given, a reference column missing from it is a catalogued error. */
  currentColumns?: string[];
  options?: DriftOptions;
}

/** One row per column, in the shape of BigQuery ML's `ML.VALIDATE_DATA_DRIFT`. */
export interface DriftRow {
  input: string;
  metric: DriftMetric;
  threshold: number;
  value: number;
  is_anomaly: boolean;
}

export interface ColumnDrift {
  input: string;
  kind: 'numeric' | 'categorical';
  test: TestChoice;
  muted: boolean;
  referenceRows: number;
  currentRows: number;
  currentNulls: number;
  /**
   * Shares of missing values (nulls among all rows) in the reference and the window, and whether the increase is
   * over `maxNullShareIncrease` (which makes the column drift whatever its values' statistic says).
   */
  nulls: { reference: number; current: number; threshold: number; drifted: boolean };
  /** Every statistic that applies to the column. */
  statistics: Partial<Record<DriftMetric, number>>;
  /** KS details where KS applies: D, and whether it is exact or a lower bound from the grid (with its bound). */
  ks?: { statistic: number; method: KsMethod; bound: number };
  /** Reference and current counts of the buckets behind PSI, JS and L∞ (bins or categories), for the report. */
  buckets: { labels: string[]; reference: number[]; current: number[] };
  /**
   * Numeric columns whose window has rows beyond the reference's outer grid points (`beyond`: its minimum and maximum
   * for an exact grid, else its extreme quantiles) lying further out than the reference's own rows there (a typo of
   * ×100, a 1e30): `rows` in those outer cells, and the normed Wasserstein distance with them pulled in to the
   * reference's mean there. A Wasserstein verdict that only those rows carry is judged by it (see `test.note`).
   */
  tails?: { rows: number; beyond: 'range' | 'quantiles'; WASSERSTEIN_NORMED: number };
}

export interface DriftReport {
  version: typeof driftReportVersion;
  preset: PresetName;
  rows: DriftRow[];
  dataset: { drifted: boolean; driftedColumns: string[]; share: number; threshold: number; columns: number };
  columns: ColumnDrift[];
}

/** Counts the window in the warehouse and compares it with the reference. */
export async function computeDrift(query: Query, d: SqlDialect, input: ComputeDriftInput): Promise<DriftReport> {
  const names = Object.keys(input.reference);
  const missing = input.currentColumns ? names.filter((n) => !input.currentColumns!.includes(n)) : [];
  if (missing.length) throw mlopsError('MLOPS_ERR_DRIFT_FEATURE_MISSING', { features: missing.join(', ') });
  const current = await countWindow(query, d, input.from, input.reference);
  return evaluateDrift(input.reference, current, input.options);
}

/** A window's counts per column, on the reference's grid (numeric) or values (categorical). */
export type WindowCounts = Record<string, CellCounts | CategoryCounts>;

export interface CategoryCounts {
  /** Rows of each reference value, in the reference's order. */
  values: number[];
  /** Rows of any other value. */
  other: number;
  nulls: number;
}

export async function countWindow(
  query: Query,
  d: SqlDialect,
  from: string,
  reference: Record<string, ColumnReference>,
): Promise<WindowCounts> {
  const entries = Object.entries(reference).map(([name, ref], index) => ({ name, ref, index }));
  const grids = entries.flatMap((e) => (e.ref.kind === 'numeric' ? [{ ...e, grid: e.ref.grid }] : []));
  const valued = entries.flatMap((e) =>
    e.ref.kind === 'categorical' ? [{ ...e, values: e.ref.values.map((v) => v.value) }] : [],
  );
  // The window holds the reference's columns (and a few of the log's own): its width, for wide models.
  const width = entries.length;
  const sqls = [
    ...cellCountsSql(d, from, grids, width),
    ...(valued.length ? valueCountsSql(d, from, valued, width) : []),
  ];
  const rows = (await Promise.all(sqls.map((sql) => query(sql)))).flat();
  const counts: WindowCounts = {};
  for (const g of grids) setOwn(counts, g.name, readCellCounts(rows, g.index, g.grid.length));
  for (const v of valued) setOwn(counts, v.name, readCategoryCounts(rows, v.index, v.values));
  return counts;
}

function readCategoryCounts(rows: Record<string, unknown>[], index: number, values: string[]): CategoryCounts {
  const counts: CategoryCounts = { values: values.map(() => 0), other: 0, nulls: 0 };
  for (const r of rows) {
    if (num(r.col) !== index || r.code !== undefined) continue;
    const n = num(r.n);
    if (r.missing === true || r.missing === 1) counts.nulls += n;
    else if (r.value === null || r.value === undefined) counts.other += n;
    else {
      const i = values.indexOf(typeof r.value === 'string' ? r.value : JSON.stringify(r.value));
      counts.values[i] = at(counts.values, i) + n;
    }
  }
  return counts;
}

/** Compares counted windows with the reference: pure, so windows counted elsewhere (and summed) compare the same. */
export function evaluateDrift(
  reference: Record<string, ColumnReference>,
  current: WindowCounts,
  options: DriftOptions = {},
): DriftReport {
  const preset = presets[options.preset ?? 'evidently'];
  const muted = new Set(options.muted ?? []);
  const columns = Object.entries(reference).map(([name, ref]) => {
    const cur = ownValue(current, name);
    if (!cur) throw mlopsError('MLOPS_ERR_DRIFT_FEATURE_MISSING', { features: name });
    const drift =
      ref.kind === 'numeric'
        ? numericDrift(name, ref, cur as CellCounts)
        : categoricalDrift(name, ref, cur as CategoryCounts);
    // A window without rows at all (not even nulls) has nothing to judge; a muted feature is never judged.
    if (drift.currentRows + drift.currentNulls === 0 && !muted.has(name))
      throw mlopsError('MLOPS_ERR_DRIFT_WINDOW_EMPTY', { feature: name });
    const nulls = nullShares(ref, drift, options.maxNullShareIncrease ?? defaultMaxNullShareIncrease);
    const chosen = chooseTest(name, drift, preset, options);
    const guarded = ownValue(options.tests, name) === undefined ? tailGuard(drift, chosen) : chosen;
    const test = nullNote(guarded, nulls, drift);
    // With no value in the window there is no distribution to compare: only the missing values are judged.
    const measured = drift.currentRows === 0 ? { ...drift, statistics: {}, ks: undefined, tails: undefined } : drift;
    return { ...measured, nulls, test, muted: muted.has(name) };
  });
  const rows = columns.map((c): DriftRow => {
    const value =
      (c.test.judgedOnTails ? c.tails?.WASSERSTEIN_NORMED : undefined) ?? c.statistics[c.test.metric] ?? NaN;
    const anomaly = !c.muted && (c.nulls.drifted || isAnomaly(value, c.test.threshold, c.test.rule));
    return { input: c.input, metric: c.test.metric, threshold: c.test.threshold, value, is_anomaly: anomaly };
  });
  const counted = columns.filter((c) => !c.muted).length;
  const driftedColumns = rows.filter((r) => r.is_anomaly).map((r) => r.input);
  const share = counted ? driftedColumns.length / counted : 0;
  const threshold = options.datasetDriftShare ?? preset.datasetDriftShare;
  return {
    version: driftReportVersion,
    preset: preset.name,
    rows,
    dataset: { drifted: counted > 0 && share >= threshold, driftedColumns, share, threshold, columns: counted },
    columns,
  };
}

type Measured = Omit<ColumnDrift, 'test' | 'muted' | 'nulls'> & { unique: number };

/** The reference's and the window's shares of missing values, and whether the rise is over `threshold`. */
function nullShares(ref: ColumnReference, drift: Measured, threshold: number): ColumnDrift['nulls'] {
  const share = (nulls: number, values: number) => (nulls + values > 0 ? nulls / (nulls + values) : 0);
  const reference = share(ref.nulls, ref.count);
  const current = share(drift.currentNulls, drift.currentRows);
  // Compared in whole parts per million, so a share that rose by exactly the threshold is not over it by rounding.
  const drifted = Math.round((current - reference) * 1e6) > Math.round(threshold * 1e6);
  return { reference, current, threshold, drifted };
}

/** Says why a column drifts by its missing values (and that nothing else was compared when no value is left). */
function nullNote(test: TestChoice, nulls: ColumnDrift['nulls'], drift: Measured): TestChoice {
  if (!nulls.drifted) return test;
  const note =
    `missing values rose from ${shareText(nulls.reference)} of the reference's rows to ${shareText(nulls.current)} of ` +
    `the window's, more than ${shareText(nulls.threshold)}` +
    (drift.currentRows === 0 ? ': the window has no value of it to compare' : '');
  return { ...test, note: test.note ? `${test.note}; ${note}` : note };
}

/**
 * A normed Wasserstein distance at or above its threshold that only a few far-out rows carry (the distance grows with
 * how far they are, so one row of 1e30 among thousands reaches any threshold) is judged with those rows pulled in to
 * the reference's own tails; a shift of the whole column moves the pulled-in distance as well and still drifts.
 */
function tailGuard(drift: Measured, test: TestChoice): TestChoice {
  const raw = drift.statistics.WASSERSTEIN_NORMED;
  const pulled = drift.tails?.WASSERSTEIN_NORMED;
  if (test.metric !== 'WASSERSTEIN_NORMED' || raw === undefined || pulled === undefined) return test;
  if (!isAnomaly(raw, test.threshold, test.rule) || isAnomaly(pulled, test.threshold, test.rule)) return test;
  const { rows, beyond } = drift.tails!;
  const where = beyond === 'range' ? 'minimum or maximum' : 'extreme quantiles';
  const note =
    `the distance (${formatStatistic(raw)}) comes from far-out values: of the window's ${rows.toLocaleString('en-US')} ` +
    `row${rows === 1 ? '' : 's'} beyond the reference's ${where}, some lie much further out than the reference's own; ` +
    `pulled in to the reference's mean there it is ${formatStatistic(pulled)}, under ${test.threshold}: judged by that ` +
    `(look for outliers or unit errors in the log; KS p = ${formatStatistic(drift.statistics.KS_P_VALUE ?? NaN)})`;
  return { ...test, judgedOnTails: true, note: test.note ? `${test.note}; ${note}` : note };
}

function formatStatistic(x: number): string {
  return Number.isFinite(x) ? Number(x.toPrecision(3)).toString() : String(x);
}

/** The preset's choice for the column, unless `tests` names one; `thresholds` replaces the threshold. */
function chooseTest(name: string, drift: Measured, preset: Preset, options: DriftOptions): TestChoice {
  const own = ownValue(options.thresholds, name);
  const { buckets } = drift;
  const used = buckets.reference.filter((r, i) => r + at(buckets.current, i) > 0).length;
  const chosen = preset.choose({ ...drift, buckets: used }, own);
  const metric = ownValue(options.tests, name) ?? chosen.metric;
  if (metric !== chosen.metric)
    return { metric, rule: defaultRule(metric), threshold: own ?? defaultThreshold(metric) };
  return { ...chosen, threshold: own ?? chosen.threshold };
}

function numericDrift(name: string, ref: NumericReference, cur: CellCounts): Measured {
  const currentRows = cur.cells.reduce((a, b) => a + b, 0);
  const bins = binned(ref, cur);
  const values = valueBuckets(ref, cur);
  const ks = kolmogorovSmirnov(ref.grid, ref, cur, ref.gridExact);
  const w = wasserstein(ref.grid, ref, cur);
  const std = Math.max(ref.std ?? 0, 0.001);
  const tails = pulledInTails(ref, cur);
  const unseen = at(values.current, values.current.length - 1) > 0 ? 1 : 0;
  const statistics: Partial<Record<DriftMetric, number>> = {
    ...distances(bins.reference, bins.current),
    KS_P_VALUE: ks.pValue,
    WASSERSTEIN_NORMED: w / std,
  };
  if (ref.gridExact) Object.assign(statistics, tests(values.reference, values.current));
  if (ref.gridExact && ref.distinct <= 5) Object.assign(statistics, distances(values.reference, values.current));
  return {
    input: name,
    kind: 'numeric',
    referenceRows: ref.count,
    currentRows,
    currentNulls: cur.nulls,
    statistics,
    ks: { statistic: ks.statistic, method: ks.method, bound: ks.bound },
    buckets: ref.gridExact ? values : bins,
    unique: ref.gridExact ? ref.distinct + unseen : ref.distinct,
    ...(tails && {
      tails: {
        rows: tails.rows,
        beyond: ref.gridExact ? ('range' as const) : ('quantiles' as const),
        WASSERSTEIN_NORMED: wasserstein(ref.grid, ref, tails.cells) / std,
      },
    }),
  };
}

/**
 * The window's counts with its rows below the first grid point and above the last pulled in to the reference's mean
 * there (the reference's minimum and maximum for an exact grid), where they lie further out; undefined when none do.
 * Only the two outer cells' sums change: counts, and so every count-based statistic, stay as they are.
 */
function pulledInTails(ref: NumericReference, cur: CellCounts): { rows: number; cells: CellCounts } | undefined {
  const k = ref.grid.length;
  if (k === 0) return undefined;
  const mean = (cell: number, fallback: number) =>
    at(ref.cells, cell) > 0 ? at(ref.sums, cell) / at(ref.cells, cell) : fallback;
  const low = at(cur.cells, 0) * mean(0, at(ref.grid, 0));
  const high = at(cur.cells, k) * mean(k, at(ref.grid, k - 1));
  const [sumLow, sumHigh] = [at(cur.sums, 0), at(cur.sums, k)];
  const pulledLow = Number.isFinite(sumLow) ? Math.max(sumLow, low) : low;
  const pulledHigh = Number.isFinite(sumHigh) ? Math.min(sumHigh, high) : high;
  if (pulledLow === sumLow && pulledHigh === sumHigh) return undefined;
  const rows = at(cur.cells, 0) + at(cur.cells, k) - at(cur.atLower, k);
  const sums = [...cur.sums];
  sums[0] = pulledLow;
  sums[k] = pulledHigh;
  return { rows, cells: { ...cur, sums } };
}

/** Counts per bin of the reference's bin edges (cells of the grid summed). */
function binned(ref: NumericReference, cur: CellCounts) {
  const edges = ref.binEdges.map((e) => Number(e.toPrecision(4)));
  const labels = [-Infinity, ...edges].map((lower, i) => `[${lower === -Infinity ? '−∞' : lower}, ${edges[i] ?? '∞'})`);
  return { labels, reference: ref.binCounts, current: binCountsOf(cur.cells, ref.grid, ref.binEdges) };
}

/** Counts per grid point (exact grids: per distinct reference value), then rows equal to none of them. */
function valueBuckets(ref: NumericReference, cur: CellCounts) {
  const at = (side: CellCounts) => side.atLower.slice(1);
  const other = (side: CellCounts) => side.cells.reduce((a, b) => a + b, 0) - at(side).reduce((a, b) => a + b, 0);
  return {
    labels: [...ref.grid.map(String), 'other'],
    reference: [...at(ref), other(ref)],
    current: [...at(cur), other(cur)],
  };
}

function categoricalDrift(name: string, ref: CategoricalReference, cur: CategoryCounts): Measured {
  const reference = [...ref.values.map((v) => v.count), ref.otherCount];
  const current = [...cur.values, cur.other];
  const unseen = cur.other > 0 && ref.otherCount === 0 ? 1 : 0;
  return {
    input: name,
    kind: 'categorical',
    referenceRows: ref.count,
    currentRows: current.reduce((a, b) => a + b, 0),
    currentNulls: cur.nulls,
    statistics: { ...distances(reference, current), ...tests(reference, current) },
    buckets: { labels: [...ref.values.map((v) => v.value), 'other'], reference, current },
    unique: ref.distinct + unseen,
  };
}

function distances(reference: number[], current: number[]): Partial<Record<DriftMetric, number>> {
  return {
    PSI: psi(reference, current),
    JENSEN_SHANNON_DISTANCE: jensenShannon(reference, current).distance,
    JENSEN_SHANNON_DIVERGENCE: jensenShannon(reference, current, 2).divergence,
    L_INFTY: lInfinity(reference, current),
  };
}

/** Chi-square over the buckets, and the Z test when exactly two buckets hold rows. */
function tests(reference: number[], current: number[]): Partial<Record<DriftMetric, number>> {
  const result: Partial<Record<DriftMetric, number>> = {
    CHI_SQUARE_P_VALUE: chiSquareHomogeneity(reference, current).pValue,
  };
  const used = reference.map((_, i) => i).filter((i) => at(reference, i) + at(current, i) > 0);
  if (used.length <= 2) {
    const [first] = used;
    const n = reference.reduce((a, b) => a + b, 0);
    const m = current.reduce((a, b) => a + b, 0);
    const a = first === undefined ? 0 : at(reference, first);
    const b = first === undefined ? 0 : at(current, first);
    result.Z_TEST_P_VALUE = twoProportionZ(a, n, b, m).pValue;
  }
  return result;
}

/** The counts of two windows counted on the same reference, as one window: counts and sums add. */
export function addWindowCounts(a: WindowCounts, b: WindowCounts): WindowCounts {
  const add = (x: readonly number[], y: readonly number[]) => x.map((v, i) => v + at(y, i));
  return Object.fromEntries(
    Object.entries(a).map(([name, x]) => {
      const y = ownValue(b, name);
      if (!y) return [name, x];
      if ('cells' in x && 'cells' in y) {
        const cells = { cells: add(x.cells, y.cells), atLower: add(x.atLower, y.atLower), sums: add(x.sums, y.sums) };
        return [name, { ...cells, nulls: x.nulls + y.nulls }];
      }
      if ('values' in x && 'values' in y)
        return [name, { values: add(x.values, y.values), other: x.other + y.other, nulls: x.nulls + y.nulls }];
      return [name, x];
    }),
  );
}

/** drift.json: the report as pretty-printed JSON; a statistic that does not apply to a column is null. */
export function driftReportJson(report: DriftReport & { prediction?: unknown }): string {
  return `${JSON.stringify(report, (_, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2)}\n`;
}
