/**
 * What `npm run models -- start` compares when the model's controller already runs: each option given against what
 * the running controller reads back (its `controllerStatus` state, and the task queue it runs on). `start` never changes
 * a running controller, so each difference names the command that does: `servers`, `thresholds`, `mute`/`unmute` for
 * what a running controller can change, and for its alias and task queue, which only a new controller takes, stopping
 * it and starting it again. --training, --approval* and --retrain-on are not in the state, so they are not compared.
 */
import type { CanaryThresholds, ControllerInput, ControllerState } from '../contracts/controller';
import { controllerWorkflowId } from '../contracts/controller';
import { thresholdFlags } from './option-values';

/** One option of `start` whose value differs from the running controller's. */
export interface StartDifference {
  /** As typed: `--alias`. */
  option: string;
  running: string;
  given: string;
  /** The command that makes the running controller match; absent when only a new controller can (alias, task queue). */
  change?: string;
}

/** What was given to `start`: the controller input and the task queue option. */
export interface StartRequest {
  input: ControllerInput;
  taskQueue?: string;
  /** Seconds to wait for a running controller's state (`--timeout`). @default 30 */
  timeoutSeconds?: number;
}

export function startDifferences(
  request: StartRequest,
  state: ControllerState,
  runningTaskQueue: string,
): StartDifference[] {
  const { input, taskQueue } = request;
  const restart = (option: string, running: string, given: string): StartDifference[] =>
    running === given ? [] : [{ option, running, given }];
  return [
    ...(input.alias === undefined ? [] : restart('--alias', state.alias, input.alias)),
    ...(taskQueue === undefined ? [] : restart('--task-queue', runningTaskQueue, taskQueue)),
    ...serversDifference(input, state),
    ...thresholdDifferences(input, state),
    ...mutedDifference(input, state),
  ];
}

function serversDifference({ modelName, servers }: ControllerInput, state: ControllerState): StartDifference[] {
  // Controllers started before `servers` was in the state do not say which servers they have.
  if (servers === undefined || state.servers === undefined || sameSet(servers, state.servers)) return [];
  const list = (urls: string[]) => (urls.length ? urls.join(', ') : 'none');
  const arg = servers.length ? servers.join(',') : 'none';
  return [
    {
      option: '--servers',
      running: list(state.servers),
      given: list(servers),
      change: models('servers', modelName, arg),
    },
  ];
}

function thresholdDifferences({ modelName, canary = {} }: ControllerInput, state: ControllerState): StartDifference[] {
  return Object.entries(thresholdFlags).flatMap(([flag, key]: [string, keyof CanaryThresholds]) => {
    const given = canary[key];
    if (given === undefined || given === state.thresholds[key]) return [];
    const change = models('thresholds', modelName, `--${flag}`, String(given));
    return [{ option: `--${flag}`, running: String(state.thresholds[key]), given: String(given), change }];
  });
}

function mutedDifference({ modelName, muted }: ControllerInput, state: ControllerState): StartDifference[] {
  if (muted === undefined || sameSet(muted, state.muted)) return [];
  const changes = [
    ...muted.filter((f) => !state.muted.includes(f)).map((f) => models('mute', modelName, f)),
    ...state.muted.filter((f) => !muted.includes(f)).map((f) => models('unmute', modelName, f)),
  ];
  const list = (features: string[]) => (features.length ? features.join(', ') : 'none');
  return [{ option: '--muted', running: list(state.muted), given: list(muted), change: changes.join(' && ') }];
}

/** One line per difference, saying what the running controller has, what was given and how to change it. */
export function differenceLines(modelName: string, differences: StartDifference[]): string[] {
  return differences.map(({ option, running, given, change }) => {
    const what = `  ${option}: the running controller has ${running}; given: ${given}.`;
    if (change) return `${what} To change it: ${change}`;
    return `${what} Only a new controller takes another one: stop this one with ${stopCommand(modelName)}, then run this start again.`;
  });
}

/**
 * The note for the options given that a running controller does not read back; undefined when none was given
 * (--training always is).
 */
export function unreadOptionsNote({ input }: StartRequest): string | undefined {
  const given = [
    ['--training', input.training],
    ['--approval', input.approval?.required],
    ['--approval-timeout', input.approval?.timeoutSeconds],
    ['--on-timeout', input.approval?.onTimeout],
    ['--retrain-on', input.retrainOn],
    ['--retrain-cooldown', input.retrainCooldownSeconds],
  ].flatMap(([option, value]) => (value === undefined ? [] : [option as string]));
  if (!given.length) return undefined;
  const list = given.length === 1 ? `${given[0]} is` : `${given.slice(0, -1).join(', ')} and ${given.at(-1)} are`;
  return `Note: ${list} not compared (a running controller does not report ${given.length === 1 ? 'it' : 'them'}); it keeps what it started with. To start it with what was given, stop it with ${stopCommand(input.modelName)}, then run this start again.`;
}

/** The Temporal CLI line that stops a model's controller (its history stays in Temporal, its deployment in the registry). */
export function stopCommand(modelName: string): string {
  return `temporal workflow terminate --workflow-id ${controllerWorkflowId(modelName)} --reason "restart with new options"`;
}

function models(...args: string[]): string {
  return ['npm run models --', ...args.map(shellWord)].join(' ');
}

/** A word as a shell reads it back: quoted when it holds anything but the characters of names, numbers and URLs. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((item) => right.has(item));
}
