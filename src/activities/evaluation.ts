import type { ArtifactStore } from '../artifacts';
import { readJson, withLocalCopy, writeJson } from '../artifacts';
import type { FittedTransform } from '../contracts/datasets';
import type { GateDecision } from '../contracts/pipeline';
import type { EvaluateModelInput, EvaluateModelResult } from '../contracts/training';
import { classificationMetrics, lowerIsBetter, regressionMetrics } from '../evaluation/metrics';
import { loadOnnxModel } from '../models/onnx-model';
import { createPredictor } from '../models/predictor';
import { readAlias, resolveAlias } from '../registry/model-registry';
import { ident, literal, withDuckDb } from '../warehouse/duckdb';

export interface EvaluationDeps {
  store: ArtifactStore;
}

interface TestSet {
  features: Float32Array;
  labels: Float64Array;
  rows: number;
}

/** Evaluation: score the challenger on the test split, compare it with the champion, and decide the gate. */
export interface EvaluationActivities {
  evaluateModel: (input: EvaluateModelInput) => Promise<EvaluateModelResult>;
}

export function createEvaluationActivities({ store }: EvaluationDeps): EvaluationActivities {
  return {
    async evaluateModel(input: EvaluateModelInput): Promise<EvaluateModelResult> {
      const transform = await readJson<FittedTransform>(store, input.transformUri);
      const test = await withLocalCopy(store, input.testUri, (file) => loadTestSet(file, input));
      const metrics = await scoreModel(store, input.modelUri, transform, test, input);
      const baseline = baselineMetrics(test, input, transform);
      const champion = await scoreChampion(store, input, transform, test);
      const gate = decideGate(input, metrics, baseline, champion);
      const reportUri = store.uri(input.outputUri, 'evaluation.json');
      await writeJson(store, reportUri, {
        modelUri: input.modelUri,
        testUri: input.testUri,
        rows: test.rows,
        metrics,
        baseline,
        champion,
        gate,
      });
      return { metrics, baseline, reportUri, gate };
    },
  };
}

async function loadTestSet(file: string, input: EvaluateModelInput): Promise<TestSet> {
  const cols = [...input.featureColumns, input.labelColumn].map((c) => `${ident(c)}::DOUBLE`).join(', ');
  const { columns } = await withDuckDb((db) => db.columns(`SELECT ${cols} FROM read_parquet(${literal(file)})`));
  const n = input.featureColumns.length;
  const rows = columns[0]?.length ?? 0;
  const features = new Float32Array(rows * n);
  for (let j = 0; j < n; j++) for (let i = 0; i < rows; i++) features[i * n + j] = columns[j]![i] as number;
  return { features, labels: Float64Array.from(columns[n] as number[]), rows };
}

/** Scores the test split (already transformed by the preprocessing SQL) through the same Predictor the server uses. */
async function scoreModel(
  store: ArtifactStore,
  modelUri: string,
  transform: FittedTransform,
  test: TestSet,
  input: EvaluateModelInput,
): Promise<Record<string, number>> {
  const model = await loadOnnxModel(await store.read(modelUri), modelUri, input.featureColumns.length);
  const predictor = createPredictor(transform, model);
  try {
    const outputs = await predictor.scoreTransformed(test.features, test.rows);
    if (input.task === 'regression') return { ...regressionMetrics(outputs, test.labels) };
    return { ...classificationMetrics(outputs, test.labels, predictor.outputWidth) };
  } finally {
    await predictor.close();
  }
}

/** The trivial model: majority class (with prior probabilities) or the mean value. The gate's floor. */
function baselineMetrics(test: TestSet, input: EvaluateModelInput, transform: FittedTransform): Record<string, number> {
  if (input.task === 'regression') {
    const mean = test.labels.reduce((a, b) => a + b, 0) / test.rows;
    return { ...regressionMetrics(new Float64Array(test.rows).fill(mean), test.labels) };
  }
  const classes = transform.target.classes?.length ?? 2;
  const prior = new Float64Array(classes);
  for (const label of test.labels) prior[label]! += 1 / test.rows;
  const probabilities = new Float64Array(test.rows * classes);
  for (let i = 0; i < test.rows; i++) probabilities.set(prior, i * classes);
  return { ...classificationMetrics(probabilities, test.labels, classes) };
}

interface ChampionScore {
  version: number;
  metrics: Record<string, number>;
  /** True when the champion was re-scored on this test split; false when only its recorded metrics exist. */
  sameTestSplit: boolean;
}

async function scoreChampion(
  store: ArtifactStore,
  input: EvaluateModelInput,
  transform: FittedTransform,
  test: TestSet,
): Promise<ChampionScore | undefined> {
  if (!(await readAlias(store, input.modelName, input.championAlias))) return undefined;
  const champion = await resolveAlias(store, input.modelName, input.championAlias);
  if (champion.transformSpecHash !== transform.specHash || champion.snapshotId !== transform.snapshotId) {
    return { version: champion.version, metrics: champion.metrics, sameTestSplit: false };
  }
  return {
    version: champion.version,
    metrics: await scoreModel(store, champion.modelUri, transform, test, input),
    sameTestSplit: true,
  };
}

function defaultMetric(input: EvaluateModelInput, metrics: Record<string, number>): string {
  if (input.task === 'regression') return 'rmse';
  return metrics.auc !== undefined ? 'auc' : 'accuracy';
}

function decideGate(
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
  if (!champion)
    return {
      passed: true,
      metric,
      challenger,
      reason: `no champion yet; ${metric} ${fmt(challenger)} beats the baseline ${fmt(floor)}`,
    };
  const championValue = champion.metrics[metric] ?? NaN;
  const improvement = better(challenger, championValue);
  const passed = improvement >= input.gate.minImprovement;
  const where = champion.sameTestSplit ? 'on the same test split' : 'as recorded at its registration';
  return {
    passed,
    metric,
    challenger,
    champion: championValue,
    championVersion: champion.version,
    reason: `${metric} ${fmt(challenger)} vs champion v${champion.version} ${fmt(championValue)} ${where}: improvement ${fmt(improvement)} ${passed ? '>=' : '<'} required ${input.gate.minImprovement}`,
  };
}

function fmt(value: number): string {
  return Number.isFinite(value) ? value.toFixed(4) : String(value);
}
