/**
 * A trainer process (docs/trainer-contract.md): spawned in its own process group, its JSON progress lines relayed, a
 * hung or cancelled trainer killed with its whole group, and an orphan of a dead worker found by its pid file.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, statSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import type { TrainingProgress } from '../contracts/training';
import { mlopsError } from '../errors';
import { recordAnnouncedCheckpoint } from './checkpoints';
import { commandLineTooLong, trainerStartFailure } from './start-failure';
import { parseTrainerJson, TrainerJsonError } from './trainer-json';
import { openTrainerLog } from './trainer-log';

export interface TrainerRun {
  /** The trainer's name (workflow input `trainer.kind`), used in messages instead of its program path. */
  name: string;
  /** The process's whole environment (an allow-list, docs/security.md); CUDA_VISIBLE_DEVICES is added. */
  env: Readonly<Record<string, string>>;
  /** Applied to trainer output before it is quoted in a failure. */
  redact: (text: string) => string;
  /** The folder the trainer writes to; its pid file lives there. */
  outputDir: string;
  /** Announced checkpoints kept on disk (older ones are deleted as new ones are announced); 0 keeps all. */
  keepCheckpoints: number;
  gpu: number | undefined;
  /**
   * A trainer without a progress event for this long is killed: a retryable failure (the next attempt resumes), unless
   * it kept printing lines that begin like events but are not JSON, which no retry mends.
   */
  hangTimeoutMs: number;
  resume?: { epoch: number };
  /** Called with the latest progress on every event and every keep-alive tick. */
  heartbeat: (progress: TrainingProgress) => void;
  /** Rejects when the caller cancels; the trainer is then killed and this rejection rethrown. */
  cancelled: Promise<never>;
}

/** How often progress is re-sent while the trainer is alive, so cancellation reaches it promptly. */
const keepAliveMs = 2_000;
/** Time the trainer gets between SIGTERM and SIGKILL. */
const killGraceMs = 5_000;
/** Records the trainer's process group, so a later attempt can stop a trainer whose worker died (SIGKILL, lost VM). */
const pidFileName = 'trainer.pid';
/** Output quoted in a failure: the last lines, each cut to a length, the whole cut again (Temporal stores it as is). */
const tailLines = 20;
const lineChars = 300;
const tailChars = 2_000;

/** Runs the trainer to its end; rejects with a catalogued error when it fails, or a plain one when retrying can help. */
export async function runTrainer(argv: string[], run: TrainerRun): Promise<void> {
  const env = { ...run.env, CUDA_VISIBLE_DEVICES: run.gpu === undefined ? '' : String(run.gpu) };
  const tooLong = commandLineTooLong(argv, env);
  if (tooLong) throw mlopsError('MLOPS_ERR_TRAIN_ARGUMENTS_TOO_LONG', { trainer: run.name, reason: tooLong });
  const [program, ...args] = diesWithWorker(argv, run.env.PATH);
  let child: ChildProcess;
  try {
    child = spawn(program!, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  } catch (err) {
    // spawn throws some refusals (E2BIG) instead of emitting them.
    throw trainerStartFailure(argv[0]!, err as NodeJS.ErrnoException);
  }
  const pidFile = path.join(run.outputDir, pidFileName);
  // Synchronously: an await here could let a fast trainer exit before the close listener below is attached.
  writeFileSync(pidFile, String(child.pid));
  const log = openTrainerLog(run.outputDir, run.redact);
  log.write(`--- ${new Date().toISOString()} trainer "${run.name}" started (pid ${child.pid}) ---`);
  const watch = watchOutput(child, run, (line) => log.write(line));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', (err) => reject(trainerStartFailure(argv[0]!, err)));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  // Set when the trainer is killed for silence: a trainer that exits 0 after a quiet last phase is not a hang.
  let killedForHang = false;
  const keepAlive = setInterval(() => {
    if (watch.silentMs() > run.hangTimeoutMs) {
      killedForHang = true;
      return killGroup(child);
    }
    run.heartbeat(watch.progress());
  }, keepAliveMs);
  try {
    const { code, signal } = await Promise.race([exited, run.cancelled]);
    if (killedForHang) throw hangFailure(run, watch.unreadable());
    if (code === 0) return;
    if (signal) throw new Error(`Trainer ${run.name} was killed by ${signal}`);
    throw mlopsError('MLOPS_ERR_TRAIN_COMMAND_FAILED', {
      trainer: run.name,
      exit: `code ${code}`,
      tail: quotedTail(watch.tail(), run.redact),
    });
  } catch (err) {
    killGroup(child);
    await Promise.race([exited.catch(() => undefined), new Promise((r) => setTimeout(r, killGraceMs + 1000))]);
    throw err;
  } finally {
    clearInterval(keepAlive);
    await watch.recorded();
    await fs.rm(pidFile, { force: true });
    await log.close();
  }
}

/** util-linux's setpriv (Debian's essential packages): it sets the parent-death signal, then execs the program. */
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((file) => existsSync(file));

/**
 * The argv that makes the trainer receive SIGTERM when the worker dies, however it dies (kill -9, OOM, a lost
 * container): Linux's parent-death signal, set by setpriv before it execs the trainer under the same pid. Without it,
 * a trainer whose worker was killed ran on until it next wrote a line (an epoch later), holding its GPU. Left as it
 * is where setpriv is missing, and for a program that cannot be found, so spawning it fails as before (the catalogued
 * "program does not exist").
 */
function diesWithWorker(argv: string[], searchPath: string | undefined): string[] {
  if (process.platform !== 'linux' || !setpriv || !findProgram(argv[0]!, searchPath)) return argv;
  return [setpriv, '--pdeathsig', 'SIGTERM', '--', ...argv];
}

function findProgram(program: string, searchPath: string | undefined): boolean {
  const candidates = program.includes('/')
    ? [program]
    : (searchPath ?? '')
        .split(':')
        .filter(Boolean)
        .map((dir) => path.join(dir, program));
  return candidates.some((file) => {
    try {
      accessSync(file, fsConstants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/** Lines since the last event that began like one but were not JSON: how many, and the last with its problem. */
interface UnreadableEvents {
  count: number;
  line: string;
  reason: string;
}

/**
 * Follows stdout events (progress, checkpoint), keeps the last lines of other output for error messages, and passes
 * every line of both streams to `log`.
 */
function watchOutput(child: ChildProcess, run: TrainerRun, log: (line: string) => void) {
  let progress: TrainingProgress = { epoch: run.resume?.epoch ?? 0, checkpointEpoch: run.resume?.epoch };
  let lastEventAt = Date.now();
  let unreadable: UnreadableEvents | undefined;
  let announcing = Promise.resolve();
  const lines: string[] = [];
  // Cut before redacting costs a secret split at the cut its blanking; cut long, so whole values are redacted first.
  const remember = (line: string) => lines.push(line.slice(0, 4 * lineChars)) > tailLines && lines.shift();
  createInterface({ input: child.stderr! }).on('line', (line) => (log(line), remember(line)));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    log(line);
    const parsed = parseEvent(line);
    if (parsed && 'reason' in parsed) {
      unreadable = { count: (unreadable?.count ?? 0) + 1, line: line.slice(0, 4 * lineChars), reason: parsed.reason };
    }
    if (!parsed || !('event' in parsed)) return remember(line);
    const { event } = parsed;
    unreadable = undefined;
    lastEventAt = Date.now();
    if (event.type === 'progress')
      progress = { ...progress, ...pick(event, ['epoch', 'epochs', 'loss', 'metric', 'value']) };
    if (event.type === 'checkpoint') {
      progress = { ...progress, checkpointUri: String(event.uri), checkpointEpoch: Number(event.epoch) };
      // In order, each after the one before: the record always names the last checkpoint announced.
      const checkpoint = { uri: progress.checkpointUri!, epoch: progress.checkpointEpoch! };
      announcing = announcing
        .then(() => recordAnnouncedCheckpoint(run.outputDir, checkpoint, run.keepCheckpoints))
        .catch(() => {});
    }
    run.heartbeat(progress);
  });
  return {
    progress: () => progress,
    silentMs: () => Date.now() - lastEventAt,
    tail: () => [...lines],
    unreadable: () => unreadable,
    /** Settles once every checkpoint announced so far is recorded (and older ones pruned). */
    recorded: () => announcing,
  };
}

/** The failure of a trainer killed for printing no event: retryable, unless what it printed were broken events. */
function hangFailure(run: TrainerRun, unreadable: UnreadableEvents | undefined) {
  const seconds = run.hangTimeoutMs / 1000;
  if (!unreadable) return mlopsError('MLOPS_ERR_TRAIN_NO_PROGRESS', { trainer: run.name, seconds });
  return mlopsError('MLOPS_ERR_TRAIN_EVENT_UNREADABLE', {
    trainer: run.name,
    seconds,
    count: unreadable.count,
    line: quotedTail([unreadable.line], run.redact),
    reason: run.redact(unreadable.reason),
  });
}

/** Redacted, then cut: each line to `lineChars`, the whole to its last `tailChars`. */
export function quotedTail(lines: string[], redact: (text: string) => string): string {
  const cut = lines.map((line) => {
    const clean = redact(line);
    return clean.length > lineChars
      ? `${clean.slice(0, lineChars)}… (${clean.length - lineChars} more characters)`
      : clean;
  });
  const text = cut.join('\n');
  return text.length > tailChars ? `…${text.slice(-tailChars)}` : text;
}

/** Kills the trainer a dead worker left running on this output folder, if any. */
export async function killOrphanedTrainer(outputDir: string): Promise<void> {
  const pid = Number(await fs.readFile(path.join(outputDir, pidFileName), 'utf8').catch(() => ''));
  if (!Number.isInteger(pid) || pid <= 0) return;
  // Only a process that is still this run's trainer: pids are reused, and the file may come from another machine.
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes(pathToFileURL(outputDir).href)) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone: the previous attempt ended with its worker.
  }
}

/** SIGTERM to the whole process group, then SIGKILL for whatever is left after the grace period. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // The group is already gone.
    }
  };
  signalGroup('SIGTERM');
  setTimeout(() => signalGroup('SIGKILL'), killGraceMs).unref();
}

/** Begins like an event: a line of JSON whose first key is "type" (the contract's examples, `json.dumps` of a dict). */
const eventStart = /^\s*\{\s*"type"\s*:/;

/**
 * An event (a JSON object with a `type`; NaN and ±Infinity read as null), a line that began like one but is not JSON
 * (with the problem), or neither: log output.
 */
function parseEvent(line: string): { event: Record<string, unknown> } | { reason: string } | undefined {
  if (!line.trimStart().startsWith('{')) return undefined;
  try {
    const { value } = parseTrainerJson(line);
    return value && typeof value === 'object' && 'type' in value ? { event: value } : undefined;
  } catch (err) {
    if (!(err instanceof TrainerJsonError)) throw err;
    return eventStart.test(line) ? { reason: `${err.reason} at column ${err.column}` } : undefined;
  }
}

function pick(source: Record<string, unknown>, keys: (keyof TrainingProgress)[]): Partial<TrainingProgress> {
  return Object.fromEntries(keys.filter((k) => source[k] !== undefined).map((k) => [k, source[k]]));
}
