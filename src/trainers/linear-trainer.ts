/**
 * The built-in trainer: multinomial logistic regression (classification) or linear regression, trained with
 * mini-batch Adam, stopping when the validation loss stops improving and keeping the best epoch's weights. A
 * regression target is standardized on the training split; the exported model answers in the target's own units. It follows docs/trainer-contract.md exactly, like any user trainer: it is started as a separate
 * process, reads Parquet splits, prints JSON progress lines, writes checkpoints, and exports ONNX.
 *
 *   node --import tsx src/trainers/linear-trainer.ts --train … --validation … --output … (see the contract)
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { checkpointName, trainerOutput } from '../artifacts/layout';
import type { LinearHyperparameters } from '../contracts/hyperparameters';
import { linearHyperparametersSchema } from '../contracts/hyperparameters';
import { classificationMetrics, regressionMetrics } from '../evaluation/metrics';
import { ident, literal, rowMajor, withDuckDb } from '../warehouse/duckdb';
import { decodeColumnNames } from './contract-flags';
import { linearModelToOnnx } from './onnx-writer';

interface Args {
  train: string;
  validation: string;
  output: string;
  task: 'classification' | 'regression';
  labelColumn: string;
  featureColumns: string[];
  hyper: LinearHyperparameters;
  seed: number;
  resumeFrom?: string;
}

interface Matrix {
  x: Float64Array;
  y: Float64Array;
  rows: number;
  cols: number;
}

interface State {
  epoch: number;
  w: number[];
  b: number[];
  m: number[];
  v: number[];
  step: number;
  rng: number;
  /** Regression: the training target's mean and standard deviation; the weights predict (y - mean) / std. */
  yMean: number;
  yStd: number;
  /** The weights of the epoch with the lowest validation loss so far, and how many epochs have passed since. */
  best: { epoch: number; loss: number; w: number[]; b: number[] } | null;
  sinceBest: number;
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(
      [
        'train',
        'validation',
        'transform',
        'output',
        'task',
        'label-column',
        'feature-columns',
        'hyperparameters',
        'seed',
        'resume-from',
      ].map((name) => [name, { type: 'string' as const }]),
    ),
  });
  for (const required of ['train', 'validation', 'output', 'task', 'label-column', 'feature-columns']) {
    if (!values[required]) usage(`--${required} is required`);
  }
  // Unknown keys are ignored (docs/trainer-contract.md); the pipeline input has already refused them.
  const hyper = linearHyperparametersSchema.strip().safeParse(JSON.parse(values.hyperparameters ?? '{}'));
  if (!hyper.success)
    usage(`--hyperparameters: ${hyper.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const featureColumns = decodeColumnNames(values['feature-columns']!);
  checkColumnNames(featureColumns, values['label-column']!);
  return {
    train: toPath(values.train!),
    validation: toPath(values.validation!),
    output: toPath(values.output!),
    task: values.task === 'regression' ? 'regression' : 'classification',
    labelColumn: values['label-column']!,
    featureColumns,
    hyper: hyper.data,
    seed: Number(values.seed ?? 42),
    resumeFrom: values['resume-from'] ? toPath(values['resume-from']) : undefined,
  };
}

/** DuckDB, which reads the splits, compares column names regardless of ASCII case: two such names read one column. */
function checkColumnNames(features: string[], label: string): void {
  const seen = new Map<string, string>();
  for (const [i, name] of [...features, label].entries()) {
    if (name === '') usage(`--feature-columns has an empty name at position ${i + 1}`);
    const key = name.replace(/[A-Z]/g, (c) => c.toLowerCase());
    const earlier = seen.get(key);
    if (earlier !== undefined)
      usage(
        `column ${JSON.stringify(name)} is named twice in --feature-columns and --label-column` +
          (earlier === name ? '' : ` (as ${JSON.stringify(earlier)}: names are compared regardless of case)`),
      );
    seen.set(key, name);
  }
}

function usage(message: string): never {
  process.stderr.write(`linear-trainer: ${message} (see docs/trainer-contract.md)\n`);
  process.exit(2);
}

function toPath(uri: string): string {
  if (uri.startsWith('file://')) return fileURLToPath(uri);
  if (/^[a-z]+:\/\//.test(uri)) usage(`only local files are supported by the built-in trainer, got ${uri}`);
  return path.resolve(uri);
}

async function load(file: string, args: Args): Promise<Matrix> {
  const cols = [...args.featureColumns, args.labelColumn];
  const { columns } = await withDuckDb((db) =>
    db.columns(`SELECT ${cols.map((c) => `${ident(c)}::DOUBLE`).join(', ')} FROM read_parquet(${literal(file)})`),
  ).catch((err: Error) => usage(`cannot read ${file}: ${err.message.split('\n')[0]}`));
  const rows = columns[0]?.length ?? 0;
  const n = args.featureColumns.length;
  const x = rowMajor(columns, n, Float64Array);
  const y = Float64Array.from(columns[n]! as number[]);
  return { x, y, rows, cols: n };
}

/** mulberry32: a small seeded PRNG, so shuffles are reproducible and resumable (its state is one integer). */
function nextRandom(state: { rng: number }): number {
  let t = (state.rng = (state.rng + 0x6d2b79f5) | 0);
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function outputsOf(args: Args, data: Matrix): number {
  if (args.task === 'regression') return 1;
  let max = 1;
  for (const label of data.y) max = Math.max(max, label);
  return max + 1;
}

/** Forward pass for one row into `out` (probabilities or the prediction). */
function predictRow(
  state: State,
  x: Float64Array,
  row: number,
  n: number,
  k: number,
  task: Args['task'],
  out: Float64Array,
): void {
  for (let c = 0; c < k; c++) {
    let z = state.b[c]!;
    for (let j = 0; j < n; j++) z += x[row * n + j]! * state.w[j * k + c]!;
    out[c] = z;
  }
  if (task === 'regression') return;
  let max = -Infinity;
  for (let c = 0; c < k; c++) max = Math.max(max, out[c]!);
  let sum = 0;
  for (let c = 0; c < k; c++) sum += out[c] = Math.exp(out[c]! - max);
  for (let c = 0; c < k; c++) out[c]! /= sum;
}

function trainEpoch(state: State, data: Matrix, k: number, args: Args): number {
  const { rows, cols: n } = data;
  const order = Array.from({ length: rows }, (_, i) => i);
  for (let i = rows - 1; i > 0; i--) {
    const j = Math.floor(nextRandom(state) * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const out = new Float64Array(k);
  const gw = new Float64Array(n * k);
  const gb = new Float64Array(k);
  let lossSum = 0;
  for (let start = 0; start < rows; start += args.hyper.batch_size) {
    const batch = order.slice(start, start + args.hyper.batch_size);
    gw.fill(0);
    gb.fill(0);
    for (const row of batch) {
      predictRow(state, data.x, row, n, k, args.task, out);
      const label = data.y[row]!;
      for (let c = 0; c < k; c++) {
        const err = args.task === 'regression' ? out[c]! - label : out[c]! - (c === label ? 1 : 0);
        gb[c]! += err / batch.length;
        for (let j = 0; j < n; j++) gw[j * k + c]! += (err * data.x[row * n + j]!) / batch.length;
      }
      lossSum += args.task === 'regression' ? (out[0]! - label) ** 2 : -Math.log(Math.max(1e-15, out[label]!));
    }
    adamStep(state, gw, gb, args);
  }
  return lossSum / rows;
}

function adamStep(state: State, gw: Float64Array, gb: Float64Array, args: Args): void {
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8];
  state.step++;
  const params = state.w.length + state.b.length;
  for (let p = 0; p < params; p++) {
    const isWeight = p < state.w.length;
    const value = isWeight ? state.w[p]! : state.b[p - state.w.length]!;
    const grad = isWeight ? gw[p]! + args.hyper.l2 * value : gb[p - state.w.length]!;
    state.m[p] = beta1 * state.m[p]! + (1 - beta1) * grad;
    state.v[p] = beta2 * state.v[p]! + (1 - beta2) * grad * grad;
    const mHat = state.m[p]! / (1 - beta1 ** state.step);
    const vHat = state.v[p]! / (1 - beta2 ** state.step);
    const updated = value - (args.hyper.learning_rate * mHat) / (Math.sqrt(vHat) + eps);
    if (isWeight) state.w[p] = updated;
    else state.b[p - state.w.length] = updated;
  }
}

function validate(state: State, data: Matrix, k: number, args: Args): Record<string, number> {
  const out = new Float64Array(k);
  const predictions = new Float64Array(data.rows * k);
  for (let i = 0; i < data.rows; i++) {
    predictRow(state, data.x, i, data.cols, k, args.task, out);
    predictions.set(out, i * k);
  }
  if (args.task === 'regression') {
    for (let i = 0; i < data.rows; i++) predictions[i] = predictions[i]! * state.yStd + state.yMean;
    return { ...regressionMetrics(predictions, data.y) };
  }
  const { accuracy, f1, log_loss, auc } = classificationMetrics(predictions, data.y, k);
  return auc === undefined ? { accuracy, f1, log_loss } : { accuracy, f1, log_loss, auc };
}

async function writeAtomic(file: string, data: Buffer | string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  await fs.writeFile(tmp, data);
  await fs.rename(tmp, file);
}

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Mean and population standard deviation of the training target (std 1 when constant). */
function targetScale(args: Args, train: Matrix): { yMean: number; yStd: number } {
  if (args.task !== 'regression') return { yMean: 0, yStd: 1 };
  let mean = 0;
  for (const y of train.y) mean += y / train.rows;
  let variance = 0;
  for (const y of train.y) variance += (y - mean) ** 2 / train.rows;
  const std = Math.sqrt(variance);
  return { yMean: mean, yStd: std > 0 && Number.isFinite(std) ? std : 1 };
}

function initialState(args: Args, train: Matrix, k: number): State {
  const n = train.cols;
  return {
    epoch: 0,
    w: new Array<number>(n * k).fill(0),
    b: new Array<number>(k).fill(0),
    m: new Array<number>(n * k + k).fill(0),
    v: new Array<number>(n * k + k).fill(0),
    step: 0,
    rng: args.seed | 0,
    ...targetScale(args, train),
    best: null,
    sinceBest: 0,
  };
}

/** The training rows with a regression target in standardized units (what the weights are fitted to). */
function standardizedTarget(train: Matrix, state: State): Matrix {
  if (state.yMean === 0 && state.yStd === 1) return train;
  return { ...train, y: train.y.map((y) => (y - state.yMean) / state.yStd) };
}

/** The validation loss early stopping watches: log loss, or the mean squared error. */
function validationLoss(args: Args, metrics: Record<string, number>): number {
  return args.task === 'regression' ? metrics.rmse! ** 2 : metrics.log_loss!;
}

/** Records the epoch's weights when its validation loss is the best so far; true when training should stop. */
function trackBest(state: State, loss: number, patience: number): boolean {
  if (state.best === null || loss < state.best.loss) {
    state.best = { epoch: state.epoch, loss, w: [...state.w], b: [...state.b] };
    state.sinceBest = 0;
    return false;
  }
  state.sinceBest++;
  return patience > 0 && state.sinceBest >= patience;
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const started = Date.now();
  const [train, validation] = [await load(args.train, args), await load(args.validation, args)];
  if (train.rows === 0) usage(`${args.train} has no rows`);
  const k = outputsOf(args, train);
  const n = train.cols;
  let state = initialState(args, train, k);
  if (args.resumeFrom) state = { ...state, ...(JSON.parse(await fs.readFile(args.resumeFrom, 'utf8')) as State) };
  const fitted = standardizedTarget(train, state);
  const metricName = args.task === 'regression' ? 'rmse' : k === 2 ? 'auc' : 'accuracy';
  let loss = NaN;
  let stop = state.best !== null && args.hyper.patience > 0 && state.sinceBest >= args.hyper.patience;
  for (let epoch = state.epoch + 1; epoch <= args.hyper.epochs && !stop; epoch++) {
    loss = trainEpoch(state, fitted, k, args);
    state.epoch = epoch;
    const metrics = validate(state, validation, k, args);
    stop = trackBest(state, validationLoss(args, metrics), args.hyper.patience);
    emit({ type: 'progress', epoch, epochs: args.hyper.epochs, loss, metric: metricName, value: metrics[metricName] });
    const checkpoint = path.join(args.output, trainerOutput.checkpoints, checkpointName(epoch));
    await writeAtomic(checkpoint, JSON.stringify(state));
    emit({ type: 'checkpoint', epoch, uri: pathToFileURL(checkpoint).href });
    if (args.hyper.epoch_delay_ms > 0) await new Promise((resolve) => setTimeout(resolve, args.hyper.epoch_delay_ms));
  }
  // The model is the best epoch's weights, not the last epoch's.
  const final: State = state.best ? { ...state, w: state.best.w, b: state.best.b } : state;
  const metrics = validate(final, validation, k, args);
  const onnx = linearModelToOnnx({
    weights: final.w.map((w) => w * final.yStd),
    bias: final.b.map((b) => b * final.yStd + final.yMean),
    features: n,
    outputs: k,
    kind: args.task,
    producerVersion: 'linear-trainer 2',
  });
  await writeAtomic(path.join(args.output, trainerOutput.model), onnx);
  const summary = {
    epochs: state.epoch,
    best_epoch: state.best?.epoch ?? state.epoch,
    stopped_early: state.epoch < args.hyper.epochs,
    train_loss: loss,
    validation: metrics,
    hyperparameters: args.hyper,
    target_scale: args.task === 'regression' ? { mean: state.yMean, std: state.yStd } : undefined,
    device: 'cpu',
    duration_seconds: (Date.now() - started) / 1000,
  };
  await writeAtomic(path.join(args.output, trainerOutput.metrics), `${JSON.stringify(summary, null, 2)}\n`);
  emit({ type: 'done', epochs: state.epoch });
}

main().catch((err: Error) => {
  process.stderr.write(`linear-trainer: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
