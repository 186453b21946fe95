/**
 * The README's model controller lines, run as written with the real Temporal CLI and `npm run models`, against the
 * test server with real workers on the default task queues (the server is private to this test process).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { controllerWorkflowId, retrainScheduleId } from '../../src/contracts/controller';
import { taskQueues } from '../../src/contracts/task-queues';
import { controllerState } from '../../src/controller-client/run-command';
import { monitoredChurn } from '../support/monitored-model';
import { readmeBlock, runReadmeLine, scheduleEssentials } from '../support/readme';
import { repoRoot, stack, testConfig } from '../support/stack';
import { withWorkers } from '../support/workers';

function readme(): string {
  return fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
}

/** Waits (bounded) until the controller has read what the alias serves: its first step after a start. */
async function followedStable(modelName: string): Promise<number | undefined> {
  for (let attempt = 0; attempt < 150; attempt++) {
    const state = await controllerState(stack().client, modelName);
    if (state.history.some((event) => event.kind === 'started')) return state.stable;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return assert.fail(`the controller of ${modelName} never recorded its start`);
}

describe('the model controller commands in the README', function () {
  this.timeout(240_000);

  it('start, query, deploy and roll back with the Temporal CLI; npm run models sees the same controller; both schedule lines make one schedule', async function () {
    const [start, query, deploy, rollback, schedule, ...rest] = readmeBlock('controller-example');
    assert.equal(rest.length, 0);
    const [npmStart, npmStatus] = readmeBlock('models-example');
    const churn = await monitoredChurn();
    assert.equal(await churn.deployAs('churn'), 1);
    assert.equal(await churn.register('churn', 'second'), 2);
    const { client } = stack();
    const queues = { pipeline: taskQueues.pipeline, training: taskQueues.training };
    await withWorkers({ config: testConfig(), title: this.test!.title, queues, store: churn.store }, async () => {
      assert.match(await runReadmeLine(start!), /Running execution:[\s\S]*WorkflowId\s+model-controller-churn/);
      try {
        assert.equal(await followedStable('churn'), 1);
        assert.match(await runReadmeLine(query!), /"stable":\s*1\b/);
        assert.match(await runReadmeLine(deploy!), /v2 is stable/);
        assert.match(await runReadmeLine(rollback!), /v1 is stable again/);
        assert.match(await runReadmeLine(npmStart!), /The controller model-controller-churn is already running/);
        const status = await runReadmeLine(npmStatus!);
        // The version left is remembered as rolled back; a second rollback would have nowhere to go.
        assert.match(status, /stable: +version 1\n/);
        assert.match(status, /rolled back: +version 2 /);
        assert.match(status, /rolled-back +v2 +latency \(v1 is stable again\)/);

        const handle = client.schedule.getHandle(retrainScheduleId('churn'));
        await runReadmeLine(schedule!);
        const fromCli = scheduleEssentials(await handle.describe());
        await handle.delete();
        const npmSchedule = /^npm run models -- schedule-retrain churn --cron "[^"]+"/m.exec(readme())?.[0];
        assert.ok(npmSchedule, 'README.md shows the npm run models -- schedule-retrain command');
        assert.match(await runReadmeLine(npmSchedule), /^Created schedule retrain-churn: requestRetrain/m);
        assert.deepEqual(scheduleEssentials(await handle.describe()), fromCli);
        assert.match(await runReadmeLine(npmSchedule), /^Updated schedule retrain-churn/m);
        assert.deepEqual(scheduleEssentials(await handle.describe()), fromCli);
        assert.equal(fromCli.workflowType, 'requestRetrain');
        assert.equal(fromCli.catchupWindow, 3_600_000);
        await handle.delete();
      } finally {
        await client.workflow.getHandle(controllerWorkflowId('churn')).terminate('test over');
      }
    });
  });
});
