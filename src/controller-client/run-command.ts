/**
 * Runs a parsed `npm run models` command against a Temporal client and returns what to print. A controller that is
 * not running is MLOPS_ERR_CONTROLLER_NOT_RUNNING (naming `npm run models -- start`); an update the controller
 * refuses is a {@link ControllerRefusal} carrying the validator's message.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { ControllerAnswer, ControllerInput, ControllerState } from '../contracts/controller';
import { controllerWorkflowId } from '../contracts/controller';
import { taskQueues } from '../contracts/task-queues';
import { isMlopsError, mlopsError } from '../errors';
import { cronRefusal } from '../schedules/cron-schedule';
import { deleteRetrainSchedule, upsertRetrainSchedule } from '../schedules/retrain-schedule';
import type { RetrainScheduleOptions } from '../schedules/retrain-schedule';
import { parseControllerInput } from '../workflows/controller-state';
import { controllerStatusQuery } from '../workflows/definitions';
import type { ModelsCommand } from './command-line';
import type { ControllerUpdate } from './controller-updates';
import { formatHistory, formatStatus } from './format-status';

/** The controller refused an update (its validator, or the handler, threw): the message says why. */
export class ControllerRefusal extends Error {
  override name = 'ControllerRefusal';
}

export async function runModelsCommand(client: Client, command: ModelsCommand): Promise<string> {
  switch (command.kind) {
    case 'start':
      return startController(client, command.input, command.taskQueue ?? taskQueues.pipeline);
    case 'status':
    case 'history': {
      const state = await controllerState(client, command.modelName);
      if (command.json) return JSON.stringify(command.kind === 'status' ? state : state.history, null, 2);
      return command.kind === 'status'
        ? formatStatus(state, controllerWorkflowId(state.modelName))
        : formatHistory(state);
    }
    case 'update': {
      const answer = await sendUpdate(client, command.modelName, command.update);
      return command.json ? JSON.stringify(answer, null, 2) : answer.message;
    }
    case 'schedule-retrain':
      return scheduleRetrain(client, command.schedule);
    case 'unschedule-retrain':
      return (await deleteRetrainSchedule(client, command.modelName))
        ? `Deleted the retraining schedule of ${command.modelName}.`
        : `${command.modelName} had no retraining schedule.`;
  }
}

/** Starts the model's controller, or leaves the running one as it is (workflow id conflict policy USE_EXISTING). */
async function startController(client: Client, input: ControllerInput, taskQueue: string): Promise<string> {
  // Checked as the workflow checks it: an input it would refuse is refused here, before anything starts.
  parseControllerInput(input);
  const workflowId = controllerWorkflowId(input.modelName);
  const running = await runningRunId(client.workflow.getHandle(workflowId));
  if (running) return `The controller ${workflowId} is already running (run ${running}); its input is unchanged.`;
  const handle = await client.workflow.start('modelController', {
    workflowId,
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  return `Started the controller ${workflowId} (run ${handle.firstExecutionRunId}) on task queue ${taskQueue}.`;
}

async function runningRunId(handle: WorkflowHandle): Promise<string | undefined> {
  try {
    const described = await handle.describe();
    return described.status.name === 'RUNNING' ? described.runId : undefined;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** The state of the running controller (a controller that ended is not running: its last state is in its history). */
export async function controllerState(client: Client, modelName: string): Promise<ControllerState> {
  const handle = client.workflow.getHandle(controllerWorkflowId(modelName));
  if (!(await runningRunId(handle))) throw notRunning(modelName);
  return reachController(modelName, () => handle.query(controllerStatusQuery));
}

async function sendUpdate(client: Client, modelName: string, update: ControllerUpdate): Promise<ControllerAnswer> {
  const handle = client.workflow.getHandle(controllerWorkflowId(modelName));
  try {
    return await reachController(modelName, () =>
      update.arg === undefined
        ? handle.executeUpdate<ControllerAnswer, []>(update.name)
        : handle.executeUpdate<ControllerAnswer, [unknown]>(update.name, { args: [update.arg] }),
    );
  } catch (err) {
    if (!(err instanceof WorkflowUpdateFailedError)) throw err;
    throw new ControllerRefusal(`${update.command} failed: ${innermostMessage(err)}`);
  }
}

/** The validator's own message, or the failed step's: the first catalogued error in the chain, else the last. */
function innermostMessage(err: Error): string {
  let inner = err;
  while (!isMlopsError(inner) && inner.cause instanceof Error) inner = inner.cause;
  return inner.message;
}

async function reachController<T>(modelName: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw notRunning(modelName, err);
    throw err;
  }
}

function notRunning(modelName: string, cause?: Error): Error {
  return mlopsError(
    'MLOPS_ERR_CONTROLLER_NOT_RUNNING',
    { model: modelName, workflowId: controllerWorkflowId(modelName) },
    cause,
  );
}

async function scheduleRetrain(client: Client, schedule: RetrainScheduleOptions): Promise<string> {
  const { scheduleId, created } = await upsertRetrainSchedule(client, schedule).catch((err: unknown) => {
    throw cronRefusal(err, schedule.cron, 'models', 'schedule-retrain');
  });
  const { modelName } = schedule.input;
  const lines = [
    `${created ? 'Created' : 'Updated'} schedule ${scheduleId}: requestRetrain ${JSON.stringify(schedule.input)} on "${schedule.cron}"`,
  ];
  if (!(await runningRunId(client.workflow.getHandle(controllerWorkflowId(modelName))))) {
    lines.push(
      `Note: no controller is running for ${modelName}; its runs fail until \`npm run models -- start ${modelName} …\`.`,
    );
  }
  return lines.join('\n');
}
