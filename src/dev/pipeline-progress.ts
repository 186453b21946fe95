/**
 * Printing a running `trainingPipeline` as it goes, for the demo: each step as it starts and ends (from the
 * `pipelineStatus` query) and training progress (from the training activity's heartbeats).
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { TrainingPipelineResult } from '../contracts/pipeline';
import type { TrainingProgress } from '../contracts/training';
import { pipelineStatusQuery } from '../workflows/definitions';

/** Steps already announced (by count) and ended (by index: steps side by side may end out of order). */
export interface ShownSteps {
  announced: number;
  ended: Set<number>;
  epoch: number;
}

export function newShownSteps(): ShownSteps {
  return { announced: 0, ended: new Set<number>(), epoch: -1 };
}

/** Prints the run's steps until it ends, and returns its result. */
export async function followProgress(
  handle: WorkflowHandle,
  say: (line: string) => void,
  indent = '  ',
): Promise<TrainingPipelineResult> {
  const done = handle.result() as Promise<TrainingPipelineResult>;
  let finished = false;
  done.then(
    () => (finished = true),
    () => (finished = true),
  );
  const shown = newShownSteps();
  while (!finished) {
    await printNewSteps(handle, shown, say, indent);
    await Promise.race([done.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 400))]);
  }
  await printNewSteps(handle, shown, say, indent);
  return done;
}

/** Prints the steps that started or ended since the last call. */
export async function printNewSteps(
  handle: WorkflowHandle,
  shown: ShownSteps,
  say: (line: string) => void,
  indent = '  ',
): Promise<void> {
  const status = await handle.query(pipelineStatusQuery).catch(() => undefined);
  if (!status) return;
  for (const [i, step] of status.steps.entries()) {
    if (
      i >= shown.announced &&
      !step.endedAt &&
      !['completed', 'registered', 'rejected', 'failed', 'cancelled'].includes(step.stage)
    )
      say(`${indent}… ${step.stage}`);
    if (step.endedAt && !shown.ended.has(i))
      say(`${indent}✓ ${step.stage.padEnd(13)} ${step.summary ?? ''}${step.reused ? ' (reused stored result)' : ''}`);
  }
  shown.announced = status.steps.length;
  status.steps.forEach((s, i) => s.endedAt && shown.ended.add(i));
  if (status.stage === 'training') shown.epoch = await printTraining(handle, shown.epoch, say, indent);
}

async function printTraining(
  handle: WorkflowHandle,
  lastEpoch: number,
  say: (line: string) => void,
  indent: string,
): Promise<number> {
  const description = await handle.describe();
  const pending = description.raw.pendingActivities?.[0];
  const payload = pending?.heartbeatDetails?.payloads?.[0]?.data;
  if (!payload) return lastEpoch;
  const progress = JSON.parse(Buffer.from(payload).toString('utf8')) as TrainingProgress;
  if (progress.epoch === lastEpoch) return lastEpoch;
  say(
    `${indent}    epoch ${progress.epoch}/${progress.epochs ?? '?'}  loss ${progress.loss?.toFixed(4)}  validation ${progress.metric} ${progress.value?.toFixed(4)}`,
  );
  return progress.epoch;
}
