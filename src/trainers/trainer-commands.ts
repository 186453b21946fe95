/**
 * The trainers a training worker runs, by name: the two bundled ones and those its configuration registers
 * (`MLOPS_TRAINERS`). A workflow input only ever names one; the argv comes from here (docs/trainer-contract.md).
 */
import path from 'node:path';
import type { MlopsConfig } from '../config';
import { mlopsError } from '../errors';
import { projectRoot } from '../project-root';

export type BundledTrainer = 'builtin-linear' | 'torch-tabular';

export const bundledTrainers: readonly BundledTrainer[] = ['builtin-linear', 'torch-tabular'];

/** What the training activity needs to start a trainer: its argv, its environment, and how to quote its output. */
export interface TrainerCatalog {
  /** argv of a trainer name; a name not registered is MLOPS_ERR_TRAIN_TRAINER_UNKNOWN (non-retryable). */
  command: (name: string) => string[];
  /** The allow-listed environment every trainer process gets (CUDA_VISIBLE_DEVICES is set per run). */
  environment: Readonly<Record<string, string>>;
  /** Blanks the worker's other environment values out of trainer output before it is quoted in a failure. */
  redact: (text: string) => string;
  /** Announced checkpoints a run keeps on disk; 0 keeps all. */
  keepCheckpoints: number;
}

/** Under tsx (development) the TypeScript trainer runs through tsx's loader. */
export function trainerCommand(config: Readonly<MlopsConfig>, kind: BundledTrainer): string[] {
  if (kind === 'torch-tabular') {
    const python =
      config.training.python ?? path.join(config.cacheDir, 'python', 'torch-tabular-venv', 'bin', 'python');
    return [python, path.join(projectRoot, 'trainers', 'torch-tabular', 'train.py')];
  }
  const script = path.resolve(__dirname, `linear-trainer${path.extname(__filename)}`);
  return __filename.endsWith('.ts')
    ? [process.execPath, '--require', require.resolve('tsx/cjs'), script]
    : [process.execPath, script];
}

export function createTrainerCatalog(config: Readonly<MlopsConfig>): TrainerCatalog {
  const registered = config.training.trainers;
  return {
    command(name) {
      if ((bundledTrainers as readonly string[]).includes(name)) return trainerCommand(config, name as BundledTrainer);
      if (Object.hasOwn(registered, name)) return [...registered[name]!];
      throw mlopsError('MLOPS_ERR_TRAIN_TRAINER_UNKNOWN', {
        trainer: name,
        registered: [...bundledTrainers, ...Object.keys(registered)].join(', '),
      });
    },
    environment: config.training.environment,
    redact: redactor(config.training.secretValues),
    keepCheckpoints: config.training.keepCheckpoints,
  };
}

/** Replaces every occurrence of each secret (longest first, so one inside another is still covered). */
export function redactor(secrets: readonly string[]): (text: string) => string {
  const ordered = [...secrets].sort((a, b) => b.length - a.length);
  return (text) => ordered.reduce((out, secret) => out.split(secret).join('[redacted]'), text);
}
