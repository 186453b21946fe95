/**
 * The project's per-model Schedules (monitoring, retraining): a cron that starts one workflow on a task queue,
 * overlap policy SKIP (a tick while the previous run still works is dropped) and an explicit catch-up window (the
 * server's default is a year). They are created, or updated in place when they exist, so running a schedule command
 * twice leaves one schedule with the latest settings and its history of actions.
 */
import type { Client, ScheduleOptions } from '@temporalio/client';
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { taskQueues } from '../contracts/task-queues';
import { mlopsError } from '../errors';

/** What a kind of model schedule starts. */
export interface ScheduledWorkflow {
  workflowType: string;
  /**
   * The schedule's id for a model (and the alias its input names, for kinds kept per alias); each run's workflow id
   * is it plus the scheduled time (the server appends it).
   */
  scheduleId(modelName: string, alias?: string): string;
  /** How late a tick missed while the server was down may still run. */
  catchupWindow: Duration;
}

export interface ModelScheduleOptions<Input extends { modelName: string; alias?: string }> {
  /** Cron expression (UTC), e.g. `0 * * * *` for hourly. */
  cron: string;
  /** The workflow's one input object. */
  input: Input;
  /** @default taskQueues.pipeline */
  taskQueue?: string;
}

export function modelSchedule<Input extends { modelName: string; alias?: string }>(
  kind: ScheduledWorkflow,
  options: ModelScheduleOptions<Input>,
): ScheduleOptions {
  const scheduleId = kind.scheduleId(options.input.modelName, options.input.alias);
  return {
    scheduleId,
    spec: { cronExpressions: [options.cron] },
    action: {
      type: 'startWorkflow',
      workflowType: kind.workflowType,
      workflowId: scheduleId,
      taskQueue: options.taskQueue ?? taskQueues.pipeline,
      args: [options.input],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: kind.catchupWindow },
  };
}

/** What creating or updating a model's schedule did. */
export interface UpsertedSchedule {
  scheduleId: string;
  created: boolean;
  /** The input an update replaced. */
  previousInput?: unknown;
  /** Set (to the pause's note, maybe empty) when an updated schedule is paused, and stays so. */
  pausedNote?: string;
}

/**
 * Creates the model's schedule, or updates its spec, action and policies when it exists. An update replaces the whole
 * input: `previousInput` is the one it replaced, so a command can say what was not given again.
 */
export async function upsertModelSchedule<Input extends { modelName: string; alias?: string }>(
  client: Client,
  kind: ScheduledWorkflow,
  options: ModelScheduleOptions<Input>,
): Promise<UpsertedSchedule> {
  const schedule = modelSchedule(kind, options);
  try {
    await client.schedule.create(schedule);
    return { scheduleId: schedule.scheduleId, created: true };
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const { spec, action, policies } = schedule;
  let previousInput: unknown;
  let pausedNote: string | undefined;
  await client.schedule.getHandle(schedule.scheduleId).update((previous) => {
    previousInput = previous.action.type === 'startWorkflow' ? previous.action.args?.[0] : undefined;
    // An update leaves a paused schedule paused (`temporal schedule toggle --pause`): the command says so.
    if (previous.state.paused) pausedNote = previous.state.note ?? '';
    return { ...previous, spec, action, policies };
  });
  return {
    scheduleId: schedule.scheduleId,
    created: false,
    previousInput,
    ...(pausedNote !== undefined && { pausedNote }),
  };
}

/** The note on an updated schedule that stays paused, with the command that unpauses it. */
export function pausedScheduleNote(scheduleId: string, note: string): string {
  const why = note ? ` ("${note}")` : '';
  return `Note: the schedule is paused${why} and stays so: it starts nothing until \`temporal schedule toggle --schedule-id ${scheduleId} --unpause\`.`;
}

/** Deletes the model's schedule (of `alias`, for kinds kept per alias); false when it had none. */
export async function deleteModelSchedule(
  client: Client,
  kind: ScheduledWorkflow,
  modelName: string,
  alias?: string,
): Promise<boolean> {
  try {
    await client.schedule.getHandle(kind.scheduleId(modelName, alias)).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}

/**
 * The server's refusal of a cron as the command line's error: the client turns the server's "invalid schedule spec"
 * into a TypeError, and the cron is the whole spec. Other errors pass unchanged.
 */
export function cronRefusal(err: unknown, cron: string, script: string, command: string): unknown {
  if (!(err instanceof TypeError)) return err;
  return mlopsError('MLOPS_ERR_CLI_ARGUMENT_INVALID', {
    argument: '--cron',
    script,
    command,
    reason: `the server refused "${cron}": ${err.message}`,
  });
}
