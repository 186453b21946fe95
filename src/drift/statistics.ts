/**
 * Drift statistics over counts: the reference's and the current window's counts per bin, category or grid cell, as
 * the counting queries return them. Definitions, scales and log bases are in docs/monitoring.md; each is checked
 * against SciPy in test/drift/statistics.test.ts.
 */
import { chiSquareSurvival, kolmogorovSurvival, normalTwoSided } from './special-functions';

/** Counts as shares of their total (all zeros when the total is 0). */
export function shares(counts: readonly number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((n) => (total > 0 ? n / total : 0));
}

/**
 * Population stability index Σ (pᵢ − qᵢ) · ln(pᵢ / qᵢ), natural log. Empty shares on either side are replaced, as
 * Evidently does, by min(smallest non-zero share of that side / 10⁶, 0.0001).
 */
export function psi(reference: readonly number[], current: readonly number[]): number {
  const p = filled(shares(reference));
  const q = filled(shares(current));
  return p.reduce((total, pi, i) => total + (pi - at(q, i)) * Math.log(pi / at(q, i)), 0);
}

function filled(s: number[]): number[] {
  const nonZero = s.filter((x) => x > 0);
  const fill = Math.min(nonZero.length ? Math.min(...nonZero) / 1e6 : 0.0001, 0.0001);
  return s.map((x) => (x === 0 ? fill : x));
}

/**
 * Jensen–Shannon divergence ½ KL(P‖M) + ½ KL(Q‖M), M = (P + Q) / 2, in `base` (0 … 1 in base 2), and the distance,
 * its square root (SciPy's `jensenshannon`). Zero shares contribute nothing.
 */
export function jensenShannon(
  reference: readonly number[],
  current: readonly number[],
  base = Math.E,
): { divergence: number; distance: number } {
  const p = shares(reference);
  const q = shares(current);
  let divergence = 0;
  p.forEach((pi, i) => {
    const qi = at(q, i);
    const m = (pi + qi) / 2;
    if (pi > 0) divergence += (pi / 2) * Math.log(pi / m);
    if (qi > 0) divergence += (qi / 2) * Math.log(qi / m);
  });
  divergence = Math.max(0, divergence) / Math.log(base);
  return { divergence, distance: Math.sqrt(divergence) };
}

/** L-infinity distance max |pᵢ − qᵢ| between the shares (0 … 1). */
export function lInfinity(reference: readonly number[], current: readonly number[]): number {
  const p = shares(reference);
  const q = shares(current);
  return p.reduce((best, pi, i) => Math.max(best, Math.abs(pi - at(q, i))), 0);
}

/**
 * Pearson's chi-square goodness of fit of the current counts to the reference shares (expected = share × current
 * total), as `scipy.stats.chisquare(current, expected)`. Categories empty on both sides are left out; a current count
 * where the reference has none makes the statistic infinite (p = 0).
 */
export function chiSquare(
  reference: readonly number[],
  current: readonly number[],
): { statistic: number; dof: number; pValue: number } {
  const total = current.reduce((a, b) => a + b, 0);
  const p = shares(reference);
  let statistic = 0;
  let categories = 0;
  p.forEach((pi, i) => {
    const observed = at(current, i);
    if (pi === 0 && observed === 0) return;
    categories++;
    const expected = pi * total;
    statistic += expected === 0 ? Infinity : (observed - expected) ** 2 / expected;
  });
  const dof = Math.max(categories - 1, 0);
  const pValue = dof === 0 ? 1 : chiSquareSurvival(statistic, dof);
  return { statistic, dof, pValue };
}

/**
 * Pearson's chi-square test of homogeneity of the two samples (the 2 × k table of reference and current counts;
 * SciPy's `chi2_contingency(…, correction=False)`): expected counts from the pooled shares, dof = categories − 1.
 * Unlike the goodness-of-fit form it accounts for the reference's own sampling error, so its false-alarm rate stays at
 * the significance level when the window is larger than the reference. Categories empty on both sides are left out.
 */
export function chiSquareHomogeneity(
  reference: readonly number[],
  current: readonly number[],
): { statistic: number; dof: number; pValue: number } {
  const n = reference.reduce((a, b) => a + b, 0);
  const m = current.reduce((a, b) => a + b, 0);
  let statistic = 0;
  let categories = 0;
  reference.forEach((r, i) => {
    const c = at(current, i);
    if (r + c === 0) return;
    categories++;
    const [er, ec] = [((r + c) * n) / (n + m), ((r + c) * m) / (n + m)];
    statistic += (r - er) ** 2 / er + (c - ec) ** 2 / ec;
  });
  const dof = Math.max(categories - 1, 0);
  return { statistic, dof, pValue: dof === 0 || n === 0 || m === 0 ? 1 : chiSquareSurvival(statistic, dof) };
}

/**
 * Two-proportion Z test, pooled, two-sided (Evidently's `z`): the share of one of the two categories in the
 * reference (a of n) against the current window (b of m). A column constant on both sides gives p = 1.
 */
export function twoProportionZ(a: number, n: number, b: number, m: number): { z: number; pValue: number } {
  const p1 = a / n;
  const p2 = b / m;
  const pooled = (a + b) / (n + m);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / m));
  if (!(se > 0)) return { z: 0, pValue: 1 };
  const z = (p1 - p2) / se;
  return { z, pValue: normalTwoSided(z) };
}

/** Counts of one side on a grid of k points (cells (−∞, g₀), [g₀, g₁), …, [gₖ₋₁, ∞)). */
export interface GridCounts {
  cells: readonly number[];
  atLower: readonly number[];
  sums: readonly number[];
}

export type KsMethod = 'exact' | 'grid';

/**
 * Two-sample Kolmogorov–Smirnov: D = sup |F_ref − F_cur|, evaluated just below and at every grid point. That is the
 * exact D when the grid holds every distinct reference value (F_ref is constant between points); otherwise it is a
 * lower bound, and D ≤ value + the largest reference share of a grid cell (`bound`). The p-value is the asymptotic
 * Kolmogorov one: P(K ≥ D·√(nm/(n+m))) (SciPy's `kstwobign.sf`).
 */
export interface KsResult {
  statistic: number;
  pValue: number;
  method: KsMethod;
  /** 0 when exact; else the most D can exceed `statistic` by. */
  bound: number;
}

export function kolmogorovSmirnov(
  grid: readonly number[],
  reference: GridCounts,
  current: GridCounts,
  exact: boolean,
): KsResult {
  const n = sum(reference.cells);
  const m = sum(current.cells);
  let [r, q] = [0, 0];
  let statistic = 0;
  for (let c = 1; c <= grid.length; c++) {
    r += at(reference.cells, c - 1);
    q += at(current.cells, c - 1);
    const below = Math.abs(r / n - q / m);
    const atOrBelow = Math.abs((r + at(reference.atLower, c)) / n - (q + at(current.atLower, c)) / m);
    statistic = Math.max(statistic, below, atOrBelow);
  }
  const pValue = kolmogorovSurvival(statistic * Math.sqrt((n * m) / (n + m)));
  const method: KsMethod = exact ? 'exact' : 'grid';
  const inside = reference.cells.map((count, c) => (count - (c > 0 ? at(reference.atLower, c) : 0)) / n);
  return { statistic, pValue, method, bound: exact ? 0 : Math.max(...inside) };
}

/**
 * First Wasserstein distance ∫ |F_ref − F_cur| dx, cell by cell: each side's integral of its CDF over a cell follows
 * exactly from the rows below the cell, the rows in it and their sum; the cell contributes the absolute difference
 * of the two integrals. Exact unless the two CDFs cross inside a cell; in the units of the column.
 */
export function wasserstein(grid: readonly number[], reference: GridCounts, current: GridCounts): number {
  if (grid.length === 0) return 0;
  const r = cellIntegrals(grid, reference);
  const q = cellIntegrals(grid, current);
  return r.reduce((total, ri, c) => total + Math.abs(ri - at(q, c)), 0);
}

/** ∫F over each cell between grid points; ∫F below the first point and ∫(1 − F) above the last. */
function cellIntegrals(grid: readonly number[], side: GridCounts): number[] {
  const k = grid.length;
  const total = sum(side.cells);
  const first = at(grid, 0);
  const out: number[] = [(at(side.cells, 0) * first - at(side.sums, 0)) / total];
  let below = at(side.cells, 0);
  for (let c = 1; c < k; c++) {
    const [a, b] = [at(grid, c - 1), at(grid, c)];
    out.push((below * (b - a) + at(side.cells, c) * b - at(side.sums, c)) / total);
    below += at(side.cells, c);
  }
  out.push((at(side.sums, k) - at(side.cells, k) * at(grid, k - 1)) / total);
  return out;
}

/** The element at i, 0 when absent (the arrays here are counts, sums and points of known length). */
export function at(values: readonly number[], i: number): number {
  return values[i] ?? 0;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
