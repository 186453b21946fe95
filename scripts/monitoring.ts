/**
 * `npm run monitoring -- schedule <model> --cron "<expr>" [--alias production] [--min-rows 500] [--preset evidently]
 * [--muted a,b] [--threshold name=value …] [--dataset-drift-share 0.2] [--labels <uri> [--id-column request_id]
 * [--label-column label] [--instance-column instance] [--lookback-hours 168] [--min-labelled 100] [--accuracy-drop 0.05]]
 * [--log parquet|bigquery] [--no-compact-log]`: creates the model's monitoring Schedule (a `monitorModel` run per
 * cron tick), or updates it when it exists. `npm run monitoring -- unschedule <model> [--alias staging]` deletes it.
 * `npm run monitoring -- check <model> [the options of schedule but --cron] [--lag-seconds 120] [--task-queue q]` runs
 * one check now and prints what it found (exit 0 whether or not it found drift; 1 when the run failed).
 * Both refuse a model name or alias the registry cannot hold. Connects to the Temporal server of the config
 * (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE).
 *
 * Exit codes: 0 done; 1 the server or the store failed; 2 a bad command line or input.
 */
import type { Client } from '@temporalio/client';
import type { ArtifactStore } from '../src/artifacts';
import { createArtifactStore } from '../src/artifacts';
import { loadConfig } from '../src/config';
import type { MlopsConfig } from '../src/config';
import { WorkflowFailedError } from '@temporalio/client';
import { controllerWorkflowId } from '../src/contracts/controller';
import type { MonitoringIncident, MonitorModelInput, MonitorModelResult } from '../src/contracts/monitoring';
import { monitorModelInputSchema } from '../src/contracts/monitoring';
import { taskQueues } from '../src/contracts/task-queues';
import { monitorResultLine } from '../src/monitoring/result-text';
import { parseCommandLineInput } from '../src/contracts/validate';
import { parseCommandArguments, scriptExitCode, UsageError } from '../src/controller-client/command-line';
import { unregisteredModelText } from '../src/controller-client/registry-note';
import { readJson } from '../src/artifacts';
import type { FittedTransform } from '../src/contracts/datasets';
import type { MlopsErrorDetails } from '../src/errors';
import { formatErrorMessage, isMlopsError, mlopsError } from '../src/errors';
import { setOwn } from '../src/contracts/own-property';
import { checkFeatureNames } from '../src/monitoring/monitor-window';
import type { ModelVersionRecord } from '../src/registry/model-registry';
import { readAlias, resolveAlias } from '../src/registry/model-registry';
import { cronRefusal, pausedScheduleNote } from '../src/schedules/cron-schedule';
import { deleteMonitoringSchedule, upsertMonitoringSchedule } from '../src/schedules/monitoring-schedule';
import { connectTemporalClient } from '../src/temporal-client';
import type { ControllerEventKind } from '../src/contracts/controller';
import { numberProblem, plainNumber } from '../src/controller-client/option-values';
import { taskQueuePolled } from '../src/controller-client/task-queue-pollers';
import { monitoringCheckWorkflowId } from '../src/schedules/monitoring-schedule';
import { describeIncident } from '../src/workflows/controller-state';
import { controllerStatusQuery } from '../src/workflows/definitions';

const usage = `Usage:
  npm run monitoring -- schedule <model> --cron "<cron>" [--alias <alias>] [--min-rows <n>] [--preset evidently|vertex]
      [--muted <feature>,<feature>] [--threshold <feature>=<value> …] [--dataset-drift-share <share>]
      [--labels <uri> [--id-column <name>] [--label-column <name>] [--instance-column <name>] [--lookback-hours <h>]
      [--min-labelled <n>] [--accuracy-drop <x>]] [--log parquet|bigquery] [--no-compact-log]
  npm run monitoring -- unschedule <model> [--alias <alias>]
  npm run monitoring -- check <model> [the options of schedule but --cron] [--lag-seconds <s>] [--task-queue <queue>]
      [--timeout <s>]
      runs one check now (a monitorModel run; it moves the window's start as a scheduled run does) and prints it;
      gives up waiting after --timeout seconds (default 600), leaving the run to go on
<alias>: a registry alias (lower-case letters, digits and "-"; default production), one schedule each; both commands
refuse any other. docs/monitoring.md ("The monitoring run") describes each option.`;

const options = {
  cron: { type: 'string' },
  alias: { type: 'string' },
  'min-rows': { type: 'string' },
  preset: { type: 'string' },
  muted: { type: 'string' },
  threshold: { type: 'string', multiple: true },
  'dataset-drift-share': { type: 'string' },
  labels: { type: 'string' },
  'id-column': { type: 'string' },
  'label-column': { type: 'string' },
  'instance-column': { type: 'string' },
  'lookback-hours': { type: 'string' },
  'min-labelled': { type: 'string' },
  'accuracy-drop': { type: 'string' },
  log: { type: 'string' },
  'no-compact-log': { type: 'boolean' },
  'lag-seconds': { type: 'string' },
  'task-queue': { type: 'string' },
  timeout: { type: 'string' },
} as const;

function commandLine(argv: string[]) {
  return parseCommandArguments(argv, options);
}

/** `--threshold tenure=0.2` (repeated) as `{ tenure: 0.2 }`; a negative number stays for the schema to refuse. */
function thresholdsOf(pairs: string[], command: string): Record<string, number> {
  const thresholds: Record<string, number> = {};
  for (const pair of pairs) {
    const at = pair.lastIndexOf('=');
    if (at <= 0) throw new UsageError(`--threshold takes <feature>=<value>; got "${pair}".`);
    const text = pair.slice(at + 1);
    const feature = pair.slice(0, at);
    // A sign is kept for the schema to judge (a negative threshold is refused naming it, not as "not a number").
    const magnitude = plainNumber(text.replace(/^-/, ''), false);
    if (magnitude === undefined)
      throw invalidArgument('--threshold', command, `${feature}: ${numberProblem(text, false)}`);
    setOwn(thresholds, feature, text.startsWith('-') ? -magnitude : magnitude);
  }
  return thresholds;
}

/** The option of `schedule` that sets each field of the monitorModel input. */
const flagOf: Record<string, string> = {
  modelName: '<model>',
  alias: '--alias',
  minRows: '--min-rows',
  preset: '--preset',
  muted: '--muted',
  thresholds: '--threshold',
  datasetDriftShare: '--dataset-drift-share',
  labels: '--labels',
  'labels.idColumn': '--id-column',
  'labels.labelColumn': '--label-column',
  'labels.instanceColumn': '--instance-column',
  'labels.lookbackHours': '--lookback-hours',
  'labels.minLabelled': '--min-labelled',
  accuracyDrop: '--accuracy-drop',
  log: '--log',
  compactLog: '--no-compact-log',
  lagSeconds: '--lag-seconds',
};

function scheduleInput(
  modelName: string,
  values: ReturnType<typeof commandLine>['values'],
  command: 'schedule' | 'check',
): MonitorModelInput {
  refuseEmptyValues(values, command);
  const input: MonitorModelInput = { modelName };
  if (values.alias !== undefined) input.alias = values.alias;
  if (values['min-rows'] !== undefined) input.minRows = numberOf(values, 'min-rows', true, command);
  if (values.preset) input.preset = values.preset as MonitorModelInput['preset'];
  if (values.muted) input.muted = values.muted.split(',').filter((f) => f !== '');
  if (values.threshold) input.thresholds = thresholdsOf(values.threshold, command);
  // Given at all, it is checked: an empty or non-numeric value is a number the schema refuses (0, NaN).
  if (values['dataset-drift-share'] !== undefined)
    input.datasetDriftShare = plainNumber(values['dataset-drift-share'], false) ?? NaN;
  if (values.labels)
    input.labels = {
      uri: values.labels,
      ...(values['id-column'] && { idColumn: values['id-column'] }),
      ...(values['label-column'] && { labelColumn: values['label-column'] }),
      ...(values['instance-column'] && { instanceColumn: values['instance-column'] }),
      ...(values['lookback-hours'] !== undefined && {
        lookbackHours: numberOf(values, 'lookback-hours', false, command),
      }),
      ...(values['min-labelled'] !== undefined && { minLabelled: numberOf(values, 'min-labelled', true, command) }),
    };
  if (values['accuracy-drop'] !== undefined) input.accuracyDrop = numberOf(values, 'accuracy-drop', false, command);
  if (values.log) input.log = values.log as MonitorModelInput['log'];
  if (values['no-compact-log']) input.compactLog = false;
  if (values['lag-seconds'] !== undefined) input.lagSeconds = numberOf(values, 'lag-seconds', true, command);
  // Refused here, with every bad flag listed, rather than by each scheduled run.
  parseCommandLineInput(monitorModelInputSchema, input, { script: 'monitoring', command, options: flagOf });
  return input;
}

/** The options that say how to read the labels: given without --labels, they would do nothing. */
const labelOptions = [
  'id-column',
  'label-column',
  'instance-column',
  'lookback-hours',
  'min-labelled',
  'accuracy-drop',
] as const;

/** Seconds `check` waits for its run when `--timeout` is not given: a large window on BigQuery takes minutes. */
const defaultCheckSeconds = 600;

/** Upper bounds the input's schema does not set (a value no window reaches is a typo, not a setting). */
const numberBounds: Partial<Record<keyof typeof options, number>> = {
  // An hourly window of a hundred million rows is far beyond one model server; a larger minimum skips every run.
  'min-rows': 100_000_000,
  timeout: 86_400,
};

/** A number option in plain decimal (no exponent or hex; a whole number for counts), within its bound. */
function numberOf(
  values: ReturnType<typeof commandLine>['values'],
  flag: 'min-rows' | 'lag-seconds' | 'accuracy-drop' | 'timeout' | 'lookback-hours' | 'min-labelled',
  integer: boolean,
  command: string,
): number {
  const raw = values[flag]!;
  const value = plainNumber(raw, integer, numberBounds[flag]);
  if (value !== undefined) return value;
  throw invalidArgument(`--${flag}`, command, numberProblem(raw, integer, numberBounds[flag]));
}

function invalidArgument(argument: string, command: string, reason: string): Error {
  return mlopsError('MLOPS_ERR_CLI_ARGUMENT_INVALID', { argument, script: 'monitoring', command, reason });
}

/**
 * Refuses an empty value where it would silently mean "none" (`--labels ""`: no live metric; `--muted ","`: none
 * muted) or the default. --alias and --dataset-drift-share are the schema's to refuse, naming the field.
 */
function refuseEmptyValues(values: ReturnType<typeof commandLine>['values'], command: string): void {
  for (const [flag, value] of Object.entries(values)) {
    if (flag === 'alias' || flag === 'dataset-drift-share' || typeof value === 'boolean') continue;
    const items = Array.isArray(value) ? value : flag === 'muted' ? String(value).split(',') : [String(value)];
    if (items.length > 0 && !items.every((item) => item.trim() === '')) continue;
    throw invalidArgument(`--${flag}`, command, `"${String(value)}" is empty: give a value, or leave --${flag} out`);
  }
}

/** The model and alias of `unschedule`, refused as `schedule` refuses them (a schedule id is made of them). */
function unscheduleTarget(modelName: string, alias: string | undefined): { modelName: string; alias: string } {
  const input = alias === undefined ? { modelName } : { modelName, alias };
  const where = { script: 'monitoring', command: 'unschedule', options: flagOf };
  return parseCommandLineInput(monitorModelInputSchema.pick({ modelName: true, alias: true }), input, where);
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
    console.log(usage);
    return argv.length === 0 ? 2 : 0;
  }
  const { values, positionals } = commandLine(argv);
  const [command, modelName, ...extra] = positionals;
  if (command !== 'schedule' && command !== 'unschedule' && command !== 'check')
    throw new UsageError(`Unknown command "${command ?? ''}".`);
  if (!modelName || extra.length) throw new UsageError(`${command} takes one model name.`);
  const given = Object.keys(values);
  if (command === 'unschedule' && given.some((name) => name !== 'alias'))
    throw new UsageError('unschedule takes no option but --alias.');
  if (command === 'schedule' && !values.cron) throw new UsageError('schedule needs --cron.');
  if (command === 'check' && values.cron) throw new UsageError('check runs once now: it takes no --cron.');
  if (
    command !== 'check' &&
    (values['lag-seconds'] !== undefined || values['task-queue'] !== undefined || values.timeout !== undefined)
  )
    throw new UsageError(
      "--lag-seconds, --task-queue and --timeout are options of check (a schedule keeps its input's lag).",
    );
  const timeoutSeconds =
    values.timeout === undefined ? defaultCheckSeconds : numberOf(values, 'timeout', true, command);
  if (timeoutSeconds < 1) throw invalidArgument('--timeout', command, 'must be at least 1 second');
  const labelFlags = labelOptions.filter((flag) => values[flag] !== undefined);
  if (labelFlags.length > 0 && !values.labels)
    throw new UsageError(
      `${labelFlags.map((flag) => `--${flag}`).join(', ')} need${labelFlags.length === 1 ? 's' : ''} --labels.`,
    );
  const input = command !== 'unschedule' ? scheduleInput(modelName, values, command) : undefined;
  const target = command === 'unschedule' ? unscheduleTarget(modelName, values.alias) : undefined;
  const config = loadConfig();
  const temporal = await connectTemporalClient(config);
  try {
    if (target) {
      const { alias } = target;
      const deleted = await deleteMonitoringSchedule(temporal.client, modelName, alias);
      const which = `${modelName}${alias === 'production' ? '' : ` (alias ${alias})`}`;
      console.log(deleted ? `Deleted the monitoring schedule of ${which}.` : `${which} had no monitoring schedule.`);
      return 0;
    }
    if (command === 'check')
      return await check(temporal.client, config, input!, values['task-queue'] ?? taskQueues.pipeline, timeoutSeconds);
    console.log(await schedule(temporal.client, config, input!, values.cron!));
    return 0;
  } finally {
    await temporal.close();
  }
}

/**
 * Refuses muted features and thresholds that the deployed version does not take, as each scheduled run would (nothing
 * is scheduled). Undefined when the alias has no version yet; false when the registry cannot be read.
 */
async function checkNames(
  store: ArtifactStore,
  input: MonitorModelInput,
  command: 'schedule' | 'check',
): Promise<boolean | undefined> {
  const alias = input.alias ?? 'production';
  let version: ModelVersionRecord;
  try {
    if (!(await readAlias(store, input.modelName, alias))) return undefined;
    version = await resolveAlias(store, input.modelName, alias);
  } catch {
    return false;
  }
  if (!input.muted?.length && !input.thresholds) return true;
  const { features } = await readJson<Pick<FittedTransform, 'features'>>(store, version.transformUri);
  try {
    checkFeatureNames(
      version,
      features.map((f) => f.name),
      input,
    );
  } catch (err) {
    if (!isMlopsError(err, 'MLOPS_ERR_MONITOR_UNKNOWN_FEATURE')) throw err;
    // Its problem only: its fix speaks of the schedule's input, the command line's is the one to print.
    const { params } = err.details?.[0] as MlopsErrorDetails;
    const argument = String(params.fields).replace('muted', '--muted').replace('thresholds', '--threshold');
    throw mlopsError('MLOPS_ERR_CLI_ARGUMENT_INVALID', {
      argument,
      script: 'monitoring',
      command,
      reason: formatErrorMessage('MLOPS_ERR_MONITOR_UNKNOWN_FEATURE', params),
    });
  }
  return true;
}

/** The previous input's settings (`thresholds {"tenure":0.2}`) that the new input leaves out. */
function droppedSettings(previous: unknown, input: MonitorModelInput): string[] {
  if (previous === null || typeof previous !== 'object') return [];
  return Object.entries(previous)
    .filter(([key, value]) => value !== undefined && (input as Record<string, unknown>)[key] === undefined)
    .map(([key, value]) => `${key} ${JSON.stringify(value)}`);
}

async function schedule(client: Client, config: MlopsConfig, input: MonitorModelInput, cron: string): Promise<string> {
  const store = createArtifactStore(config);
  const deployed = await checkNames(store, input, 'schedule');
  const { scheduleId, created, previousInput, pausedNote } = await upsertMonitoringSchedule(client, {
    cron,
    input,
  }).catch((err: unknown) => {
    throw cronRefusal(err, cron, 'monitoring', 'schedule');
  });
  const lines = [
    `${created ? 'Created' : 'Updated'} schedule ${scheduleId}: monitorModel ${JSON.stringify(input)} on "${cron}"`,
  ];
  if (pausedNote !== undefined) lines.push(pausedScheduleNote(scheduleId, pausedNote));
  const dropped = droppedSettings(previousInput, input);
  if (dropped.length)
    lines.push(
      `Note: the schedule's input is replaced whole; these settings of the previous one were not given again and are gone: ${dropped.join(', ')}. Give them again to keep them.`,
    );
  const alias = input.alias ?? 'production';
  // A schedule may come before the first deployment; say so, since its runs fail until then.
  if (deployed === undefined) lines.push(await undeployedNote(store, config, input.modelName, alias));
  return lines.join('\n');
}

/**
 * One `monitorModel` run now, on the pipeline task queue, waited for: what it found (the line the demo prints), where
 * its report is, and whether its incident reached the model's controller. A run that fails prints its error (exit 1).
 */
async function check(
  client: Client,
  config: MlopsConfig,
  input: MonitorModelInput,
  taskQueue: string,
  timeoutSeconds: number,
): Promise<number> {
  const store = createArtifactStore(config);
  const alias = input.alias ?? 'production';
  if ((await checkNames(store, input, 'check')) === undefined) {
    const unregistered = await unregisteredModelText(store, input.modelName);
    throw mlopsError('MLOPS_ERR_CLI_ARGUMENT_INVALID', {
      argument: '<model>',
      script: 'monitoring',
      command: 'check',
      reason: unregistered ?? `model ${input.modelName} has no version with alias ${alias} to check`,
    });
  }
  // The check waits for its run: on a queue nobody polls it would wait for ever, so nothing is started.
  if ((await taskQueuePolled(client, taskQueue)) === false)
    throw mlopsError('MLOPS_ERR_MONITOR_NO_WORKER', { taskQueue });
  const workflowId = monitoringCheckWorkflowId(input.modelName, alias);
  const handle = await client.workflow.start('monitorModel', { taskQueue, workflowId, args: [input] });
  let result: MonitorModelResult;
  let timer: NodeJS.Timeout | undefined;
  // A worker killed a moment ago still counts as polling: without a deadline the command waited for ever.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(mlopsError('MLOPS_ERR_MONITOR_CHECK_UNANSWERED', { workflowId, taskQueue, seconds: timeoutSeconds })),
      timeoutSeconds * 1000,
    );
  });
  try {
    result = (await Promise.race([handle.result(), deadline])) as MonitorModelResult;
  } catch (err) {
    if (isMlopsError(err, 'MLOPS_ERR_MONITOR_CHECK_UNANSWERED')) throw err;
    const cause = err instanceof WorkflowFailedError ? (err.cause?.message ?? err.message) : String(err);
    console.error(`${workflowId} failed: ${cause}`);
    return 1;
  } finally {
    clearTimeout(timer);
  }
  const lines = [`${workflowId}: ${monitorResultLine(result)}`];
  if (result.predictionDrift) lines.push(`  predictions: ${predictionLine(result.predictionDrift)}`);
  if (input.labels) lines.push(liveMetricLine(result));
  if (result.reportUris) lines.push(`  report: ${result.reportUris.report}`);
  const compacted = result.compaction && compactionLine(result.compaction);
  if (compacted) lines.push(`  log: ${compacted}`);
  if (result.compactionError) lines.push(`  log not compacted: ${result.compactionError.message.split('\n')[0]}`);
  if (result.incident)
    lines.push(
      result.controllerSignalled
        ? await incidentLine(client, result.incident)
        : `  incident (${result.incident.kind}): no controller runs for ${input.modelName}; it is in the run's result only`,
    );
  console.log(lines.join('\n'));
  return 0;
}

/**
 * The live metric of a check given --labels, always one line: its value, or why it was skipped or not measured, with
 * the counts (labelled, waiting for labels, unknownIds, duplicateIds) in both cases.
 */
function liveMetricLine(result: MonitorModelResult): string {
  if (result.liveMetricError) return `  live metric not measured: ${result.liveMetricError.message.split('\n')[0]}`;
  const live = result.liveMetric;
  if (!live) return "  live metric: not in the run's result";
  const counts = `labelled ${live.labelled}, waiting for labels ${live.unlabelled}, unknownIds ${live.unknownIds}, duplicateIds ${live.duplicateIds}`;
  if (live.value === undefined) return `  live metric skipped: ${live.skipped ?? 'no value'}; ${counts}`;
  const drop =
    live.drop === undefined
      ? ''
      : `, drop ${Number(live.drop.toPrecision(3))} (threshold ${Number(live.threshold.toPrecision(3))})`;
  return `  live ${live.metric}: ${live.value.toFixed(4)} (evaluation ${live.evaluationValue.toFixed(4)}${drop}); ${counts}`;
}

const incidentWords: Partial<Record<ControllerEventKind, string>> = {
  incident: 'it asks for a retrain',
  'incident-folded': 'folded into the retrain or rollout under way',
  'incident-held': 'held, no retrain',
  'incident-ignored': 'ignored, no retrain',
};

/**
 * Where the incident went: sent to the controller, and what the controller recorded of it (its history entry for
 * this incident: taken, folded, held or ignored) when its state can be read; "sent to" only otherwise.
 */
async function incidentLine(client: Client, incident: MonitoringIncident): Promise<string> {
  const workflowId = controllerWorkflowId(incident.modelName);
  const sent = `  incident (${incident.kind}) sent to ${workflowId}`;
  try {
    const handle = client.workflow.getHandle(workflowId);
    if ((await taskQueuePolled(client, (await handle.describe()).taskQueue)) !== true) return sent;
    const { history } = await handle.query(controllerStatusQuery);
    const text = describeIncident(incident);
    const event = [...history].reverse().find((e) => e.kind in incidentWords && e.message.startsWith(text));
    return event ? `${sent}: ${incidentWords[event.kind]} (${event.message})` : sent;
  } catch {
    return sent;
  }
}

/** What the run's compaction did, or undefined when it did nothing (no closed hour to merge, nothing to remove). */
function compactionLine(c: NonNullable<MonitorModelResult['compaction']>): string | undefined {
  const done = [
    ...(c.hoursCompacted ? [`merged ${c.partsMerged} part(s) of ${c.hoursCompacted} closed hour(s)`] : []),
    ...(c.filesRemoved ? [`removed ${c.filesRemoved} file(s) merged over an hour ago`] : []),
    ...(c.failedHours?.length ? [`could not merge ${c.failedHours.join('; ')}`] : []),
  ];
  return done.length ? done.join('; ') : undefined;
}

function predictionLine(p: NonNullable<MonitorModelResult['predictionDrift']>): string {
  return `${p.metric} ${Number(p.value.toPrecision(3))} (threshold ${p.threshold})${p.drifted ? ': DRIFT' : ''}`;
}

/** The note on an alias with no version; a model with no version at all may be a typo, as `models start` says too. */
async function undeployedNote(
  store: ArtifactStore,
  config: MlopsConfig,
  modelName: string,
  alias: string,
): Promise<string> {
  const unregistered = await unregisteredModelText(store, modelName);
  if (unregistered)
    return `Note: ${unregistered}. The schedule was made anyway: its runs fail until a version is deployed with alias ${alias}.`;
  return `Note: model ${modelName} has no version with alias ${alias} in the registry (${config.artifactRoot}); its runs fail until one is deployed.`;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => process.exit(scriptExitCode(err, usage)),
);
