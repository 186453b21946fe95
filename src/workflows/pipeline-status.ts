/**
 * Step bookkeeping of trainingPipeline: the `pipelineStatus` query's answer, the stage search attribute, one summary
 * line per step, and failure messages that name the model and the step.
 */
import { ActivityFailure, ApplicationFailure, upsertSearchAttributes } from '@temporalio/workflow';
import type { DatasetSnapshot, PreprocessResult, ProfileDatasetResult } from '../contracts/datasets';
import type { PipelineStage, PipelineStatus, TrainingPipelineInput } from '../contracts/pipeline';
import { searchAttributes } from '../contracts/search-attributes';
import type { DeployModelResult, EvaluateModelResult, RegisteredModel, TrainModelResult } from '../contracts/training';

/** What each step returns. */
export interface StepResults {
  ingesting: DatasetSnapshot;
  profiling: ProfileDatasetResult;
  preprocessing: PreprocessResult;
  training: TrainModelResult;
  evaluating: EvaluateModelResult;
  registering: RegisteredModel;
  deploying: DeployModelResult;
}
export type StepStage = keyof StepResults;

/** A step's summary line in the status, and whether it reused a stored output instead of computing it. */
type Summary = [summary: string, reused: boolean];

/** How each step's result reads in the status. */
const stepSummaries: { [S in StepStage]: (result: StepResults[S]) => Summary } = {
  ingesting: (s) => [
    `${s.rowCount} rows, ${s.columns.length} columns${warningCount(s.warnings, "the result's warnings")}`,
    s.reused,
  ],
  profiling: (p) => [`${p.columnCount} columns profiled${warningCount(p.warnings, 'see the report')}`, p.reused],
  preprocessing: (p) => [
    `${p.rows.train}/${p.rows.validation}/${p.rows.test} rows, ${p.featureColumns.length} features${p.task ? `, ${p.task}` : ''}`,
    p.reused,
  ],
  training: (t) => [t.resumedFromEpoch ? `resumed from epoch ${t.resumedFromEpoch}` : 'trained', false],
  evaluating: (e) => [e.gate.reason, false],
  registering: (r) => [`version ${r.version}`, false],
  deploying: (d) => [`${d.alias} → v${d.version}${d.previousVersion ? ` (was v${d.previousVersion})` : ''}`, false],
};

function warningCount(warnings: readonly unknown[] | undefined, where: string): string {
  return warnings?.length ? `, ${warnings.length} warning${warnings.length > 1 ? 's' : ''} (${where})` : '';
}

export interface StepTracker {
  step: <S extends StepStage>(stage: S, run: () => Promise<StepResults[S]>) => Promise<StepResults[S]>;
  failedStage: () => PipelineStage | undefined;
}

/** The status before validation: the model name the input claims, if it names one. */
export function initialStatus(rawInput: TrainingPipelineInput | undefined): PipelineStatus {
  const claimedName = (rawInput as { modelName?: unknown } | undefined)?.modelName;
  return { modelName: typeof claimedName === 'string' ? claimedName : '', stage: 'validating', steps: [] };
}

/**
 * Runs steps: records each in the status and the stage search attribute (the stage is the step started last: steps
 * may run side by side), then its summary when it ends. `failedStage` is the step that failed first.
 */
export function stepTracker(status: PipelineStatus): StepTracker {
  let failed: PipelineStage | undefined;
  const step = async <S extends StepStage>(stage: S, run: () => Promise<StepResults[S]>): Promise<StepResults[S]> => {
    const entry = enterStage(status, stage);
    let result: StepResults[S];
    try {
      result = await run();
    } catch (err) {
      failed ??= stage;
      throw err;
    }
    const [summary, reused] = stepSummaries[stage](result);
    Object.assign(entry, { endedAt: new Date().toISOString(), summary, reused });
    return result;
  };
  return { step, failedStage: () => failed };
}

/** Records `stage` in the status and in the MlopsPipelineStage search attribute. */
export function enterStage(status: PipelineStatus, stage: PipelineStage): PipelineStatus['steps'][number] {
  const entry = recordStage(status, stage);
  upsertSearchAttributes([{ key: searchAttributes.stage, value: stage }]);
  return entry;
}

/** Records `stage` in the status only (the query's answer; no command). */
export function recordStage(status: PipelineStatus, stage: PipelineStage): PipelineStatus['steps'][number] {
  const entry = { stage, startedAt: new Date().toISOString() };
  status.stage = stage;
  status.steps.push(entry);
  return entry;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Keyword search attributes hold a few kilobytes at most, and a value over the server's limit fails every workflow
 * task. A name longer than any valid model name (63 characters) is cut to its first 200 characters.
 */
const searchableNameLength = 200;

/** The search attributes of a run whose input failed validation: stage `failed`, and the model name it claims. */
export function invalidInputAttributes(claimedName: string): Parameters<typeof upsertSearchAttributes>[0] {
  const name = Array.from(claimedName).slice(0, searchableNameLength).join('');
  return [
    ...(name ? [{ key: searchAttributes.modelName, value: name }] : []),
    { key: searchAttributes.stage, value: 'failed' },
  ];
}

/** Names the model and the step in the failure, keeping the activity's error type so callers can branch on it. */
export function describeFailure(err: unknown, modelName: string, stage: PipelineStage): unknown {
  return activityFailureAs(err, `trainingPipeline for model "${modelName}" failed at step ${stage}`);
}

/**
 * An activity's catalogued failure as the workflow's own, its message led by `what` (the workflow, the model, the
 * step): the Web UI and `temporal workflow describe` show the code and the cause at the top, not "Activity task
 * failed". Other errors pass unchanged.
 */
export function activityFailureAs(err: unknown, what: string): unknown {
  if (!(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure)) return err;
  const cause = err.cause;
  return ApplicationFailure.create({
    type: cause.type ?? undefined,
    message: `${what}: ${cause.message}`,
    nonRetryable: true,
    details: cause.details ?? undefined,
    cause: err,
  });
}
