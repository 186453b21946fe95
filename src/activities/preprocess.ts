import type { PreprocessInput, PreprocessResult } from '../contracts/datasets';
import type { PreprocessDeps } from '../preprocessing/preprocess-dataset';
import { preprocessDataset } from '../preprocessing/preprocess-dataset';

export type { PreprocessDeps };

/**
 * Preprocessing (src/preprocessing/preprocess-dataset.ts): split, fit the transform on the training split and apply it
 * to every split, as SQL in the warehouse; the same spec on the same snapshot is computed once.
 */
export interface PreprocessActivities {
  preprocessDataset: (input: PreprocessInput) => Promise<PreprocessResult>;
}

export function createPreprocessActivities(deps: PreprocessDeps): PreprocessActivities {
  return {
    preprocessDataset: (input) => preprocessDataset(deps, input),
  };
}
