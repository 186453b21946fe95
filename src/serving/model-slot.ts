/**
 * The model versions a server holds and the routing table requests follow: a stable version and, optionally, a canary
 * taking a fraction of the requests. A request pins the version it was routed to (`use`), so it finishes on that
 * session even if the table changes meanwhile; the table is replaced in one assignment (`route`); a version that
 * leaves the table is released only once its last pinned request is done (drain, then `close`).
 */
import { createHash } from 'node:crypto';
import type { ModelVersionRecord } from '../registry/model-registry';
import type { Predictor } from '../models/predictor';

export interface LoadedVersion {
  readonly version: number;
  readonly record: ModelVersionRecord;
  readonly predictor: Predictor;
}

export interface Routing {
  stable: LoadedVersion;
  canary?: { loaded: LoadedVersion; weight: number };
}

interface Held {
  loaded: LoadedVersion;
  inFlight: number;
  retired: boolean;
  released?: Promise<void>;
}

interface Table {
  stable: Held;
  canary?: { held: Held; weight: number };
}

export class ModelSlot {
  #table: Table | undefined;
  readonly #held = new Map<LoadedVersion, Held>();

  constructor(readonly modelName: string) {}

  /** The version that takes the traffic outside the canary. */
  get current(): LoadedVersion | undefined {
    return this.#table?.stable.loaded;
  }

  get routing(): { stable?: number; canary?: { version: number; weight: number } } {
    const t = this.#table;
    return {
      stable: t?.stable.loaded.version,
      canary: t?.canary && { version: t.canary.held.loaded.version, weight: t.canary.weight },
    };
  }

  /** The loaded session of `version`, if it is in the table. */
  find(version: number): LoadedVersion | undefined {
    const t = this.#table;
    if (t?.stable.loaded.version === version) return t.stable.loaded;
    return t?.canary?.held.loaded.version === version ? t.canary.held.loaded : undefined;
  }

  /** The version a request with this id is routed to: the canary for a `weight` share of ids, stable otherwise. */
  pick(requestId: string): LoadedVersion | undefined {
    const t = this.#table;
    if (!t) return undefined;
    if (t.canary && bucket(requestId) < t.canary.weight) return t.canary.held.loaded;
    return t.stable.loaded;
  }

  /** Runs `fn` on `loaded` (from `pick` or `find`), pinned for its whole duration. */
  async use<T>(loaded: LoadedVersion, fn: (loaded: LoadedVersion) => Promise<T>): Promise<T> {
    const held = this.#held.get(loaded);
    if (!held || held.released) throw new Error(`version ${loaded.version} of ${this.modelName} is not loaded`);
    held.inFlight++;
    try {
      return await fn(loaded);
    } finally {
      held.inFlight--;
      if (held.retired && held.inFlight === 0) void this.#release(held);
    }
  }

  /** Replaces the routing table in one step; versions that leave it are released once their requests drain. */
  route(routing: Routing): void {
    const previous = this.#table;
    this.#table = {
      stable: this.#hold(routing.stable),
      canary: routing.canary && { held: this.#hold(routing.canary.loaded), weight: routing.canary.weight },
    };
    const kept = new Set([routing.stable, routing.canary?.loaded]);
    for (const held of [previous?.stable, previous?.canary?.held]) {
      if (!held || kept.has(held.loaded)) continue;
      held.retired = true;
      if (held.inFlight === 0) void this.#release(held);
    }
  }

  /** Sessions held, including swapped-out ones still draining. */
  get sessions(): number {
    return this.#held.size;
  }

  /** Releases every session, waiting for versions still draining. */
  async close(): Promise<void> {
    this.#table = undefined;
    await Promise.all([...this.#held.values()].map((h) => this.#release(h)));
  }

  #hold(loaded: LoadedVersion): Held {
    let held = this.#held.get(loaded);
    if (!held) {
      held = { loaded, inFlight: 0, retired: false };
      this.#held.set(loaded, held);
    }
    return held;
  }

  #release(held: Held): Promise<void> {
    held.released ??= held.loaded.predictor.close().finally(() => this.#held.delete(held.loaded));
    return held.released;
  }
}

/**
 * A request id's position in [0, 1): the first 32 bits of its SHA-256, so the same id always lands on the same side
 * of a canary split and ids spread evenly (FNV-1a with a final mix was measurably uneven on sequential ids).
 */
export function bucket(requestId: string): number {
  return createHash('sha256').update(requestId).digest().readUInt32BE(0) / 4294967296;
}
