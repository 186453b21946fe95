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
 * - Off the event loop: a request appends typed values (`typed-rows.ts`: the codes its transform recorded, the raw
 *   output row); the Parquet file (typed columns, `prediction-batch.ts`) is made by a worker thread
 *   (`prediction-log-worker.ts`). A worker that
 *   fails counts its batch as dropped for every sink (`reason="sink"`) and is replaced at the next write.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ArtifactStore } from '../artifacts';
import { predictionLogPart, predictionLogPartKey } from '../artifacts/layout';
import { createScratch } from '../scratch';
import type { ServingMetrics } from './metrics';
import type { PredictionRow } from './prediction-batch';
import type { WorkerReply, WorkerRequest } from './prediction-log-worker';
import type { RecordedValues } from '../models/recorded-values';
import { appendRecorded, batchBuffers, newTypedBatch } from './typed-rows';
import type { LogSpec, TypedBatch } from './typed-rows';

export { batchParquet } from './prediction-batch';
export type { PredictionRow } from './prediction-batch';
export type { LogSpec } from './typed-rows';

/** A batch as the sinks get it: one model's rows of one UTC day, already written as a local Parquet file. */
export interface LoggedBatch {
  model: string;
  /** UTC day, YYYY-MM-DD. */
  date: string;
  rows: number;
  /** Epoch milliseconds of the batch's earliest row. */
  firstTime: number;
  /** Epoch milliseconds of its latest row (absent: the sink names the part by its first time only). */
  lastTime?: number;
  /** The local Parquet file (the Parquet sink moves it into the store; removed, if still there, once every sink has written). */
  file: string;
  /** The rows, for sinks that take rows (`takesRows`); empty otherwise. */
  rowList: PredictionRow[];
}

export interface PredictionSink {
  /** True when the sink reads `batch.rowList` (the rows are then decoded for it). */
  readonly takesRows?: boolean;
  /**
   * Writes one batch: one model's rows of one UTC day (`batch.model`, `batch.date`), request by request, in order. A
   * sink that fails after writing some rows throws `PartialSinkWrite`, so only the rest count as dropped.
   */
  write(batch: LoggedBatch): Promise<void>;
  /** Releases what the sink holds open; called once, after the log's last write. */
  close?(): Promise<void>;
}

export interface PredictionLogOptions {
  /** Rows buffered at most; more are dropped and counted. @default 100000 */
  capacity: number;
  /** Rows that trigger a write. @default 20000 */
  flushRows: number;
  /** Milliseconds between timed writes. @default 5000 */
  flushMs: number;
  /**
   * Where the log's worker writes its parts before the sinks take them: a scratch folder of this process under this
   * root (`src/scratch.ts`; swept by the next start on the host after a kill). Default: the OS temp folder.
   */
  scratchRoot?: string;
}

interface Warn {
  warn(obj: object, msg: string): void;
}

/** A sink's failure after it wrote the first `rowsWritten` rows of a batch (the rest are dropped and counted). */
export class PartialSinkWrite extends Error {
  constructor(
    readonly rowsWritten: number,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'PartialSinkWrite';
  }
}

/** A sink and the name its failures are counted under. */
export interface NamedSink {
  name: string;
  sink: PredictionSink;
}

export class PredictionLog {
  /** The batches being filled, by model and UTC day (one, except around midnight or with several models). */
  #batches = new Map<string, TypedBatch>();
  #rows = 0;
  /** The batch the last request went to (the usual case: the same model and day as the request before). */
  #last: { model: string; day: number; batch: TypedBatch } | undefined;
  #flushing: Promise<void> | undefined;
  readonly #timer: NodeJS.Timeout;
  readonly #writer: LogWriter;

  constructor(
    readonly sinks: NamedSink[],
    readonly options: PredictionLogOptions,
    readonly metrics?: ServingMetrics,
    readonly logger?: Warn,
  ) {
    this.#writer = new LogWriter(options.scratchRoot);
    // Read when metrics are collected, not set by every request.
    metrics?.watchLogDepth(() => this.#rows);
    this.#timer = setInterval(() => void this.flush(), options.flushMs);
    this.#timer.unref();
  }

  get depth(): number {
    return this.#rows;
  }

  /**
   * Starts the log's worker thread now rather than at the first write. The server's entry point calls it before
   * listening: a thread's start is a burst of CPU (its V8 isolate loading the writer's modules), which at the first
   * write took CPU from the requests of that moment. Idle, the thread does not keep the process alive.
   */
  startWorker(): void {
    this.#writer.start();
  }

  /** True when no row fits: a request then skips recording its values, and `record` counts its rows as dropped. */
  get full(): boolean {
    return this.#rows >= this.options.capacity;
  }

  /**
   * Buffers one answered request of `rows` instances as typed rows: `recorded`, their values as the transform of `spec`
   * (the version that answered) recorded them while validating (undefined when the log was `full` as the request
   * began); `output`, the model's raw output the response was encoded from. Never waits: rows beyond the capacity are
   * dropped and counted.
   */
  record(
    model: string,
    version: number,
    requestId: string,
    spec: LogSpec,
    rows: number,
    recorded: RecordedValues | undefined,
    output: Float32Array,
    latencyMs: number,
  ): void {
    // Rows buffered never exceed the capacity (each request adds at most what fits), so `n` is never negative.
    const n = recorded ? Math.min(this.options.capacity - this.#rows, rows) : 0;
    if (n < rows) this.metrics?.logDropped.inc({ reason: 'overflow', sink: 'all' }, rows - n);
    if (recorded && n > 0) {
      const time = Date.now();
      appendRecorded(
        this.#batch(model, time, spec.features.length),
        spec,
        { requestId, time, version, latencyMs },
        recorded,
        output,
        n,
      );
      this.#rows += n;
    }
    // One write at a time, and no pile of waiting flushes: a write that ends with a full buffer starts the next.
    if (this.#rows >= this.options.flushRows && !this.#flushing) void this.flush();
  }

  /** Writes what is buffered; one write at a time (a call during a write waits for it, then writes the rest). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#rows === 0) return;
    const batches = [...this.#batches.values()];
    this.#batches = new Map();
    this.#last = undefined;
    this.#rows = 0;
    this.#flushing = this.#write(batches).finally(() => {
      this.#flushing = undefined;
      if (this.#rows >= this.options.flushRows) void this.flush();
    });
    await this.#flushing;
  }

  /** Stops the timer, writes everything buffered and stops the worker thread. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
    while (this.#rows > 0 || this.#flushing) await this.flush();
    await this.#writer.close();
    await Promise.allSettled(this.sinks.map(async ({ sink }) => sink.close?.()));
  }

  #batch(model: string, time: number, width: number): TypedBatch {
    const day = Math.floor(time / 86_400_000);
    const last = this.#last;
    if (last && last.day === day && last.model === model) return last.batch;
    const key = `${model}\u0000${day}`;
    let batch = this.#batches.get(key);
    if (!batch) {
      const date = new Date(day * 86_400_000).toISOString().slice(0, 10);
      batch = newTypedBatch(model, date, Math.min(this.options.flushRows, this.options.capacity), width);
      this.#batches.set(key, batch);
    }
    this.#last = { model, day, batch };
    return batch;
  }

  async #write(batches: TypedBatch[]): Promise<void> {
    const wantRows = this.sinks.some(({ sink }) => sink.takesRows);
    for (const batch of batches) {
      let logged: LoggedBatch;
      try {
        logged = await this.#writer.write(batch, wantRows);
      } catch (err) {
        for (const { name } of this.sinks) this.#failed(name, batch.rows, err);
        continue;
      }
      // Sinks are independent: one failing drops its copy of the rows, the others still write theirs.
      await Promise.all(this.sinks.map((s) => this.#writeTo(s, logged)));
      await fs.promises.rm(logged.file, { force: true });
    }
  }

  async #writeTo({ name, sink }: NamedSink, batch: LoggedBatch): Promise<void> {
    try {
      await sink.write(batch);
      this.metrics?.logWritten.inc({ sink: name }, batch.rows);
    } catch (err) {
      // A sink that wrote part of the batch before failing says how much; the rest is dropped.
      const written = err instanceof PartialSinkWrite ? Math.min(batch.rows, Math.max(0, err.rowsWritten)) : 0;
      if (written > 0) this.metrics?.logWritten.inc({ sink: name }, written);
      this.#failed(name, batch.rows - written, err);
    }
  }

  #failed(sink: string, rows: number, err: unknown): void {
    this.metrics?.logDropped.inc({ reason: 'sink', sink }, rows);
    const reason = (err as Error).message.split('\n')[0];
    this.logger?.warn({ sink, rows, reason }, 'prediction log write failed; rows dropped');
  }
}

/**
 * The log's worker thread (`prediction-log-worker.ts`), started on the first write: batches go in as typed rows (their
 * arrays moved, not copied), Parquet files come out in a private temp folder. A worker that fails is replaced at the
 * next write; the batches it held are reported failed.
 */
class LogWriter {
  constructor(readonly scratchRoot?: string) {}

  #worker: Worker | undefined;
  #dir: string | undefined;
  #next = 0;
  readonly #pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();

  async write(batch: TypedBatch, wantRows: boolean): Promise<LoggedBatch> {
    this.#dir ??= this.scratchRoot
      ? await createScratch(this.scratchRoot, ['prediction-log'])
      : await fs.promises.mkdtemp(path.join(os.tmpdir(), 'mlops-predlog-'));
    const worker = this.start();
    const id = ++this.#next;
    const request: WorkerRequest = { id, batch, dir: this.#dir, wantRows };
    // Held while a batch is out, so a process that is shutting down waits for its last write; idle, it holds nothing.
    worker.ref();
    const reply = await new Promise<WorkerReply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage(request, batchBuffers(batch));
    }).finally(() => {
      if (this.#pending.size === 0) worker.unref();
    });
    if ('error' in reply) throw new Error(`the prediction log's worker could not write the batch: ${reply.error}`);
    const { model, date } = batch;
    return {
      model,
      date,
      rows: reply.rows,
      firstTime: reply.firstTime,
      lastTime: reply.lastTime,
      file: reply.file,
      rowList: reply.rowList ?? [],
    };
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
    if (this.#dir) await fs.promises.rm(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }

  /** The worker thread, started when it is not running. */
  start(): Worker {
    if (this.#worker) return this.#worker;
    const file = path.join(__dirname, `prediction-log-worker${path.extname(__filename)}`);
    // Under tsx (development, tests) the TypeScript worker runs through tsx's loader; compiled, it is plain JS.
    const execArgv = __filename.endsWith('.ts') ? ['--require', require.resolve('tsx/cjs')] : [];
    const worker = new Worker(file, { execArgv });
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      this.#pending.get(reply.id)?.resolve(reply);
      this.#pending.delete(reply.id);
    });
    const fail = (err: Error) => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the prediction log's worker exited (code ${code})`)));
    this.#worker = worker;
    return worker;
  }
}

/** Writes each batch's Parquet file into the artifact store (moved there when the store is a local folder). */
export class ParquetPredictionSink implements PredictionSink {
  /** @param writer names this process's parts (e.g. `w2`, a cluster worker), beside the time and a random suffix. */
  constructor(
    readonly store: ArtifactStore,
    readonly writer?: string,
  ) {}

  async write(batch: LoggedBatch): Promise<void> {
    const tail = `${this.writer ? `${this.writer}-` : ''}${randomUUID().slice(0, 8)}`;
    const part = predictionLogPartKey(batch.firstTime, batch.lastTime, tail);
    await this.store.adopt(batch.file, predictionLogPart(this.store, batch.model, batch.date, part));
  }
}
