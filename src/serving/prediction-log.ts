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
import type { FeatureSchema } from '../models/predictor';
import type { ServingMetrics } from './metrics';

/**
 * One request's rows of the log, as the request path hands them over: no object per row, the features and outputs
 * already JSON text (the outputs are the text the response was built from).
 */
export interface LoggedRequest {
  requestId: string;
  /** Epoch milliseconds the prediction was made. */
  time: number;
  model: string;
  version: number;
  latencyMs: number;
  /** Per instance, in request order: its raw features as JSON text (a row's `instance` is its position here). */
  features: string[];
  /** Per instance: the prediction as JSON text. */
  outputs: string[];
}

export interface PredictionSink {
  /** Writes one batch of one model's rows of one UTC day (request by request, each request's rows in order). */
  write(model: string, date: string, requests: LoggedRequest[]): Promise<void>;
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
  #queue: LoggedRequest[] = [];
  #rows = 0;
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
      const features = new Array<string>(n);
      for (let i = 0; i < n; i++) features[i] = encode(instances[i]);
      const time = Date.now();
      this.#queue.push({ requestId, time, model, version, latencyMs, features, outputs: outputs.slice(0, n) });
      this.#rows += n;
    }
    this.metrics?.logQueueDepth.set(this.#rows);
    if (this.#rows >= this.options.flushRows) void this.flush();
  }

  /** Writes what is buffered; one write at a time (a call during a write waits for it, then writes the rest). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    this.#rows = 0;
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

  #encoder(schema: readonly FeatureSchema[]): (instance: unknown) => string {
    let encode = this.#encoders.get(schema);
    if (!encode) {
      encode = featuresEncoder(schema);
      this.#encoders.set(schema, encode);
    }
    return encode;
  }

  async #write(batch: LoggedRequest[]): Promise<void> {
    const groups = new Map<string, LoggedRequest[]>();
    for (const request of batch) {
      const key = `${request.model}\u0000${utcDate(request.time)}`;
      const requests = groups.get(key) ?? [];
      requests.push(request);
      groups.set(key, requests);
    }
    for (const [key, requests] of groups) {
      const [model, date] = key.split('\u0000') as [string, string];
      // Sinks are independent: one failing drops its copy of the rows, the others still write theirs.
      await Promise.all(this.sinks.map((s) => this.#writeTo(s, model, date, requests)));
    }
  }

  async #writeTo({ name, sink }: NamedSink, model: string, date: string, requests: LoggedRequest[]): Promise<void> {
    const rows = countRows(requests);
    try {
      await sink.write(model, date, requests);
      this.metrics?.logWritten.inc({ sink: name }, rows);
    } catch (err) {
      this.metrics?.logDropped.inc({ reason: 'sink', sink: name }, rows);
      const reason = (err as Error).message.split('\n')[0];
      this.logger?.warn({ sink: name, rows, reason }, 'prediction log write failed; rows dropped');
    }
  }
}

export const countRows = (requests: readonly LoggedRequest[]): number =>
  requests.reduce((n, r) => n + r.features.length, 0);

const utcDate = (time: number): string => new Date(time).toISOString().slice(0, 10);

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

/** Requests serialized per turn of the event loop, so a large batch does not hold requests back while it is encoded. */
const requestsPerTurn = 200;

/**
 * One NDJSON line per row, with the keys in the columns' order. The fields of a request (id, time, model, version,
 * latency) are the same for all its rows, so their JSON is built once per request; features and outputs are already
 * JSON text.
 */
function encodeRequests(requests: LoggedRequest[], start: number, end: number): string {
  let text = '';
  for (let r = start; r < end; r++) {
    const q = requests[r]!;
    const ts = new Date(q.time).toISOString();
    const head = `{"request_id":${JSON.stringify(q.requestId)},"ts":"${ts}","model":${JSON.stringify(q.model)},"version":${q.version},"instance":`;
    const tail = `,"latency_ms":${JSON.stringify(q.latencyMs)}}\n`;
    for (let i = 0; i < q.features.length; i++)
      text += `${head}${i},"features":${q.features[i]},"output":${q.outputs[i]}${tail}`;
  }
  return text;
}

async function writeNdjson(file: string, requests: LoggedRequest[]): Promise<void> {
  const handle = await fs.open(file, 'w');
  try {
    for (let start = 0; start < requests.length; start += requestsPerTurn) {
      await handle.write(encodeRequests(requests, start, Math.min(requests.length, start + requestsPerTurn)));
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

  async write(model: string, date: string, requests: LoggedRequest[]): Promise<void> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-predlog-'));
    try {
      const input = path.join(dir, 'rows.ndjson');
      const output = path.join(dir, 'part.parquet');
      await writeNdjson(input, requests);
      const db = await this.#open();
      await db.run(
        `COPY (SELECT * FROM read_json(${literal(input)}, format = 'newline_delimited', columns = {request_id: 'VARCHAR', ts: 'TIMESTAMPTZ', model: 'VARCHAR', version: 'INTEGER', instance: 'INTEGER', features: 'JSON', output: 'JSON', latency_ms: 'DOUBLE'})) TO ${literal(output)} (FORMAT parquet)`,
      );
      const writer = this.writer ? `${this.writer}-` : '';
      const first = new Date(requests[0]!.time).toISOString();
      const part = `${first.replace(/[-:.]/g, '')}-${writer}${randomUUID().slice(0, 8)}`;
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
