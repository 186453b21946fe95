/**
 * The retraining Schedule of a model (cron-scheduled retraining without drift): a cron that starts `requestRetrain`,
 * which signals the model's controller (./cron-schedule.ts: created or updated in place, overlap SKIP). The controller
 * folds a request that arrives while a retrain runs into it, so a tick never starts a second one.
 */
import type { Client } from '@temporalio/client';
import { retrainScheduleId } from '../contracts/controller';
import type { RequestRetrainInput } from '../contracts/request-retrain';
import { retrainCatchupWindow } from '../contracts/request-retrain';
import type { ModelScheduleOptions, ScheduledWorkflow, UpsertedSchedule } from './cron-schedule';
import { deleteModelSchedule, upsertModelSchedule } from './cron-schedule';

const retraining: ScheduledWorkflow = {
  workflowType: 'requestRetrain',
  scheduleId: (modelName) => retrainScheduleId(modelName),
  catchupWindow: retrainCatchupWindow,
};

/** Cron (e.g. `0 3 * * 1`, Mondays at 03:00 UTC), model and reason (default "scheduled retrain"), task queue. */
export type RetrainScheduleOptions = ModelScheduleOptions<RequestRetrainInput>;

/** Creates the model's retraining schedule, or updates it when it exists (`previousInput`: the input it replaced). */
export function upsertRetrainSchedule(client: Client, options: RetrainScheduleOptions): Promise<UpsertedSchedule> {
  return upsertModelSchedule(client, retraining, options);
}

/** Deletes the model's retraining schedule; false when it had none. */
export function deleteRetrainSchedule(client: Client, modelName: string): Promise<boolean> {
  return deleteModelSchedule(client, retraining, modelName);
}
