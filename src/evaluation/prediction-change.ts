/**
 * How differently a challenger answers than the champion it was judged against, on the same test rows: the
 * Jensen–Shannon distance (base 2) between the two models' predictions, binned as a canary's comparison with the stable
 * version bins the prediction log (src/rollout/compare-predictions.ts): the shares of predicted labels over the union of
 * labels, or the counts in the champion's deciles (interpolated like DuckDB's `quantile_cont`, repeated edges merged).
 *
 * Kept in the challenger's evaluation.json (`predictionChange`): when this version later runs as a canary beside that
 * champion, the canary's judge expects its predictions to differ by about this much, and holds against it only what
 * lies beyond (docs/rollout.md, "Judging a canary").
 */
import { jensenShannon } from '../drift/statistics';

export interface PredictionChange {
  /** The champion's version: the change is expected only against it. */
  against: number;
  /** Jensen–Shannon distance, base 2 (0 … 1). */
  distance: number;
  /** Test rows both models answered. */
  rows: number;
}

const deciles = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/**
 * The distance between `champion`'s and `challenger`'s predictions of the same rows (labels or values); undefined when
 * there are none, or when the two do not give the same kind of prediction.
 */
export function predictionDistance(
  champion: readonly (string | number)[],
  challenger: readonly (string | number)[],
): number | undefined {
  if (champion.length === 0 || challenger.length === 0) return undefined;
  const numeric = (xs: readonly (string | number)[]) => xs.every((x) => typeof x === 'number');
  const labelled = (xs: readonly (string | number)[]) => xs.every((x) => typeof x === 'string');
  if (labelled(champion) && labelled(challenger)) {
    const [a, b] = labelCounts(champion as string[], challenger as string[]);
    return jensenShannon(a, b, 2).distance;
  }
  if (numeric(champion) && numeric(challenger)) {
    const [a, b] = binCounts(champion as number[], challenger as number[]);
    return jensenShannon(a, b, 2).distance;
  }
  return undefined;
}

function labelCounts(champion: string[], challenger: string[]): [number[], number[]] {
  const labels = [...new Set([...champion, ...challenger])].sort();
  const index = new Map(labels.map((label, i) => [label, i]));
  const count = (xs: string[]) => {
    const counts = new Array<number>(labels.length).fill(0);
    for (const x of xs) counts[index.get(x)!]!++;
    return counts;
  };
  return [count(champion), count(challenger)];
}

/** Counts per bin of the champion's deciles; bin k holds the values above k of the (distinct) edges. */
function binCounts(champion: number[], challenger: number[]): [number[], number[]] {
  const sorted = Float64Array.from(champion).sort();
  const edges = [...new Set(deciles.map((q) => quantileCont(sorted, q)))].sort((a, b) => a - b);
  const count = (xs: number[]) => {
    const counts = new Array<number>(edges.length + 1).fill(0);
    for (const x of xs) counts[edges.filter((e) => x > e).length]!++;
    return counts;
  };
  return [count(champion), count(challenger)];
}

/** The `q` quantile of sorted values, interpolated between the two nearest ranks (as DuckDB's `quantile_cont`). */
function quantileCont(sorted: Float64Array, q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  const low = sorted[lo]!;
  return lo === hi ? low : low + (at - lo) * (sorted[hi]! - low);
}
