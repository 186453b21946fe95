/**
 * A controller whose workflow task fails on every attempt (a worker runs it, and cannot run its code) answers no query
 * and no update. `npm run models` says so, with the failure, instead of blaming a missing worker.
 */
import assert from 'node:assert/strict';
import { controllerWorkflowId } from '../../src/contracts/controller';
import { queryWithin, updateWithin } from '../../src/controller-client/answer-deadline';
import { isMlopsError } from '../../src/errors';
import { withFakeActivities } from '../support/fake-activities';
import { stack, uniqueName } from '../support/stack';

describe('npm run models against a controller whose workflow task keeps failing', function () {
  this.timeout(120_000);

  it('status and updates fail with MLOPS_ERR_CONTROLLER_TASK_FAILING quoting the failure, not NO_ANSWER', async function () {
    const { client } = stack();
    await withFakeActivities(this.test!.title, {}, async (taskQueue) => {
      // A workflow type the worker does not have: each workflow task it picks up fails.
      const model = uniqueName('failing')
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, '-')
        .replace(/^[^a-z]+/, 'm')
        .slice(0, 50);
      const handle = await client.workflow.start('modelControllerOfAnotherVersion', {
        taskQueue,
        workflowId: controllerWorkflowId(model),
        args: [{ modelName: model }],
      });
      try {
        const deadline = Date.now() + 60_000;
        while (((await handle.describe()).raw.pendingWorkflowTask?.attempt ?? 0) < 2) {
          assert.ok(Date.now() < deadline, 'the workflow task never failed twice');
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        const call = { client, handle, taskQueue, command: 'status', timeoutSeconds: 3 };
        // One at a time: each is awaited as soon as it is sent.
        for (const send of [
          () => queryWithin(call, 'printed nothing'),
          () => updateWithin({ ...call, command: 'promote' }, 'promote', undefined),
        ])
          await assert.rejects(send(), (err: unknown) => {
            assert.ok(isMlopsError(err, 'MLOPS_ERR_CONTROLLER_TASK_FAILING'), String(err));
            assert.match(
              err.message,
              new RegExp(
                `^MLOPS_ERR_CONTROLLER_TASK_FAILING: The controller ${controllerWorkflowId(model)} answers nothing: a worker runs it, and its workflow task has failed \\d+ time\\(s\\) in a row, last with ".*modelControllerOfAnotherVersion.*"`,
              ),
            );
            assert.match(
              err.message,
              /\nFix: Read the failure in `temporal workflow show --workflow-id model-controller-/,
            );
            return true;
          });
      } finally {
        await handle.terminate('test over');
      }
    });
  });
});
