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
 * (`mlops_serve_swaps_total{outcome="failed"}`) and shown by /readyz until a later change loads.
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
  at: string;
}

interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export type SyncOutcome = 'unchanged' | 'swapped' | 'failed';

export class DeploymentFollower {
  lastFailure: SwapFailure | undefined;
  #running: Promise<SyncOutcome> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly store: ArtifactStore,
    readonly slot: ModelSlot,
    readonly alias: string,
    readonly metrics: ServingMetrics,
    readonly logger?: Logger,
  ) {}

  /** Polls every `pollMs` (0: never). */
  start(pollMs: number): void {
    if (pollMs <= 0) return;
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

  /** Records a change not (wholly) applied: kept until a later change applies, counted and logged. */
  private failed(record: DeploymentRecord, message: string, logMessage: string): SyncOutcome {
    this.lastFailure = { record, message, at: new Date().toISOString() };
    this.metrics.swaps.inc({ model: this.slot.modelName, outcome: 'failed' });
    this.logger?.warn({ record, reason: message }, logMessage);
    return 'failed';
  }

  async #sync(): Promise<SyncOutcome> {
    const model = this.slot.modelName;
    const record = await readDeployment(this.store, model, this.alias);
    if (!record) {
      if (this.slot.current) return 'unchanged';
      throw mlopsError('MLOPS_ERR_REGISTRY_NOT_FOUND', { model, what: `alias "${this.alias}"` });
    }
    const now = this.slot.routing;
    if (now.stable === record.stable && sameCanary(now.canary, record.canary)) return 'unchanged';
    if (this.lastFailure && sameRecord(this.lastFailure.record, record)) return 'failed';
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
    this.lastFailure = undefined;
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
