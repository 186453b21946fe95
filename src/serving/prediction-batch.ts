/**
 * The prediction log's rows of one model and one UTC day, held as column buffers already in Parquet's PLAIN layout:
 * a request appends its rows' values to the columns (the features and output as JSON text, encoded once, straight into
 * bytes), so the log keeps no object per row and writing a part is assembling a file around the columns.
 *
 * Columns: request_id, ts (UTC, microseconds), model, version, instance (position in its request), features (JSON),
 * output (JSON), latency_ms.
 */
import { ColumnBytes, ParquetType, parquetFile, readTexts } from './parquet-file';
import type { ParquetColumn } from './parquet-file';

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

export class PredictionBatch {
  rows = 0;
  /** Epoch milliseconds of the first row (names the part). */
  firstTime: number | undefined;
  readonly #requestId = new ColumnBytes();
  readonly #ts = new ColumnBytes();
  readonly #model = new ColumnBytes();
  readonly #version = new ColumnBytes();
  readonly #instance = new ColumnBytes();
  readonly #features = new ColumnBytes(256 * 1024);
  readonly #output = new ColumnBytes(128 * 1024);
  readonly #latency = new ColumnBytes();

  constructor(
    readonly model: string,
    /** UTC day, YYYY-MM-DD. */
    readonly date: string,
  ) {}

  /** Appends one request's rows: `features(i)` and `outputs[i]` are row i's JSON text. */
  append(
    requestId: string,
    time: number,
    version: number,
    latencyMs: number,
    count: number,
    features: (i: number) => string,
    outputs: readonly string[],
  ): void {
    this.firstTime ??= time;
    if (count <= 0) return;
    // The request's fields are the same on all its rows: written once, then repeated.
    this.#requestId.repeatLast(this.#requestId.text(requestId), count - 1);
    this.#ts.int64(time * 1000);
    this.#ts.repeatLast(8, count - 1);
    this.#model.repeatLast(this.#model.text(this.model), count - 1);
    this.#version.int32(version);
    this.#version.repeatLast(4, count - 1);
    this.#latency.double(latencyMs);
    this.#latency.repeatLast(8, count - 1);
    for (let i = 0; i < count; i++) {
      this.#instance.int32(i);
      this.#features.text(features(i));
      this.#output.text(outputs[i]!);
    }
    this.rows += count;
  }

  /** The batch as one Parquet file. */
  toParquet(): Buffer {
    const { int32, int64, double, byteArray } = ParquetType;
    const columns: ParquetColumn[] = [
      { name: 'request_id', type: byteArray, meaning: 'string', bytes: this.#requestId },
      { name: 'ts', type: int64, meaning: 'timestamp-micros-utc', bytes: this.#ts },
      { name: 'model', type: byteArray, meaning: 'string', bytes: this.#model },
      { name: 'version', type: int32, bytes: this.#version },
      { name: 'instance', type: int32, bytes: this.#instance },
      { name: 'features', type: byteArray, meaning: 'json', bytes: this.#features },
      { name: 'output', type: byteArray, meaning: 'json', bytes: this.#output },
      { name: 'latency_ms', type: double, bytes: this.#latency },
    ];
    return parquetFile(columns, this.rows);
  }

  /** The rows read back from the columns, for sinks that take rows. */
  toRows(): PredictionRow[] {
    const ids = readTexts(this.#requestId.bytes);
    const features = readTexts(this.#features.bytes);
    const outputs = readTexts(this.#output.bytes);
    const ts = this.#ts.bytes;
    const version = this.#version.bytes;
    const instance = this.#instance.bytes;
    const latency = this.#latency.bytes;
    return ids.map((request_id, r) => ({
      request_id,
      ts: new Date((ts.readUInt32LE(r * 8) + ts.readUInt32LE(r * 8 + 4) * 4294967296) / 1000).toISOString(),
      model: this.model,
      version: version.readInt32LE(r * 4),
      instance: instance.readInt32LE(r * 4),
      features: features[r]!,
      output: outputs[r]!,
      latency_ms: latency.readDoubleLE(r * 8),
    }));
  }
}
