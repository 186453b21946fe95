/**
 * The retraining Schedule of a model (cron-scheduled retraining without drift): a cron that starts `requestRetrain`,
 * which signals the model's controller (./cron-schedule.ts: created or updated in place, overlap SKIP). The controller
 * folds a request that arrives while a retrain runs into it, so a tick never starts a second one.
 */
import type { Client, ScheduleOptions } from '@temporalio/client';
import { retrainScheduleId } from '../contracts/controller';
import type { RequestRetrainInput } from '../contracts/request-retrain';
import { retrainCatchupWindow } from '../contracts/request-retrain';
import { taskQueues } from '../contracts/task-queues';
import { cronSchedule, deleteSchedule, upsertSchedule } from './cron-schedule';

export interface RetrainScheduleOptions {
  /** Cron expression (UTC), e.g. `0 3 * * 1` for Mondays at 03:00. */
  cron: string;
  /** The model, and the reason the controller records (default "scheduled retrain"). */
  input: RequestRetrainInput;
  /** @default taskQueues.pipeline */
  taskQueue?: string;
}

export function retrainSchedule(options: RetrainScheduleOptions): ScheduleOptions {
  return cronSchedule({
    scheduleId: retrainScheduleId(options.input.modelName),
    cron: options.cron,
    workflowType: 'requestRetrain',
    input: options.input,
    taskQueue: options.taskQueue ?? taskQueues.pipeline,
    catchupWindow: retrainCatchupWindow,
  });
}

/** Creates the model's retraining schedule, or updates it when it exists. */
export function upsertRetrainSchedule(
  client: Client,
  options: RetrainScheduleOptions,
): Promise<{ scheduleId: string; created: boolean }> {
  return upsertSchedule(client, retrainSchedule(options));
}

/** Deletes the model's retraining schedule; false when it had none. */
export function deleteRetrainSchedule(client: Client, modelName: string): Promise<boolean> {
  return deleteSchedule(client, retrainScheduleId(modelName));
}
