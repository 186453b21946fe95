/**
 * The prediction log's worker thread: writes a batch of typed rows (`typed-rows.ts`) as a Parquet file in a local
 * folder (`prediction-batch.ts`), off the server's event loop, and makes the rows' JSON text when a sink takes rows.
 * Replies with the file's path (and the rows), or with the error. Started by `PredictionLog`; holds no client, so the
 * sinks stay on the main thread.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { ColumnPool, batchParquet, batchRows } from './prediction-batch';
import type { PredictionRow } from './prediction-batch';
import { ColumnBytes } from './parquet-file';
import { batchSpan } from './typed-rows';
import type { TypedBatch } from './typed-rows';

export interface WorkerRequest {
  id: number;
  batch: TypedBatch;
  /** Folder the Parquet file is written into. */
  dir: string;
  wantRows: boolean;
}

export type WorkerReply =
  | { id: number; file: string; rows: number; firstTime: number; lastTime: number; rowList?: PredictionRow[] }
  | { id: number; error: string };

/** Reused from batch to batch. */
const pool = new ColumnPool();
const file = new ColumnBytes(1024 * 1024);
let written = 0;

export function writeBatch(request: WorkerRequest): WorkerReply {
  const { batch, dir, id } = request;
  const target = path.join(dir, `part-${process.pid}-${++written}.parquet`);
  fs.writeFileSync(target, batchParquet(batch, pool, file));
  const span = batchSpan(batch);
  return { id, file: target, rows: batch.rows, ...span, rowList: request.wantRows ? batchRows(batch) : undefined };
}

parentPort?.on('message', (request: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    reply = writeBatch(request);
  } catch (err) {
    reply = { id: request.id, error: (err as Error).message };
  }
  parentPort!.postMessage(reply);
});
