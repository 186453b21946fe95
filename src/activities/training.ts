import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Context } from '@temporalio/activity';
import type { ArtifactStore } from '../artifacts';
import type { TrainModelInput, TrainModelResult, TrainingProgress } from '../contracts/training';
import { mlopsError } from '../errors';
import { trainerContractFlags } from '../trainers/contract-flags';
import { trainerStartFailure } from '../trainers/start-failure';

export interface TrainingDeps {
  store: ArtifactStore;
  gpus: GpuPool;
  /** argv of a trainer kind; `command` trainers bring their own. */
  trainerCommand(kind: 'builtin-linear' | 'torch-tabular'): string[];
  /** Local folder for trainer outputs when the artifact store is remote. */
  workDir: string;
}

/** Hands out GPU indices so concurrent trainers never share a device. */
export class GpuPool {
  private readonly free: number[];

  constructor(count: number) {
    this.free = Array.from({ length: count }, (_, i) => i);
  }

  acquire(): number | undefined {
    return this.free.shift();
  }

  release(index: number | undefined): void {
    if (index !== undefined) this.free.push(index);
  }
}

/** How often the activity heartbeats while the trainer is alive, so cancellation reaches it promptly. */
const keepAliveMs = 2_000;
/** Time the trainer gets between SIGTERM and SIGKILL. */
const killGraceMs = 5_000;

/** Training on the training task queue: runs a trainer process per docs/trainer-contract.md. */
export interface TrainingActivities {
  trainModel: (input: TrainModelInput) => Promise<TrainModelResult>;
}

export function createTrainingActivities(deps: TrainingDeps): TrainingActivities {
  return {
    async trainModel(input: TrainModelInput): Promise<TrainModelResult> {
      const ctx = Context.current();
      const outputUri = deps.store.uri('runs', input.modelName, input.runKey, 'training');
      const outputDir = deps.store.localPath(outputUri) ?? path.join(deps.workDir, input.modelName, input.runKey);
      await fs.mkdir(outputDir, { recursive: true });
      await killOrphanedTrainer(outputDir);
      const resume = await findCheckpoint(ctx.info.heartbeatDetails as TrainingProgress | undefined, outputDir);
      const argv = [
        ...(input.trainer.kind === 'command' ? input.trainer.command! : deps.trainerCommand(input.trainer.kind)),
        ...contractFlags(input, deps.store, outputDir, resume?.path),
      ];
      const gpu = deps.gpus.acquire();
      try {
        ctx.log.info('Starting trainer', { argv: argv.join(' '), gpu, resumeFromEpoch: resume?.epoch });
        await runTrainer(argv, {
          gpu,
          hangTimeoutMs: input.trainer.heartbeatTimeoutSeconds * 1000,
          resume,
          pidFile: path.join(outputDir, pidFileName),
        });
      } finally {
        deps.gpus.release(gpu);
      }
      return collectOutputs(deps.store, outputUri, outputDir, argv[0]!, resume?.epoch);
    },
  };
}

function contractFlags(input: TrainModelInput, store: ArtifactStore, outputDir: string, resumeFrom?: string): string[] {
  const local = (uri: string) => (store.localPath(uri) ? pathToFileURL(store.localPath(uri)!).href : uri);
  return trainerContractFlags({
    train: local(input.trainUri),
    validation: local(input.validationUri),
    transform: local(input.transformUri),
    output: pathToFileURL(outputDir).href,
    task: input.task,
    labelColumn: input.labelColumn,
    featureColumns: input.featureColumns,
    hyperparameters: input.trainer.hyperparameters,
    seed: input.seed,
    resumeFrom: resumeFrom ? pathToFileURL(resumeFrom).href : undefined,
  });
}

/**
 * The checkpoint to resume from: the one recorded in the last heartbeat of a previous attempt, else the newest file
 * in the output folder (the worker may have died before its last heartbeat was sent).
 */
async function findCheckpoint(
  details: TrainingProgress | undefined,
  outputDir: string,
): Promise<{ path: string; epoch: number } | undefined> {
  const dir = path.join(outputDir, 'checkpoints');
  const files = (await fs.readdir(dir).catch(() => [] as string[])).filter((f) => /^epoch-\d+\.ckpt$/.test(f)).sort();
  const newest = files.at(-1);
  const fromFolder = newest ? { path: path.join(dir, newest), epoch: Number(/\d+/.exec(newest)![0]) } : undefined;
  if (
    details?.checkpointUri?.startsWith('file://') &&
    details.checkpointEpoch !== undefined &&
    (fromFolder?.epoch ?? 0) <= details.checkpointEpoch
  ) {
    const fromHeartbeat = fileURLToPath(details.checkpointUri);
    if (
      await fs.stat(fromHeartbeat).then(
        () => true,
        () => false,
      )
    )
      return { path: fromHeartbeat, epoch: details.checkpointEpoch };
  }
  return fromFolder;
}

/** Records the trainer's process group, so a later attempt can stop a trainer whose worker died (SIGKILL, lost VM). */
const pidFileName = 'trainer.pid';

async function killOrphanedTrainer(outputDir: string): Promise<void> {
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

interface RunOptions {
  pidFile: string;
  gpu: number | undefined;
  hangTimeoutMs: number;
  resume?: { epoch: number };
}

/** Spawns the trainer in its own process group, relays progress as heartbeats, and kills the group on cancel. */
async function runTrainer(argv: string[], options: RunOptions): Promise<void> {
  const ctx = Context.current();
  const child = spawn(argv[0]!, argv.slice(1), {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CUDA_VISIBLE_DEVICES: options.gpu === undefined ? '' : String(options.gpu) },
  });
  // Synchronously: an await here could let a fast trainer exit before the close listener below is attached.
  writeFileSync(options.pidFile, String(child.pid));
  let progress: TrainingProgress = { epoch: options.resume?.epoch ?? 0, checkpointEpoch: options.resume?.epoch };
  let lastProgressAt = Date.now();
  const tail: string[] = [];
  const remember = (line: string) => tail.push(line) > 30 && tail.shift();
  createInterface({ input: child.stderr }).on('line', remember);
  createInterface({ input: child.stdout }).on('line', (line) => {
    const event = parseEvent(line);
    if (!event) return remember(line);
    lastProgressAt = Date.now();
    if (event.type === 'progress')
      progress = { ...progress, ...pick(event, ['epoch', 'epochs', 'loss', 'metric', 'value']) };
    if (event.type === 'checkpoint')
      progress = { ...progress, checkpointUri: String(event.uri), checkpointEpoch: Number(event.epoch) };
    ctx.heartbeat(progress);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', (err) => reject(trainerStartFailure(argv[0]!, err)));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const keepAlive = setInterval(() => {
    if (Date.now() - lastProgressAt > options.hangTimeoutMs) {
      killGroup(child);
      return;
    }
    ctx.heartbeat(progress);
  }, keepAliveMs);
  try {
    const { code, signal } = await Promise.race([exited, ctx.cancelled]);
    if (Date.now() - lastProgressAt > options.hangTimeoutMs) {
      // Retryable: the next attempt resumes from the last checkpoint.
      throw new Error(`Trainer ${argv[0]} printed no progress for ${options.hangTimeoutMs / 1000}s and was killed`);
    }
    if (code === 0) return;
    if (signal) throw new Error(`Trainer ${argv[0]} was killed by ${signal}`);
    throw mlopsError('MLOPS_ERR_TRAIN_COMMAND_FAILED', {
      trainer: argv[0],
      exit: `code ${code}`,
      tail: tail.slice(-20).join('\n'),
    });
  } catch (err) {
    killGroup(child);
    await Promise.race([exited.catch(() => undefined), new Promise((r) => setTimeout(r, killGraceMs + 1000))]);
    throw err;
  } finally {
    clearInterval(keepAlive);
    await fs.rm(options.pidFile, { force: true });
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

function parseEvent(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    return value && typeof value === 'object' && 'type' in value ? value : undefined;
  } catch {
    return undefined;
  }
}

function pick(source: Record<string, unknown>, keys: (keyof TrainingProgress)[]): Partial<TrainingProgress> {
  return Object.fromEntries(keys.filter((k) => source[k] !== undefined).map((k) => [k, source[k]]));
}

async function collectOutputs(
  store: ArtifactStore,
  outputUri: string,
  outputDir: string,
  trainer: string,
  resumedFromEpoch?: number,
): Promise<TrainModelResult> {
  for (const file of ['model.onnx', 'metrics.json']) {
    const exists = await fs.stat(path.join(outputDir, file)).then(
      () => true,
      () => false,
    );
    if (!exists) throw mlopsError('MLOPS_ERR_TRAIN_OUTPUT_MISSING', { trainer, file, output: outputUri });
  }
  const modelUri = store.uri(outputUri, 'model.onnx');
  const metricsUri = store.uri(outputUri, 'metrics.json');
  if (!store.localPath(outputUri)) {
    await store.upload(path.join(outputDir, 'model.onnx'), modelUri);
    await store.upload(path.join(outputDir, 'metrics.json'), metricsUri);
  }
  const metrics = JSON.parse(await fs.readFile(path.join(outputDir, 'metrics.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  return { modelUri, metricsUri, outputUri, metrics, resumedFromEpoch };
}
