/**
 * The prediction log's rows as the request path records them: typed values, no text. Each row's features are the codes
 * the transform recorded in its own pass over the instance (`src/models/recorded-values.ts`: one number per feature, a
 * numeric value or NaN for null, a category's index or a code for null, true, false or "other", whose JSON text goes to
 * a side list), and each row's output is the model's raw output row. Writing them as Parquet columns (and as JSON text
 * for a sink that takes rows) is left to the log's worker thread (`prediction-log-worker.ts`), so a request pays for a
 * copy of its codes and outputs.
 *
 * Both sides build their codec from the version's schema (`LogSpec`), so the worker writes exactly the values the
 * request carried and the output the response carried.
 */
import type { FeatureSchema, Predictor } from '../models/predictor';
import { predictionJsonEncoder } from '../models/predictor';
import { codeFalse, codeNull, codeTrue, isOtherCode, otherCode, sideIndex } from '../models/recorded-values';
import type { RecordedValues } from '../models/recorded-values';

/** What the log needs of a version to record and to write its rows. */
export type LogSpec = Pick<Predictor, 'task' | 'classes' | 'outputWidth'> & { features: readonly FeatureSchema[] };

/**
 * One batch's recorded requests (one model, one UTC day), in the form sent to the worker: typed arrays only (apart from
 * the rare side texts and the versions' specs), so a batch costs the collector nothing while it fills and moves to the
 * worker without a copy.
 */
export interface TypedBatch {
  model: string;
  date: string;
  rows: number;
  /** Per version seen in the batch: its spec (plain data). */
  specs: [number, LogSpec][];
  /** Requests in the batch; the per-request arrays below hold one entry per request (more are spare room). */
  requests: number;
  /** Epoch milliseconds of each request's prediction. */
  times: Float64Array;
  versions: Int32Array;
  latencies: Float64Array;
  /** Rows logged of each request. */
  counts: Int32Array;
  /** The requests' ids as UTF-8, one after another; request r's ends at `idEnds[r]`. */
  idBytes: Uint8Array;
  idEnds: Int32Array;
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
}

const codecs = new WeakMap<readonly FeatureSchema[], FeatureCodec>();

function codecOf(features: readonly FeatureSchema[]): FeatureCodec {
  let codec = codecs.get(features);
  if (!codec) {
    codec = {
      names: features.map((f) => f.name),
      numeric: features.map((f) => f.type === 'number'),
    };
    codecs.set(features, codec);
  }
  return codec;
}

/** An empty batch with room for `rowsHint` rows of `width` features (it grows past them). */
export function newTypedBatch(model: string, date: string, rowsHint: number, width = 16): TypedBatch {
  const requests = Math.max(16, Math.min(rowsHint, 1024));
  return {
    model,
    date,
    rows: 0,
    specs: [],
    requests: 0,
    times: new Float64Array(requests),
    versions: new Int32Array(requests),
    latencies: new Float64Array(requests),
    counts: new Int32Array(requests),
    idBytes: new Uint8Array(requests * 40),
    idEnds: new Int32Array(requests),
    values: new Float64Array(Math.max(64, rowsHint * width)),
    valuesUsed: 0,
    outputs: new Float32Array(Math.max(64, rowsHint * 2)),
    outputsUsed: 0,
    side: [],
  };
}

/** Request-level fields of a logged request. */
export interface LoggedRequest {
  requestId: string;
  time: number;
  version: number;
  latencyMs: number;
}

/**
 * Appends one request's first `count` rows from the values the transform recorded (`Predictor.score`'s `recorded`):
 * a copy of their codes, and their side texts renumbered into the batch's side list.
 */
export function appendRecorded(
  batch: TypedBatch,
  spec: LogSpec,
  request: LoggedRequest,
  recorded: RecordedValues,
  output: Float32Array,
  count: number,
): void {
  if (!batch.specs.some(([v]) => v === request.version)) batch.specs.push([request.version, plainSpec(spec)]);
  appendRequest(batch, request, count);
  const width = recorded.width;
  const at = batch.valuesUsed;
  batch.values = room(batch.values, at + count * width);
  batch.values.set(recorded.codes.subarray(0, count * width), at);
  batch.valuesUsed += count * width;
  if (recorded.side.length > 0) renumberSide(codecOf(spec.features), batch, recorded.side, at, count);
  const n = count * spec.outputWidth;
  batch.outputs = room(batch.outputs, batch.outputsUsed + n);
  batch.outputs.set(output.subarray(0, n), batch.outputsUsed);
  batch.outputsUsed += n;
  batch.rows += count;
}

/**
 * Moves the side texts of a request's first `count` rows (their codes at `at`) to the end of the batch's list, and
 * renumbers the codes: each "other" code has its own entry, and the texts of rows not logged are left behind.
 */
function renumberSide(codec: FeatureCodec, batch: TypedBatch, side: string[], at: number, count: number): void {
  const width = codec.names.length;
  for (let i = at; i < at + count * width; i += width) {
    for (let k = 0; k < width; k++) {
      const code = batch.values[i + k]!;
      if (!codec.numeric[k] && isOtherCode(code))
        batch.values[i + k] = otherCode(batch.side.push(side[sideIndex(code)]!) - 1);
    }
  }
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** The request's own fields, and its id's UTF-8 bytes (an id is almost always ASCII: a UUID or a client's token). */
function appendRequest(batch: TypedBatch, request: LoggedRequest, count: number): void {
  const r = batch.requests;
  if (r === batch.times.length) {
    const n = r * 2;
    batch.times = room(batch.times, n);
    batch.versions = room(batch.versions, n);
    batch.latencies = room(batch.latencies, n);
    batch.counts = room(batch.counts, n);
    batch.idEnds = room(batch.idEnds, n);
  }
  batch.times[r] = request.time;
  batch.versions[r] = request.version;
  batch.latencies[r] = request.latencyMs;
  batch.counts[r] = count;
  const id = request.requestId;
  const at = r === 0 ? 0 : batch.idEnds[r - 1]!;
  batch.idBytes = room(batch.idBytes, at + id.length * 3);
  const bytes = batch.idBytes;
  let n = 0;
  for (; n < id.length; n++) {
    const c = id.charCodeAt(n);
    if (c >= 0x80) break;
    bytes[at + n] = c;
  }
  if (n < id.length) n += utf8.encodeInto(id.slice(n), bytes.subarray(at + n)).written;
  batch.idEnds[r] = at + n;
  batch.requests = r + 1;
}

/**
 * The earliest and latest request time of a batch (epoch milliseconds): the span its Parquet part's name gives, so
 * readers of a time window skip parts outside it. A batch without requests spans `now`.
 */
export function batchSpan(batch: TypedBatch, now = Date.now()): { firstTime: number; lastTime: number } {
  if (batch.requests === 0) return { firstTime: now, lastTime: now };
  let firstTime = Infinity;
  let lastTime = -Infinity;
  for (let r = 0; r < batch.requests; r++) {
    const t = batch.times[r]!;
    if (t < firstTime) firstTime = t;
    if (t > lastTime) lastTime = t;
  }
  return { firstTime, lastTime };
}

/** Request r's id as UTF-8 bytes (a view into the batch). */
export function requestIdBytes(batch: TypedBatch, r: number): Uint8Array {
  return batch.idBytes.subarray(r === 0 ? 0 : batch.idEnds[r - 1], batch.idEnds[r]);
}

/** Request r's id. */
export const requestIdOf = (batch: TypedBatch, r: number): string => fromUtf8.decode(requestIdBytes(batch, r));

/** The batch's typed arrays' memory, to move (not copy) it to the worker. */
export function batchBuffers(batch: TypedBatch): ArrayBuffer[] {
  const arrays = [batch.times, batch.versions, batch.latencies, batch.counts, batch.idBytes, batch.idEnds];
  return [...arrays, batch.values, batch.outputs].map((a) => a.buffer as ArrayBuffer);
}

function plainSpec(spec: LogSpec): LogSpec {
  return { task: spec.task, classes: [...spec.classes], outputWidth: spec.outputWidth, features: spec.features };
}

function room<T extends Float64Array | Float32Array | Int32Array | Uint8Array>(array: T, needed: number): T {
  if (needed <= array.length) return array;
  const grown = new (array.constructor as new (n: number) => T)(Math.max(needed, array.length * 2));
  grown.set(array);
  return grown;
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
