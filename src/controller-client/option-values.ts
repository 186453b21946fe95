/**
 * The options of `npm run models`, and how their text becomes the values the controller takes: numbers, lists, the
 * training input read from its JSON file, and the whole controller input validated against its schema.
 */
import fs from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import type { CanaryThresholds, ControllerInput } from '../contracts/controller';
import { controllerStartInputSchema, serverUrlProblem } from '../contracts/controller';
import { trainingPipelineInputSchema } from '../contracts/pipeline';
import { parseCommandLineInput } from '../contracts/validate';
import { mlopsError } from '../errors';
import { retrainInput } from '../workflows/controller-state';

/** Threshold options, by the canary threshold each sets. */
export const thresholdFlags = {
  weight: 'weight',
  'bake-seconds': 'bakeSeconds',
  'min-requests': 'minRequests',
  'max-error-rate': 'maxErrorRate',
  'max-latency-ratio': 'maxLatencyRatio',
  'min-latency-increase-ms': 'minLatencyIncreaseMs',
  'max-prediction-drift': 'maxPredictionDrift',
} as const satisfies Record<string, keyof CanaryThresholds>;

const textOptions = [
  'training',
  'servers',
  'alias',
  'approval-timeout',
  'on-timeout',
  'retrain-on',
  'retrain-cooldown',
  'muted',
] as const;
const stringOptions = [...textOptions, 'task-queue', 'reason', 'cron', 'timeout'] as const;
const booleanOptions = ['approval', 'json', 'direct'] as const;
const optionOf =
  (type: 'string' | 'boolean') =>
  (name: string): [string, { type: 'string' | 'boolean' }] => [name, { type }];

/** Every option of every command, for `parseArgs`; which command takes which is the grammar's (./command-line.ts). */
export const commandLineOptions: ParseArgsConfig['options'] = Object.fromEntries([
  ...[...stringOptions, ...Object.keys(thresholdFlags)].map(optionOf('string')),
  ...booleanOptions.map(optionOf('boolean')),
]);
export type OptionValues = Partial<
  Record<(typeof stringOptions)[number] | keyof typeof thresholdFlags, string> &
    Record<(typeof booleanOptions)[number], boolean>
>;

function invalid(command: string, argument: string, reason: string): Error {
  return mlopsError('MLOPS_ERR_CLI_ARGUMENT_INVALID', { argument, script: 'models', command, reason });
}

/**
 * How each number option is written and its upper bound where the controller's schema has none (a value no bake or
 * model reaches is a typo, not a setting). Lower bounds and the other ranges are the schema's to judge.
 */
const numberRules: Partial<Record<keyof OptionValues, { integer: boolean; max?: number }>> = {
  weight: { integer: false },
  'bake-seconds': { integer: true },
  // More requests than a server answers in a week's bake at 1,000 a second: the canary could never be judged.
  'min-requests': { integer: true, max: 1_000_000_000 },
  'max-error-rate': { integer: false },
  // A canary a thousand times slower than stable is down, not slow.
  'max-latency-ratio': { integer: false, max: 1000 },
  'min-latency-increase-ms': { integer: false },
  'max-prediction-drift': { integer: false },
  'approval-timeout': { integer: true, max: 365 * 24 * 3600 },
  // An hour: a controller that has not answered by then is not coming back while the terminal waits.
  timeout: { integer: true, max: 3600 },
};

/**
 * A number as a person writes it in decimal: digits with an optional fraction (`0.5`, `.5`, `10`); a whole number for
 * a count of seconds or requests. No hex (`0x10`), exponent (`1e3`), sign, `Infinity` or blank: `Number()` reads
 * them all, which turned `0x10` into 16. Undefined when `raw` is not such a number, or is above `max`.
 */
export function plainNumber(raw: string, integer: boolean, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const pattern = integer ? /^\d+$/ : /^(\d+(\.\d*)?|\.\d+)$/;
  if (!pattern.test(raw)) return undefined;
  const value = Number(raw);
  return value <= max ? value : undefined;
}

/** Why `raw` is refused as the option's number (`"0x10" is not a whole number in decimal digits`, or its bound). */
export function numberProblem(raw: string, integer: boolean, max = Number.MAX_SAFE_INTEGER): string {
  if (plainNumber(raw, integer, Infinity) === undefined)
    return `"${raw}" is not ${integer ? 'a whole number in decimal digits (like 600)' : 'a number in decimal digits (like 0.5)'}: no sign, exponent or hex`;
  return `${raw} is above the largest accepted, ${max}`;
}

/** A number option, or undefined when not given; refused when not plain decimal or above its bound (exit 2). */
export function numberOption(command: string, values: OptionValues, flag: keyof OptionValues): number | undefined {
  const raw = values[flag];
  if (typeof raw !== 'string') return undefined;
  const { integer, max } = numberRules[flag] ?? { integer: false };
  const value = plainNumber(raw, integer, max);
  if (value !== undefined) return value;
  throw invalid(command, `--${flag}`, numberProblem(raw, integer, max));
}

/**
 * `--timeout <s>`: how long a command waits for each answer of the controller (the worker that runs it answers), in
 * seconds; `{}` when not given (the command's default applies). Refused when 0: a command could never be answered.
 */
export function answerTimeoutFrom(command: string, values: OptionValues): { timeoutSeconds?: number } {
  const seconds = numberOption(command, values, 'timeout');
  if (seconds === undefined) return {};
  if (seconds >= 1) return { timeoutSeconds: seconds };
  throw invalid(command, '--timeout', 'it is 0: give the seconds to wait for the controller to answer (default 30)');
}

/** Options whose empty value would silently mean "none" (or the default queue): each is refused, naming it. */
const emptyMeansNone: Partial<Record<keyof OptionValues, string>> = {
  servers: "give the servers' URLs, or none for no servers (new versions then deploy directly)",
  muted: 'give the features to mute, or leave --muted out to mute none',
  'task-queue': 'give the task queue your pipeline workers poll, or leave --task-queue out for mlops-pipeline',
  // Most often a shell variable that was not set: the command's default reason would be recorded instead.
  reason: 'write why, or leave --reason out for the default reason',
};

/** Refuses an empty value (`""`, or only commas for a list) of an option where it would silently mean "none". */
export function refuseEmptyOptions(command: string, values: OptionValues): void {
  for (const [flag, fix] of Object.entries(emptyMeansNone)) {
    const raw = values[flag as keyof OptionValues];
    if (typeof raw === 'string' && raw.split(',').every((item) => item.trim() === ''))
      throw invalid(command, `--${flag}`, `"${raw}" is empty: ${fix}`);
  }
}

/** The thresholds given as options; with `required`, at least one must be. */
export function thresholdsFrom(command: string, values: OptionValues, required: boolean): Partial<CanaryThresholds> {
  const thresholds: Partial<CanaryThresholds> = {};
  for (const [flag, key] of Object.entries(thresholdFlags)) {
    const value = numberOption(command, values, flag as keyof typeof thresholdFlags);
    if (value !== undefined) thresholds[key] = value;
  }
  if (required && Object.keys(thresholds).length === 0) {
    const flags = Object.keys(thresholdFlags).map((flag) => `--${flag}`);
    throw invalid(command, 'options', `give at least one of ${flags.join(', ')}`);
  }
  return thresholds;
}

function listOption(values: OptionValues, flag: 'retrain-on' | 'muted'): string[] | undefined {
  const raw = values[flag];
  if (typeof raw !== 'string') return undefined;
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/**
 * The model servers of `start --servers` and `servers <model> <urls>`: `none` is no servers; URLs that certainly name
 * the same server (a trailing `/`, the scheme's default port, an upper-case scheme or host) are sent once, in one
 * spelling. Anything that is not an http(s) base URL (one with credentials, a query string or a fragment, even an
 * empty one) is kept as given, for the schema to refuse by its option.
 */
export function serverUrlsFrom(raw: string): string[] {
  if (raw.trim() === 'none') return [];
  const urls = raw
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '')
    .map(sameServerSpelling);
  return [...new Set(urls)];
}

function sameServerSpelling(text: string): string {
  if (!/^https?:\/\//i.test(text) || !URL.canParse(text) || serverUrlProblem(text)) return text;
  // URL parsing lower-cases the scheme and host and drops a default port; the path loses its trailing slashes.
  const url = new URL(text);
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

/** The `trainingPipeline` input a retrain runs with, read from the JSON file named by --training. */
function trainingInputFrom(values: OptionValues): Record<string, unknown> {
  const file = values.training;
  if (typeof file !== 'string')
    throw invalid(
      'start',
      '--training',
      'it is required: a JSON file with the trainingPipeline input a retrain runs with',
    );
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw invalid('start', '--training', `cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parser's message quotes the file's text; the file may be anything, so it is not repeated.
    throw invalid('start', '--training', `${file} is not JSON (it must hold the trainingPipeline input object)`);
  }
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  throw invalid('start', '--training', `${file} must hold one JSON object (the trainingPipeline input)`);
}

/**
 * The controller's input from the start options, checked against its schema here (every bad field in one
 * MLOPS_ERR_PIPELINE_INPUT_INVALID) so that a mistake is reported before anything starts. Only what was given is
 * sent: the controller fills in the defaults.
 */
export function controllerInputFrom(modelName: string, values: OptionValues): ControllerInput {
  const canary = thresholdsFrom('start', values, false);
  const approval = approvalFrom(values);
  const training = trainingInputFrom(values);
  // The controller retrains its own model: a file written for another one is a mistake, not something to override.
  if (training.modelName !== undefined && training.modelName !== modelName)
    throw invalid(
      'start',
      '--training',
      `${String(values.training)} trains model ${JSON.stringify(training.modelName)}, not ${JSON.stringify(modelName)}: start the controller of that model, or remove modelName from the file`,
    );
  const input = withoutUndefined({
    modelName,
    training,
    alias: values.alias,
    servers: values.servers === undefined ? undefined : serverUrlsFrom(values.servers),
    retrainOn: listOption(values, 'retrain-on'),
    muted: listOption(values, 'muted'),
    // Given at all, it is checked with the other fields: what is not plain decimal digits is NaN, which the schema
    // refuses naming the option.
    retrainCooldownSeconds:
      values['retrain-cooldown'] === undefined ? undefined : (plainNumber(values['retrain-cooldown'], true) ?? NaN),
    canary: Object.keys(canary).length ? canary : undefined,
    approval: Object.keys(approval).length ? approval : undefined,
  });
  const where = { script: 'models', command: 'start', options: startOptionOf };
  const spec = parseCommandLineInput(controllerStartInputSchema, input, where);
  // The training input each retrain will start with, checked now as the controller checks it at its start.
  parseCommandLineInput(trainingPipelineInputSchema, retrainInput(spec, 'check'), { ...where, within: 'training' });
  return input as ControllerInput;
}

/** The option of `start` that sets each field of the controller input. */
const startOptionOf: Record<string, string> = {
  modelName: '<model>',
  training: '--training',
  alias: '--alias',
  servers: '--servers',
  retrainOn: '--retrain-on',
  retrainCooldownSeconds: '--retrain-cooldown',
  muted: '--muted',
  approval: '--approval',
  'approval.timeoutSeconds': '--approval-timeout',
  'approval.onTimeout': '--on-timeout',
  ...Object.fromEntries(Object.entries(thresholdFlags).map(([flag, key]) => [`canary.${key}`, `--${flag}`])),
};

/** The option of `thresholds` that sets each canary threshold. */
export const thresholdOptionOf: Record<string, string> = Object.fromEntries(
  Object.entries(thresholdFlags).map(([flag, key]) => [key, `--${flag}`]),
);

function approvalFrom(values: OptionValues): Record<string, unknown> {
  return withoutUndefined({
    required: values.approval ? true : undefined,
    timeoutSeconds: numberOption('start', values, 'approval-timeout'),
    onTimeout: values['on-timeout'],
  });
}

function withoutUndefined(object: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}
