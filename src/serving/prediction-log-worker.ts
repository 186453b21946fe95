/**
 * The prediction log's worker thread: turns a batch of typed rows (`typed-rows.ts`) into JSON text and a Parquet file
 * in a local folder, off the server's event loop. Replies with the file's path (and the rows, when a sink takes rows),
 * or with the error. Started by `PredictionLog`; holds no client, so the sinks stay on the main thread.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { BatchColumns, PredictionBatch } from './prediction-batch';
import type { PredictionRow } from './prediction-batch';
import { ColumnBytes } from './parquet-file';
import { featuresText, outputsText } from './typed-rows';
import type { LogSpec, TypedBatch } from './typed-rows';

export interface WorkerRequest {
  id: number;
  batch: TypedBatch;
  /** Folder the Parquet file is written into. */
  dir: string;
  wantRows: boolean;
}

export type WorkerReply =
  | { id: number; file: string; rows: number; firstTime: number; rowList?: PredictionRow[] }
  | { id: number; error: string };

interface Codec {
  spec: LogSpec;
  features: ReturnType<typeof featuresText>;
  outputs: ReturnType<typeof outputsText>;
}

/** Reused from batch to batch. */
const columns = new BatchColumns();
const file = new ColumnBytes(1024 * 1024);
let written = 0;

export function writeBatch(request: WorkerRequest): WorkerReply {
  const { batch, dir, id } = request;
  const built = new PredictionBatch(batch.model, batch.date, columns);
  const specs = new Map<number, Codec>();
  for (const [version, spec] of batch.specs)
    specs.set(version, { spec, features: featuresText(spec.features), outputs: outputsText(spec) });
  const whole = new Map(batch.wholeRows);
  let side = 0;
  const nextSide = () => batch.side[side++] ?? 'null';
  let row = 0;
  let valueAt = 0;
  let outputAt = 0;
  for (let r = 0; r < batch.requestIds.length; r++) {
    const { spec, features, outputs: encodeOutputs } = specs.get(batch.versions[r]!)!;
    const count = batch.counts[r]!;
    const width = spec.features.length;
    const texts: string[] = new Array<string>(count);
    for (let i = 0; i < count; i++) {
      texts[i] = whole.get(row + i) ?? features(batch.values, valueAt + i * width, nextSide);
    }
    const n = count * spec.outputWidth;
    const outputs = encodeOutputs(batch.outputs.subarray(outputAt, outputAt + n), count);
    const time = batch.times[r]!;
    built.append(batch.requestIds[r]!, time, batch.versions[r]!, batch.latencies[r]!, count, texts, same, outputs);
    row += count;
    valueAt += count * width;
    outputAt += n;
  }
  const target = path.join(dir, `part-${process.pid}-${++written}.parquet`);
  fs.writeFileSync(target, built.toParquet(file));
  const firstTime = built.firstTime ?? Date.now();
  return { id, file: target, rows: built.rows, firstTime, rowList: request.wantRows ? built.toRows() : undefined };
}

const same = (text: unknown) => text as string;

parentPort?.on('message', (request: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    reply = writeBatch(request);
  } catch (err) {
    reply = { id: request.id, error: (err as Error).message };
  }
  parentPort!.postMessage(reply);
});
