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
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ArtifactStore } from '../artifacts';
import { predictionLogPart } from '../artifacts/layout';
import { literal, withDuckDb } from '../warehouse/duckdb';
import type { DuckDb } from '../warehouse/duckdb';
import type { ServingMetrics } from './metrics';

export interface PredictionRow {
  request_id: string;
  /** ISO time the prediction was made. */
  ts: string;
  model: string;
  version: number;
  /** Position of the instance in its request. */
  instance: number;
  features: unknown;
  output: unknown;
  latency_ms: number;
}

export interface PredictionSink {
  /** Writes one batch of one model's rows of one UTC day. */
  write(model: string, date: string, rows: PredictionRow[]): Promise<void>;
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
  #queue: PredictionRow[] = [];
  #flushing: Promise<void> | undefined;
  readonly #timer: NodeJS.Timeout;

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
    return this.#queue.length;
  }

  record(
    model: string,
    version: number,
    requestId: string,
    instances: readonly unknown[],
    outputs: readonly unknown[],
    latencyMs: number,
  ): void {
    const room = this.options.capacity - this.#queue.length;
    const ts = new Date().toISOString();
    const n = Math.min(room, instances.length);
    for (let i = 0; i < n; i++) {
      this.#queue.push({
        request_id: requestId,
        ts,
        model,
        version,
        instance: i,
        features: instances[i],
        output: outputs[i],
        latency_ms: latencyMs,
      });
    }
    if (n < instances.length) this.metrics?.logDropped.inc({ reason: 'overflow', sink: 'all' }, instances.length - n);
    this.metrics?.logQueueDepth.set(this.#queue.length);
    if (this.#queue.length >= this.options.flushRows) void this.flush();
  }

  /** Writes what is buffered; one write at a time (a call during a write waits for it, then writes the rest). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    this.metrics?.logQueueDepth.set(0);
    this.#flushing = this.#write(batch).finally(() => (this.#flushing = undefined));
    await this.#flushing;
  }

  /** Stops the timer and writes everything buffered. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
    while (this.#queue.length > 0 || this.#flushing) await this.flush();
    await Promise.allSettled(this.sinks.map(async ({ sink }) => sink.close?.()));
  }

  async #write(batch: PredictionRow[]): Promise<void> {
    const groups = new Map<string, PredictionRow[]>();
    for (const row of batch) {
      const key = `${row.model}\u0000${row.ts.slice(0, 10)}`;
      const rows = groups.get(key) ?? [];
      rows.push(row);
      groups.set(key, rows);
    }
    for (const [key, rows] of groups) {
      const [model, date] = key.split('\u0000') as [string, string];
      // Sinks are independent: one failing drops its copy of the rows, the others still write theirs.
      await Promise.all(this.sinks.map((s) => this.#writeTo(s, model, date, rows)));
    }
  }

  async #writeTo({ name, sink }: NamedSink, model: string, date: string, rows: PredictionRow[]): Promise<void> {
    try {
      await sink.write(model, date, rows);
      this.metrics?.logWritten.inc({ sink: name }, rows.length);
    } catch (err) {
      this.metrics?.logDropped.inc({ reason: 'sink', sink: name }, rows.length);
      const reason = (err as Error).message.split('\n')[0];
      this.logger?.warn({ sink: name, rows: rows.length, reason }, 'prediction log write failed; rows dropped');
    }
  }
}

/** Rows serialized per turn of the event loop, so a large batch does not hold requests back while it is encoded. */
const rowsPerTurn = 1000;

/**
 * One NDJSON line per row. The fields of a request (id, time, model, version, latency) are the same for all its rows
 * and come one after another, so their JSON is built once per request, not once per row; only the features and the
 * output are serialized per row. Same text as `JSON.stringify(row)` with the keys in the columns' order.
 */
function encodeRows(rows: PredictionRow[], start: number, end: number): string {
  let text = '';
  let head = '';
  let tail = '';
  let last: PredictionRow | undefined;
  for (let i = start; i < end; i++) {
    const r = rows[i]!;
    if (
      !last ||
      r.request_id !== last.request_id ||
      r.ts !== last.ts ||
      r.version !== last.version ||
      r.model !== last.model ||
      r.latency_ms !== last.latency_ms
    ) {
      head = `{"request_id":${JSON.stringify(r.request_id)},"ts":${JSON.stringify(r.ts)},"model":${JSON.stringify(r.model)},"version":${JSON.stringify(r.version)},"instance":`;
      tail = `,"latency_ms":${JSON.stringify(r.latency_ms)}}\n`;
      last = r;
    }
    text += `${head}${r.instance},"features":${JSON.stringify(r.features) ?? 'null'},"output":${JSON.stringify(r.output) ?? 'null'}${tail}`;
  }
  return text;
}

async function writeNdjson(file: string, rows: PredictionRow[]): Promise<void> {
  const handle = await fs.open(file, 'w');
  try {
    for (let start = 0; start < rows.length; start += rowsPerTurn) {
      await handle.write(encodeRows(rows, start, Math.min(rows.length, start + rowsPerTurn)));
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    await handle.close();
  }
}

/** Writes each batch as one Parquet file (through DuckDB) into the artifact store. */
export class ParquetPredictionSink implements PredictionSink {
  /**
   * One single-threaded in-memory DuckDB for the sink's life (opened at the first write, closed by `close`): opening
   * one per write cost about 9 ms of CPU, as much as converting the 5000 rows of a default flush.
   */
  #duckdb: { db: Promise<DuckDb>; release: () => void; closed: Promise<void> } | undefined;

  /** @param writer names this process's parts (e.g. `w2`, a cluster worker), beside the time and a random suffix. */
  constructor(
    readonly store: ArtifactStore,
    readonly writer?: string,
  ) {}

  async write(model: string, date: string, rows: PredictionRow[]): Promise<void> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-predlog-'));
    try {
      const input = path.join(dir, 'rows.ndjson');
      const output = path.join(dir, 'part.parquet');
      await writeNdjson(input, rows);
      const db = await this.#open();
      await db.run(
        `COPY (SELECT * FROM read_json(${literal(input)}, format = 'newline_delimited', columns = {request_id: 'VARCHAR', ts: 'TIMESTAMPTZ', model: 'VARCHAR', version: 'INTEGER', instance: 'INTEGER', features: 'JSON', output: 'JSON', latency_ms: 'DOUBLE'})) TO ${literal(output)} (FORMAT parquet)`,
      );
      const writer = this.writer ? `${this.writer}-` : '';
      const part = `${rows[0]!.ts.replace(/[-:.]/g, '')}-${writer}${randomUUID().slice(0, 8)}`;
      await this.store.upload(output, predictionLogPart(this.store, model, date, part));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    const held = this.#duckdb;
    this.#duckdb = undefined;
    held?.release();
    await held?.closed;
  }

  /** The sink's DuckDB; a failed open is not kept, so the next write tries again. */
  #open(): Promise<DuckDb> {
    if (this.#duckdb) return this.#duckdb.db;
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let opened = (_db: DuckDb) => {};
    const db = new Promise<DuckDb>((resolve) => (opened = resolve));
    const closed = withDuckDb(
      async (d) => {
        opened(d);
        await held;
      },
      { threads: 1 },
    );
    const entry = { db: Promise.race([db, closed.then(() => db)]), release, closed: closed.catch(() => undefined) };
    this.#duckdb = entry;
    closed.catch(() => {
      if (this.#duckdb === entry) this.#duckdb = undefined;
    });
    return entry.db;
  }
}
