/**
 * The one path from raw records to predictions, shared by the model server and evaluation so that online serving and
 * batch scoring cannot drift apart:
 *
 *   raw records → strict validation against the model's schema → fitted transform → ONNX → labels / probabilities
 *
 * Validation runs before anything else and reports every bad field of every instance in one
 * `MLOPS_ERR_SERVE_INPUT_INVALID`: an unknown field, a missing field (an explicit `null` means "impute" and is
 * allowed), a wrong type, a number outside the float32 range, a value whose transformed input is not finite, and an
 * instance whose model output is not finite. A prediction never carries a null or non-finite probability.
 *
 * Temporal-free: the server imports it, and so does the evaluation activity.
 */
import type { FittedTransform } from '../contracts/datasets';
import { mlopsError } from '../errors';
import type { OnnxModel } from './onnx-model';
import { setOwn } from '../contracts/own-property';
import type { RecordedValues } from './recorded-values';
import { slabAllocator } from './slab';
import { problemsText, quoteText } from '../contracts/message-text';
import { compileTransform, describeValue } from './transform-instance';
import type { CompiledTransform } from './transform-instance';

export type RawInstance = Record<string, unknown>;

export interface ClassPrediction {
  label: string;
  probabilities: Record<string, number>;
}
export interface RegressionPrediction {
  value: number;
}
export type Prediction = ClassPrediction | RegressionPrediction;

/** A feature a request must carry, as the model's schema states it. */
export interface FeatureSchema {
  name: string;
  type: 'number' | 'category';
  categories?: string[];
  /** What a null becomes, and how it was fitted (median, mean, constant, most_frequent). */
  impute?: number | string;
  imputedWith?: string;
  /** The fitted clip bounds (training quantiles), when the feature is clipped. */
  range?: { lower: number | null; upper: number | null };
}

export interface Predictor {
  readonly task: FittedTransform['task'];
  /** The column the model predicts (a request that sends it is told to leave it out). */
  readonly target: string;
  /**
   * What to add to "unknown field <name>": that it is the target, or a column of the training data the model does not
   * use (and why); empty for any other name.
   */
  readonly unknownFieldNote: (name: string) => string;
  readonly classes: string[];
  readonly features: FeatureSchema[];
  /** Width of the model input after the transform. */
  readonly inputWidth: number;
  /** Problems of each instance (empty when every instance is valid), each prefixed with `instances[i]`. */
  validate(instances: readonly unknown[]): string[];
  /** Validates, transforms and runs; throws `MLOPS_ERR_SERVE_INPUT_INVALID` listing every problem. */
  predict(instances: readonly unknown[]): Promise<Prediction[]>;
  /**
   * Validates, transforms and runs, as `predict`; returns the raw output (row-major, every value finite). With
   * `recorded` (sized for the instances and features), the instances' raw values are recorded in the same pass.
   */
  score(instances: readonly unknown[], recorded?: RecordedValues): Promise<Float32Array>;
  /** `score`'s output as predictions (what `predict` returns). */
  decode(output: Float32Array, rows: number): Prediction[];
  /**
   * `score`'s output as each prediction's JSON text (`JSON.stringify` of what `decode` returns, built straight from
   * the model output): what the JSON routes send.
   */
  encodeJson(output: Float32Array, rows: number): string[];
  /** Runs already-transformed rows (the preprocessing SQL's output) in batches; returns the raw output row-major. */
  scoreTransformed(features: Float32Array, rows: number): Promise<Float32Array>;
  readonly outputWidth: number;
  close(): Promise<void>;
}

/** Rows per `session.run` when scoring a whole table. */
const scoreBatchRows = 4096;

export function createPredictor(transform: FittedTransform, model: OnnxModel): Predictor {
  const width = transform.outputColumns.length;
  const classes = transform.target.classes ?? [];
  const known = new Set(transform.features.map((f) => f.name));
  const compiled = compileTransform(transform);
  const note = fieldNotes(transform);
  const validate = (instances: readonly unknown[]) => validateAll(compiled, known, note, instances, width).problems;
  /** Validated, transformed and run; the output checked finite. */
  const score = async (instances: readonly unknown[], recorded?: RecordedValues) => {
    const { problems, features } = validateAll(compiled, known, note, instances, width, recorded);
    if (problems.length > 0) throw inputInvalid(problems);
    const output = await model.run(features, instances.length);
    const bad = nonFiniteRows(output, instances.length, model.outputWidth);
    if (bad.length > 0) throw inputInvalid(bad.map((i) => nonFiniteOutput(transform, i)));
    return output;
  };
  const toJson = predictionJsonEncoder(transform.task, classes, model.outputWidth);
  const toPredictions = (output: Float32Array, rows: number) =>
    decode(transform.task, classes, output, rows, model.outputWidth);
  return {
    task: transform.task,
    target: transform.target.name,
    unknownFieldNote: note,
    classes,
    features: featureSchema(transform),
    inputWidth: width,
    outputWidth: model.outputWidth,
    validate,
    async predict(instances) {
      return toPredictions(await score(instances), instances.length);
    },
    score,
    decode: toPredictions,
    encodeJson: toJson,
    async scoreTransformed(features, rows) {
      const outputs = new Float32Array(rows * model.outputWidth);
      for (let start = 0; start < rows; start += scoreBatchRows) {
        const n = Math.min(scoreBatchRows, rows - start);
        outputs.set(
          await model.run(features.subarray(start * width, (start + n) * width), n),
          start * model.outputWidth,
        );
      }
      return outputs;
    },
    close: () => model.close(),
  };
}

export function featureSchema(transform: FittedTransform): FeatureSchema[] {
  return transform.features.map((f): FeatureSchema => {
    const imputedWith = f.imputeStrategy ?? (f.kind === 'numeric' ? 'median' : 'constant');
    if (f.kind === 'categorical')
      return { name: f.name, type: 'category', categories: f.categories, impute: f.impute, imputedWith };
    const range = f.clip ? { lower: f.clip.lower, upper: f.clip.upper } : undefined;
    return { name: f.name, type: 'number', impute: f.impute, imputedWith, range };
  });
}

/** Model inputs of requests, from shared slabs (`slab.ts`). */
const modelInput = slabAllocator((n) => new Float32Array(n));

function validateAll(
  compiled: CompiledTransform,
  known: Set<string>,
  note: (name: string) => string,
  instances: readonly unknown[],
  width: number,
  recorded?: RecordedValues,
): { problems: string[]; features: Float32Array } {
  const features = modelInput(instances.length * width);
  const problems: string[] = [];
  for (let i = 0; i < instances.length; i++) {
    const instance = instances[i];
    if (instance === null || typeof instance !== 'object' || Array.isArray(instance)) {
      problems.push(`instances[${i}]: must be an object of feature values, got ${describeValue(instance)}`);
      continue;
    }
    const record = instance as RawInstance;
    const found = compiled.apply(record, features, i * width, recorded, i * (recorded?.width ?? 0));
    // With nothing found, every feature is present; then only more keys than features can mean an unknown one.
    if (found || keyCount(record) !== known.size) {
      for (const key of Object.keys(record)) {
        if (known.has(key)) continue;
        problems.push(`instances[${i}]: unknown field ${quoteText(key)}${note(key)}`);
      }
    }
    if (found) for (const p of found) problems.push(`instances[${i}]: ${p}`);
  }
  return { problems, features };
}

/**
 * The note on an unknown field (v1) or input (v2) that is a column of the training data, sent with the rest of its
 * row: say what it is rather than only that it is unknown.
 */
function fieldNotes(transform: FittedTransform): (name: string) => string {
  const target = transform.target.name;
  const leftOut = new Map((transform.leftOut ?? []).map((c) => [c.column, c.reason]));
  const renamed = new Map((transform.renamed ?? []).map((r) => [r.from, r.to]));
  return (name) => {
    if (name === target) return ' (the value the model predicts: leave it out of requests)';
    const to = renamed.get(name);
    if (to !== undefined)
      return ` (the training file's name of feature ${JSON.stringify(to)}, which ingest renamed: send it as ${JSON.stringify(to)})`;
    const reason = leftOut.get(name);
    return reason === undefined
      ? ''
      : ` (a column of the training data that is not one of the model's features: ${reason}; leave it out of requests)`;
  };
}

/** Keys of a parsed JSON object (its own, all enumerable), counted without building their list. */
function keyCount(record: RawInstance): number {
  let n = 0;
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- only counted
  for (const key in record) n++;
  return n;
}

function nonFiniteRows(output: Float32Array, rows: number, outputWidth: number): number[] {
  const bad: number[] = [];
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < outputWidth; k++) {
      if (!Number.isFinite(output[i * outputWidth + k])) {
        bad.push(i);
        break;
      }
    }
  }
  return bad;
}

function nonFiniteOutput(transform: FittedTransform, i: number): string {
  const numeric = transform.features.filter((f) => f.kind === 'numeric').map((f) => JSON.stringify(f.name));
  return `instances[${i}]: the model's output is not finite for these values; check the numeric fields (${numeric.join(', ')}) for values far outside the training range`;
}

function decode(
  task: FittedTransform['task'],
  classes: string[],
  output: Float32Array,
  rows: number,
  outputWidth: number,
): Prediction[] {
  const predictions: Prediction[] = new Array<Prediction>(rows);
  for (let i = 0; i < rows; i++) {
    const at = i * outputWidth;
    if (task === 'regression') {
      predictions[i] = { value: output[at]! };
      continue;
    }
    let best = 0;
    const probabilities: Record<string, number> = {};
    for (let k = 0; k < outputWidth; k++) {
      const p = output[at + k]!;
      if (p > output[at + best]!) best = k;
      setOwn(probabilities, classes[k] ?? String(k), p);
    }
    predictions[i] = { label: classes[best] ?? String(best), probabilities };
  }
  return predictions;
}

/**
 * The JSON text of each output row, the same as `JSON.stringify` of `decode`'s prediction (keys in the same order; a
 * finite number prints the same through `String`): the label and the class keys are escaped once per model.
 */
export function predictionJsonEncoder(
  task: FittedTransform['task'],
  classes: string[],
  outputWidth: number,
): (output: Float32Array, rows: number) => string[] {
  if (task === 'regression')
    return (output, rows) => Array.from({ length: rows }, (_, i) => `{"value":${output[i * outputWidth]}}`);
  const names = Array.from({ length: outputWidth }, (_, k) => classes[k] ?? String(k));
  const labels = names.map((n) => `{"label":${JSON.stringify(n)},"probabilities":{`);
  // As the object `decode` builds: integer-like keys first in ascending order, a repeated name keeps its last value.
  const order = Object.values(Object.fromEntries(names.map((n, k) => [n, k])));
  const keys = order.map((k, at) => `${at === 0 ? '' : ','}${JSON.stringify(names[k])}:`);
  return (output, rows) => {
    const texts = new Array<string>(rows);
    for (let i = 0; i < rows; i++) {
      const at = i * outputWidth;
      let best = 0;
      for (let k = 1; k < outputWidth; k++) if (output[at + k]! > output[at + best]!) best = k;
      let text = labels[best]!;
      for (let o = 0; o < order.length; o++) text += keys[o]! + output[at + order[o]!]!;
      texts[i] = `${text}}}`;
    }
    return texts;
  };
}

function inputInvalid(problems: string[]): Error {
  return mlopsError('MLOPS_ERR_SERVE_INPUT_INVALID', { problems: problemsText(problems) });
}
