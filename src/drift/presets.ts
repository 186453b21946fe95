/**
 * Which statistic decides drift for a column, at which threshold and in which direction: the `evidently` preset
 * (Evidently's default test choice by column type and reference size, and its thresholds, with one guard of ours: a
 * window too small for the column's buckets is judged by chi-square, see `distanceNoise`) and the `vertex` preset
 * (Vertex AI Model Monitoring's: JS divergence for numeric columns, L-infinity for categorical ones, 0.3).
 */
import { chiSquareSurvival } from './special-functions';

export type DriftMetric =
  | 'KS_P_VALUE'
  | 'CHI_SQUARE_P_VALUE'
  | 'Z_TEST_P_VALUE'
  | 'WASSERSTEIN_NORMED'
  | 'JENSEN_SHANNON_DISTANCE'
  | 'JENSEN_SHANNON_DIVERGENCE'
  | 'L_INFTY'
  | 'PSI';

export const driftMetrics: readonly DriftMetric[] = [
  'KS_P_VALUE',
  'CHI_SQUARE_P_VALUE',
  'Z_TEST_P_VALUE',
  'WASSERSTEIN_NORMED',
  'JENSEN_SHANNON_DISTANCE',
  'JENSEN_SHANNON_DIVERGENCE',
  'L_INFTY',
  'PSI',
];

export type PresetName = 'evidently' | 'vertex';

/** When a value is an anomaly: p-values below (or at) the threshold, distances above (or at) it. */
export type AnomalyRule = 'below' | 'atOrBelow' | 'above' | 'atOrAbove';

export interface ColumnFacts {
  kind: 'numeric' | 'categorical';
  /** Reference rows (non-null). */
  referenceRows: number;
  /** Distinct values in reference and current together (see docs/monitoring.md for how unseen ones count). */
  unique: number;
  /** Window rows (non-null). */
  currentRows: number;
  /** Buckets (categories, or values of an exact grid, and "other") holding reference or window rows. */
  buckets: number;
}

export interface TestChoice {
  metric: DriftMetric;
  threshold: number;
  rule: AnomalyRule;
  /** Why the preset chose otherwise than its table says, or a warning about the chosen statistic, for the report. */
  note?: string;
  /** The normed Wasserstein distance is judged with the window's far-out rows pulled in (`ColumnDrift.tails`). */
  judgedOnTails?: boolean;
}

export interface Preset {
  name: PresetName;
  /** `threshold`: the user's own threshold for the column, when set (the choice is then kept, see `distanceNoise`). */
  choose(facts: ColumnFacts, threshold?: number): TestChoice;
  /** The dataset drifts when at least this share of the (unmuted) columns drift; vertex: any one column. */
  datasetDriftShare: number;
}

const evidentlyRules: Record<DriftMetric, { threshold: number; rule: AnomalyRule }> = {
  KS_P_VALUE: { threshold: 0.05, rule: 'atOrBelow' },
  CHI_SQUARE_P_VALUE: { threshold: 0.05, rule: 'below' },
  Z_TEST_P_VALUE: { threshold: 0.05, rule: 'below' },
  WASSERSTEIN_NORMED: { threshold: 0.1, rule: 'atOrAbove' },
  JENSEN_SHANNON_DISTANCE: { threshold: 0.1, rule: 'atOrAbove' },
  JENSEN_SHANNON_DIVERGENCE: { threshold: 0.1, rule: 'atOrAbove' },
  L_INFTY: { threshold: 0.1, rule: 'atOrAbove' },
  PSI: { threshold: 0.1, rule: 'atOrAbove' },
};

/** Evidently's `_get_default_stattest`: small references get tests, large ones distances. */
function evidentlyMetric(facts: ColumnFacts): DriftMetric {
  const small = facts.referenceRows <= 1000;
  const lowCardinality = facts.kind === 'categorical' || facts.unique <= 5;
  if (lowCardinality) {
    if (!small) return 'JENSEN_SHANNON_DISTANCE';
    return facts.unique > 2 ? 'CHI_SQUARE_P_VALUE' : 'Z_TEST_P_VALUE';
  }
  return small ? 'KS_P_VALUE' : 'WASSERSTEIN_NORMED';
}

/**
 * Sampling noise of the JS distance with no drift at all. For bucket shares estimated from n window and m reference
 * rows over k buckets, 8 · n′ · JS divergence (natural log, n′ = 1 / (1/n + 1/m)) is approximately χ² with k − 1
 * degrees of freedom (the divergence is ⅛ Σ (pᵢ − qᵢ)² / mᵢ to second order). `falseAlarm` is the chance that noise
 * alone reaches the threshold; `typical` the distance at the χ² mean. A 200-value category (50 kept + "other") in a
 * 500-row window sits at about 0.11 with no drift, over Evidently's 0.1 in nearly every window.
 */
export function distanceNoise(
  facts: Pick<ColumnFacts, 'referenceRows' | 'currentRows' | 'buckets'>,
  threshold: number,
): { falseAlarm: number; typical: number } {
  const dof = Math.max(facts.buckets - 1, 1);
  const effective = 1 / (1 / Math.max(facts.currentRows, 1) + 1 / Math.max(facts.referenceRows, 1));
  return {
    falseAlarm: chiSquareSurvival(8 * effective * threshold * threshold, dof),
    typical: Math.sqrt(dof / (8 * effective)),
  };
}

/** Above this chance of a no-drift alarm the evidently preset does not judge by the JS distance. */
export const distanceNoiseLimit = 0.01;

function chooseEvidently(facts: ColumnFacts, threshold?: number): TestChoice {
  const metric = evidentlyMetric(facts);
  const chosen = { metric, ...evidentlyRules[metric] };
  if (metric !== 'JENSEN_SHANNON_DISTANCE') return chosen;
  const noise = distanceNoise(facts, threshold ?? chosen.threshold);
  if (noise.falseAlarm <= distanceNoiseLimit) return chosen;
  const why =
    `with no drift at all the JS distance of ${facts.currentRows.toLocaleString('en-US')} window rows over ` +
    `${facts.buckets} buckets is about ${noise.typical.toFixed(3)} (noise alone reaches ` +
    `${threshold ?? chosen.threshold} in ${percent(noise.falseAlarm)} of windows by a χ² estimate, more where buckets are sparse)`;
  if (threshold !== undefined)
    return { ...chosen, note: `${why}; your threshold is kept: raise it, or use a window of more rows` };
  return {
    metric: 'CHI_SQUARE_P_VALUE',
    ...evidentlyRules.CHI_SQUARE_P_VALUE,
    note: `chi-square instead of JENSEN_SHANNON_DISTANCE: ${why}`,
  };
}

function percent(share: number): string {
  return share >= 0.995 ? 'nearly all' : `${Math.round(share * 100)} %`;
}

export const presets: Record<PresetName, Preset> = {
  evidently: {
    name: 'evidently',
    choose: chooseEvidently,
    datasetDriftShare: 0.5,
  },
  vertex: {
    name: 'vertex',
    choose: (facts) => ({
      metric: facts.kind === 'numeric' ? 'JENSEN_SHANNON_DIVERGENCE' : 'L_INFTY',
      threshold: 0.3,
      rule: 'above',
    }),
    datasetDriftShare: Number.MIN_VALUE,
  },
};

/** The rule a metric is judged by when a column's test is overridden: p-values below, distances at or above. */
export function defaultRule(metric: DriftMetric): AnomalyRule {
  return evidentlyRules[metric].rule;
}

export function defaultThreshold(metric: DriftMetric): number {
  return evidentlyRules[metric].threshold;
}

export function isAnomaly(value: number, threshold: number, rule: AnomalyRule): boolean {
  if (Number.isNaN(value)) return false;
  switch (rule) {
    case 'below':
      return value < threshold;
    case 'atOrBelow':
      return value <= threshold;
    case 'above':
      return value > threshold;
    case 'atOrAbove':
      return value >= threshold;
  }
}
