import assert from 'node:assert/strict';
import type { ScheduleHandle, WorkflowHandle } from '@temporalio/client';
import { stack } from './stack';

/**
 * Triggers the schedule and returns a handle on the run it started. The schedule records the action a moment after
 * the trigger returns, so this polls describe() for it, for at most `limitMs`.
 */
export async function triggerRun(handle: ScheduleHandle, limitMs = 30_000): Promise<WorkflowHandle> {
  const before = (await handle.describe()).info.recentActions.length;
  await handle.trigger();
  const deadline = Date.now() + limitMs;
  for (;;) {
    const actions = (await handle.describe()).info.recentActions;
    if (actions.length > before) {
      const { workflowId, firstExecutionRunId } = actions.at(-1)!.action.workflow;
      return stack().client.workflow.getHandle(workflowId, firstExecutionRunId);
    }
    if (Date.now() > deadline) assert.fail(`the schedule took no action within ${limitMs} ms of the trigger`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
