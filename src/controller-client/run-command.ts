/**
 * Runs a parsed `npm run models` command against a Temporal client and returns what to print. A controller that is
 * not running is MLOPS_ERR_CONTROLLER_NOT_RUNNING (naming `npm run models -- start`); an update the controller
 * refuses is a {@link ControllerRefusal} carrying the validator's message. A `start` whose controller already runs
 * changes nothing: it names each option that differs from the running controller with the command that changes it,
 * and fails (MLOPS_ERR_CONTROLLER_START_CONFLICT) where only a new controller could take it (alias, task queue).
 * With {@link CommandChecks}, `start` also notes a model that has no version registered yet, and `start --servers`
 * and `servers` warn about each model server that does not answer ready.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { ArtifactStore } from '../artifacts';
import type { ControllerAnswer, ControllerState } from '../contracts/controller';
import { controllerWorkflowId } from '../contracts/controller';
import { taskQueues } from '../contracts/task-queues';
import { isMlopsError, mlopsError } from '../errors';
import { readDeployment } from '../models/deployment-record';
import { cronRefusal, pausedScheduleNote } from '../schedules/cron-schedule';
import { deleteRetrainSchedule, upsertRetrainSchedule } from '../schedules/retrain-schedule';
import type { RetrainScheduleOptions } from '../schedules/retrain-schedule';
import { parseControllerInput } from '../workflows/controller-state';
import type { ControllerCall } from './answer-deadline';
import { queryWithin, updateWithin } from './answer-deadline';
import type { ModelsCommand } from './command-line';
import type { ControllerUpdate } from './controller-updates';
import { formatHistory, formatStatus } from './format-status';
import { unregisteredModelNote } from './registry-note';
import { aliasVersion, unknownFeatures } from './feature-names';
import { probeServers } from './server-probe';
import { taskQueuePolled, unpolledWarning } from './task-queue-pollers';
import type { StartRequest } from './start-differences';
import { differenceLines, startDifferences, unreadOptionsNote } from './start-differences';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { isWithin } from '../artifacts/local-store';
import { parseSource } from '../ingest/source-uri';
import type { FileFormat } from '../ingest/source-uri';

/**
 * What a command looks at beyond Temporal (the script: the configured artifact store, warnings to stderr). Without
 * it a command talks to Temporal only.
 */
export interface CommandChecks {
  /** The store holding the registry: `start` notes a model that has no version registered yet. */
  store?: ArtifactStore;
  /**
   * Where the warnings about the model servers of `start --servers` and `servers` go (stderr, so that stdout stays
   * the answer, JSON with --json); without it the servers are not probed.
   */
  warn?: (line: string) => void;
  /**
   * This machine's data roots and known trainers (bundled and MLOPS_TRAINERS): `start` warns about a training input
   * whose local dataset is no file inside them, or whose trainer kind is neither, since every retrain would fail.
   */
  training?: { dataRoots: readonly string[]; trainers: readonly string[] };
}

/** The controller refused an update (its validator, or the handler, threw): the message says why. */
export class ControllerRefusal extends Error {
  override name = 'ControllerRefusal';
}

export async function runModelsCommand(
  client: Client,
  command: ModelsCommand,
  checks: CommandChecks = {},
): Promise<string> {
  switch (command.kind) {
    case 'start':
      return startController(client, command, checks);
    case 'status':
    case 'history': {
      const state = await controllerState(client, command.modelName, command.kind, command.timeoutSeconds);
      if (command.json) return JSON.stringify(command.kind === 'status' ? state : state.history, null, 2);
      if (command.kind === 'history') return formatHistory(state);
      const status = formatStatus(state, controllerWorkflowId(state.modelName));
      const outside = checks.store && (await outsideDeploymentNote(checks.store, state));
      const waiting = await retrainWaitingNote(client, state);
      return [status, ...(outside ? [outside] : []), ...(waiting ? [waiting] : [])].join('\n');
    }
    case 'update': {
      const { modelName, update, timeoutSeconds } = command;
      if (update.command === 'unmute') await checkUnmute(client, modelName, update, checks, timeoutSeconds);
      const answer = await sendUpdate(client, modelName, update, timeoutSeconds);
      if (command.update.command === 'servers')
        await warnAboutServers((command.update.arg as { servers: string[] }).servers, command.modelName, checks);
      return command.json ? JSON.stringify(answer, null, 2) : answer.message;
    }
    case 'schedule-retrain':
      return scheduleRetrain(client, command.schedule, checks);
    case 'unschedule-retrain':
      return (await deleteRetrainSchedule(client, command.modelName))
        ? `Deleted the retraining schedule of ${command.modelName}.`
        : `${command.modelName} had no retraining schedule.`;
  }
}

/** Starts the model's controller, or leaves the running one as it is (workflow id conflict policy USE_EXISTING). */
async function startController(client: Client, request: StartRequest, checks: CommandChecks): Promise<string> {
  const { input } = request;
  // Checked as the workflow checks it: an input it would refuse is refused here, before anything starts.
  parseControllerInput(input);
  await checkMutedAtStart(request, checks);
  const workflowId = controllerWorkflowId(input.modelName);
  const taskQueue = request.taskQueue ?? taskQueues.pipeline;
  const running = await runningExecution(client.workflow.getHandle(workflowId));
  if (running) return alreadyRunning(client, request, running);
  const handle = await client.workflow.start('modelController', {
    workflowId,
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  const lines = [
    `Started the controller ${workflowId} (run ${handle.firstExecutionRunId}) on task queue ${taskQueue}.`,
  ];
  const note = checks.store && (await unregisteredModelNote(checks.store, input.modelName));
  if (note) lines.push(note);
  await warnAboutServers(input.servers ?? [], input.modelName, checks);
  warnAboutTraining(input.training, checks);
  await warnIfUnpolled(client, taskQueue, `the controller ${workflowId}`, checks);
  return lines.join('\n');
}

/**
 * A note when the retrain under way waits for a worker: its training step is scheduled on a queue no worker polls
 * (the training worker is not running), so the retrain looks as if it ran and does nothing. Read from the retrain's
 * own history; undefined when it is not so, or cannot be told.
 */
async function retrainWaitingNote(client: Client, state: ControllerState): Promise<string | undefined> {
  const retrain = state.retrain;
  if (!retrain) return undefined;
  try {
    const handle = client.workflow.getHandle(retrain.workflowId);
    const { pendingActivities } = await handle.describe().then((d) => d.raw);
    const waiting = (pendingActivities ?? []).some((a) => a.activityType?.name === 'trainModel' && !a.lastStartedTime);
    if (!waiting) return undefined;
    const { events } = await handle.fetchHistory();
    const scheduled = (events ?? [])
      .map((e) => e.activityTaskScheduledEventAttributes)
      .filter((a) => a?.activityType?.name === 'trainModel')
      .at(-1);
    const queue = scheduled?.taskQueue?.name;
    if (!queue || (await taskQueuePolled(client, queue, 'activity')) !== false) return undefined;
    return `Note: retrain ${retrain.workflowId} waits: its training step is scheduled on task queue "${queue}", which no training worker polls. Start one there (\`npm run worker:training\` polls mlops-training, or MLOPS_TRAINING_TASK_QUEUE).`;
  } catch {
    return undefined;
  }
}

/**
 * Warns (only when the caller takes warnings) about a training input every retrain would fail on: a local dataset that
 * is no file here or lies outside the data roots, a trainer kind this machine's configuration does not know. The
 * pipeline and training workers may run elsewhere with other settings, so this warns and does not refuse.
 */
function warnAboutTraining(training: StartRequest['input']['training'], checks: CommandChecks): void {
  const { warn, training: known } = checks;
  if (!warn || !known) return;
  const dataset = (training as { dataset?: { uri?: unknown; format?: FileFormat } }).dataset;
  const later = 'every retrain fails at its first step while a pipeline worker with these settings runs it';
  // Read as ingest reads it (parseSource): a local path or file:// URI is checked here; other sources are not.
  const source =
    typeof dataset?.uri === 'string'
      ? (() => {
          try {
            return parseSource({ sourceUri: dataset.uri, format: dataset.format });
          } catch {
            return undefined; // refused by the workflow's own input check, which start ran already
          }
        })()
      : undefined;
  if (source?.kind === 'file') {
    const real = existsSync(source.path) ? realpathSync(source.path) : undefined;
    if (!real || !statSync(real).isFile())
      warn(`Warning: the training input's dataset.uri "${source.uri}" is no file here (${source.path}): ${later}.`);
    else if (!known.dataRoots.some((root) => isWithin(existsSync(root) ? realpathSync(root) : root, real)))
      warn(
        `Warning: the training input's dataset.uri "${source.uri}" is not inside a data root (${known.dataRoots.join(', ')}; MLOPS_DATA_ROOTS): ${later}.`,
      );
  }
  const kind = (training as { trainer?: { kind?: unknown } }).trainer?.kind ?? 'builtin-linear';
  if (typeof kind === 'string' && !known.trainers.includes(kind))
    warn(
      `Warning: the training input's trainer.kind "${kind}" is not one this machine knows (${known.trainers.join(', ')}): ` +
        'register it in MLOPS_TRAINERS on the training worker, or every retrain fails at its training step.',
    );
}

/**
 * The answer of a `start` that found the controller running: what differs from the options given and how to change
 * it; MLOPS_ERR_CONTROLLER_START_CONFLICT when something differs that only a new controller can take.
 */
async function alreadyRunning(client: Client, request: StartRequest, running: RunningExecution): Promise<string> {
  const { modelName } = request.input;
  const workflowId = controllerWorkflowId(modelName);
  const headline = `The controller ${workflowId} is already running (run ${running.runId})`;
  const handle = client.workflow.getHandle(workflowId);
  const call = {
    client,
    handle,
    taskQueue: running.taskQueue,
    command: 'start',
    timeoutSeconds: request.timeoutSeconds,
  };
  let state: ControllerState;
  try {
    state = await queryWithin(call, 'left it as it is');
  } catch (err) {
    return `${headline} and was left as it is; its state could not be read to compare the options given: ${(err as Error).message}`;
  }
  const differences = startDifferences(request, state, running.taskQueue);
  const lines = differenceLines(modelName, differences);
  if (differences.some((difference) => !difference.change))
    throw mlopsError('MLOPS_ERR_CONTROLLER_START_CONFLICT', {
      workflowId,
      runId: running.runId,
      alias: state.alias,
      differences: lines.join('\n'),
    });
  const note = unreadOptionsNote(request);
  const summary = differences.length
    ? [`${headline} and was not changed (it follows alias ${state.alias}); the options given differ from it:`, ...lines]
    : [`${headline} and was left as it is (it follows alias ${state.alias}); its input is unchanged.`];
  return [...summary, ...(note ? [note] : [])].join('\n');
}

/** Prints a warning for each server that does not answer ready (only when the caller takes warnings). */
async function warnAboutServers(servers: string[], modelName: string, checks: CommandChecks): Promise<void> {
  if (!checks.warn || servers.length === 0) return;
  for (const warning of await probeServers(servers, modelName)) checks.warn(warning);
}

/**
 * Refuses muted features the alias's version does not take (the controller would drop them at its start, recording
 * it in its history only), as `mute` refuses one; nothing to check without a store or a deployed version.
 */
async function checkMutedAtStart({ input }: StartRequest, checks: CommandChecks): Promise<void> {
  if (!checks.store || !input.muted?.length) return;
  const version = await aliasVersion(checks.store, input.modelName, input.alias ?? 'production');
  const versions = version === undefined ? [] : [version];
  const problem = await unknownFeatures(checks.store, input.modelName, versions, input.muted);
  if (problem)
    throw mlopsError('MLOPS_ERR_CLI_ARGUMENT_INVALID', {
      argument: '--muted',
      script: 'models',
      command: 'start',
      reason: `${problem} (alias ${input.alias ?? 'production'} serves v${version})`,
    });
}

/**
 * Refuses to unmute a name that is not muted and that neither the stable version nor the canary takes, as the
 * controller's `mute` refuses one (its `unmute` would answer "unmuted" for a typo). Checked here, from the registry:
 * the refusal of a workflow's update is the workflow's, and src/workflows is not this module's to change.
 */
async function checkUnmute(
  client: Client,
  modelName: string,
  update: ControllerUpdate,
  checks: CommandChecks,
  timeoutSeconds?: number,
): Promise<void> {
  const { feature } = update.arg as { feature: string };
  if (!checks.store) return;
  const state = await controllerState(client, modelName, update.command, timeoutSeconds);
  if (state.muted.includes(feature)) return;
  const versions = [state.stable, state.canary?.version].filter((v): v is number => v !== undefined);
  const problem = await unknownFeatures(checks.store, modelName, versions, [feature]);
  if (problem) throw new ControllerRefusal(`unmute failed: ${problem}`);
}

/** Warns (only when the caller takes warnings) when no worker polls the queue that work was started on. */
async function warnIfUnpolled(client: Client, taskQueue: string, what: string, checks: CommandChecks): Promise<void> {
  if (checks.warn && (await taskQueuePolled(client, taskQueue)) === false)
    checks.warn(unpolledWarning(taskQueue, what));
}

interface RunningExecution {
  runId: string;
  taskQueue: string;
}

async function runningExecution(handle: WorkflowHandle): Promise<RunningExecution | undefined> {
  try {
    const described = await handle.describe();
    return described.status.name === 'RUNNING' ? { runId: described.runId, taskQueue: described.taskQueue } : undefined;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** The state of the running controller (a controller that ended is not running: its last state is in its history). */
export async function controllerState(
  client: Client,
  modelName: string,
  command = 'status',
  timeoutSeconds?: number,
): Promise<ControllerState> {
  const call = await answeringController(client, modelName, command, timeoutSeconds);
  return reachController(modelName, () => queryWithin(call, 'could not read its state'));
}

/**
 * The model's running controller, once a worker is known to poll its task queue: a query or update on a queue nobody
 * polled lately could never be answered, so it is refused at once (MLOPS_ERR_CONTROLLER_NO_WORKER, naming the
 * queue). A worker killed a moment ago still counts as polling: the command's deadline catches that case.
 */
async function answeringController(
  client: Client,
  modelName: string,
  command: string,
  timeoutSeconds?: number,
): Promise<ControllerCall> {
  const workflowId = controllerWorkflowId(modelName);
  const handle = client.workflow.getHandle(workflowId);
  const running = await runningExecution(handle);
  if (!running) throw notRunning(modelName);
  const { taskQueue } = running;
  if ((await taskQueuePolled(client, taskQueue)) === false)
    throw mlopsError('MLOPS_ERR_CONTROLLER_NO_WORKER', { workflowId, taskQueue, command });
  return { client, handle, taskQueue, command, timeoutSeconds };
}

/**
 * Sends the update once the controller has answered a query: an update sent while no worker runs the controller is
 * kept by the server and applied when one comes back, so a command that gave up would move the deployment later.
 * An update that is sent and still not answered in time is MLOPS_ERR_CONTROLLER_UPDATE_UNANSWERED.
 */
async function sendUpdate(
  client: Client,
  modelName: string,
  update: ControllerUpdate,
  timeoutSeconds?: number,
): Promise<ControllerAnswer> {
  const call = await answeringController(client, modelName, update.command, timeoutSeconds);
  try {
    return await reachController(modelName, async () => {
      await queryWithin(call, 'was not sent: nothing changes');
      return updateWithin(call, update.name, update.arg);
    });
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

async function scheduleRetrain(
  client: Client,
  schedule: RetrainScheduleOptions,
  checks: CommandChecks,
): Promise<string> {
  const { scheduleId, created, previousInput, pausedNote } = await upsertRetrainSchedule(client, schedule).catch(
    (err: unknown) => {
      throw cronRefusal(err, schedule.cron, 'models', 'schedule-retrain');
    },
  );
  const { modelName } = schedule.input;
  const lines = [
    `${created ? 'Created' : 'Updated'} schedule ${scheduleId}: requestRetrain ${JSON.stringify(schedule.input)} on "${schedule.cron}"`,
  ];
  if (pausedNote !== undefined) lines.push(pausedScheduleNote(scheduleId, pausedNote));
  const previousReason = (previousInput as { reason?: unknown } | undefined)?.reason;
  // As `npm run monitoring -- schedule` says of its settings: the input is replaced whole.
  if (previousReason !== undefined && schedule.input.reason === undefined)
    lines.push(
      `Note: the schedule's input is replaced whole; its previous --reason ${JSON.stringify(previousReason)} was not given again and is gone (its runs now ask with the default reason). Give it again to keep it.`,
    );
  const taskQueue = schedule.taskQueue ?? taskQueues.pipeline;
  await warnIfUnpolled(client, taskQueue, `each run of the schedule ${scheduleId}`, checks);
  if (!(await runningExecution(client.workflow.getHandle(controllerWorkflowId(modelName))))) {
    lines.push(
      `Note: no controller is running for ${modelName}; its runs fail until \`npm run models -- start ${modelName} …\`.`,
    );
  }
  return lines.join('\n');
}

/**
 * What the deployment record says when it differs from the controller's stable version: a pipeline run (or a person)
 * deployed outside the controller, which the controller reads only when it next acts. Undefined otherwise, and when
 * the record cannot be read (the status stands on its own).
 */
async function outsideDeploymentNote(store: ArtifactStore, state: ControllerState): Promise<string | undefined> {
  const record = await readDeployment(store, state.modelName, state.alias).catch(() => undefined);
  if (!record || record.stable === state.stable) return undefined;
  return `Note: the deployment record says v${record.stable} serves (deployed outside the controller, at ${record.updatedAt}); the controller adopts it when it next acts (a canary, a rollback).`;
}
