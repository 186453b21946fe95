/** Step bookkeeping of trainingPipeline: the getStatus answer, the stage search attribute, and failure messages. */
import { ActivityFailure, ApplicationFailure, upsertSearchAttributes } from '@temporalio/workflow';
import type { PipelineStage, PipelineStatus } from '../contracts/pipeline';
import { searchAttributes } from '../contracts/search-attributes';

export /** Runs one step: records it in the status and the stage search attribute, then its summary when it ends. */
function stepTracker(status: PipelineStatus) {
  return async <T>(
    stage: PipelineStage,
    run: () => Promise<T>,
    summarize: (result: T) => [string, boolean],
  ): Promise<T> => {
    enterStage(status, stage);
    const result = await run();
    const [summary, reused] = summarize(result);
    Object.assign(status.steps.at(-1)!, { endedAt: new Date().toISOString(), summary, reused });
    return result;
  };
}

export function enterStage(status: PipelineStatus, stage: PipelineStage): void {
  status.stage = stage;
  status.steps.push({ stage, startedAt: new Date().toISOString() });
  upsertSearchAttributes([{ key: searchAttributes.stage, value: stage }]);
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
