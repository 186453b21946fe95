/**
 * The `npm run models` command line (scripts/models.ts), parsed into one typed command without touching Temporal:
 * an unknown command, option or a missing argument is a {@link UsageError} (the script prints it with the usage); a
 * value that cannot be used is a catalogued MLOPS_ERR_CLI_ARGUMENT_INVALID naming the argument.
 */
import type { ParseArgsConfig } from 'node:util';
import { parseArgs } from 'node:util';
import type { ControllerInput } from '../contracts/controller';
import { controllerInputSchema } from '../contracts/controller';
import { requestRetrainInputDocs, requestRetrainInputSchema } from '../contracts/request-retrain';
import { parseWorkflowInput } from '../contracts/validate';
import type { RetrainScheduleOptions } from '../schedules/retrain-schedule';
import { isMlopsError, mlopsError } from '../errors';
import type { ControllerUpdate, UpdateCommandName } from './controller-updates';
import { controllerUpdate, updateCommands } from './controller-updates';
import type { OptionValues } from './option-values';
import {
  answerTimeoutFrom,
  commandLineOptions,
  controllerInputFrom,
  refuseEmptyOptions,
  thresholdFlags,
} from './option-values';

export type ModelsCommand =
  | { kind: 'start'; input: ControllerInput; taskQueue?: string; timeoutSeconds?: number }
  | { kind: 'status' | 'history'; modelName: string; json: boolean; timeoutSeconds?: number }
  | { kind: 'update'; modelName: string; update: ControllerUpdate; json: boolean; timeoutSeconds?: number }
  | { kind: 'schedule-retrain'; schedule: RetrainScheduleOptions }
  | { kind: 'unschedule-retrain'; modelName: string };

/** A command line that does not name a known command with its arguments and options. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Prints why a script failed and returns its exit code: 2 for a bad command line (with `usage`) or a refused argument or
 * input, 1 for anything else (the server, the store). `npm run models` and `npm run monitoring` end this way.
 */
export function scriptExitCode(err: unknown, usage: string): number {
  if (err instanceof UsageError) {
    console.error(`${err.message}\n\n${usage}`);
    return 2;
  }
  console.error(err instanceof Error ? err.message : err);
  return isMlopsError(err, 'MLOPS_ERR_CLI_ARGUMENT_INVALID') || isMlopsError(err, 'MLOPS_ERR_PIPELINE_INPUT_INVALID')
    ? 2
    : 1;
}

const thresholdUsage =
  '[--weight <0-1>] [--bake-seconds <s>] [--min-requests <n>] [--max-error-rate <0-1>] [--max-latency-ratio <r>] [--min-latency-increase-ms <ms>] [--max-prediction-drift <0-1>]';

export const usage = `Usage: npm run models -- <command> <model> [arguments] [options]
  start <model> --training <training-input.json> [--servers <url,url>|none] [--alias <alias>] [--approval]
        [--approval-timeout <s>] [--on-timeout approve|reject] [--retrain-on drift,accuracy] [--muted <feature,feature>]
        [--retrain-cooldown <s>] ${thresholdUsage} [--task-queue <queue>]
  status <model> [--json]               the controller's state
  history <model> [--json]              its recent events
  deploy <model> <version> [--direct]   canary rollout (or straight to stable with --direct)
  promote <model>                       promote the canary now
  rollback <model> [--reason <text>]
  retrain <model> [--reason <text>]
  approve <model> <version> [--reason <text>]
  reject <model> <version> [--reason <text>]
  thresholds <model> ${thresholdUsage}
  servers <model> <url,url>|none       the model servers whose counters judge a canary
  mute <model> <feature>
  unmute <model> <feature>
  pause <model> [--reason <text>]      start nothing by itself (incidents, scheduled retrains, rollouts) until resume
  resume <model>
  schedule-retrain <model> --cron "<cron>" [--reason <text>] [--task-queue <queue>]
  unschedule-retrain <model>
Servers (start --servers, servers): none means no servers (new versions deploy directly, without a canary); URLs
naming the same server (a trailing /, the default port, upper-case scheme or host) count once. Each URL is a model
server's base URL, like http://127.0.0.1:8080 (with a path if a proxy serves it under one), and has no query string,
fragment or credentials.
Updates print the controller's answer; --json prints the whole answer (message and state).
--timeout <s> (start, status, history and the updates; default 30): how long to wait for each answer of the
controller. An update is sent only after the controller answered a query; one sent and not answered in time is not
withdrawn and may still be applied (the error says how to see whether it was).`;

const startOptions = [
  'training',
  'servers',
  'alias',
  'approval',
  'approval-timeout',
  'on-timeout',
  'retrain-on',
  'retrain-cooldown',
];
/** Positional arguments after the model, and the options each command takes. */
const grammar: Record<string, { args: string[]; options: string[] }> = {
  start: { args: [], options: [...startOptions, 'muted', 'task-queue', 'timeout', ...Object.keys(thresholdFlags)] },
  status: { args: [], options: ['json', 'timeout'] },
  history: { args: [], options: ['json', 'timeout'] },
  ...Object.fromEntries(
    Object.entries(updateCommands).map(([name, spec]) => [
      name,
      { args: spec.args, options: [...spec.options, 'json', 'timeout'] },
    ]),
  ),
  'schedule-retrain': { args: [], options: ['cron', 'reason', 'task-queue'] },
  'unschedule-retrain': { args: [], options: [] },
};

export function parseModelsCommand(argv: string[]): ModelsCommand {
  const { values, positionals } = parseCommandLine(argv);
  const [command = '', model, ...rest] = positionals;
  const rule = grammar[command];
  if (!rule) throw new UsageError(command ? `Unknown command "${command}".` : 'No command given.');
  if (!model) throw new UsageError(`${command} needs a model name.`);
  if (rest.length !== rule.args.length) {
    const wanted = [model, ...rule.args.map((arg) => `<${arg}>`)].join(' ');
    throw new UsageError(`${command} takes ${wanted}; got ${[model, ...rest].join(' ')}.`);
  }
  const stray = Object.keys(values).filter((name) => !rule.options.includes(name));
  if (stray.length) throw new UsageError(`${command} has no option ${stray.map((name) => `--${name}`).join(', ')}.`);
  const modelName = modelNameOf(command, model);
  refuseEmptyOptions(command, values);
  return buildCommand(command, modelName, rest, values);
}

function parseCommandLine(argv: string[]) {
  return parseCommandArguments(argv, commandLineOptions!);
}

/**
 * `parseArgs` of a script's command line (strict, with positionals); its refusals are {@link UsageError}s. An option's
 * value that starts with "-" is named: `--weight -0.5` is a negative number (none is taken), and other text is written
 * `--reason=-x` (parseArgs said only that the argument was "ambiguous").
 */
export function parseCommandArguments<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
): ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; strict: true; options: T }>> {
  try {
    return parseArgs({ args: argv, allowPositionals: true, strict: true, options });
  } catch (err) {
    throw new UsageError(dashValueProblem(argv, options) ?? (err as Error).message);
  }
}

function dashValueProblem(argv: string[], options: NonNullable<ParseArgsConfig['options']>): string | undefined {
  for (let i = 0; i + 1 < argv.length; i++) {
    const name = argv[i]!.startsWith('--') ? argv[i]!.slice(2) : undefined;
    const value = argv[i + 1]!;
    if (!name || options[name]?.type !== 'string' || !value.startsWith('-') || value === '--') continue;
    if (value.startsWith('--') && options[value.slice(2).split('=')[0]!])
      return `--${name} needs a value: the next argument, ${value}, is an option.`;
    if (/^-(\d|\.\d)/.test(value))
      return `--${name} ${value}: a negative number is not accepted (the value is 0 or more).`;
    return `--${name} needs a value; to give one that starts with "-", write --${name}=${value}.`;
  }
  return undefined;
}

function modelNameOf(command: string, model: string): string {
  const checked = controllerInputSchema.shape.modelName.safeParse(model);
  if (checked.success) return model;
  throw mlopsError('MLOPS_ERR_CLI_ARGUMENT_INVALID', {
    argument: '<model>',
    script: 'models',
    command,
    reason: `"${model}" is not a registry model name (lower-case letters, digits and "-", starting with a letter)`,
  });
}

function buildCommand(command: string, modelName: string, args: string[], values: OptionValues): ModelsCommand {
  const json = values.json === true;
  switch (command) {
    case 'start':
      return {
        kind: 'start',
        input: controllerInputFrom(modelName, values),
        taskQueue: values['task-queue'] as string,
        ...answerTimeoutFrom(command, values),
      };
    case 'status':
    case 'history':
      return { kind: command, modelName, json, ...answerTimeoutFrom(command, values) };
    case 'schedule-retrain':
      return { kind: command, schedule: retrainScheduleFrom(modelName, values) };
    case 'unschedule-retrain':
      return { kind: command, modelName };
    default:
      return {
        kind: 'update',
        modelName,
        json,
        update: controllerUpdate(command as UpdateCommandName, args, values),
        ...answerTimeoutFrom(command, values),
      };
  }
}

function retrainScheduleFrom(modelName: string, values: OptionValues): RetrainScheduleOptions {
  const cron = values.cron;
  if (!cron?.trim()) throw new UsageError('schedule-retrain needs --cron "<cron>" (e.g. --cron "0 3 * * 1").');
  const input = values.reason === undefined ? { modelName } : { modelName, reason: values.reason };
  parseWorkflowInput(requestRetrainInputSchema, input, 'requestRetrain', requestRetrainInputDocs);
  const schedule: RetrainScheduleOptions = { cron, input };
  if (values['task-queue'] !== undefined) schedule.taskQueue = values['task-queue'];
  return schedule;
}
