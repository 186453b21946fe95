/** Step bookkeeping of trainingPipeline: the getStatus answer, the stage search attribute, and failure messages. */
import { ActivityFailure, ApplicationFailure, upsertSearchAttributes } from '@temporalio/workflow';
import type { PipelineStage, PipelineStatus } from '../contracts/pipeline';
import { searchAttributes } from '../contracts/search-attributes';

export interface StepTracker {
  step: <T>(stage: PipelineStage, run: () => Promise<T>, summarize: (result: T) => [string, boolean]) => Promise<T>;
  failedStage: () => PipelineStage | undefined;
}

/**
 * Runs steps: records each in the status and the stage search attribute (the stage is the step started last: steps
 * may run side by side), then its summary when it ends. `failedStage` is the step that failed first.
 */
export function stepTracker(status: PipelineStatus): StepTracker {
  let failed: PipelineStage | undefined;
  const step = async <T>(
    stage: PipelineStage,
    run: () => Promise<T>,
    summarize: (result: T) => [string, boolean],
  ): Promise<T> => {
    const entry = enterStage(status, stage);
    let result: T;
    try {
      result = await run();
    } catch (err) {
      failed ??= stage;
      throw err;
    }
    const [summary, reused] = summarize(result);
    Object.assign(entry, { endedAt: new Date().toISOString(), summary, reused });
    return result;
  };
  return { step, failedStage: () => failed };
}

export function enterStage(status: PipelineStatus, stage: PipelineStage): PipelineStatus['steps'][number] {
  const entry = { stage, startedAt: new Date().toISOString() };
  status.stage = stage;
  status.steps.push(entry);
  upsertSearchAttributes([{ key: searchAttributes.stage, value: stage }]);
  return entry;
}

/** Names the model and the step in the failure, keeping the activity's error type so callers can branch on it. */
export function describeFailure(err: unknown, modelName: string, stage: PipelineStage): unknown {
  if (!(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure)) return err;
  const cause = err.cause;
  return ApplicationFailure.create({
    type: cause.type ?? undefined,
    message: `trainingPipeline for model "${modelName}" failed at step ${stage}: ${cause.message}`,
    nonRetryable: true,
    details: cause.details ?? undefined,
    cause: err,
  });
}
