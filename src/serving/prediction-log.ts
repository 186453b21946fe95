/**
 * The prediction log: one row per predicted instance (request id, time, model, version, raw features, output,
 * latency), buffered in memory and written in batches as Parquet partitions `predictions/<model>/date=YYYY-MM-DD/`
 * in the artifact store, the data monitoring reads.
 *
 * - Flushed when `flushRows` rows are waiting, every `flushMs`, and on close (the server's shutdown).
 * - Bounded: at most `capacity` rows wait; a row that does not fit is dropped and counted (metric
 *   `mlops_serve_prediction_log_dropped_rows_total{reason="overflow"}`); a request never waits for the log.
 * - A failing sink never fails a prediction: its copy of the batch is dropped, counted (`reason="sink"`, by sink)
 *   and logged. Sinks: Parquet in the artifact store, and a BigQuery table when configured.
 * - Crash-loss bound: a crash (not a clean shutdown) loses the rows still buffered, at most `capacity` rows and at
 *   most `flushMs` plus one write of predictions.
 */
import { randomUUID } from 'node:crypto';
import type { ArtifactStore } from '../artifacts';
import { predictionLogPart } from '../artifacts/layout';
import type { FeatureSchema } from '../models/predictor';
import type { ServingMetrics } from './metrics';
import { PredictionBatch } from './prediction-batch';
import type { BatchColumns } from './prediction-batch';
import { ColumnBytes } from './parquet-file';

export { PredictionBatch } from './prediction-batch';
export type { PredictionRow } from './prediction-batch';

export interface PredictionSink {
  /** Writes one batch: one model's rows of one UTC day (`batch.model`, `batch.date`), request by request, in order. */
  write(batch: PredictionBatch): Promise<void>;
  /** Releases what the sink holds open; called once, after the log's last write. */
  close?(): Promise<void>;
}

export interface PredictionLogOptions {
  /** Rows buffered at most; more are dropped and counted. @default 50000 */
  capacity: number;
  /** Rows that trigger a write. @default 5000 */
  flushRows: number;
  /** Milliseconds between timed writes. @default 5000 */
  flushMs: number;
}

interface Warn {
  warn(obj: object, msg: string): void;
}

/** A sink and the name its failures are counted under. */
export interface NamedSink {
  name: string;
  sink: PredictionSink;
}

export class PredictionLog {
  /** The batches being filled, by model and UTC day (one, except around midnight or with several models). */
  #batches = new Map<string, PredictionBatch>();
  /** Column buffers of written batches, reused by the next ones. */
  readonly #spare: BatchColumns[] = [];
  #rows = 0;
  #day = { number: -1, date: '' };
  #flushing: Promise<void> | undefined;
  readonly #timer: NodeJS.Timeout;
  readonly #encoders = new WeakMap<readonly FeatureSchema[], (instance: unknown) => string>();

  constructor(
    readonly sinks: NamedSink[],
    readonly options: PredictionLogOptions,
    readonly metrics?: ServingMetrics,
    readonly logger?: Warn,
  ) {
    this.#timer = setInterval(() => void this.flush(), options.flushMs);
    this.#timer.unref();
  }

  get depth(): number {
    return this.#rows;
  }

  /**
   * Buffers one answered request: `instances` validated against `schema` (the version's features), `outputs` the
   * predictions' JSON text. Never waits: rows beyond the capacity are dropped and counted.
   */
  record(
    model: string,
    version: number,
    requestId: string,
    schema: readonly FeatureSchema[],
    instances: readonly unknown[],
    outputs: readonly string[],
    latencyMs: number,
  ): void {
    const n = Math.min(this.options.capacity - this.#rows, instances.length);
    if (n < instances.length) this.metrics?.logDropped.inc({ reason: 'overflow', sink: 'all' }, instances.length - n);
    if (n > 0) {
      const encode = this.#encoder(schema);
      const time = Date.now();
      this.#batch(model, time).append(requestId, time, version, latencyMs, n, instances, encode, outputs);
      this.#rows += n;
    }
    this.metrics?.logQueueDepth.set(this.#rows);
    if (this.#rows >= this.options.flushRows) void this.flush();
  }

  /** Writes what is buffered; one write at a time (a call during a write waits for it, then writes the rest). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#rows === 0) return;
    const batches = [...this.#batches.values()];
    this.#batches = new Map();
    this.#rows = 0;
    this.metrics?.logQueueDepth.set(0);
    this.#flushing = this.#write(batches).finally(() => (this.#flushing = undefined));
    await this.#flushing;
  }

  /** Stops the timer and writes everything buffered. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
    while (this.#rows > 0 || this.#flushing) await this.flush();
    await Promise.allSettled(this.sinks.map(async ({ sink }) => sink.close?.()));
  }

  #encoder(schema: readonly FeatureSchema[]): (instance: unknown) => string {
    let encode = this.#encoders.get(schema);
    if (!encode) {
      encode = featuresEncoder(schema);
      this.#encoders.set(schema, encode);
    }
    return encode;
  }

  #batch(model: string, time: number): PredictionBatch {
    const day = Math.floor(time / 86_400_000);
    if (day !== this.#day.number) this.#day = { number: day, date: new Date(time).toISOString().slice(0, 10) };
    const key = `${model}\u0000${this.#day.date}`;
    let batch = this.#batches.get(key);
    if (!batch) {
      batch = new PredictionBatch(model, this.#day.date, this.#spare.pop());
      this.#batches.set(key, batch);
    }
    return batch;
  }

  async #write(batches: PredictionBatch[]): Promise<void> {
    // Sinks are independent: one failing drops its copy of the rows, the others still write theirs.
    for (const batch of batches) {
      await Promise.all(this.sinks.map((s) => this.#writeTo(s, batch)));
      // Every sink is done with the batch: its buffers take the next batch's rows (at most two sets are kept).
      if (this.#spare.length < 2) this.#spare.push(batch.columns);
    }
  }

  async #writeTo({ name, sink }: NamedSink, batch: PredictionBatch): Promise<void> {
    try {
      await sink.write(batch);
      this.metrics?.logWritten.inc({ sink: name }, batch.rows);
    } catch (err) {
      this.metrics?.logDropped.inc({ reason: 'sink', sink: name }, batch.rows);
      const reason = (err as Error).message.split('\n')[0];
      this.logger?.warn({ sink: name, rows: batch.rows, reason }, 'prediction log write failed; rows dropped');
    }
  }
}

/**
 * The JSON text of a validated instance's features, built from the version's schema: the keys escaped once, a known
 * category's text looked up, a number printed as JSON prints it. Validation guarantees the shape (exactly the schema's
 * fields; numbers, strings, booleans or null); anything else falls back to `JSON.stringify`. Same value as
 * `JSON.stringify(instance)`, the keys in the schema's order.
 */
export function featuresEncoder(schema: readonly FeatureSchema[]): (instance: unknown) => string {
  const names = schema.map((f) => f.name);
  const keys = names.map((n, k) => `${k === 0 ? '{' : ','}${JSON.stringify(n)}:`);
  const known = new Map<string, string>();
  for (const f of schema) for (const c of f.categories ?? []) known.set(c, JSON.stringify(c));
  return (instance) => {
    const record = instance as Record<string, unknown>;
    let text = '';
    for (let k = 0; k < names.length; k++) {
      const v = record[names[k]!];
      let value: string;
      if (v === null) value = 'null';
      else if (typeof v === 'number') value = String(v);
      else if (typeof v === 'string') value = known.get(v) ?? JSON.stringify(v);
      else if (typeof v === 'boolean') value = v ? 'true' : 'false';
      else return JSON.stringify(instance) ?? 'null';
      text += keys[k]! + value;
    }
    return names.length === 0 ? (JSON.stringify(instance) ?? 'null') : `${text}}`;
  };
}

/** Writes each batch as one Parquet file into the artifact store. */
export class ParquetPredictionSink implements PredictionSink {
  /** @param writer names this process's parts (e.g. `w2`, a cluster worker), beside the time and a random suffix. */
  constructor(
    readonly store: ArtifactStore,
    readonly writer?: string,
  ) {}

  /** The file being written; one write at a time per sink (the log writes its batches one after another). */
  readonly #file = new ColumnBytes(1024 * 1024);
  #busy: Promise<void> = Promise.resolve();

  async write(batch: PredictionBatch): Promise<void> {
    const previous = this.#busy;
    let done = () => {};
    this.#busy = new Promise<void>((resolve) => (done = resolve));
    await previous;
    try {
      await this.#write(batch);
    } finally {
      done();
    }
  }

  async #write(batch: PredictionBatch): Promise<void> {
    const first = new Date(batch.firstTime ?? Date.now()).toISOString();
    const writer = this.writer ? `${this.writer}-` : '';
    const part = `${first.replace(/[-:.]/g, '')}-${writer}${randomUUID().slice(0, 8)}`;
    await this.store.write(predictionLogPart(this.store, batch.model, batch.date, part), batch.toParquet(this.#file));
  }
}
