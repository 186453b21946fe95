import assert from 'node:assert/strict';
import { monitoringCheckWorkflowId } from '../../src/schedules/monitoring-schedule';

describe('the workflow id of npm run monitoring -- check', function () {
  it('differs between two checks started in the same millisecond, and names the schedule and the time', function () {
    const at = new Date('2026-12-01T10:00:00.123Z');
    const ids = new Set(Array.from({ length: 50 }, () => monitoringCheckWorkflowId('churn', 'production', at)));
    assert.equal(ids.size, 50);
    for (const id of ids) assert.match(id, /^monitor-churn-check-2026-12-01T10:00:00\.123Z-[0-9a-f]{6}$/);
    assert.match(
      monitoringCheckWorkflowId('churn', 'staging', at),
      /^monitor-churn\.staging-check-2026-12-01T10:00:00\.123Z-/,
    );
  });
});
