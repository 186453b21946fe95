import type { TrainingPipelineInput } from '../../src/contracts/pipeline';
import { exampleDataset } from './stack';

/** A trainingPipeline input on the bundled churn dataset (target `churned`); tests override what they exercise. */
export function churnPipelineInput(overrides: Partial<TrainingPipelineInput> = {}): TrainingPipelineInput {
  return { modelName: 'churn', dataset: { uri: exampleDataset }, target: 'churned', ...overrides };
}
