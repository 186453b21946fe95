/**
 * The registry's deployment history: one JSON entry per change of a model's deployment record (who moved what, when
 * and why), under `registry/<model>/history/`. Entries are numbered and each number is claimed by an exclusive
 * create, as registry versions are, so concurrent writers never overwrite each other and an entry never changes.
 */
import type { ArtifactStore } from '../artifacts';
import { readJson } from '../artifacts';
import {
  deploymentHistoryEntry,
  deploymentHistoryFolder,
  deploymentHistorySeq,
  trainingRunsFolder,
  workflowIdOfRun,
} from '../artifacts/layout';
import { retrainAttemptOf } from '../contracts/controller';

export interface DeploymentState {
  stable: number;
  canary?: { version: number; weight: number };
}

export interface DeploymentHistoryEntry extends DeploymentState {
  /** Position in the model's history, from 1. */
  seq: number;
  /** ISO time of the change. */
  at: string;
  modelName: string;
  alias: string;
  /** What the alias served before; absent for its first deployment. */
  previous?: DeploymentState;
  reason: string;
  /** Who moved it (the controller's workflow id, or a person's name from the CLI). */
  actor: string;
  /** The version this move rolled back for what the model did; absent in entries written before it was recorded. */
  rolledBack?: { version: number; reason: string };
}

/** What one alias's history says a controller must not forget when it starts again. */
export interface DeploymentMemory {
  /** Versions rolled back for what the model did and not made stable since, oldest first. */
  rolledBack: { version: number; at: string; reason: string }[];
  /** The version the stable one replaced, where a rollback goes back to; absent when it was rolled back itself. */
  previousStable?: number;
  /**
   * The highest attempt number of the model's retraining children that left a training run in the store
   * (`runs/<model>/retrain-<model>-<n>/`), so a controller started again numbers its retrains on from it; absent when
   * none did.
   */
  retrainAttempts?: number;
}

/**
 * Replays one alias's entries (oldest first) the way the controller keeps its state: a rollback remembers its version
 * until it is made stable again, and a version rolled back is no longer where a next rollback goes.
 */
export function recallDeploymentMemory(entries: DeploymentHistoryEntry[], alias: string): DeploymentMemory {
  const rolledBack = new Map<number, { version: number; at: string; reason: string }>();
  let previousStable: number | undefined;
  for (const e of entries) {
    if (e.alias !== alias) continue;
    const before = e.previous?.stable;
    if (before !== undefined && before !== e.stable) previousStable = before;
    rolledBack.delete(e.stable);
    const back = e.rolledBack ?? rolledBackByHand(e);
    if (back) {
      rolledBack.delete(back.version);
      rolledBack.set(back.version, { version: back.version, at: e.at, reason: back.reason });
    }
    if (previousStable !== undefined && rolledBack.has(previousStable)) previousStable = undefined;
  }
  return { rolledBack: [...rolledBack.values()], ...(previousStable !== undefined ? { previousStable } : {}) };
}

/**
 * An entry written before rollbacks were recorded: a controller's rollback by hand said so in its reason (a canary's
 * rollback did not say whether the model was at fault, so it is not recalled).
 */
function rolledBackByHand(e: DeploymentHistoryEntry): { version: number; reason: string } | undefined {
  const prefix = 'rolled back by hand: ';
  const left = e.previous?.stable;
  if (left === undefined || left === e.stable || !e.reason.startsWith(prefix)) return undefined;
  return { version: left, reason: e.reason.slice(prefix.length) };
}

/**
 * The highest attempt number among the model's retraining children that left a training run in the store (0 when
 * none did). Children that failed before training, or trained on Vertex AI with a staging folder outside the store's
 * runs, leave none.
 */
export async function lastRetrainAttempt(store: ArtifactStore, model: string): Promise<number> {
  let last = 0;
  for (const uri of await store.list(trainingRunsFolder(store, model))) {
    const workflowId = workflowIdOfRun(store, model, uri);
    const attempt = workflowId === undefined ? undefined : retrainAttemptOf(workflowId, model);
    if (attempt !== undefined && attempt > last) last = attempt;
  }
  return last;
}

/** Every entry of the model's history, oldest first (all aliases; filter by `alias` for one). */
export async function listDeploymentHistory(store: ArtifactStore, model: string): Promise<DeploymentHistoryEntry[]> {
  const uris = (await store.list(deploymentHistoryFolder(store, model))).filter(
    (uri) => deploymentHistorySeq(uri) !== undefined,
  );
  const entries = await Promise.all(uris.map((uri) => readJson<DeploymentHistoryEntry>(store, uri)));
  return entries.sort((a, b) => a.seq - b.seq);
}

/** The newest entry of one alias, or undefined when the alias has none. */
export async function lastDeploymentEntry(
  store: ArtifactStore,
  model: string,
  alias: string,
): Promise<DeploymentHistoryEntry | undefined> {
  return (await listDeploymentHistory(store, model)).filter((e) => e.alias === alias).at(-1);
}

/** Each lost race costs one create; far more writers of one model's history than a controller ever has. */
const maxClaimAttempts = 1000;

/** Appends an entry under the next free number; returns it with its number. */
export async function appendDeploymentHistory(
  store: ArtifactStore,
  entry: Omit<DeploymentHistoryEntry, 'seq'>,
): Promise<DeploymentHistoryEntry> {
  const existing = await store.list(deploymentHistoryFolder(store, entry.modelName));
  const first = Math.max(0, ...existing.map((uri) => deploymentHistorySeq(uri) ?? 0)) + 1;
  for (let seq = first; seq < first + maxClaimAttempts; seq++) {
    const full: DeploymentHistoryEntry = { seq, ...entry };
    const uri = deploymentHistoryEntry(store, entry.modelName, seq);
    if (await store.createOnly(uri, `${JSON.stringify(full, null, 2)}\n`)) return full;
    // The same change made by a retry racing a slow first attempt (or our own create whose success answer was lost
    // and that the Storage client retried) is already recorded: one change, one entry.
    const holder = await readJson<DeploymentHistoryEntry>(store, uri);
    if (sameChange(holder, entry)) return holder;
  }
  throw new Error(
    `could not append to the deployment history of model "${entry.modelName}" in ${maxClaimAttempts} attempts`,
  );
}

function sameChange(a: Omit<DeploymentHistoryEntry, 'seq'>, b: Omit<DeploymentHistoryEntry, 'seq'>): boolean {
  return a.alias === b.alias && a.actor === b.actor && a.reason === b.reason && sameState(a, b);
}

export function sameState(a: DeploymentState | undefined, b: DeploymentState | undefined): boolean {
  if (!a || !b) return a === b;
  return a.stable === b.stable && a.canary?.version === b.canary?.version && a.canary?.weight === b.canary?.weight;
}
