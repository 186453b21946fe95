/**
 * The retraining Schedule on the real dev server with real workers: created once per model (a second call updates
 * it in place), and each triggered run of `requestRetrain` signals the model's controller, or fails with a
 * catalogued error when there is none.
 */
import assert from 'node:assert/strict';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { retrainScheduleId } from '../../src/contracts/controller';
import { pausedScheduleNote } from '../../src/schedules/cron-schedule';
import { deleteRetrainSchedule, upsertRetrainSchedule } from '../../src/schedules/retrain-schedule';
import { assertWorkflowFailed } from '../support/assert-workflow';
import { triggerRun } from '../support/schedules';
import { stack, testConfig, uniqueName } from '../support/stack';
import { withWorkers } from '../support/workers';

describe('the retraining Schedule (dev server)', function () {
  this.timeout(120_000);

  it('is created once per model and updated in place with the latest cron, and deleted on request', async function () {
    const { client } = stack();
    const modelName = uniqueName('retrain-schedule');
    const scheduleId = retrainScheduleId(modelName);
    const answers = [
      await upsertRetrainSchedule(client, { cron: '0 3 * * 1', input: { modelName }, taskQueue: 'q-one' }),
      await upsertRetrainSchedule(client, { cron: '30 4 * * *', input: { modelName, reason: 'nightly' } }),
    ];
    assert.deepEqual(answers, [
      { scheduleId, created: true },
      // The update replaced the first input whole, and says what it was.
      { scheduleId, created: false, previousInput: { modelName } },
    ]);
    try {
      const { spec, policies, action, info } = await client.schedule.getHandle(scheduleId).describe();
      assert.deepEqual(policies, { ...policies, overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: 3_600_000 });
      assert.equal(spec.calendars?.length, 1, 'one cron: the latest replaced the first');
      const { hour, minute } = spec.calendars[0]!;
      assert.deepEqual(
        { hour, minute },
        { hour: [{ start: 4, end: 4, step: 1 }], minute: [{ start: 30, end: 30, step: 1 }] },
      );
      assert.deepEqual(action, {
        ...action,
        type: 'startWorkflow',
        workflowType: 'requestRetrain',
        taskQueue: 'mlops-pipeline',
        args: [{ modelName, reason: 'nightly' }],
      });
      assert.ok(info.lastUpdatedAt, 'the second call updated the schedule it created');
      // Paused by hand (`temporal schedule toggle --pause`): an update leaves it paused and says so.
      await client.schedule.getHandle(scheduleId).pause('maintenance');
      const paused = await upsertRetrainSchedule(client, { cron: '0 5 * * *', input: { modelName } });
      assert.equal(paused.pausedNote, 'maintenance');
      assert.equal((await client.schedule.getHandle(scheduleId).describe()).state.paused, true);
      assert.equal(
        pausedScheduleNote(scheduleId, paused.pausedNote),
        `Note: the schedule is paused ("maintenance") and stays so: it starts nothing until \`temporal schedule toggle --schedule-id ${scheduleId} --unpause\`.`,
      );
    } finally {
      assert.equal(await deleteRetrainSchedule(client, modelName), true);
    }
    assert.equal(await deleteRetrainSchedule(client, modelName), false, 'a second delete finds nothing');
  });

  it('fails its run with MLOPS_ERR_CONTROLLER_NOT_RUNNING when the model has no controller', async function () {
    const { client } = stack();
    const modelName = uniqueName('no-controller');
    await withWorkers({ config: testConfig(), title: this.test!.title }, async (queues) => {
      await upsertRetrainSchedule(client, { cron: '0 0 1 1 *', input: { modelName }, taskQueue: queues.pipeline });
      const handle = client.schedule.getHandle(retrainScheduleId(modelName));
      try {
        const run = await triggerRun(handle);
        const failure = await assertWorkflowFailed(
          run.result(),
          ApplicationFailure,
          'MLOPS_ERR_CONTROLLER_NOT_RUNNING',
        );
        assert.match(
          failure.message,
          new RegExp(`model "${modelName}" \\(workflow id model-controller-${modelName}\\)`),
        );
        assert.match(failure.message, /npm run models -- start/);
        assert.ok(failure.cause instanceof ApplicationFailure);
        assert.equal(failure.cause.type, 'ExternalWorkflowExecutionNotFound', 'the server said no such workflow');
      } finally {
        await handle.delete();
      }
    });
  });
});
