import { evaluateModel } from '../evaluation/evaluate-model';
import type { EvaluationDeps } from '../evaluation/evaluate-model';
import type { BoundSteps } from './bind';
import { bindSteps } from './bind';

/** Score the challenger, re-score the champion on the same rows, decide the gate (src/evaluation/). */
export type EvaluationActivities = BoundSteps<{ evaluateModel: typeof evaluateModel }>;

export function createEvaluationActivities(deps: EvaluationDeps): EvaluationActivities {
  return bindSteps(deps, { evaluateModel });
}
