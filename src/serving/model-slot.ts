/**
 * The model versions a server holds, and the pointer requests follow. A request pins the version it started on
 * (`use`), so it finishes on that session even if a swap happens meanwhile; a version that is swapped out is released
 * only once its last pinned request is done (drain, then `close`).
 */
import type { ModelVersionRecord } from '../registry/model-registry';
import type { Predictor } from '../models/predictor';

export interface LoadedVersion {
  readonly version: number;
  readonly record: ModelVersionRecord;
  readonly predictor: Predictor;
}

interface Held {
  loaded: LoadedVersion;
  inFlight: number;
  retired: boolean;
  released?: Promise<void>;
}

export class ModelSlot {
  #current: Held | undefined;
  readonly #retiring = new Set<Held>();

  constructor(readonly modelName: string) {}

  get current(): LoadedVersion | undefined {
    return this.#current?.loaded;
  }

  /** Runs `fn` on the current version, pinned for its whole duration. */
  async use<T>(fn: (loaded: LoadedVersion) => Promise<T>): Promise<T> {
    const held = this.#current;
    if (!held) throw new Error(`no version of ${this.modelName} is loaded`);
    held.inFlight++;
    try {
      return await fn(held.loaded);
    } finally {
      held.inFlight--;
      if (held.retired && held.inFlight === 0) void this.#release(held);
    }
  }

  /** Makes `next` current in one step; the previous version is released once its requests drain. */
  swap(next: LoadedVersion): void {
    const previous = this.#current;
    this.#current = { loaded: next, inFlight: 0, retired: false };
    if (!previous) return;
    previous.retired = true;
    this.#retiring.add(previous);
    if (previous.inFlight === 0) void this.#release(previous);
  }

  /** Versions swapped out whose requests have not all finished yet. */
  get draining(): number {
    return [...this.#retiring].filter((h) => h.inFlight > 0).length;
  }

  /** Releases every session, waiting for swapped-out versions to finish releasing. */
  async close(): Promise<void> {
    const current = this.#current;
    this.#current = undefined;
    if (current) {
      current.retired = true;
      this.#retiring.add(current);
    }
    await Promise.all([...this.#retiring].map((h) => this.#release(h)));
  }

  #release(held: Held): Promise<void> {
    held.released ??= held.loaded.predictor.close().finally(() => this.#retiring.delete(held));
    return held.released;
  }
}
