/**
 * Long data steps heartbeat from a timer while they run, carrying the latest progress the domain code reported, so a
 * dead worker is noticed within the step's heartbeat timeout instead of its start-to-close timeout. Cancellation reaches
 * the domain code as an AbortSignal (DuckDB interrupt, fetch abort, BigQuery job cancel), and each attempt gets its own
 * scratch folder (src/scratch.ts).
 */
import fs from 'node:fs/promises';
import { Context } from '@temporalio/activity';
import { createScratch } from '../scratch';
import { runStep } from '../step-context';

/** Without a heartbeat timeout the server ignores heartbeats' absence; they still carry progress and cancellation. */
const defaultBeatMs = 10_000;

/** Wraps each activity of `activities` (one input, a promise out). */
export function heartbeatingSteps<T extends Record<string, (input: never) => Promise<unknown>>>(
  activities: T,
  scratchRoot: string,
): T {
  const wrapped = Object.entries(activities).map(([name, fn]) => [name, heartbeating(fn, scratchRoot)]);
  return Object.fromEntries(wrapped) as T;
}

function heartbeating<I, O>(fn: (input: I) => Promise<O>, scratchRoot: string): (input: I) => Promise<O> {
  return async (input) => {
    const ctx = activityContext();
    // Called directly (a script, a benchmark, a test of the domain logic): nothing to heartbeat to.
    if (!ctx) return fn(input);
    const { workflowExecution, activityId, attempt, heartbeatTimeoutMs } = ctx.info;
    // Before the timer starts, so a scratch folder that cannot be created leaves no timer running.
    const scratchDir = await createScratch(scratchRoot, [
      workflowExecution?.workflowId ?? 'no-workflow',
      activityId,
      attempt,
    ]);
    let details: Record<string, unknown> = {};
    const beat = () => ctx.heartbeat(details);
    // A few beats per timeout; the SDK sends at most one per 0.8 × timeout to the server anyway.
    const timer = setInterval(beat, Math.max(250, Math.min(defaultBeatMs, (heartbeatTimeoutMs ?? Infinity) / 4)));
    beat();
    const progress = (more: Record<string, unknown>) => void (details = { ...details, ...more });
    try {
      return await runStep({ signal: ctx.cancellationSignal, progress, scratchDir }, () => fn(input));
    } catch (err) {
      // The domain code failed because the step was cancelled: report the cancellation, not the interrupted query.
      if (ctx.cancellationSignal.aborted) await ctx.cancelled;
      throw err;
    } finally {
      clearInterval(timer);
      await fs.rm(scratchDir, { recursive: true, force: true });
    }
  };
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}
