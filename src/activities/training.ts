/** Training on the training task queue: a trainer process per run (docs/trainer-contract.md), resumed on retry. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Context } from '@temporalio/activity';
import type { ArtifactStore } from '../artifacts';
import { trainingRun } from '../artifacts/layout';
import type { TrainModelInput, TrainModelResult, TrainingProgress } from '../contracts/training';
import { findLocalCheckpoint } from '../trainers/checkpoints';
import { runFlags } from '../trainers/contract-flags';
import type { GpuPool } from '../trainers/gpu-pool';
import { collectTrainerOutputs } from '../trainers/trainer-outputs';
import type { TrainerCatalog } from '../trainers/trainer-commands';
import { killOrphanedTrainer, runTrainer } from '../trainers/trainer-process';

export interface TrainingDeps {
  store: ArtifactStore;
  gpus: GpuPool;
  /** The trainers this worker runs by name, their environment and the redaction of their output. */
  trainers: TrainerCatalog;
  /** Local folder for trainer outputs when the artifact store is remote. */
  workDir: string;
}

export interface TrainingActivities {
  trainModel: (input: TrainModelInput) => Promise<TrainModelResult>;
}

export function createTrainingActivities(deps: TrainingDeps): TrainingActivities {
  return {
    async trainModel(input: TrainModelInput): Promise<TrainModelResult> {
      const ctx = Context.current();
      // First: an unknown name fails before anything is written for it.
      const command = deps.trainers.command(input.trainer.kind);
      const outputUri = trainingRun(deps.store, input.modelName, input.runKey).output;
      const outputDir = deps.store.localPath(outputUri) ?? path.join(deps.workDir, input.modelName, input.runKey);
      await fs.mkdir(outputDir, { recursive: true });
      await killOrphanedTrainer(outputDir);
      const resume = await findLocalCheckpoint(ctx.info.heartbeatDetails as TrainingProgress | undefined, outputDir);
      const argv = [
        ...command,
        ...runFlags(input, input.trainer.hyperparameters, {
          output: pathToFileURL(outputDir).href,
          resumeFrom: resume ? pathToFileURL(resume.path).href : undefined,
          readable: (uri) => {
            const local = deps.store.localPath(uri);
            return local ? pathToFileURL(local).href : uri;
          },
        }),
      ];
      const gpu = deps.gpus.acquire();
      try {
        ctx.log.info('Starting trainer', { argv: argv.join(' '), gpu, resumeFromEpoch: resume?.epoch });
        await runTrainer(argv, {
          name: input.trainer.kind,
          env: deps.trainers.environment,
          redact: deps.trainers.redact,
          keepCheckpoints: deps.trainers.keepCheckpoints,
          outputDir,
          gpu,
          hangTimeoutMs: input.trainer.heartbeatTimeoutSeconds * 1000,
          resume,
          heartbeat: (progress) => ctx.heartbeat(progress),
          cancelled: ctx.cancelled,
        });
      } finally {
        deps.gpus.release(gpu);
      }
      const outputs = await collectTrainerOutputs(deps.store, outputUri, input.trainer.kind, outputDir);
      return { ...outputs, resumedFromEpoch: resume?.epoch };
    },
  };
}
