/**
 * The `npm run models` commands that send one of the controller's updates, and the update each sends. The arguments
 * are checked for shape only (a version is a whole number, a threshold a number): whether the controller can do it
 * now is its validator's answer.
 */
import { canaryThresholdsSchema, setServersSchema } from '../contracts/controller';
import { parseCommandLineInput } from '../contracts/validate';
import { mlopsError } from '../errors';
import {
  approveUpdate,
  deployUpdate,
  muteUpdate,
  pauseUpdate,
  promoteUpdate,
  rejectUpdate,
  resumeUpdate,
  retrainUpdate,
  rollbackUpdate,
  setServersUpdate,
  setThresholdsUpdate,
} from '../workflows/definitions';
import type { OptionValues } from './option-values';
import { serverUrlsFrom, thresholdFlags, thresholdOptionOf, thresholdsFrom } from './option-values';

export type UpdateCommandName =
  | 'deploy'
  | 'promote'
  | 'rollback'
  | 'retrain'
  | 'approve'
  | 'reject'
  | 'thresholds'
  | 'servers'
  | 'mute'
  | 'unmute'
  | 'pause'
  | 'resume';

/** One update to send: its name (from src/workflows/definitions.ts) and its one argument, if any. */
export interface ControllerUpdate {
  /** The command that asked for it, to name it in messages. */
  command: UpdateCommandName;
  name: string;
  arg?: unknown;
}

/** Positional arguments after the model, and the options of each update command. */
export const updateCommands: Record<UpdateCommandName, { args: string[]; options: string[] }> = {
  deploy: { args: ['version'], options: ['direct'] },
  promote: { args: [], options: [] },
  rollback: { args: [], options: ['reason'] },
  retrain: { args: [], options: ['reason'] },
  approve: { args: ['version'], options: ['reason'] },
  reject: { args: ['version'], options: ['reason'] },
  thresholds: { args: [], options: Object.keys(thresholdFlags) },
  servers: { args: ['urls'], options: [] },
  mute: { args: ['feature'], options: [] },
  unmute: { args: ['feature'], options: [] },
  pause: { args: [], options: ['reason'] },
  resume: { args: [], options: [] },
};

export function controllerUpdate(command: UpdateCommandName, args: string[], values: OptionValues): ControllerUpdate {
  const reason = typeof values.reason === 'string' ? { reason: values.reason } : undefined;
  const send = (name: string, arg?: unknown): ControllerUpdate =>
    arg === undefined ? { command, name } : { command, name, arg };
  switch (command) {
    case 'deploy':
      return send(deployUpdate.name, {
        version: versionOf(command, args[0]),
        ...(values.direct ? { direct: true } : {}),
      });
    case 'promote':
      return send(promoteUpdate.name);
    case 'rollback':
      return send(rollbackUpdate.name, reason);
    case 'retrain':
      return send(retrainUpdate.name, reason);
    case 'approve':
      return send(approveUpdate.name, { version: versionOf(command, args[0]), ...reason });
    case 'reject':
      return send(rejectUpdate.name, { version: versionOf(command, args[0]), ...reason });
    case 'thresholds':
      // Checked as the controller checks it, so a bad value exits 2 like every other bad argument.
      return send(
        setThresholdsUpdate.name,
        parseCommandLineInput(canaryThresholdsSchema.partial().strict(), thresholdsFrom(command, values, true), {
          script: 'models',
          command,
          options: thresholdOptionOf,
        }),
      );
    case 'servers': {
      // Checked as the controller checks it.
      const servers = serverUrlsFrom(args[0]!);
      // An empty list is asked for by name: "" or "," is more likely a variable that was not set.
      if (servers.length === 0 && args[0]!.trim() !== 'none')
        throw refused(
          command,
          '<urls>',
          `"${args[0]}" names no server: give the servers' URLs, or none for no servers (new versions then deploy directly)`,
        );
      const where = { script: 'models', command, options: { servers: '<urls>' } };
      return send(setServersUpdate.name, parseCommandLineInput(setServersSchema, { servers }, where));
    }
    case 'mute':
    case 'unmute':
      if (!args[0]!.trim())
        throw refused(command, '<feature>', "it is empty: give the name of one of the model's features");
      return send(muteUpdate.name, { feature: args[0], muted: command === 'mute' });
    case 'pause':
      return send(pauseUpdate.name, reason);
    case 'resume':
      return send(resumeUpdate.name);
  }
}

function refused(command: string, argument: string, reason: string): Error {
  return mlopsError('MLOPS_ERR_CLI_ARGUMENT_INVALID', { argument, script: 'models', command, reason });
}

function versionOf(command: string, raw: string | undefined): number {
  const version = Number(raw);
  if (raw && /^\d+$/.test(raw) && version >= 1 && Number.isSafeInteger(version)) return version;
  throw mlopsError('MLOPS_ERR_CLI_ARGUMENT_INVALID', {
    argument: '<version>',
    script: 'models',
    command,
    reason: `"${raw}" is not a registry version (a whole number from 1)`,
  });
}
