import { checkChampion } from '../evaluation/champion-fit';
import { evaluateModel } from '../evaluation/evaluate-model';
import type { EvaluationDeps } from '../evaluation/evaluate-model';
import type { BoundSteps } from './bind';
import { bindSteps } from './bind';

/**
 * Check the run's task and target against the champion's before training; score the challenger, re-score the champion
 * on the same rows, decide the gate (src/evaluation/).
 */
export type EvaluationActivities = BoundSteps<{
  checkChampion: typeof checkChampion;
  evaluateModel: typeof evaluateModel;
}>;

export function createEvaluationActivities(deps: EvaluationDeps): EvaluationActivities {
  return bindSteps(deps, { checkChampion, evaluateModel });
}
