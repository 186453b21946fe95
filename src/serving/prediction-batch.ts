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

/** The eight column buffers of a batch; reused batch after batch (see `PredictionBatch.recycle`). */
export class BatchColumns {
  readonly requestId = new ColumnBytes();
  readonly ts = new ColumnBytes();
  readonly model = new ColumnBytes();
  readonly version = new ColumnBytes();
  readonly instance = new ColumnBytes();
  readonly features = new ColumnBytes(256 * 1024);
  readonly output = new ColumnBytes(128 * 1024);
  readonly latency = new ColumnBytes();

  clear(): this {
    for (const c of Object.values(this) as ColumnBytes[]) c.clear();
    return this;
  }
}

export class PredictionBatch {
  rows = 0;
  /** Epoch milliseconds of the first row (names the part). */
  firstTime: number | undefined;

  constructor(
    readonly model: string,
    /** UTC day, YYYY-MM-DD. */
    readonly date: string,
    /** Column buffers to fill, e.g. those of a batch already written. */
    readonly columns = new BatchColumns(),
  ) {
    columns.clear();
  }

  /**
   * Appends one request's rows, the first `count` of `instances` and `outputs`: row i's features are
   * `encode(instances[i])` and its output `outputs[i]`, both JSON text.
   */
  append(
    requestId: string,
    time: number,
    version: number,
    latencyMs: number,
    count: number,
    instances: readonly unknown[],
    encode: (instance: unknown) => string,
    outputs: readonly string[],
  ): void {
    this.firstTime ??= time;
    if (count <= 0) return;
    const c = this.columns;
    // The request's fields are the same on all its rows: written once, then repeated.
    c.requestId.repeatLast(c.requestId.text(requestId), count - 1);
    c.ts.int64(time * 1000);
    c.ts.repeatLast(8, count - 1);
    c.model.repeatLast(c.model.text(this.model), count - 1);
    c.version.int32(version);
    c.version.repeatLast(4, count - 1);
    c.latency.double(latencyMs);
    c.latency.repeatLast(8, count - 1);
    for (let i = 0; i < count; i++) {
      c.instance.int32(i);
      c.features.text(encode(instances[i]));
      c.output.text(outputs[i]!);
    }
    this.rows += count;
  }

  /** The batch as one Parquet file. */
  toParquet(into?: ColumnBytes): Buffer {
    const { int32, int64, double, byteArray } = ParquetType;
    const c = this.columns;
    const columns: ParquetColumn[] = [
      { name: 'request_id', type: byteArray, meaning: 'string', bytes: c.requestId },
      { name: 'ts', type: int64, meaning: 'timestamp-micros-utc', bytes: c.ts },
      { name: 'model', type: byteArray, meaning: 'string', bytes: c.model },
      { name: 'version', type: int32, bytes: c.version },
      { name: 'instance', type: int32, bytes: c.instance },
      { name: 'features', type: byteArray, meaning: 'json', bytes: c.features },
      { name: 'output', type: byteArray, meaning: 'json', bytes: c.output },
      { name: 'latency_ms', type: double, bytes: c.latency },
    ];
    return parquetFile(columns, this.rows, into);
  }

  /** The rows read back from the columns, for sinks that take rows. */
  toRows(): PredictionRow[] {
    const c = this.columns;
    const ids = readTexts(c.requestId.bytes);
    const features = readTexts(c.features.bytes);
    const outputs = readTexts(c.output.bytes);
    const ts = c.ts.bytes;
    const version = c.version.bytes;
    const instance = c.instance.bytes;
    const latency = c.latency.bytes;
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
