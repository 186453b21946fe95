import { z } from 'zod';
import { controllerInputSchema } from './controller';

/**
 * `requestRetrain`: the workflow a model's retraining Schedule starts (cron-scheduled retraining without drift). It
 * only signals the model's controller, which starts the retrain or folds the request into the one running.
 */
/** Where the requestRetrain workflow's input is described, for the fix of a refused one. */
export const requestRetrainInputDocs =
  'README.md ("Closing the loop: the model controller", schedule-retrain: {modelName, reason?})';

export const requestRetrainInputSchema = z
  .object({
    modelName: controllerInputSchema.shape.modelName,
    /** Recorded in the controller's history and the retrain's reason. */
    reason: z.string().min(1).max(500).default('scheduled retrain'),
  })
  .strict();
export type RequestRetrainInput = z.input<typeof requestRetrainInputSchema>;

export interface RequestRetrainResult {
  /** The controller that was signalled. */
  controllerWorkflowId: string;
  reason: string;
}

/** How late a retrain tick missed while the server was down may still run; later ones wait for the next tick. */
export const retrainCatchupWindow = '1 hour';
