/**
 * The monitoring Schedule of a model's alias (`monitor-<model>` for production, `monitor-<model>.<alias>` otherwise,
 * so each alias is checked on its own schedule): a cron that starts `monitorModel` on the pipeline task queue (./cron-schedule.ts:
 * created or updated in place). Overlap policy SKIP: a tick while the previous check still runs is dropped (the next
 * window covers its rows).
 */
import crypto from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { MonitorModelInput } from '../contracts/monitoring';
import { monitoringCatchupWindow, monitoringScheduleId } from '../contracts/monitoring';
import type { ModelScheduleOptions, ScheduledWorkflow, UpsertedSchedule } from './cron-schedule';
import { deleteModelSchedule, upsertModelSchedule } from './cron-schedule';

const monitoring: ScheduledWorkflow = {
  workflowType: 'monitorModel',
  scheduleId: monitoringScheduleId,
  catchupWindow: monitoringCatchupWindow,
};

/** Cron, `monitorModel` input (model name and check settings), task queue (default: the pipeline's). */
export type MonitoringScheduleOptions = ModelScheduleOptions<MonitorModelInput>;

/** Creates the model's schedule, or updates it when it exists; returns its id and whether it was created. */
export function upsertMonitoringSchedule(
  client: Client,
  options: MonitoringScheduleOptions,
): Promise<UpsertedSchedule> {
  return upsertModelSchedule(client, monitoring, options);
}

/** Deletes the monitoring schedule of the model's alias (default production); false when it had none. */
export function deleteMonitoringSchedule(client: Client, modelName: string, alias?: string): Promise<boolean> {
  return deleteModelSchedule(client, monitoring, modelName, alias);
}

/**
 * The workflow id of one `npm run monitoring -- check` of the model's alias: the schedule's id, the time to the
 * millisecond and a random suffix, so two checks started in the same second (or millisecond) never collide.
 */
export function monitoringCheckWorkflowId(modelName: string, alias: string, at = new Date()): string {
  return `${monitoringScheduleId(modelName, alias)}-check-${at.toISOString()}-${crypto.randomBytes(3).toString('hex')}`;
}
