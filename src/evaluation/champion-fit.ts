/**
 * Whether the model a run trains can be compared with the champion and replace it: the same task and the same target.
 * Checked once the task is settled (after preprocessing), before training, so a run for the wrong model name fails in
 * seconds instead of after its training; checked again at evaluation (the champion may have changed meanwhile).
 */
import type { ArtifactStore } from '../artifacts';
import { readJson } from '../artifacts';
import type { FittedTransform } from '../contracts/datasets';
import type { CheckChampionInput, CheckChampionResult } from '../contracts/training';
import { mlopsError } from '../errors';
import { readAlias, readVersion } from '../registry/model-registry';

export async function checkChampion(
  { store }: { store: ArtifactStore },
  input: CheckChampionInput,
): Promise<CheckChampionResult> {
  const alias = await readAlias(store, input.modelName, input.championAlias);
  if (!alias) return {};
  const champion = await readVersion(store, input.modelName, alias.version);
  const transform = await readJson<FittedTransform>(store, champion.transformUri);
  const mismatch = championMismatch(input, champion.version, transform);
  if (mismatch) throw mismatch;
  return { championVersion: champion.version };
}

/** The catalogued error when a model of `task` and `target` cannot be compared with the champion, else undefined. */
export function championMismatch(
  run: CheckChampionInput,
  version: number,
  championTransform: FittedTransform,
): Error | undefined {
  const where = { model: run.modelName, version, alias: run.championAlias };
  if (championTransform.task !== run.task)
    return mlopsError('MLOPS_ERR_EVALUATION_TASK_MISMATCH', {
      ...where,
      championTask: championTransform.task,
      task: run.task,
    });
  if (championTransform.target.name !== run.target)
    return mlopsError('MLOPS_ERR_EVALUATION_TARGET_MISMATCH', {
      ...where,
      championTarget: championTransform.target.name,
      target: run.target,
    });
  return undefined;
}
