/**
 * Model quality metrics, shared by the evaluation activity and the built-in trainer. Pure functions over typed
 * arrays: `probabilities` is row-major `[rows × classes]`, labels are class indices (classification) or values.
 */

export type ClassificationMetrics = { accuracy: number; f1: number; log_loss: number; auc?: number };
export type RegressionMetrics = { rmse: number; mae: number; r2: number };

export { lowerIsBetter } from '../contracts/pipeline';

export function classificationMetrics(
  probabilities: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
): ClassificationMetrics {
  const n = labels.length;
  let correct = 0;
  let logLoss = 0;
  const predicted = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++)
      if (probabilities[i * classes + k]! > probabilities[i * classes + best]!) best = k;
    predicted[i] = best;
    const label = labels[i]!;
    if (best === label) correct++;
    logLoss -= Math.log(Math.min(1 - 1e-15, Math.max(1e-15, probabilities[i * classes + label]!)));
  }
  const metrics: ClassificationMetrics = {
    accuracy: correct / n,
    f1: macroF1(predicted, labels, classes),
    log_loss: logLoss / n,
  };
  if (classes === 2) {
    const scores = new Float64Array(n);
    for (let i = 0; i < n; i++) scores[i] = probabilities[i * 2 + 1]!;
    metrics.auc = rocAuc(scores, labels);
  }
  return metrics;
}

/**
 * F1 of the positive class for binary problems; otherwise the unweighted mean over the classes that occur among the
 * labels or the predictions (scikit-learn's macro average): a class absent from both, as a rare class can be from a
 * test split, says nothing of the model and does not count as an F1 of 0.
 */
function macroF1(predicted: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number {
  const perClass: number[] = [];
  for (let k = classes === 2 ? 1 : 0; k < classes; k++) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < labels.length; i++) {
      if (predicted[i] === k && labels[i] === k) tp++;
      else if (predicted[i] === k) fp++;
      else if (labels[i] === k) fn++;
    }
    if (classes !== 2 && tp + fp + fn === 0) continue;
    perClass.push(tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn));
  }
  return perClass.length === 0 ? 0 : perClass.reduce((a, b) => a + b, 0) / perClass.length;
}

/** ROC AUC by the rank-sum (Mann–Whitney) formula, with average ranks for ties. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) {
      if (labels[order[t]!] === 1) {
        positives++;
        rankSum += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return 0.5;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export function regressionMetrics(predictions: ArrayLike<number>, targets: ArrayLike<number>): RegressionMetrics {
  const n = targets.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += targets[i]! / n;
  let se = 0;
  let ae = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const err = predictions[i]! - targets[i]!;
    se += err * err;
    ae += Math.abs(err);
    total += (targets[i]! - mean) ** 2;
  }
  return { rmse: Math.sqrt(se / n), mae: ae / n, r2: total === 0 ? 0 : 1 - se / total };
}
