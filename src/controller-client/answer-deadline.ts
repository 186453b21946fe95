/**
 * How long a command waits for the controller to answer, and what it says when no answer comes. Queries and updates
 * are answered by the worker that runs the controller. When that worker was killed a moment ago, the server still
 * lists it as a poller, so the poller check (./task-queue-pollers.ts) lets the command through. Without a deadline,
 * a query then failed after half a minute with the SDK's bare "Failed to query Workflow", and an update waited
 * for ever: the SDK sends it again until a worker accepts it.
 */
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { isGrpcServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import type { ControllerAnswer, ControllerState } from '../contracts/controller';
import { mlopsError } from '../errors';
import { controllerStatusQuery } from '../workflows/definitions';

/** Seconds a command waits for each answer of the controller when `--timeout` is not given. */
export const defaultAnswerSeconds = 30;

/** The controller a command talks to, and how long it waits for each answer. */
export interface ControllerCall {
  client: Client;
  handle: WorkflowHandle;
  taskQueue: string;
  /** The command, to name it in errors (`status`, `deploy`, …). */
  command: string;
  /** @default 30 ({@link defaultAnswerSeconds}) */
  timeoutSeconds?: number;
}

/**
 * The controller's state, or MLOPS_ERR_CONTROLLER_NO_ANSWER naming its queue when no worker answers in time;
 * `consequence` ends that error's message (what did not happen).
 */
export async function queryWithin(call: ControllerCall, consequence: string): Promise<ControllerState> {
  const seconds = call.timeoutSeconds ?? defaultAnswerSeconds;
  try {
    return await call.client.withDeadline(Date.now() + seconds * 1000, () => call.handle.query(controllerStatusQuery));
  } catch (err) {
    const failing = await failingTask(call);
    if (failing) throw failing;
    if (!unanswered(err)) throw err;
    throw mlopsError(
      'MLOPS_ERR_CONTROLLER_NO_ANSWER',
      { workflowId: call.handle.workflowId, taskQueue: call.taskQueue, command: call.command, seconds, consequence },
      err as Error,
    );
  }
}

/**
 * Sends an update under its own id and waits for its answer; MLOPS_ERR_CONTROLLER_UPDATE_UNANSWERED (naming the id)
 * when none comes in time. The update is then not withdrawn: the server keeps it for the next worker.
 */
export async function updateWithin(call: ControllerCall, name: string, arg: unknown): Promise<ControllerAnswer> {
  const seconds = call.timeoutSeconds ?? defaultAnswerSeconds;
  const updateId = `${call.command}-${randomUUID()}`;
  try {
    return await call.client.withDeadline(Date.now() + seconds * 1000, () =>
      arg === undefined
        ? call.handle.executeUpdate<ControllerAnswer, []>(name, { updateId })
        : call.handle.executeUpdate<ControllerAnswer, [unknown]>(name, { args: [arg], updateId }),
    );
  } catch (err) {
    const failing = await failingTask(call);
    if (failing) throw failing;
    if (!(err instanceof WorkflowUpdateRPCTimeoutOrCancelledError)) throw err;
    const { workflowId } = call.handle;
    throw mlopsError(
      'MLOPS_ERR_CONTROLLER_UPDATE_UNANSWERED',
      { command: call.command, workflowId, updateId, seconds, taskQueue: call.taskQueue },
      err,
    );
  }
}

/**
 * No answer in time: CANCELLED or DEADLINE_EXCEEDED is our deadline; FAILED_PRECONDITION with "no poller seen for task
 * queue recently, worker may be down" is the server's own answer to a query no worker took (after about 30 s).
 */
function unanswered(err: unknown): boolean {
  const cause = err instanceof Error && isGrpcServiceError(err.cause) ? err.cause : err;
  if (!isGrpcServiceError(cause)) return false;
  if (cause.code === status.CANCELLED || cause.code === status.DEADLINE_EXCEEDED) return true;
  return cause.code === status.FAILED_PRECONDITION && /poller/i.test(cause.details ?? '');
}

/**
 * MLOPS_ERR_CONTROLLER_TASK_FAILING when the controller's workflow task keeps failing (a worker runs it, and fails
 * every attempt: code that cannot replay its history, a bug), with the last failure's message; undefined otherwise
 * (or when that cannot be read). Such a controller answers nothing, and no worker restart alone mends it.
 */
async function failingTask(call: ControllerCall): Promise<Error | undefined> {
  try {
    const { raw } = await call.handle.describe();
    const attempt = raw.pendingWorkflowTask?.attempt ?? 0;
    if (attempt < 2) return undefined;
    // The attempt count grows on timeouts too (a worker killed while it held the task): only a failure since the last
    // completed task counts.
    let failure: string | undefined;
    const { events } = await call.handle.fetchHistory();
    for (const event of events ?? []) {
      if (event.workflowTaskCompletedEventAttributes) failure = undefined;
      if (event.workflowTaskFailedEventAttributes)
        failure = event.workflowTaskFailedEventAttributes.failure?.message ?? '(no message)';
    }
    if (failure === undefined) return undefined;
    return mlopsError('MLOPS_ERR_CONTROLLER_TASK_FAILING', {
      workflowId: call.handle.workflowId,
      attempts: attempt - 1,
      failure: failure.split('\n')[0]!.slice(0, 300),
      command: call.command,
    });
  } catch {
    return undefined;
  }
}
