import type { ArtifactStore } from '../artifacts';
import { readJson, withLocalCopy, writeJson } from '../artifacts';
import { snapshotFiles, trainingOutputFiles } from '../artifacts/layout';
import type { FittedTransform, SnapshotManifest } from '../contracts/datasets';
import type { GateDecision } from '../contracts/pipeline';
import type { EvaluateModelInput, EvaluateModelResult } from '../contracts/training';
import { mlopsError } from '../errors';
import { classificationMetrics, lowerIsBetter, regressionMetrics } from '../evaluation/metrics';
import type { RowsForModel } from '../evaluation/rescore';
import { alignClasses, championInputs } from '../evaluation/rescore';
import { loadOnnxModel } from '../models/onnx-model';
import type { ModelVersionRecord } from '../registry/model-registry';
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

const batchRows = 4096;

/** Evaluation: score the challenger on the test split, compare it with the champion, and decide the gate. */
export interface EvaluationActivities {
  evaluateModel: (input: EvaluateModelInput) => Promise<EvaluateModelResult>;
}

export function createEvaluationActivities({ store }: EvaluationDeps): EvaluationActivities {
  return {
    async evaluateModel(input: EvaluateModelInput): Promise<EvaluateModelResult> {
      checkGateMetric(input);
      const transform = await readJson<FittedTransform>(store, input.transformUri);
      const test = await withLocalCopy(store, input.testUri, (file) => loadTestSet(file, input));
      const metrics = await scoreModel(store, input.modelUri, test, input);
      const baseline = baselineMetrics(test, input, transform);
      const champion = await scoreChampion(store, input, transform);
      const gate = decideGate(input, metrics, baseline, champion);
      const reportUri = trainingOutputFiles(store, input.outputUri).evaluation;
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

async function scoreModel(
  store: ArtifactStore,
  modelUri: string,
  test: TestSet,
  input: EvaluateModelInput,
): Promise<Record<string, number>> {
  const n = input.featureColumns.length;
  const model = await loadOnnxModel(await store.read(modelUri), modelUri, n);
  try {
    const outputs = await runBatches(model, test.features, test.rows, n);
    if (input.task === 'regression') return { ...regressionMetrics(outputs, test.labels) };
    return { ...classificationMetrics(outputs, test.labels, model.outputWidth) };
  } finally {
    await model.close();
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
  /** Its metrics on the challenger's test rows when re-scored, else as recorded at its registration. */
  metrics: Record<string, number>;
  /** Its metrics as recorded at its registration (on its own test split). */
  recordedMetrics: Record<string, number>;
  /** True when the champion was re-scored on the challenger's test rows through its own transform. */
  sameTestSplit: boolean;
  /** Why it could not be re-scored, when it was not. */
  notRescored?: string;
}

async function scoreChampion(
  store: ArtifactStore,
  input: EvaluateModelInput,
  transform: FittedTransform,
): Promise<ChampionScore | undefined> {
  if (!(await readAlias(store, input.modelName, input.championAlias))) return undefined;
  const champion = await resolveAlias(store, input.modelName, input.championAlias);
  const recorded = { version: champion.version, metrics: champion.metrics, recordedMetrics: champion.metrics };
  const championTransform = await readJson<FittedTransform>(store, champion.transformUri);
  if (championTransform.task !== input.task)
    return { ...recorded, sameTestSplit: false, notRescored: `it is a ${championTransform.task} model` };
  const rows = await championRows(store, input, transform, championTransform);
  if (!rows) return { ...recorded, sameTestSplit: false, notRescored: 'the data lacks a column it needs' };
  const metrics = await rescore(store, champion, rows, input, championTransform, transform);
  return { ...recorded, metrics, sameTestSplit: true };
}

/** The challenger's test rows as the champion's model input (raw rows from the snapshot, the champion's transform). */
async function championRows(
  store: ArtifactStore,
  input: EvaluateModelInput,
  transform: FittedTransform,
  championTransform: FittedTransform,
): Promise<RowsForModel | undefined> {
  const manifest = await readJson<SnapshotManifest>(store, snapshotFiles(store, transform.snapshotId).manifest);
  return withLocalCopy(store, manifest.dataUri, (snapshotFile) =>
    withLocalCopy(store, input.testUri, (testFile) =>
      championInputs(snapshotFile, testFile, input.labelColumn, championTransform),
    ),
  );
}

async function rescore(
  store: ArtifactStore,
  champion: ModelVersionRecord,
  rows: RowsForModel,
  input: EvaluateModelInput,
  championTransform: FittedTransform,
  transform: FittedTransform,
): Promise<Record<string, number>> {
  const width = championTransform.outputColumns.length;
  const model = await loadOnnxModel(await store.read(champion.modelUri), champion.modelUri, width);
  try {
    const outputs = await runBatches(model, rows.features, rows.rows, width);
    if (input.task === 'regression') return { ...regressionMetrics(outputs, rows.labels) };
    const challengerClasses = transform.target.classes ?? [];
    const aligned = alignClasses(outputs, rows.rows, championTransform.target.classes ?? [], challengerClasses);
    return { ...classificationMetrics(aligned, rows.labels, challengerClasses.length) };
  } finally {
    await model.close();
  }
}

async function runBatches(
  model: Awaited<ReturnType<typeof loadOnnxModel>>,
  features: Float32Array,
  rows: number,
  n: number,
): Promise<Float32Array> {
  const outputs = new Float32Array(rows * model.outputWidth);
  for (let start = 0; start < rows; start += batchRows) {
    const count = Math.min(batchRows, rows - start);
    outputs.set(await model.run(features.subarray(start * n, (start + count) * n), count), start * model.outputWidth);
  }
  return outputs;
}

/**
 * The input schema checks gate.metric against a task given in the input; an inferred task is only known here, after
 * training, so a mismatch is reported now (before anything is written) instead of judging on a metric never computed.
 */
function checkGateMetric(input: EvaluateModelInput): void {
  const metric = input.gate.metric;
  if (!metric || ['rmse', 'mae', 'r2'].includes(metric) === (input.task === 'regression')) return;
  throw mlopsError('MLOPS_ERR_PIPELINE_INPUT_INVALID', {
    workflow: 'trainingPipeline',
    problems: `- gate.metric: "${metric}" is not a ${input.task} metric (the task was inferred from the target; set task to choose it)`,
  });
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
    reason: `${metric} ${fmt(challenger)} vs champion v${champion.version} ${fmt(championValue)} ${where}: improvement ${fmt(improvement)} ${passed ? '>' : '<='} required ${input.gate.minImprovement}`,
  };
}

function fmt(value: number): string {
  return Number.isFinite(value) ? value.toFixed(4) : String(value);
}
