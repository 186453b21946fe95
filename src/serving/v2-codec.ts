/**
 * Open Inference Protocol v2 tensors, in JSON and in the binary tensor data extension (a JSON header of
 * `Inference-Header-Content-Length` bytes, then each tensor's raw bytes, little-endian; BYTES elements are a 4-byte
 * length then the bytes). One named input per raw feature, shape `[n]` or `[n, 1]`; the decoded columns become the
 * same raw records the JSON routes send, so v2 requests go through the same validation and fitted transform.
 *
 * Limits are checked before anything is allocated: the shape's size (a shape like [2^60] is refused, not allocated),
 * the binary sizes against the body, and JSON `data` nested deeper than the shape.
 */
import { mlopsError } from '../errors';
// The v2 protocol's clients leave out what they do not send: a null `parameters` is refused, as a null `id` is.
import { parametersProblem } from './http-body';
import { setOwn } from '../contracts/own-property';
import type { Prediction } from '../models/predictor';
import { describeValue } from '../models/transform-instance';
import { namesText, problemsText, quoteText } from '../contracts/message-text';

export interface V2Input {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown;
  parameters?: Record<string, unknown>;
}

export interface V2Request {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: V2Input[];
  outputs?: { name: string; parameters?: Record<string, unknown> }[];
}

/** Bytes per element of each fixed-width datatype (a Map: a datatype named "toString" is not one). */
const fixedSizes = new Map([
  ['BOOL', 1],
  ['UINT8', 1],
  ['INT8', 1],
  ['UINT16', 2],
  ['INT16', 2],
  ['UINT32', 4],
  ['INT32', 4],
  ['FP32', 4],
  ['UINT64', 8],
  ['INT64', 8],
  ['FP64', 8],
]);

/**
 * The integers of each integer datatype, from `min` up to but excluding `end`, as doubles: a JSON number is read as
 * a double, so a 64-bit element that rounds to ±2^63 (or 2^64) is outside its type. Binary elements are read as
 * their type, so they always fit it.
 */
const integerRanges = new Map<string, { min: number; end: number; text: string }>(
  (
    [
      ['UINT8', 8, false],
      ['INT8', 8, true],
      ['UINT16', 16, false],
      ['INT16', 16, true],
      ['UINT32', 32, false],
      ['INT32', 32, true],
      ['UINT64', 64, false],
      ['INT64', 64, true],
    ] as const
  ).map(([datatype, bits, signed]) => {
    const min = signed ? -(2 ** (bits - 1)) : 0;
    const end = signed ? 2 ** (bits - 1) : 2 ** bits;
    return [datatype, { min, end, text: `integers from ${BigInt(min)} to ${BigInt(end) - 1n}` }];
  }),
);

export interface DecodedV2 {
  request: V2Request;
  rows: number;
  /** Raw records, one per row: input name → element. */
  instances: Record<string, unknown>[];
}

/** Splits a body into the JSON header and the binary part (none without the header-length header). */
export function splitV2Body(
  body: Buffer,
  headerLength: string | string[] | undefined,
): { json: Buffer; binary: Buffer } {
  if (headerLength === undefined) return { json: body, binary: Buffer.alloc(0) };
  // Digits only: Number() would also read "+905", "0x389" and "1e2".
  const n = typeof headerLength === 'string' && /^[0-9]{1,15}$/.test(headerLength) ? Number(headerLength) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0 || n > body.length) {
    throw invalid([
      `Inference-Header-Content-Length ${JSON.stringify(headerLength)} must be a positive integer no larger than the body (${body.length} bytes)`,
    ]);
  }
  return { json: body.subarray(0, n), binary: body.subarray(n) };
}

/** A model input as the v2 metadata declares it: a number (FP64) or a category (BYTES). */
export interface V2Feature {
  name: string;
  type: 'number' | 'category';
}

/** The datatypes each kind of feature takes: numbers as numbers, categories as text or booleans. */
const numberTypes = 'FP32, FP64 or an integer type';
const categoryTypes = 'BYTES (or BOOL for a feature of true and false)';

/** Why an input's datatype cannot carry its feature's values, or undefined when it can. */
function datatypeProblem(datatype: string, type: V2Feature['type']): string | undefined {
  if (datatype !== 'BYTES' && !fixedSizes.has(datatype)) return undefined; // refused as unsupported on its own
  const textual = datatype === 'BYTES' || datatype === 'BOOL';
  if (type === 'category' && !textual)
    return `datatype ${datatype} does not match the model's input, a category (BYTES in its metadata): send ${categoryTypes}`;
  if (type === 'number' && textual)
    return `datatype ${datatype} does not match the model's input, a number (FP64 in its metadata): send ${numberTypes}`;
  return undefined;
}

export function decodeV2(
  doc: unknown,
  binary: Buffer,
  features: readonly V2Feature[],
  maxInstances: number,
  /** What to add to "unknown input <name>" (the predictor's `unknownFieldNote`). */
  note: (name: string) => string = () => '',
): DecodedV2 {
  const request = checkRequestShape(doc, maxInstances);
  const problems: string[] = [];
  const featureNames = features.map((f) => f.name);
  const types = new Map(features.map((f) => [f.name, f.type]));
  const known = new Set(featureNames);
  const given = new Set<string>();
  const repeated = new Set<string>();
  for (const { name } of request.inputs) (given.has(name) ? repeated : given).add(name);
  for (const name of repeated) problems.push(`inputs: input ${quoteText(name)} is given more than once; send it once`);
  for (const name of given)
    if (!known.has(name)) problems.push(`inputs: unknown input ${quoteText(name)}${note(name)}`);
  for (const name of featureNames) if (!given.has(name)) problems.push(`inputs: missing input ${quoteText(name)}`);
  // The first input's row count, which every other input must have (its own shape is checked below).
  const rows = request.inputs[0]!.shape[0];
  const columns = new Map<string, unknown[]>();
  let offset = 0;
  // Once one input's binary_data_size is not what its shape and datatype take, where the next inputs' bytes start is
  // unknown: their problems would be made up, so they are not read.
  let lost: string | undefined;
  for (const input of request.inputs) {
    const where = `inputs[${quoteText(input.name)}]`;
    const typeProblem = types.has(input.name) ? datatypeProblem(input.datatype, types.get(input.name)!) : undefined;
    if (typeProblem) problems.push(`${where}: ${typeProblem}`);
    const shapeProblem = checkShape(input, rows, maxInstances);
    if (shapeProblem) problems.push(`${where}: ${shapeProblem}`);
    const size = input.parameters?.binary_data_size;
    if (size !== undefined && lost) {
      problems.push(`${where}: not read: its binary data cannot be found after ${lost}`);
      continue;
    }
    if (shapeProblem || rows === undefined) {
      if (size !== undefined) lost = `${where}, whose shape is refused`;
      continue;
    }
    const decoded = size === undefined ? fromJson(input, rows) : fromBinary(input, rows, size, binary.subarray(offset));
    if (typeof size === 'number' && size >= 0) offset += size;
    if (typeof decoded === 'string') {
      problems.push(`${where}: ${decoded}`);
      if (size !== undefined) lost = where;
    } else if (!typeProblem) columns.set(input.name, decoded);
  }
  if (problems.length === 0 && offset !== binary.length)
    problems.push(`the binary part has ${binary.length} bytes but the inputs' binary_data_size add up to ${offset}`);
  if (problems.length > 0) throw invalid(problems);
  return { request, rows: rows!, instances: toRecords(columns, rows!) };
}

/** The fields the protocol defines for a request, an input and a requested output; anything else is a mistake. */
const requestFields = new Set(['id', 'parameters', 'inputs', 'outputs']);
const inputFields = new Set(['name', 'shape', 'datatype', 'parameters', 'data']);
const outputFields = new Set(['name', 'parameters']);

/** A field outside `known` (a misspelt `"output"` or `"paramaters"` would otherwise be ignored without a word). */
function unknownFields(value: object, known: ReadonlySet<string>, where: string): string[] {
  return Object.keys(value)
    .filter((key) => !known.has(key))
    .map((key) => `${where}unknown field ${quoteText(key)} (the protocol defines ${[...known].join(', ')})`);
}

function checkRequestShape(doc: unknown, maxInstances: number): V2Request {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw invalid(['the body must be an object {"inputs": [...]}']);
  const inputs = (doc as { inputs?: unknown }).inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) throw invalid(['"inputs" must be a non-empty array']);
  const problems: string[] = unknownFields(doc, requestFields, '');
  inputs.forEach((input: unknown, k) => {
    const i = input as Partial<V2Input> | null;
    if (!i || typeof i !== 'object' || typeof i.name !== 'string' || typeof i.datatype !== 'string')
      problems.push(`inputs[${k}]: needs a string "name" and "datatype"`);
    else if (!Array.isArray(i.shape) || !i.shape.every((d) => Number.isInteger(d) && d >= 0))
      problems.push(`inputs[${k}] (${quoteText(i.name)}): "shape" must be an array of non-negative integers`);
    else if (i.shape.length > 0 && !Number.isSafeInteger(i.shape[0]))
      // Rows past 2^53: far past any limit (counted by the first dimension, as checkShape counts rows).
      throw mlopsError('MLOPS_ERR_SERVE_TOO_MANY_INSTANCES', { count: numberText(i.shape[0]!), limit: maxInstances });
    else if (i.shape.some((d) => !Number.isSafeInteger(d))) {
      const past = i.shape.findIndex((d) => !Number.isSafeInteger(d));
      problems.push(
        `inputs[${k}] (${quoteText(i.name)}): shape [${shapeText(i.shape)}] has a dimension past 2^53 (shape[${past}] = ${numberText(i.shape[past]!)}); one value of this feature per row is [n] or [n, 1]`,
      );
    } else {
      problems.push(...unknownFields(i, inputFields, `inputs[${k}] (${quoteText(i.name)}): `));
      problems.push(...parametersProblem(i.parameters, `inputs[${k}] (${quoteText(i.name)}): `, false));
    }
  });
  const { id, outputs, parameters } = doc as { id?: unknown; outputs?: unknown; parameters?: unknown };
  if (id !== undefined && typeof id !== 'string') problems.push(`"id" must be a string, got ${describeValue(id)}`);
  problems.push(...parametersProblem(parameters, '', false));
  if (
    outputs !== undefined &&
    (!Array.isArray(outputs) || outputs.some((o: unknown) => typeof (o as { name?: unknown })?.name !== 'string'))
  )
    problems.push('"outputs" must be an array of {"name": ...}');
  else if (Array.isArray(outputs))
    outputs.forEach((o: { name: string; parameters?: unknown }, k) => {
      problems.push(...unknownFields(o, outputFields, `outputs[${k}] (${quoteText(o.name)}): `));
      problems.push(...parametersProblem(o.parameters, `outputs[${k}] (${quoteText(o.name)}): `, false));
    });
  if (problems.length > 0) throw invalid(problems);
  return doc as V2Request;
}

/** A shape as a message shows it: its first dimensions, cut after 4 (a shape may hold a million). */
function shapeText(shape: readonly number[]): string {
  const shown = shape.slice(0, 4).map((d) => numberText(d));
  return shape.length > 4 ? `${shown.join(', ')}, … (${shape.length} dimensions)` : shown.join(', ');
}

function checkShape(input: V2Input, rows: number | undefined, maxInstances: number): string | undefined {
  const [n, width = 1, ...rest] = input.shape;
  if (n === undefined || rest.length > 0 || width !== 1)
    return `shape [${shapeText(input.shape)}] must be [n] or [n, 1]: one value of this feature per row`;
  if (n > maxInstances) throw mlopsError('MLOPS_ERR_SERVE_TOO_MANY_INSTANCES', { count: n, limit: maxInstances });
  // Against a first input whose shape is itself wrong there is nothing to compare (its problem is reported).
  if (rows !== undefined && n !== rows) return `has ${n} rows, not as many as the first input (${rows})`;
  if (n === 0) return 'has no rows; send at least one';
  return undefined;
}

/** Flattens JSON `data` (flat, or nested as [[x], [y]]) without recursion, no deeper than the shape allows. */
function fromJson(input: V2Input, rows: number): unknown[] | string {
  if (input.datatype !== 'BYTES' && !fixedSizes.has(input.datatype)) return unsupported(input.datatype);
  if (!Array.isArray(input.data)) return '"data" must be an array (or send binary_data_size)';
  const out: unknown[] = [];
  for (const item of input.data as unknown[]) {
    const value = Array.isArray(item) && item.length === 1 ? (item[0] as unknown) : item;
    if (Array.isArray(value) || (value !== null && typeof value === 'object'))
      return '"data" is nested deeper than its shape [n, 1] allows';
    out.push(value);
  }
  if (out.length !== rows) return `"data" has ${out.length} elements; shape [${shapeText(input.shape)}] needs ${rows}`;
  const wrong = out.findIndex((v) => v !== null && !matchesDatatype(input.datatype, v));
  if (wrong !== -1) return `element ${wrong} does not match datatype ${input.datatype}`;
  const range = integerRanges.get(input.datatype);
  const outside = range ? out.findIndex((v) => v !== null && !inRange(v as number, range)) : -1;
  if (outside !== -1)
    return `element ${outside} is ${numberText(out[outside] as number)}; ${input.datatype} takes ${range!.text}`;
  return out;
}

function matchesDatatype(datatype: string, value: unknown): boolean {
  if (datatype === 'BYTES') return typeof value === 'string';
  if (datatype === 'BOOL') return typeof value === 'boolean';
  return fixedSizes.has(datatype) && typeof value === 'number';
}

const inRange = (value: number, range: { min: number; end: number }): boolean =>
  Number.isInteger(value) && value >= range.min && value < range.end;

/** A number as its digits (2^63 as 9223372036854775808, not 9223372036854776000). */
const numberText = (value: number): string =>
  Number.isInteger(value) && Math.abs(value) < 1e21 ? String(BigInt(value)) : String(value);

function fromBinary(input: V2Input, rows: number, size: unknown, bytes: Buffer): unknown[] | string {
  if (!Number.isSafeInteger(size) || (size as number) < 0 || (size as number) > bytes.length)
    return `binary_data_size ${JSON.stringify(size)} must be a non-negative integer within the ${bytes.length} bytes left in the body`;
  const data = bytes.subarray(0, size as number);
  if (input.datatype === 'BYTES') return bytesElements(data, rows);
  const width = fixedSizes.get(input.datatype);
  if (!width) return unsupported(input.datatype);
  if (data.length !== rows * width)
    return `binary_data_size is ${data.length}; ${rows} × ${input.datatype} needs ${rows * width}`;
  const out = new Array<unknown>(rows);
  for (let i = 0; i < rows; i++) out[i] = readFixed(input.datatype, data, i * width);
  return out;
}

/** How each fixed-width datatype is read (little-endian); anything else is FP64. */
const fixedReaders = new Map<string, (b: Buffer, at: number) => number | boolean>([
  ['BOOL', (b, at) => b[at] !== 0],
  ['UINT8', (b, at) => b.readUInt8(at)],
  ['INT8', (b, at) => b.readInt8(at)],
  ['UINT16', (b, at) => b.readUInt16LE(at)],
  ['INT16', (b, at) => b.readInt16LE(at)],
  ['UINT32', (b, at) => b.readUInt32LE(at)],
  ['INT32', (b, at) => b.readInt32LE(at)],
  ['FP32', (b, at) => b.readFloatLE(at)],
  ['UINT64', (b, at) => Number(b.readBigUInt64LE(at))],
  ['INT64', (b, at) => Number(b.readBigInt64LE(at))],
]);

function readFixed(datatype: string, b: Buffer, at: number): number | boolean {
  return (fixedReaders.get(datatype) ?? ((x: Buffer, i: number) => x.readDoubleLE(i)))(b, at);
}

const unsupported = (datatype: string) =>
  `datatype ${quoteText(datatype)} is not supported (use FP32, FP64, an integer type, BOOL or BYTES)`;

/** BYTES elements are text here (category values): bytes that are not UTF-8 are refused, never read with U+FFFD. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function bytesElements(data: Buffer, rows: number): string[] | string {
  const out: string[] = [];
  let at = 0;
  while (at < data.length && out.length < rows) {
    if (at + 4 > data.length) return 'a BYTES element is cut short (its 4-byte length is incomplete)';
    const len = data.readUInt32LE(at);
    if (at + 4 + len > data.length) return `a BYTES element claims ${len} bytes, past the end of its binary data`;
    try {
      out.push(utf8.decode(data.subarray(at + 4, at + 4 + len)));
    } catch {
      return `element ${out.length} is not UTF-8 text (BYTES elements are category values, sent as UTF-8)`;
    }
    at += 4 + len;
  }
  if (out.length < rows) return `the BYTES data holds ${out.length} elements; the shape needs ${rows}`;
  if (at !== data.length)
    return `the BYTES data holds more than the ${rows} elements of the shape (${data.length - at} bytes after them)`;
  return out;
}

function toRecords(columns: Map<string, unknown[]>, rows: number): Record<string, unknown>[] {
  const records = new Array<Record<string, unknown>>(rows);
  for (let i = 0; i < rows; i++) {
    const r: Record<string, unknown> = {};
    for (const [name, values] of columns) setOwn(r, name, values[i]);
    records[i] = r;
  }
  return records;
}

interface OutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  values: number[] | string[];
}

/** The output tensors of a task: `label` (BYTES) and `probabilities` (FP32 [n, classes]), or `prediction` (FP32). */
export function outputTensors(predictions: Prediction[], classes: string[]): OutputTensor[] {
  const n = predictions.length;
  if (predictions.length > 0 && 'value' in predictions[0]!)
    return [
      {
        name: 'prediction',
        datatype: 'FP32',
        shape: [n],
        values: predictions.map((p) => (p as { value: number }).value),
      },
    ];
  const probabilities: number[] = [];
  for (const p of predictions as { probabilities: Record<string, number> }[])
    for (const c of classes) probabilities.push(p.probabilities[c]!);
  return [
    { name: 'label', datatype: 'BYTES', shape: [n], values: predictions.map((p) => (p as { label: string }).label) },
    { name: 'probabilities', datatype: 'FP32', shape: [n, classes.length], values: probabilities },
  ];
}

/** The outputs a model of `task` answers with (`outputTensors`). */
export function outputNames(task: 'classification' | 'regression'): string[] {
  return task === 'regression' ? ['prediction'] : ['label', 'probabilities'];
}

/** Refuses outputs the model does not have, before anything runs (a refused request is never predicted or logged). */
export function checkOutputs(request: V2Request, names: readonly string[]): void {
  const unknown = (request.outputs ?? []).filter((o) => !names.includes(o.name)).map((o) => String(o.name));
  if (unknown.length > 0)
    throw invalid([`outputs: unknown output ${namesText(unknown)} (outputs: ${names.join(', ')})`]);
}

/** Encodes the response; outputs asked for in binary go after the JSON header (`checkOutputs` checked their names). */
export function encodeV2Response(
  header: Record<string, unknown>,
  tensors: OutputTensor[],
  request: V2Request,
): { body: Buffer | Record<string, unknown>; headerLength?: number } {
  const wanted = request.outputs;
  const selected = wanted ? tensors.filter((t) => wanted.some((o) => o.name === t.name)) : tensors;
  const allBinary = request.parameters?.binary_data_output === true;
  const binaryParts: Buffer[] = [];
  const outputs = selected.map((t) => {
    const own = wanted?.find((o) => o.name === t.name)?.parameters?.binary_data;
    const binary = typeof own === 'boolean' ? own : allBinary;
    if (!binary) return { name: t.name, datatype: t.datatype, shape: t.shape, data: t.values };
    const bytes = encodeBinary(t);
    binaryParts.push(bytes);
    return { name: t.name, datatype: t.datatype, shape: t.shape, parameters: { binary_data_size: bytes.length } };
  });
  const doc = { ...header, outputs };
  if (binaryParts.length === 0) return { body: doc };
  const json = Buffer.from(JSON.stringify(doc));
  return { body: Buffer.concat([json, ...binaryParts]), headerLength: json.length };
}

function encodeBinary(t: OutputTensor): Buffer {
  if (t.datatype === 'BYTES') {
    const parts = (t.values as string[]).map((s) => {
      const text = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(text.length);
      return Buffer.concat([len, text]);
    });
    return Buffer.concat(parts);
  }
  const f = Float32Array.from(t.values as number[]);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength);
}

function invalid(problems: string[]): Error {
  return mlopsError('MLOPS_ERR_SERVE_V2_INPUT_INVALID', { problems: problemsText(problems) });
}
