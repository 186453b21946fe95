import { preprocessDataset } from '../preprocessing/preprocess-dataset';
import type { PreprocessDeps } from '../preprocessing/preprocess-dataset';
import type { BoundSteps } from './bind';
import { bindSteps } from './bind';

/** Split, fit and transform as SQL in the warehouse (src/preprocessing/preprocess-dataset.ts), computed once per spec. */
export type PreprocessActivities = BoundSteps<{ preprocessDataset: typeof preprocessDataset }>;

export function createPreprocessActivities(deps: PreprocessDeps): PreprocessActivities {
  return bindSteps(deps, { preprocessDataset });
}
