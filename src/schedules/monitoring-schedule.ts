/**
 * The monitoring Schedule of a model: a cron that starts `monitorModel` on the pipeline task queue. Created, or
 * updated in place when it exists, so running the command twice leaves one schedule with the latest settings.
 * Overlap policy SKIP: a tick while the previous check still runs is dropped (the next window covers its rows).
 */
import type { Client, ScheduleOptions } from '@temporalio/client';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import type { MonitorModelInput } from '../contracts/monitoring';
import { monitoringCatchupWindow, monitoringScheduleId } from '../contracts/monitoring';
import { taskQueues } from '../contracts/task-queues';

export interface MonitoringScheduleOptions {
  /** Cron expression (UTC), e.g. `0 * * * *` for hourly. */
  cron: string;
  /** The workflow input (model name and check settings). */
  input: MonitorModelInput;
  /** @default taskQueues.pipeline */
  taskQueue?: string;
}

export function monitoringSchedule(options: MonitoringScheduleOptions): ScheduleOptions {
  const id = monitoringScheduleId(options.input.modelName);
  return {
    scheduleId: id,
    spec: { cronExpressions: [options.cron] },
    action: {
      type: 'startWorkflow',
      workflowType: 'monitorModel',
      workflowId: id,
      taskQueue: options.taskQueue ?? taskQueues.pipeline,
      args: [options.input],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: monitoringCatchupWindow },
  };
}

/** Creates the model's schedule, or updates it when it exists; returns its id and whether it was created. */
export async function upsertMonitoringSchedule(
  client: Client,
  options: MonitoringScheduleOptions,
): Promise<{ scheduleId: string; created: boolean }> {
  const schedule = monitoringSchedule(options);
  try {
    await client.schedule.create(schedule);
    return { scheduleId: schedule.scheduleId, created: true };
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const { spec, action, policies } = schedule;
  await client.schedule.getHandle(schedule.scheduleId).update((previous) => ({ ...previous, spec, action, policies }));
  return { scheduleId: schedule.scheduleId, created: false };
}
