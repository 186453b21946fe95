/**
 * The prediction log's Parquet layout, and a batch of typed rows (`typed-rows.ts`) written in it. The values go into
 * typed columns as they are (a number stays a number, a category's JSON text is prepared once per model version), so
 * writing a part costs a few stores per value, not a JSON text per row.
 *
 * Columns (docs/serving.md, "Prediction log"):
 * - `request_id` (string), `ts` (UTC timestamp, microseconds), `model` (string), `version`, `instance` (position in
 *   its request; int32), `latency_ms` (double);
 * - `features`, a group with one nullable field per feature of the part's versions: a numeric feature as DOUBLE, a
 *   categorical one as the JSON text of the value sent (a string, or a number or boolean as sent); null where the
 *   request sent null, or where the row's version has no such feature;
 * - `output`, a group: `label` (string) and `probabilities` (a group with a FLOAT per class) for a classifier,
 *   `value` (FLOAT) for a regressor, each null on rows of a version of the other kind.
 */
import os from 'node:os';
import { ColumnBytes, ParquetType, parquetFile } from './parquet-file';
import type { ParquetColumn } from './parquet-file';
import { codeFalse, codeNull, codeTrue, sideIndex } from '../models/recorded-values';
import { featuresText, outputsText, requestIdBytes, requestIdOf } from './typed-rows';
import type { LogSpec, TypedBatch } from './typed-rows';

/** One row as other sinks take it (BigQuery): features and output as JSON text. */
export interface PredictionRow {
  request_id: string;
  /** ISO time the prediction was made. */
  ts: string;
  model: string;
  version: number;
  instance: number;
  features: string;
  output: string;
  latency_ms: number;
}

/** A typed array that grows, kept from batch to batch with its memory. */
class Grown<A extends Float64Array | Float32Array | Int32Array | Uint8Array> {
  n = 0;
  constructor(public a: A) {}

  /** Empties it, with room for `size` elements. */
  reset(size: number): this {
    this.n = 0;
    return this.room(size);
  }

  room(extra: number): this {
    if (this.n + extra <= this.a.length) return this;
    const grown = new (this.a.constructor as new (n: number) => A)(Math.max(this.a.length * 2, this.n + extra));
    grown.set(this.a.subarray(0, this.n));
    this.a = grown;
    return this;
  }

  /** The elements so far as bytes (little-endian, as Parquet's PLAIN encoding wants). */
  bytes(): Uint8Array {
    return new Uint8Array(this.a.buffer, this.a.byteOffset, this.n * this.a.BYTES_PER_ELEMENT);
  }
}

if (os.endianness() !== 'LE') throw new Error('the prediction log writes Parquet on little-endian machines only');

/**
 * Buffers by column, kept from batch to batch: fresh multi-megabyte buffers at every write cost page faults and full
 * collections.
 */
export class ColumnPool {
  readonly #free = new Map<string, unknown>();

  take<T>(key: string, make: () => T): T {
    let c = this.#free.get(key) as T | undefined;
    if (c === undefined) {
      c = make();
      this.#free.set(key, c);
    }
    return c;
  }

  bytes(key: string): ColumnBytes {
    const c = this.take(key, () => new ColumnBytes());
    c.clear();
    return c;
  }
}

const { int32, int64, float, double, byteArray } = ParquetType;

/** A nullable column being filled: its definition byte per row, and its values as numbers or as dictionary indices. */
interface Leaf {
  path: string[];
  type: ParquetColumn['type'];
  meaning?: ParquetColumn['meaning'];
  defined: Grown<Uint8Array>;
  doubles?: Grown<Float64Array>;
  floats?: Grown<Float32Array>;
  /** A text column's values: each one's index in `dictionary`. */
  indices?: Grown<Int32Array>;
  dictionary?: Dictionary;
}

/** The distinct texts of a column, in the order first seen, as Parquet BYTE_ARRAY values. */
class Dictionary {
  readonly index = new Map<string, number>();
  readonly bytes = new ColumnBytes();

  /** The text's index, added when new. */
  of(text: string): number {
    let i = this.index.get(text);
    if (i === undefined) {
      i = this.index.size;
      this.index.set(text, i);
      this.bytes.text(text);
    }
    return i;
  }

  /** Each index as the narrowest of 1, 2 or 4 little-endian bytes. */
  encode(indices: Int32Array): { bytes: Uint8Array; width: 1 | 2 | 4 } {
    const size = this.index.size;
    if (size <= 0x100) return { bytes: Uint8Array.from(indices), width: 1 };
    if (size <= 0x10000) return { bytes: new Uint8Array(Uint16Array.from(indices).buffer), width: 2 };
    return { bytes: new Uint8Array(Uint32Array.from(indices).buffer), width: 4 };
  }
}

/** A feature column of the part: DOUBLE unless some version of the part has it as a category. */
interface FeatureLeaf extends Leaf {
  /** The dictionary indices of `true` and `false` once seen (a boolean sent as a category), else -1. */
  trueAt: number;
  falseAt: number;
}

/** One version of the batch: its spec and how its values reach the part's columns. */
interface VersionPlan {
  spec: LogSpec;
  /** Per part feature column the version has, its index among the version's features. */
  featureAt: Map<FeatureLeaf, number>;
  /**
   * Per categorical feature of the version: each category's index in its column's dictionary, -1 until first seen (a
   * part's dictionary holds the categories its rows have, not the whole vocabulary).
   */
  categories: (Int32Array | undefined)[];
  /** Per categorical feature of the version: its categories. */
  categoryNames: (readonly string[] | undefined)[];
  /** Per class probability column, the output it is read from (a class named twice keeps its last output, as the
   * response's JSON object does). */
  probabilityAt: Map<Leaf, number>;
  /** A classifier's label per output, as its index in the label column's dictionary. */
  labels: Int32Array;
}

/** Where each request's rows are in the batch's arrays. */
interface RequestSpan {
  plan: VersionPlan;
  count: number;
  /** First value (`values`) and first output (`outputs`) of the request. */
  valueAt: number;
  outputAt: number;
}

/**
 * The batch as one Parquet file, built in `into` with buffers from `pool`; see the layout above. Filled a column at a
 * time, each column a request at a time.
 */
export function batchParquet(batch: TypedBatch, pool = new ColumnPool(), into?: ColumnBytes): Buffer {
  const rows = batch.rows;
  const leaf = (path: string[], type: ParquetColumn['type'], meaning?: ParquetColumn['meaning']): Leaf => {
    const key = `${type}\u0000${path.join('\u0000')}`;
    const grown = <A extends Float64Array | Float32Array | Int32Array | Uint8Array>(
      part: string,
      make: (n: number) => A,
    ) => pool.take(`${part}\u0000${key}`, () => new Grown(make(rows))).reset(rows);
    const l: Leaf = { path, type, meaning, defined: grown('defined', (n) => new Uint8Array(n)) };
    if (type === double) l.doubles = grown('values', (n) => new Float64Array(n));
    else if (type === float) l.floats = grown('values', (n) => new Float32Array(n));
    else {
      l.indices = grown('values', (n) => new Int32Array(n));
      l.dictionary = new Dictionary();
    }
    return l;
  };
  // The part's columns: the union of its versions' features and outputs, in the order first seen. A feature that is
  // a category in any version is JSON text in the part.
  const numeric = new Map<string, boolean>();
  for (const [, spec] of batch.specs)
    for (const f of spec.features) numeric.set(f.name, (numeric.get(f.name) ?? true) && f.type === 'number');
  const features = new Map<string, FeatureLeaf>();
  for (const [name, isNumeric] of numeric) {
    const column = isNumeric ? leaf(['features', name], double) : leaf(['features', name], byteArray, 'json');
    features.set(name, Object.assign(column, { trueAt: -1, falseAt: -1 }));
  }
  const classifier = batch.specs.some(([, spec]) => spec.task !== 'regression');
  const label = classifier ? leaf(['output', 'label'], byteArray, 'string') : undefined;
  const probabilities = new Map<string, Leaf>();
  for (const [, spec] of batch.specs)
    if (spec.task !== 'regression')
      for (const name of classNames(spec))
        if (!probabilities.has(name)) probabilities.set(name, leaf(['output', 'probabilities', name], float));
  const value = batch.specs.some(([, spec]) => spec.task === 'regression')
    ? leaf(['output', 'value'], float)
    : undefined;

  const plans = new Map(batch.specs.map(([version, spec]) => [version, plan(spec, features, probabilities, label)]));
  const spans: RequestSpan[] = [];
  let valueAt = 0;
  let outputAt = 0;
  for (let r = 0; r < batch.requests; r++) {
    const p = plans.get(batch.versions[r]!)!;
    const count = batch.counts[r]!;
    spans.push({ plan: p, count, valueAt, outputAt });
    valueAt += count * p.spec.features.length;
    outputAt += count * p.spec.outputWidth;
  }

  for (const f of features.values()) featureColumn(f, spans, batch);
  if (label) labelColumn(label, spans, batch.outputs);
  for (const l of probabilities.values()) outputColumn(l, spans, batch.outputs, (p) => p.probabilityAt.get(l));
  if (value) outputColumn(value, spans, batch.outputs, (p) => (p.spec.task === 'regression' ? 0 : undefined));

  const columns = fixedColumns(batch, pool);
  const leaves = [
    ...features.values(),
    ...(label ? [label] : []),
    ...probabilities.values(),
    ...(value ? [value] : []),
  ];
  for (const l of leaves) {
    const column: ParquetColumn = { path: l.path, type: l.type, meaning: l.meaning, bytes: new Uint8Array(0) };
    column.defined = l.defined.bytes();
    if (l.dictionary) {
      const { bytes, width } = l.dictionary.encode(l.indices!.a.subarray(0, l.indices!.n));
      column.bytes = bytes;
      column.dictionary = { bytes: l.dictionary.bytes.bytes, count: l.dictionary.index.size, indexWidth: width };
    } else column.bytes = (l.doubles ?? l.floats)!.bytes();
    columns.push(column);
  }
  return parquetFile(columns, rows, into);
}

function featureColumn(f: FeatureLeaf, spans: RequestSpan[], batch: TypedBatch): void {
  const defined = f.defined;
  const values = batch.values;
  for (const { plan: p, count, valueAt } of spans) {
    const k = p.featureAt.get(f) ?? -1;
    if (k === -1) {
      defined.a.fill(0, defined.n, defined.n + count);
      defined.n += count;
      continue;
    }
    const width = p.spec.features.length;
    const categories = p.categories[k];
    if (categories === undefined && f.doubles) {
      // A numeric feature: NaN is null.
      const doubles = f.doubles;
      for (let i = 0, at = valueAt + k; i < count; i++, at += width) {
        const v = values[at]!;
        const present = v === v;
        defined.a[defined.n++] = present ? 1 : 0;
        if (present) doubles.a[doubles.n++] = v;
      }
      continue;
    }
    const indices = f.indices!;
    for (let i = 0, at = valueAt + k; i < count; i++, at += width) {
      const v = values[at]!;
      const isNull = categories === undefined ? v !== v : v === codeNull;
      defined.a[defined.n++] = isNull ? 0 : 1;
      if (isNull) continue;
      indices.a[indices.n++] = categoryIndex(f, categories, p.categoryNames[k], v, batch.side);
    }
  }
}

/**
 * The index in the column's dictionary of a category code's JSON text; a known category's and true's and false's are
 * looked up once per part. `categories` is undefined where the row's version has the feature as a number (written as
 * its JSON text, since another version of the part has it as a category).
 */
function categoryIndex(
  f: FeatureLeaf,
  categories: Int32Array | undefined,
  names: readonly string[] | undefined,
  v: number,
  side: readonly string[],
): number {
  const dictionary = f.dictionary!;
  if (categories === undefined) return dictionary.of(String(v));
  if (v >= 0) return categories[v]! >= 0 ? categories[v]! : (categories[v] = dictionary.of(JSON.stringify(names![v])));
  if (v === codeTrue) return f.trueAt >= 0 ? f.trueAt : (f.trueAt = dictionary.of('true'));
  if (v === codeFalse) return f.falseAt >= 0 ? f.falseAt : (f.falseAt = dictionary.of('false'));
  return dictionary.of(side[sideIndex(v)]!);
}

/**
 * The predicted class: the first output with the largest value, as the response's label; null for a row without a
 * number (never logged by the model server, which refuses a non-finite output).
 */
function labelColumn(label: Leaf, spans: RequestSpan[], outputs: Float32Array): void {
  const defined = label.defined;
  const indices = label.indices!;
  for (const { plan: p, count, outputAt } of spans) {
    const width = p.spec.outputWidth;
    if (p.spec.task === 'regression') {
      defined.a.fill(0, defined.n, defined.n + count);
      defined.n += count;
      continue;
    }
    for (let i = 0, at = outputAt; i < count; i++, at += width) {
      let best = -1;
      for (let k = 0; k < width; k++) {
        const v = outputs[at + k]!;
        if (v === v && (best < 0 || v > outputs[at + best]!)) best = k;
      }
      defined.a[defined.n++] = best < 0 ? 0 : 1;
      if (best >= 0) indices.a[indices.n++] = p.labels[best]!;
    }
  }
}

/** A FLOAT output column: output `indexOf(plan)` of each row, null for versions without it. */
function outputColumn(
  l: Leaf,
  spans: RequestSpan[],
  outputs: Float32Array,
  indexOf: (p: VersionPlan) => number | undefined,
): void {
  const defined = l.defined;
  const floats = l.floats!;
  for (const { plan: p, count, outputAt } of spans) {
    const k = indexOf(p);
    if (k === undefined) {
      defined.a.fill(0, defined.n, defined.n + count);
      defined.n += count;
      continue;
    }
    const width = p.spec.outputWidth;
    defined.a.fill(1, defined.n, defined.n + count);
    defined.n += count;
    for (let i = 0, at = outputAt + k; i < count; i++, at += width) floats.a[floats.n++] = outputs[at]!;
  }
}

/** The output names of a classifier: its classes, or the output index for a model without class names. */
function classNames(spec: LogSpec): string[] {
  return Array.from({ length: spec.outputWidth }, (_, k) => spec.classes[k] ?? String(k));
}

function plan(
  spec: LogSpec,
  features: Map<string, FeatureLeaf>,
  probabilities: Map<string, Leaf>,
  label: Leaf | undefined,
): VersionPlan {
  const names = classNames(spec);
  const byName = new Map(spec.task === 'regression' ? [] : names.map((n, k) => [n, k]));
  return {
    spec,
    featureAt: new Map(spec.features.map((f, k) => [features.get(f.name)!, k])),
    categories: spec.features.map((f) =>
      f.type === 'number' ? undefined : new Int32Array(f.categories?.length ?? 0).fill(-1),
    ),
    categoryNames: spec.features.map((f) => (f.type === 'number' ? undefined : (f.categories ?? []))),
    probabilityAt: new Map([...byName].map(([n, k]) => [probabilities.get(n)!, k])),
    labels:
      label && spec.task !== 'regression' ? Int32Array.from(names, (n) => label.dictionary!.of(n)) : new Int32Array(0),
  };
}

/** The request's fields, written once per request and repeated over its rows. */
function fixedColumns(batch: TypedBatch, pool: ColumnPool): ParquetColumn[] {
  const requestId = pool.bytes('request_id');
  const ts = pool.bytes('ts');
  const model = pool.bytes('model');
  const version = pool.bytes('version');
  const instance = pool.bytes('instance');
  const latency = pool.bytes('latency_ms');
  for (let r = 0; r < batch.requests; r++) {
    const count = batch.counts[r]!;
    if (count <= 0) continue;
    requestId.repeatLast(requestId.byteArray(requestIdBytes(batch, r)), count - 1);
    ts.int64(batch.times[r]! * 1000);
    ts.repeatLast(8, count - 1);
    model.repeatLast(model.text(batch.model), count - 1);
    version.int32(batch.versions[r]!);
    version.repeatLast(4, count - 1);
    instance.append(positions(count));
    latency.double(batch.latencies[r]!);
    latency.repeatLast(8, count - 1);
  }
  return [
    { path: ['request_id'], type: byteArray, meaning: 'string', bytes: requestId.bytes },
    { path: ['ts'], type: int64, meaning: 'timestamp-micros-utc', bytes: ts.bytes },
    { path: ['model'], type: byteArray, meaning: 'string', bytes: model.bytes },
    { path: ['version'], type: int32, bytes: version.bytes },
    { path: ['instance'], type: int32, bytes: instance.bytes },
    { path: ['latency_ms'], type: double, bytes: latency.bytes },
  ];
}

let positionBytes = new Uint8Array(0);

/** INT32 0, 1, …, count - 1 (the rows' positions in their request) as little-endian bytes, kept between calls. */
function positions(count: number): Uint8Array {
  if (positionBytes.length < count * 4) {
    const all = Int32Array.from({ length: Math.max(count, 4096) }, (_, i) => i);
    positionBytes = new Uint8Array(all.buffer);
  }
  return positionBytes.subarray(0, count * 4);
}

/** The batch's rows for sinks that take rows (BigQuery): the features and the output as the request's JSON text. */
export function batchRows(batch: TypedBatch): PredictionRow[] {
  const codecs = new Map(
    batch.specs.map(([version, spec]) => [
      version,
      { spec, features: featuresText(spec.features), outputs: outputsText(spec) },
    ]),
  );
  const rows: PredictionRow[] = [];
  let valueAt = 0;
  let outputAt = 0;
  for (let r = 0; r < batch.requests; r++) {
    const version = batch.versions[r]!;
    const requestId = requestIdOf(batch, r);
    const { spec, features, outputs } = codecs.get(version)!;
    const count = batch.counts[r]!;
    const n = count * spec.outputWidth;
    const outputTexts = outputs(batch.outputs.subarray(outputAt, outputAt + n), count);
    const ts = new Date(batch.times[r]!).toISOString();
    for (let i = 0; i < count; i++) {
      rows.push({
        request_id: requestId,
        ts,
        model: batch.model,
        version,
        instance: i,
        features: features(batch.values, valueAt, batch.side),
        output: outputTexts[i]!,
        latency_ms: batch.latencies[r]!,
      });
      valueAt += spec.features.length;
    }
    outputAt += n;
  }
  return rows;
}
