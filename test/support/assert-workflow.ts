import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ErrorCode } from '../../src/errors';

/**
 * Awaits a workflow's result and asserts that the run failed with a cause of class `Cause` (an `ApplicationFailure`
 * of `type` when one is given, a `CancelledFailure` for a cancelled run, …). Returns the cause for further checks.
 */
export async function assertWorkflowFailed<C extends abstract new (...args: never[]) => Error>(
  result: Promise<unknown>,
  Cause: C,
  type?: ErrorCode,
): Promise<InstanceType<C>> {
  let outcome: { error: unknown } | undefined;
  try {
    await result;
  } catch (error) {
    outcome = { error };
  }
  if (!outcome) return assert.fail(`the workflow should fail with ${Cause.name}, but it completed`);
  const err = outcome.error;
  assert.ok(err instanceof WorkflowFailedError, `expected a WorkflowFailedError, got ${String(err)}`);
  assert.ok(err.cause instanceof Cause, `expected a ${Cause.name} cause, got ${String(err.cause)}`);
  if (type !== undefined) {
    assert.ok(err.cause instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err.cause)}`);
    assert.equal(err.cause.type, type, err.cause.message);
  }
  return err.cause as InstanceType<C>;
}
