import type { GateDecision } from '../contracts/pipeline';
import { namesText } from '../contracts/message-text';
import type { ArtifactStore } from '../artifacts';
import { readJson, withLocalCopy, writeJson } from '../artifacts';
import { snapshotFiles, trainingOutputFiles } from '../artifacts/layout';
import type { FittedTransform, SnapshotManifest } from '../contracts/datasets';
import { checkGateMetric } from '../contracts/pipeline';
import type { EvaluateModelInput, EvaluateModelResult } from '../contracts/training';
import type { Predictor } from '../models/predictor';
import { loadPredictor } from '../models/servable';
import { isMlopsError, mlopsError } from '../errors';
import type { ModelVersionRecord } from '../registry/model-registry';
import { readAlias, readVersion } from '../registry/model-registry';
import { ident, literal, rowMajor, withDuckDb } from '../warehouse/duckdb';
import { championMismatch } from './champion-fit';
import type { ChampionScore } from './gate';
import { decideGate, noteFewTestRows } from './gate';
import { classificationMetrics, regressionMetrics } from './metrics';
import { predictionDistance } from './prediction-change';
import type { PredictionChange } from './prediction-change';
import { predictionReference } from './prediction-reference';
import type { RowsForModel } from './rescore';
import { alignClasses, championInputs } from './rescore';

export interface EvaluationDeps {
  store: ArtifactStore;
}

interface TestSet {
  features: Float32Array;
  labels: Float64Array;
  rows: number;
}

/**
 * Scores the challenger on the test split through the Predictor the model server uses, re-scores the champion on the
 * same rows, decides the gate, and writes the evaluation report next to the model.
 */
export async function evaluateModel(
  { store }: EvaluationDeps,
  input: EvaluateModelInput,
): Promise<EvaluateModelResult> {
  checkGateMetric(input);
  const transform = await readJson<FittedTransform>(store, input.transformUri);
  // The test split is read once: scored here, and its rows re-scored by the champion.
  return withLocalCopy(store, input.testUri, (testFile) => evaluateOn(store, input, transform, testFile));
}

async function evaluateOn(
  store: ArtifactStore,
  input: EvaluateModelInput,
  transform: FittedTransform,
  testFile: string,
): Promise<EvaluateModelResult> {
  const test = await loadTestSet(testFile, input);
  if (input.task === 'classification') requireTwoClasses(test, input, transform);
  const validation = input.validationUri
    ? await withLocalCopy(store, input.validationUri, (file) => loadTestSet(file, input))
    : test;
  const { metrics, predictions, tested } = await scoreChallenger(store, transform, test, validation, input);
  const baseline = baselineMetrics(test, input, transform);
  const { champion, answers, championFeatures } = await scoreChampion(store, input, transform, testFile);
  const decided = noteFewTestRows(decideGate(input, metrics, baseline, champion), test.rows);
  const gate = noteRequestChange(decided, transform, champion?.version, championFeatures);
  const change = champion && answers ? predictionChange(champion.version, answers, tested) : undefined;
  const reportUri = trainingOutputFiles(store, input.outputUri).evaluation;
  await writeJson(store, reportUri, {
    modelUri: input.modelUri,
    testUri: input.testUri,
    rows: test.rows,
    metrics,
    baseline,
    champion,
    gate,
    predictionReference: await predictionReference(predictions),
    predictionReferenceSplit: input.validationUri ? 'validation' : 'test',
    ...(change && { predictionChange: change }),
  });
  return { metrics, baseline, reportUri, gate };
}

async function loadTestSet(file: string, input: EvaluateModelInput): Promise<TestSet> {
  const cols = [...input.featureColumns, input.labelColumn].map((c) => `${ident(c)}::DOUBLE`).join(', ');
  const { columns } = await withDuckDb((db) => db.columns(`SELECT ${cols} FROM read_parquet(${literal(file)})`));
  const n = input.featureColumns.length;
  const rows = columns[0]?.length ?? 0;
  return { features: rowMajor(columns, n, Float32Array), labels: Float64Array.from(columns[n] as number[]), rows };
}

/** A test split of one class judges nothing: accuracy ties the constant answer, AUC is undefined. */
function requireTwoClasses(test: TestSet, input: EvaluateModelInput, transform: FittedTransform): void {
  const first = test.labels[0];
  if (test.rows === 0 || test.labels.some((label) => label !== first)) return;
  throw mlopsError('MLOPS_ERR_EVALUATION_ONE_CLASS', {
    model: input.modelName,
    rows: test.rows,
    label: JSON.stringify(transform.target.classes?.[first!] ?? String(first)),
  });
}

/**
 * Scores the test split (already transformed by the preprocessing SQL) through the same Predictor the server uses, and
 * decodes its outputs as the server does — a label per row, or a value — on the test split (`tested`, to compare with
 * the champion's) and on the validation split (the test split for inputs from before the validation split was passed)
 * for the output's drift reference. The model is loaded once.
 */
async function scoreChallenger(
  store: ArtifactStore,
  transform: FittedTransform,
  test: TestSet,
  validation: TestSet,
  input: EvaluateModelInput,
): Promise<{ metrics: Record<string, number>; predictions: Answer[]; tested: Answer[] }> {
  const predictor = await loadPredictor(store, input.modelUri, transform, input.featureColumns.length);
  try {
    const outputs = await predictor.scoreTransformed(test.features, test.rows);
    checkScores(outputs, test.rows, predictor.outputWidth, input.task, input.modelUri);
    const metrics =
      input.task === 'regression'
        ? { ...regressionMetrics(outputs, test.labels) }
        : { ...classificationMetrics(outputs, test.labels, predictor.outputWidth) };
    const tested = answersOf(predictor.decode(outputs, test.rows));
    if (validation === test) return { metrics, predictions: tested, tested };
    const validationOutputs = await predictor.scoreTransformed(validation.features, validation.rows);
    return { metrics, predictions: answersOf(predictor.decode(validationOutputs, validation.rows)), tested };
  } finally {
    await predictor.close();
  }
}

/** How far a probability may stray from [0, 1], and a row's sum from 1, by float32 rounding. */
const probabilitySlack = { value: 1e-4, sum: 1e-3 };

/**
 * The challenger's output on the test split must be what the contract says before any metric is taken from it: finite,
 * and for classification a distribution per row. Logits under the name `probabilities` would otherwise score a log
 * loss of about 0 (each value is clamped into (0, 1)) and could replace a good champion; NaN would score as class 0.
 */
function checkScores(
  outputs: Float32Array,
  rows: number,
  width: number,
  task: EvaluateModelInput['task'],
  uri: string,
): void {
  const classification = task === 'classification';
  let nonFinite = 0;
  let notDistribution = 0;
  let first: { row: number; values: number[]; why: string } | undefined;
  for (let i = 0; i < rows; i++) {
    const values = Array.from(outputs.subarray(i * width, (i + 1) * width));
    const sum = values.reduce((a, b) => a + b, 0);
    let why: string | undefined;
    if (!values.every(Number.isFinite)) {
      nonFinite++;
      why = 'not finite';
    } else if (
      classification &&
      (values.some((p) => p < -probabilitySlack.value || p > 1 + probabilitySlack.value) ||
        Math.abs(sum - 1) > probabilitySlack.sum)
    ) {
      notDistribution++;
      why = `summing to ${Number(sum.toPrecision(4))}`;
    }
    if (why && !first) first = { row: i, values, why };
  }
  if (!first) return;
  const shown = first.values.slice(0, 6).map((v) => (Number.isFinite(v) ? Number(v.toPrecision(4)) : String(v)));
  const example = `test row ${first.row}: ${shown.join(', ')}${first.values.length > 6 ? ', …' : ''}, ${first.why}`;
  const reason =
    nonFinite > 0
      ? `its output is not finite (NaN or ±Infinity) in ${nonFinite} of ${rows} test rows (${example}); check the export and the weights for NaN`
      : `its "probabilities" are not probabilities in ${notDistribution} of ${rows} test rows (${example}): each row must be a distribution over the classes, every value in [0, 1] and the row summing to 1 (apply a softmax to the logits in the exported model)`;
  throw mlopsError('MLOPS_ERR_MODEL_INVALID', { uri, reason });
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

/** A decoded prediction as the prediction log's output column holds it: the label, or the value. */
type Answer = string | number;

const answersOf = (decoded: ReturnType<Predictor['decode']>): Answer[] =>
  decoded.map((p) => ('label' in p ? p.label : p.value));

/** How far the challenger's test predictions lie from the champion's on the same rows (`predictionChange`). */
function predictionChange(against: number, champion: Answer[], challenger: Answer[]): PredictionChange | undefined {
  const distance = predictionDistance(champion, challenger);
  return distance === undefined ? undefined : { against, distance, rows: challenger.length };
}

/** The champion re-scored on the challenger's test rows, with its decoded answers there (`answers`). */
async function scoreChampion(
  store: ArtifactStore,
  input: EvaluateModelInput,
  transform: FittedTransform,
  testFile: string,
): Promise<{ champion?: ChampionScore; answers?: Answer[]; championFeatures?: string[] }> {
  const alias = await readAlias(store, input.modelName, input.championAlias);
  if (!alias) return {};
  const champion = await readVersion(store, input.modelName, alias.version);
  const recorded = { version: champion.version, metrics: champion.metrics, recordedMetrics: champion.metrics };
  const championTransform = await readJson<FittedTransform>(store, champion.transformUri);
  const run = { ...input, target: transform.target.name };
  const mismatch = championMismatch(run, champion.version, championTransform);
  if (mismatch) throw mismatch;
  const championFeatures = championTransform.features.map((f) => f.name);
  const rows = await championRows(store, input, transform, championTransform, testFile);
  if (!rows) {
    const notRescored = await missingFeaturesText(store, transform, championTransform);
    return { champion: { ...recorded, sameTestSplit: false, notRescored }, championFeatures };
  }
  try {
    const { metrics, answers } = await rescore(store, champion, rows, input, championTransform, transform);
    return { champion: { ...recorded, metrics, sameTestSplit: true }, answers, championFeatures };
  } catch (err) {
    // A champion registered before its output was checked (logits, a wrong width) must not block its replacement.
    if (!isMlopsError(err, 'MLOPS_ERR_MODEL_INVALID')) throw err;
    const unusable = err.message.replace(/^.*cannot be used: /, '').split('\n')[0]!;
    return { champion: { ...recorded, sameTestSplit: false, unusable }, championFeatures };
  }
}

/** The challenger's test rows as the champion's model input (raw rows from the snapshot, the champion's transform). */
/**
 * A passing decision whose model takes other request fields than the champion, with a note saying which: once it
 * serves, clients that send a field it does not take are refused (400), and those that leave out a new one too.
 */
function noteRequestChange(
  gate: GateDecision,
  transform: FittedTransform,
  championVersion: number | undefined,
  championFeatures: string[] | undefined,
): GateDecision {
  if (!gate.passed || championVersion === undefined || !championFeatures) return gate;
  const features = transform.features.map((f) => f.name);
  const dropped = championFeatures.filter((name) => !features.includes(name));
  const added = features.filter((name) => !championFeatures.includes(name));
  if (!dropped.length && !added.length) return gate;
  const changes = [
    ...(dropped.length ? [`no longer takes ${namesText(dropped)}`] : []),
    ...(added.length ? [`also needs ${namesText(added)}`] : []),
  ];
  return {
    ...gate,
    reason: `${gate.reason}; its requests differ from v${championVersion}'s: it ${changes.join(' and ')}, so clients must change when it serves`,
  };
}

/**
 * Why the champion could not be re-scored on the challenger's data: the champion's features the data lacks, named, and
 * what that means for the clients of a version without them.
 */
async function missingFeaturesText(
  store: ArtifactStore,
  transform: FittedTransform,
  championTransform: FittedTransform,
): Promise<string> {
  const manifest = await readJson<SnapshotManifest>(store, snapshotFiles(store, transform.snapshotId).manifest);
  const present = new Set(manifest.columns.map((c) => c.name));
  const missing = championTransform.features.map((f) => f.name).filter((name) => !present.has(name));
  if (missing.length === 0) return 'the data lacks a column it needs';
  const features = `feature${missing.length > 1 ? 's' : ''} ${namesText(missing)}`;
  return `the data lacks its ${features}; requests that send ${missing.length > 1 ? 'them' : 'it'} are refused once this version serves`;
}

async function championRows(
  store: ArtifactStore,
  input: EvaluateModelInput,
  transform: FittedTransform,
  championTransform: FittedTransform,
  testFile: string,
): Promise<RowsForModel | undefined> {
  const manifest = await readJson<SnapshotManifest>(store, snapshotFiles(store, transform.snapshotId).manifest);
  return withLocalCopy(store, manifest.dataUri, (snapshotFile) =>
    championInputs(snapshotFile, testFile, input.labelColumn, championTransform),
  );
}

async function rescore(
  store: ArtifactStore,
  champion: ModelVersionRecord,
  rows: RowsForModel,
  input: EvaluateModelInput,
  championTransform: FittedTransform,
  transform: FittedTransform,
): Promise<{ metrics: Record<string, number>; answers: Answer[] }> {
  const predictor = await loadPredictor(store, champion.modelUri, championTransform);
  try {
    const outputs = await predictor.scoreTransformed(rows.features, rows.rows);
    checkScores(outputs, rows.rows, predictor.outputWidth, input.task, champion.modelUri);
    const answers = answersOf(predictor.decode(outputs, rows.rows));
    if (input.task === 'regression') return { metrics: { ...regressionMetrics(outputs, rows.labels) }, answers };
    const challengerClasses = transform.target.classes ?? [];
    const aligned = alignClasses(outputs, rows.rows, championTransform.target.classes ?? [], challengerClasses);
    return { metrics: { ...classificationMetrics(aligned, rows.labels, challengerClasses.length) }, answers };
  } finally {
    await predictor.close();
  }
}
