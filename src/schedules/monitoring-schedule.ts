/**
 * The monitoring Schedule of a model: a cron that starts `monitorModel` on the pipeline task queue (./cron-schedule.ts:
 * created or updated in place). Overlap policy SKIP: a tick while the previous check still runs is dropped (the next
 * window covers its rows).
 */
import type { Client, ScheduleOptions } from '@temporalio/client';
import type { MonitorModelInput } from '../contracts/monitoring';
import { monitoringCatchupWindow, monitoringScheduleId } from '../contracts/monitoring';
import { taskQueues } from '../contracts/task-queues';
import { cronSchedule, upsertSchedule } from './cron-schedule';

export interface MonitoringScheduleOptions {
  /** Cron expression (UTC), e.g. `0 * * * *` for hourly. */
  cron: string;
  /** The workflow input (model name and check settings). */
  input: MonitorModelInput;
  /** @default taskQueues.pipeline */
  taskQueue?: string;
}

export function monitoringSchedule(options: MonitoringScheduleOptions): ScheduleOptions {
  return cronSchedule({
    scheduleId: monitoringScheduleId(options.input.modelName),
    cron: options.cron,
    workflowType: 'monitorModel',
    input: options.input,
    taskQueue: options.taskQueue ?? taskQueues.pipeline,
    catchupWindow: monitoringCatchupWindow,
  });
}

/** Creates the model's schedule, or updates it when it exists; returns its id and whether it was created. */
export function upsertMonitoringSchedule(
  client: Client,
  options: MonitoringScheduleOptions,
): Promise<{ scheduleId: string; created: boolean }> {
  return upsertSchedule(client, monitoringSchedule(options));
}
