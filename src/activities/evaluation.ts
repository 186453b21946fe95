import type { EvaluateModelInput, EvaluateModelResult } from '../contracts/training';
import type { EvaluationDeps } from '../evaluation/evaluate-model';
import { evaluateModel } from '../evaluation/evaluate-model';

export type { EvaluationDeps };

/**
 * Evaluation (src/evaluation/): score the challenger on the test split, re-score the champion on the same rows, and
 * decide the gate (src/evaluation/gate.ts).
 */
export interface EvaluationActivities {
  evaluateModel: (input: EvaluateModelInput) => Promise<EvaluateModelResult>;
}

export function createEvaluationActivities(deps: EvaluationDeps): EvaluationActivities {
  return {
    evaluateModel: (input) => evaluateModel(deps, input),
  };
}
