/**
 * What a running step (an activity) lends the Temporal-free code it calls: an abort signal that fires when the step is
 * cancelled or its worker shuts down, a sink for progress (sent on with the step's heartbeats), and the step attempt's
 * own scratch folder. Activities set it with {@link runStep}; domain code reads it where it starts long work (a DuckDB
 * query, a download, a BigQuery job) and works unchanged without one (tests, scripts, the benchmarks).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface StepContext {
  signal: AbortSignal;
  /** Merges `details` into the progress the next heartbeat carries. */
  progress: (details: Record<string, unknown>) => void;
  /** A folder only this attempt writes temporary files to; removed when the attempt ends, swept if its worker dies. */
  scratchDir: string;
}

const storage = new AsyncLocalStorage<StepContext>();

export function runStep<T>(context: StepContext, fn: () => Promise<T>): Promise<T> {
  return storage.run(context, fn);
}

/** The running step's abort signal, if any. */
export function stepSignal(): AbortSignal | undefined {
  return storage.getStore()?.signal;
}

/** Reports progress of the running step (e.g. `{ bytesRead }`); a no-op outside a step. */
export function reportProgress(details: Record<string, unknown>): void {
  storage.getStore()?.progress(details);
}

/** Throws the signal's reason when the running step was cancelled; call between long stages. */
export function throwIfCancelled(): void {
  stepSignal()?.throwIfAborted();
}

/** The running step attempt's scratch folder, if any. */
export function stepScratchDir(): string | undefined {
  return storage.getStore()?.scratchDir;
}

/** A new temporary folder, inside the running step's scratch folder (or the OS temp folder outside a step). */
export function makeTempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(storage.getStore()?.scratchDir ?? os.tmpdir(), prefix));
}

/**
 * Stops waiting for `work` when the running step is cancelled (rejecting with the signal's reason). For calls that
 * cannot be aborted themselves, e.g. a BigQuery `jobs.query` call (whose job the caller then cancels on its own).
 */
export function abortable<T>(work: Promise<T>): Promise<T> {
  const signal = stepSignal();
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason as Error);
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}
