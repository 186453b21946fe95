import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { monitoringScheduleId } from '../../src/contracts/monitoring';
import { readmeBlock, runReadmeLine, scheduleEssentials as essentials } from '../support/readme';
import { repoRoot, stack } from '../support/stack';

describe('the monitoring schedule commands in the README', function () {
  this.timeout(120_000);

  it('the temporal schedule create line and npm run monitoring -- schedule make the same schedule, and the npm command updates it in place', async function () {
    const [cliLine] = readmeBlock('schedule-example');
    assert.match(cliLine!, /^temporal schedule create /);
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const npmLine = /^npm run monitoring -- schedule .*$/m.exec(readme)?.[0];
    assert.ok(npmLine, 'README.md shows the npm run monitoring command');
    const handle = stack().client.schedule.getHandle(monitoringScheduleId('churn'));

    await runReadmeLine(cliLine!);
    const fromCli = essentials(await handle.describe());
    await handle.delete();

    assert.match(await runReadmeLine(npmLine), /Created schedule monitor-churn/);
    const fromNpm = essentials(await handle.describe());
    assert.deepEqual(fromNpm, fromCli);
    assert.equal(fromNpm.workflowType, 'monitorModel');
    assert.equal(fromNpm.catchupWindow, 3_600_000);

    assert.match(await runReadmeLine(npmLine), /Updated schedule monitor-churn/);
    // Updated, not replaced: the schedule keeps its history (the update is recorded in its info).
    const after = await handle.describe();
    assert.deepEqual(essentials(after), fromCli);
    assert.ok(after.info.lastUpdatedAt, 'the second command updated the existing schedule');
    await handle.delete();
  });
});
