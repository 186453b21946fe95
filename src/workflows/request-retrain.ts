/**
 * requestRetrain: what a model's retraining Schedule starts (src/schedules/retrain-schedule.ts).
 *
 *   validate input → signal `requestRetrain` to the model's controller → result
 *
 * A signal, not an update: the schedule's run has nothing to wait for, and the controller decides (start a retrain, or
 * fold the request into the one running). A missing controller fails the run with MLOPS_ERR_CONTROLLER_NOT_RUNNING,
 * so the schedule's recent actions show a failed run instead of a silent no-op.
 */
import { ApplicationFailure } from '@temporalio/common';
import { getExternalWorkflowHandle } from '@temporalio/workflow';
import { controllerWorkflowId } from '../contracts/controller';
import type { RequestRetrainInput, RequestRetrainResult } from '../contracts/request-retrain';
import { requestRetrainInputDocs, requestRetrainInputSchema } from '../contracts/request-retrain';
import { parseWorkflowInput } from '../contracts/validate';
import { mlopsError } from '../errors';
import { requestRetrainSignal } from './definitions';

export async function requestRetrain(rawInput: RequestRetrainInput): Promise<RequestRetrainResult> {
  const { modelName, reason } = parseWorkflowInput(
    requestRetrainInputSchema,
    rawInput,
    'requestRetrain',
    requestRetrainInputDocs,
  );
  const workflowId = controllerWorkflowId(modelName);
  try {
    await getExternalWorkflowHandle(workflowId).signal(requestRetrainSignal, { reason });
  } catch (err) {
    // The server's answer when no run with that id is open (never started, or ended).
    if (err instanceof ApplicationFailure && err.type === 'ExternalWorkflowExecutionNotFound') {
      throw mlopsError('MLOPS_ERR_CONTROLLER_NOT_RUNNING', { model: modelName, workflowId }, err);
    }
    throw err;
  }
  return { controllerWorkflowId: workflowId, reason };
}
