/**
 * Moving a model's deployment: the record the model servers follow (`stable` and an optional canary), the registry
 * alias (to `stable`, so tools that read the alias agree with the servers), and an entry in the registry's deployment
 * history. A version the record does not hold yet (stable or canary), and one that becomes stable, is first loaded
 * the way the server loads it, so an unservable version is refused before any server sees it. Idempotent: a retry that finds the record already moved writes no second history entry.
 */
import type { ArtifactStore } from '../artifacts';
import { readJson } from '../artifacts';
import { deploymentRecord } from '../artifacts/layout';
import type { SetDeploymentInput } from '../contracts/controller';
import { aliasPattern, modelNamePattern } from '../contracts/pipeline';
import type { SetDeploymentResult } from '../contracts/rollout';
import { isMlopsError, mlopsError } from '../errors';
import type { DeploymentRecord } from '../models/deployment-record';
import { readDeployment, writeDeployment } from '../models/deployment-record';
import { checkServable } from '../models/servable';
import { moveAlias, readVersion } from '../registry/model-registry';
import type { DeploymentState } from './deployment-history';
import { appendDeploymentHistory, lastDeploymentEntry, sameState } from './deployment-history';

export async function setDeployment(store: ArtifactStore, input: SetDeploymentInput): Promise<SetDeploymentResult> {
  checkInput(input);
  const { modelName: model, alias } = input;
  const target: DeploymentState = { stable: input.stable, ...(input.canary ? { canary: { ...input.canary } } : {}) };
  const recordUri = deploymentRecord(store, model, alias);
  const written = (await store.exists(recordUri)) ? await readJson<DeploymentRecord>(store, recordUri) : undefined;
  // A version the record already holds (as stable or canary) was checked when it got there, and the servers run it:
  // starting, reweighting or ending a canary, or retrying a move, does not load it again. A version that becomes
  // stable (a promotion) is loaded again: its files may have gone since it started as the canary, and every server
  // started from now on loads it.
  const held = new Set([written?.stable, written?.canary?.version]);
  if (written?.stable !== input.stable) await ensureServable(store, model, input.stable, 'stable version');
  if (input.canary && !held.has(input.canary.version))
    await ensureServable(store, model, input.canary.version, 'canary');
  // The state before: the record, or (none written yet) the one the alias implies; the record is read once.
  const before = written ?? (await readDeployment(store, model, alias));
  const moved = !sameState(written, target);
  if (moved) await writeDeployment(store, model, alias, target);
  await moveAlias(store, model, alias, input.stable);
  const last = await lastDeploymentEntry(store, model, alias);
  if (!moved && sameState(last, target)) return { ...target, previous: last?.previous, changed: false };
  // A retry after the record was written but before its history entry: the state before is the last entry's.
  const previous = moved ? before && stateOf(before) : last && stateOf(last);
  const entry = await appendDeploymentHistory(store, {
    at: new Date().toISOString(),
    modelName: model,
    alias,
    ...target,
    ...(previous ? { previous } : {}),
    reason: input.reason,
    actor: input.actor,
    ...(input.rolledBack ? { rolledBack: { version: input.rolledBack.version, reason: input.rolledBack.reason } } : {}),
  });
  return { ...target, ...(previous ? { previous } : {}), changed: true, historySeq: entry.seq };
}

function stateOf(s: DeploymentState): DeploymentState {
  return { stable: s.stable, ...(s.canary ? { canary: { version: s.canary.version, weight: s.canary.weight } } : {}) };
}

const isVersion = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 1;

function checkInput(input: SetDeploymentInput): void {
  const problems: string[] = [];
  if (!modelNamePattern.test(input.modelName)) problems.push('modelName must be lowercase letters, digits and dashes');
  if (!aliasPattern.test(input.alias)) problems.push('alias must be lowercase letters, digits and dashes (32 at most)');
  if (!isVersion(input.stable)) problems.push(`stable must be a version number (1 or more), got ${input.stable}`);
  const c = input.canary;
  if (c && !isVersion(c.version)) problems.push(`canary.version must be a version number, got ${c.version}`);
  if (c && c.version === input.stable) problems.push(`canary.version ${c.version} is the stable version itself`);
  if (c && !(c.weight > 0 && c.weight < 1)) problems.push(`canary.weight must be above 0 and below 1, got ${c.weight}`);
  if (!input.reason?.trim()) problems.push('reason must say why the deployment moves');
  if (!input.actor?.trim()) problems.push('actor must name who moves it');
  const back = input.rolledBack;
  if (back && !isVersion(back.version))
    problems.push(`rolledBack.version must be a version number, got ${back.version}`);
  if (back && (back.version === input.stable || back.version === c?.version))
    problems.push(`rolledBack.version ${back.version} is a version the move deploys`);
  if (problems.length > 0)
    throw mlopsError('MLOPS_ERR_ROLLOUT_INPUT_INVALID', {
      model: String(input.modelName).slice(0, 100),
      problems: problems.join('; '),
    });
}

/**
 * Refuses a version that is missing or cannot be loaded; a failure that may pass on retry (a store that did not
 * answer) is left as it is, so Temporal retries it.
 */
async function ensureServable(store: ArtifactStore, model: string, version: number, role: string): Promise<void> {
  try {
    await checkServable(store, await readVersion(store, model, version));
  } catch (err) {
    if (!isMlopsError(err) || !err.nonRetryable) throw err;
    throw mlopsError(
      'MLOPS_ERR_ROLLOUT_VERSION_UNSERVABLE',
      { model, version, role, reason: err.message.split('\n')[0] },
      err,
    );
  }
}
