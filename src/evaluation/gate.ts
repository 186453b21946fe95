/**
 * The gate: the challenger must beat the trivial baseline, and the champion (re-scored on the same test rows where it
 * can be) by more than `gate.minImprovement`; a tie never deploys.
 */
import type { GateDecision } from '../contracts/pipeline';
import type { EvaluateModelInput } from '../contracts/training';
import { lowerIsBetter } from './metrics';

export interface ChampionScore {
  version: number;
  /** Its metrics on the challenger's test rows when re-scored, else as recorded at its registration. */
  metrics: Record<string, number>;
  /** Its metrics as recorded at its registration (on its own test split). */
  recordedMetrics: Record<string, number>;
  /** True when the champion was re-scored on the challenger's test rows through its own transform. */
  sameTestSplit: boolean;
  /** Why it could not be re-scored, when it was not. */
  notRescored?: string;
  /**
   * Why its model cannot be used at all (its output breaks the contract: logits, NaN, a wrong width), when it cannot:
   * its metrics measure nothing, so the challenger is judged against the baseline alone and may replace it.
   */
  unusable?: string;
}

function defaultMetric(input: EvaluateModelInput, metrics: Record<string, number>): string {
  if (input.task === 'regression') return 'rmse';
  return metrics.auc !== undefined ? 'auc' : 'accuracy';
}

export function decideGate(
  input: EvaluateModelInput,
  metrics: Record<string, number>,
  baseline: Record<string, number>,
  champion?: ChampionScore,
): GateDecision {
  const metric = input.gate.metric ?? defaultMetric(input, metrics);
  const challenger = metrics[metric] ?? NaN;
  const better = (a: number, b: number) => (lowerIsBetter.has(metric) ? b - a : a - b);
  // AUC of a constant predictor is 0.5 by definition; other metrics compare against the computed baseline.
  const floor = metric === 'auc' ? 0.5 : (baseline[metric] ?? NaN);
  if (!(better(challenger, floor) > 0)) {
    return {
      passed: false,
      metric,
      challenger,
      reason: `${metric} ${fmt(challenger)} is no better than the trivial baseline ${fmt(floor)}`,
    };
  }
  if (!champion || champion.unusable)
    return {
      passed: true,
      metric,
      challenger,
      reason: `${champion ? `champion v${champion.version} cannot be used (${champion.unusable})` : 'no champion yet'}; ${metric} ${fmt(challenger)} beats the baseline ${fmt(floor)}`,
    };
  const championValue = champion.metrics[metric] ?? NaN;
  const improvement = better(challenger, championValue);
  // Strictly above: a tie (an identical rerun) never replaces the champion.
  const passed = improvement > input.gate.minImprovement;
  const where = champion.sameTestSplit
    ? 're-scored on the same test split'
    : `as recorded at its registration (not re-scored: ${champion.notRescored})`;
  return {
    passed,
    metric,
    challenger,
    champion: championValue,
    championVersion: champion.version,
    reason: `${metric} ${fmt(challenger)} vs champion v${champion.version} ${fmt(championValue)} ${where}: improvement ${fmtDifference(improvement)} ${passed ? '>' : '<='} required ${input.gate.minImprovement}`,
  };
}

function fmt(value: number): string {
  return Number.isFinite(value) ? value.toFixed(4) : String(value);
}

/** A difference as {@link fmt} shows it, unless that would show a nonzero one as 0.0000 (then two significant digits). */
function fmtDifference(value: number): string {
  return value !== 0 && Math.abs(value) < 0.00005 ? String(Number(value.toPrecision(2))) : fmt(value);
}

/** Below this many test rows, a passing gate says how little it was judged on. */
export const fewTestRows = 100;

/**
 * A passing decision judged on fewer than {@link fewTestRows} test rows, with a note saying so: on so few rows a model
 * that learnt nothing (random labels) often beats the baseline by chance, and would be deployed without a word.
 */
export function noteFewTestRows(gate: GateDecision, testRows: number): GateDecision {
  if (!gate.passed || testRows >= fewTestRows) return gate;
  return {
    ...gate,
    reason:
      `${gate.reason}; judged on only ${testRows} test rows, where a model that learnt nothing often wins by ` +
      'chance: give the pipeline more data, or a larger split.testFraction',
  };
}
