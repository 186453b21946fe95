/**
 * Keeps a server on the deployment its registry record names. The server polls the record (every `pollMs`, default
 * 2 s; the record is one small JSON read) rather than waiting for a notification, so any number of servers follow one
 * deploy step without it knowing where they run, and a server that missed a change catches up on its next poll.
 *
 * A change is applied only after every version it needs is loaded and probed (one zero row through onnxruntime);
 * then the routing table is replaced in one assignment. If the stable version fails to load, the old table keeps
 * serving. If only the canary fails, the stable version serves every request (a canary that cannot load must not keep a
 * server from starting, nor a healthy stable version from serving); its stats then show no canary, which rolls the
 * canary back (src/contracts/canary-verdict.ts). Either failure is logged, counted
 * (`mlops_serve_swaps_total{outcome="failed"}`), flagged (`mlops_serve_deployment_failing` 1) and shown by /readyz.
 * A failure may be transient (the artifact store briefly down, a file not yet uploaded), so the same record is loaded
 * again on later polls, after a backoff that doubles from the poll interval up to `maxRetryMs` (5 min); a change of the
 * record is tried at once. The failure stays shown until a retry or a later change loads.
 * One sync runs at a time (a poll that finds one running skips), so a version is never loaded twice at once.
 */
import type { ArtifactStore } from '../artifacts';
import { readDeployment } from '../models/deployment-record';
import type { DeploymentRecord } from '../models/deployment-record';
import { readVersion } from '../registry/model-registry';
import { mlopsError } from '../errors';
import { loadVersion } from './load-version';
import type { ServingMetrics } from './metrics';
import type { LoadedVersion, ModelSlot } from './model-slot';

export interface SwapFailure {
  record: DeploymentRecord;
  message: string;
  /** When the last attempt failed (ISO 8601). */
  at: string;
  /** Failed attempts to load this record, the first included. */
  attempts: number;
  /** The earliest time the next poll loads the record again (ISO 8601). */
  nextRetryAt: string;
}

/** The longest wait between two retries of a record that fails to load, in milliseconds. */
export const maxRetryMs = 5 * 60_000;
/** The first wait before a retry when the follower does not poll (`start(0)`; `sync()` is called by hand). */
const defaultPollMs = 2000;

interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export type SyncOutcome = 'unchanged' | 'swapped' | 'failed';

export class DeploymentFollower {
  lastFailure: SwapFailure | undefined;
  #running: Promise<SyncOutcome> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #pollMs = defaultPollMs;

  constructor(
    readonly store: ArtifactStore,
    readonly slot: ModelSlot,
    readonly alias: string,
    readonly metrics: ServingMetrics,
    readonly logger?: Logger,
  ) {
    metrics.deploymentFailing.set({ model: slot.modelName }, 0);
  }

  /** Polls every `pollMs` (0: never). */
  start(pollMs: number): void {
    if (pollMs <= 0) return;
    this.#pollMs = pollMs;
    this.#timer = setInterval(() => {
      if (!this.#running) void this.sync().catch(() => undefined);
    }, pollMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Reads the record and applies it; waits for a sync already running, then runs its own. */
  async sync(): Promise<SyncOutcome> {
    while (this.#running) await this.#running.catch(() => undefined);
    this.#running = this.#sync();
    try {
      return await this.#running;
    } finally {
      this.#running = undefined;
    }
  }

  /**
   * Records a change not (wholly) applied: counted, logged and kept until a retry or a later change applies. The next
   * retry of the same record waits twice as long as the last one, from the poll interval up to `maxRetryMs`.
   */
  private failed(record: DeploymentRecord, message: string, logMessage: string): SyncOutcome {
    const attempts =
      this.lastFailure && sameRecord(this.lastFailure.record, record) ? this.lastFailure.attempts + 1 : 1;
    const waitMs = Math.min(this.#pollMs * 2 ** (attempts - 1), maxRetryMs);
    const now = Date.now();
    const nextRetryAt = new Date(now + waitMs).toISOString();
    this.lastFailure = { record, message, at: new Date(now).toISOString(), attempts, nextRetryAt };
    this.metrics.swaps.inc({ model: this.slot.modelName, outcome: 'failed' });
    this.metrics.deploymentFailing.set({ model: this.slot.modelName }, 1);
    this.logger?.warn({ record, reason: message, attempts, nextRetryAt }, logMessage);
    return 'failed';
  }

  /** The record is applied (loaded now, or served already): no failure stands. */
  private cleared(): void {
    this.lastFailure = undefined;
    this.metrics.deploymentFailing.set({ model: this.slot.modelName }, 0);
  }

  async #sync(): Promise<SyncOutcome> {
    const model = this.slot.modelName;
    const record = await readDeployment(this.store, model, this.alias);
    if (!record) {
      if (this.slot.current) return 'unchanged';
      throw mlopsError('MLOPS_ERR_REGISTRY_NOT_FOUND', { model, what: `alias "${this.alias}"`, root: this.store.root });
    }
    const now = this.slot.routing;
    if (now.stable === record.stable && sameCanary(now.canary, record.canary)) {
      // Served already: also when the record went back to what serves after a failed change.
      if (this.lastFailure) this.cleared();
      return 'unchanged';
    }
    const failure = this.lastFailure;
    if (failure && sameRecord(failure.record, record) && Date.now() < Date.parse(failure.nextRetryAt)) return 'failed';
    const fresh: LoadedVersion[] = [];
    try {
      checkRecord(record, model);
      const load = async (version: number) => {
        const held = this.slot.find(version);
        if (held) return held;
        const loaded = await loadVersion(this.store, await readVersion(this.store, model, version), true);
        fresh.push(loaded);
        return loaded;
      };
      const stable = await load(record.stable);
      let canary: { loaded: LoadedVersion; weight: number } | undefined;
      if (record.canary) {
        try {
          canary = { loaded: await load(record.canary.version), weight: record.canary.weight };
        } catch (err) {
          this.slot.route({ stable });
          const reason = `canary v${record.canary.version} could not be loaded, so v${record.stable} answers every request: ${firstLine(err)}`;
          return this.failed(record, reason, 'the canary is not served; the stable version serves alone');
        }
      }
      this.slot.route({ stable, canary });
    } catch (err) {
      await Promise.all(fresh.map((l) => l.predictor.close()));
      if (!this.slot.current) throw err;
      return this.failed(record, firstLine(err), 'deployment change not applied; the previous versions keep serving');
    }
    this.cleared();
    this.metrics.swaps.inc({ model, outcome: 'ok' });
    this.logger?.info({ routing: this.slot.routing }, 'now serving');
    return 'swapped';
  }
}

function firstLine(err: unknown): string {
  return (err as Error).message.split('\n')[0]!;
}

function checkRecord(record: DeploymentRecord, model: string): void {
  const c = record.canary;
  if (
    !Number.isSafeInteger(record.stable) ||
    (c && (!Number.isSafeInteger(c.version) || !(c.weight >= 0 && c.weight <= 1)))
  )
    throw mlopsError('MLOPS_ERR_SERVE_DEPLOYMENT_INVALID', {
      model,
      problem: `${JSON.stringify(record).slice(0, 200)}: versions must be integers and the canary weight within 0..1`,
    });
}

function sameCanary(a?: { version: number; weight: number }, b?: { version: number; weight: number }): boolean {
  return a?.version === b?.version && a?.weight === b?.weight;
}

function sameRecord(a: DeploymentRecord, b: DeploymentRecord): boolean {
  return a.stable === b.stable && sameCanary(a.canary, b.canary) && a.updatedAt === b.updatedAt;
}
