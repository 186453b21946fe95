/**
 * The monitoring Schedule on the real dev server, with real workers and the real check: created once per model
 * (a second call updates it), triggered with `handle.trigger()`, and each triggered run judges the log written since
 * the previous one.
 */
import assert from 'node:assert/strict';
import type { ScheduleHandle } from '@temporalio/client';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import type { MonitorModelResult } from '../../src/contracts/monitoring';
import { monitoringScheduleId } from '../../src/contracts/monitoring';
import { upsertMonitoringSchedule } from '../../src/schedules/monitoring-schedule';
import { churnInstances, monitoredChurn, writePredictionLog } from '../support/monitored-model';
import { triggerRun } from '../support/schedules';
import { stack, testConfig } from '../support/stack';
import { withWorkers } from '../support/workers';

async function triggerAndAwait(handle: ScheduleHandle): Promise<MonitorModelResult> {
  return (await triggerRun(handle)).result() as Promise<MonitorModelResult>;
}

describe('the monitoring Schedule (dev server, real check)', function () {
  this.timeout(180_000);

  it('is created once per model and updated in place, and its triggered runs pass same-distribution traffic and flag drift', async function () {
    const churn = await monitoredChurn();
    const model = 'churn-scheduled';
    const version = await churn.deployAs(model);
    const { client } = stack();
    await withWorkers({ config: testConfig(), title: this.test!.title, store: churn.store }, async (queues) => {
      // No lag: the test writes the log before it triggers, so the window may end at the run's start.
      const input = { modelName: model, lagSeconds: 0 };
      const created = await upsertMonitoringSchedule(client, { cron: '0 0 1 1 *', input, taskQueue: queues.pipeline });
      const updated = await upsertMonitoringSchedule(client, { cron: '15 * * * *', input, taskQueue: queues.pipeline });
      assert.deepEqual(created, { scheduleId: monitoringScheduleId(model), created: true });
      // The update says what it replaced, so a caller can name the settings it dropped.
      assert.deepEqual(updated, { scheduleId: monitoringScheduleId(model), created: false, previousInput: input });
      const handle = client.schedule.getHandle(monitoringScheduleId(model));
      try {
        const described = await handle.describe();
        assert.equal(described.policies.overlap, ScheduleOverlapPolicy.SKIP);
        assert.equal(described.policies.catchupWindow, 3_600_000);
        assert.deepEqual(described.spec.calendars?.[0]?.minute, [{ start: 15, end: 15, step: 1 }]);
        assert.equal(described.action.type, 'startWorkflow');

        const tenMinutesAgo = new Date(Date.now() - 600_000).toISOString();
        await writePredictionLog(churn.store, model, version, tenMinutesAgo, churnInstances({ rows: 2000, seed: 21 }));
        const same = await triggerAndAwait(handle);
        assert.equal(same.rows, 2000);
        assert.deepEqual(same.driftedFeatures, []);
        assert.equal(same.incident, undefined);

        // Five of the nine features move (tenure, contract mix, charges and so total charges, a new payment method):
        // more than the 50 % that makes dataset drift, so the run raises an incident.
        const drift = { tenureShift: 12, monthToMonthShare: 0.9, chargesFactor: 1.3, newPaymentMethodShare: 0.3 };
        const now = new Date().toISOString();
        await writePredictionLog(churn.store, model, version, now, churnInstances({ rows: 2000, seed: 22, drift }), 0);
        const drifted = await triggerAndAwait(handle);
        assert.equal(drifted.rows, 2000, 'the second run covers only the log since the first');
        const moved = ['contract', 'monthly_charges', 'payment_method', 'tenure_months', 'total_charges'];
        assert.deepEqual([...drifted.driftedFeatures].sort(), moved);
        assert.deepEqual([...(drifted.incident?.driftedFeatures ?? [])].sort(), moved);
        assert.equal(drifted.incident?.version, version);
        assert.equal((await handle.describe()).info.recentActions.length, 2);
      } finally {
        await handle.delete();
      }
    });
  });
});
