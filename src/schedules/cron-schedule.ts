/**
 * The project's Schedules (monitoring, retraining): a cron that starts one workflow on a task queue, overlap policy
 * SKIP (a tick while the previous run still works is dropped) and an explicit catch-up window (the server's default is
 * a year). They are created, or updated in place when they exist, so running a schedule command twice leaves one
 * schedule with the latest settings and its history of actions.
 */
import type { Client, ScheduleOptions } from '@temporalio/client';
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Duration } from '@temporalio/common';

export interface CronScheduleOptions {
  scheduleId: string;
  /** Cron expression (UTC), e.g. `0 * * * *` for hourly. */
  cron: string;
  workflowType: string;
  /** The workflow's one input object. */
  input: unknown;
  taskQueue: string;
  /** How late a tick missed while the server was down may still run. */
  catchupWindow: Duration;
}

/** Each run's workflow id is the schedule id (the server appends the scheduled time). */
export function cronSchedule(options: CronScheduleOptions): ScheduleOptions {
  return {
    scheduleId: options.scheduleId,
    spec: { cronExpressions: [options.cron] },
    action: {
      type: 'startWorkflow',
      workflowType: options.workflowType,
      workflowId: options.scheduleId,
      taskQueue: options.taskQueue,
      args: [options.input],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: options.catchupWindow },
  };
}

/** Creates the schedule, or updates its spec, action and policies when one with its id exists. */
export async function upsertSchedule(
  client: Client,
  schedule: ScheduleOptions,
): Promise<{ scheduleId: string; created: boolean }> {
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

/** Deletes the schedule; false when there was none with this id. */
export async function deleteSchedule(client: Client, scheduleId: string): Promise<boolean> {
  try {
    await client.schedule.getHandle(scheduleId).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}
