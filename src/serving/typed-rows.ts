/**
 * The prediction log's rows as the request path records them: typed values, no text. Each row's features become one
 * number per feature in a Float64Array (a numeric value, NaN for null; for a category its index among the known
 * categories, or a code for null, true or false, or for "other", whose JSON text goes to a side list), and each row's output
 * is the model's raw output row. Writing them as Parquet columns (and as JSON text for a sink that takes rows) is left
 * to the log's worker thread (`prediction-log-worker.ts`), so a request pays for a few stores per feature.
 *
 * Both sides build their codec from the version's schema (`LogSpec`), so the worker writes exactly the values the
 * request carried and the output the response carried.
 */
import type { FeatureSchema, Predictor } from '../models/predictor';
import { predictionJsonEncoder } from '../models/predictor';

/** What the log needs of a version to record and to write its rows. */
export type LogSpec = Pick<Predictor, 'task' | 'classes' | 'outputWidth'> & { features: readonly FeatureSchema[] };

/** Category codes beside a known category's index (>= 0). */
export const codeNull = -1;
export const codeTrue = -2;
export const codeFalse = -3;
/** Codes from -4 down: the value's JSON text is entry `-4 - code` of the side list. */
const codeOther = -4;

/** The side list's entry of an "other" code. */
export const sideIndex = (code: number): number => codeOther - code;

/** One batch's recorded requests (one model, one UTC day), in the form sent to the worker. */
export interface TypedBatch {
  model: string;
  date: string;
  rows: number;
  /** Per version seen in the batch: its spec (plain data). */
  specs: [number, LogSpec][];
  requestIds: string[];
  times: number[];
  versions: number[];
  latencies: number[];
  counts: number[];
  /** Row-major, one value per feature of the row's version. */
  values: Float64Array;
  valuesUsed: number;
  /** Row-major raw outputs, `outputWidth` per row. */
  outputs: Float32Array;
  outputsUsed: number;
  /** JSON text of category values coded "other" (see `sideIndex`). */
  side: string[];
}

interface FeatureCodec {
  names: string[];
  numeric: boolean[];
  index: (Map<string, number> | undefined)[];
}

const codecs = new WeakMap<readonly FeatureSchema[], FeatureCodec>();

function codecOf(features: readonly FeatureSchema[]): FeatureCodec {
  let codec = codecs.get(features);
  if (!codec) {
    codec = {
      names: features.map((f) => f.name),
      numeric: features.map((f) => f.type === 'number'),
      index: features.map((f) => {
        if (f.type === 'number') return undefined;
        const index = new Map<string, number>();
        (f.categories ?? []).forEach((c, i) => index.has(c) || index.set(c, i));
        return index;
      }),
    };
    codecs.set(features, codec);
  }
  return codec;
}

export function newTypedBatch(model: string, date: string, rowsHint: number): TypedBatch {
  return {
    model,
    date,
    rows: 0,
    specs: [],
    requestIds: [],
    times: [],
    versions: [],
    latencies: [],
    counts: [],
    values: new Float64Array(Math.max(64, rowsHint * 16)),
    valuesUsed: 0,
    outputs: new Float32Array(Math.max(64, rowsHint * 2)),
    outputsUsed: 0,
    side: [],
  };
}

/** Appends one request's first `count` rows. */
export function appendTyped(
  batch: TypedBatch,
  spec: LogSpec,
  request: { requestId: string; time: number; version: number; latencyMs: number },
  instances: readonly unknown[],
  output: Float32Array,
  count: number,
): void {
  if (!batch.specs.some(([v]) => v === request.version)) batch.specs.push([request.version, plainSpec(spec)]);
  batch.requestIds.push(request.requestId);
  batch.times.push(request.time);
  batch.versions.push(request.version);
  batch.latencies.push(request.latencyMs);
  batch.counts.push(count);
  const codec = codecOf(spec.features);
  const width = codec.names.length;
  batch.values = room(batch.values, batch.valuesUsed + count * width);
  for (let i = 0; i < count; i++) {
    typedRow(codec, instances[i], batch, batch.valuesUsed);
    batch.valuesUsed += width;
  }
  const n = count * spec.outputWidth;
  batch.outputs = room(batch.outputs, batch.outputsUsed + n);
  batch.outputs.set(output.subarray(0, n), batch.outputsUsed);
  batch.outputsUsed += n;
  batch.rows += count;
}

function plainSpec(spec: LogSpec): LogSpec {
  return { task: spec.task, classes: [...spec.classes], outputWidth: spec.outputWidth, features: spec.features };
}

function room<T extends Float64Array | Float32Array>(array: T, needed: number): T {
  if (needed <= array.length) return array;
  const grown = new (array.constructor as new (n: number) => T)(Math.max(needed, array.length * 2));
  grown.set(array);
  return grown;
}

/**
 * Writes one row's codes at `at`. Only validated instances are recorded; a value of a kind validation refuses (never
 * expected) is recorded as null.
 */
function typedRow(codec: FeatureCodec, instance: unknown, batch: TypedBatch, at: number): void {
  const record = (instance !== null && typeof instance === 'object' ? instance : {}) as Record<string, unknown>;
  for (let k = 0; k < codec.names.length; k++) {
    const code = codeOf(codec, k, record[codec.names[k]!], batch.side);
    batch.values[at + k] = code ?? (codec.numeric[k] ? NaN : codeNull);
  }
}

function codeOf(codec: FeatureCodec, k: number, v: unknown, side: string[]): number | undefined {
  if (codec.numeric[k]) {
    if (v === null) return NaN;
    return typeof v === 'number' ? v : undefined;
  }
  if (v === null) return codeNull;
  if (typeof v === 'string') {
    const known = codec.index[k]!.get(v);
    if (known !== undefined) return known;
    return codeOther - (side.push(JSON.stringify(v)) - 1);
  }
  if (typeof v === 'boolean') return v ? codeTrue : codeFalse;
  if (typeof v === 'number') {
    return codeOther - (side.push(String(v)) - 1);
  }
  return undefined;
}

/**
 * The JSON text of each row's features from its codes and the side list. Same value as `JSON.stringify` of
 * the recorded instance, keys in the schema's order.
 */
export function featuresText(
  features: readonly FeatureSchema[],
): (values: Float64Array, at: number, side: readonly string[]) => string {
  const codec = codecOf(features);
  const keys = codec.names.map((n, k) => `${k === 0 ? '{' : ','}${JSON.stringify(n)}:`);
  const categories = features.map((f) => (f.categories ?? []).map((c) => JSON.stringify(c)));
  return (values, at, side) => {
    if (keys.length === 0) return '{}';
    let text = '';
    for (let k = 0; k < keys.length; k++) {
      const v = values[at + k]!;
      let value: string;
      if (codec.numeric[k]) value = Number.isNaN(v) ? 'null' : String(v);
      else if (v >= 0) value = categories[k]![v]!;
      else if (v === codeNull) value = 'null';
      else if (v === codeTrue) value = 'true';
      else if (v === codeFalse) value = 'false';
      else value = side[sideIndex(v)]!;
      text += keys[k]! + value;
    }
    return `${text}}`;
  };
}

/** The outputs' JSON text, as the response encoded them. */
export const outputsText = (spec: LogSpec): ((output: Float32Array, rows: number) => string[]) =>
  predictionJsonEncoder(spec.task, spec.classes, spec.outputWidth);
