/**
 * Which statistic decides drift for a column, at which threshold and in which direction: the `evidently` preset
 * (Evidently's default test choice by column type and reference size, and its thresholds) and the `vertex` preset
 * (Vertex AI Model Monitoring's: JS divergence for numeric columns, L-infinity for categorical ones, 0.3).
 */
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
}

export interface TestChoice {
  metric: DriftMetric;
  threshold: number;
  rule: AnomalyRule;
}

export interface Preset {
  name: PresetName;
  choose(facts: ColumnFacts): TestChoice;
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

export const presets: Record<PresetName, Preset> = {
  evidently: {
    name: 'evidently',
    choose: (facts) => {
      const metric = evidentlyMetric(facts);
      return { metric, ...evidentlyRules[metric] };
    },
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
