import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ScheduleDescription } from '@temporalio/client';
import { monitoringScheduleId } from '../../src/contracts/monitoring';
import { repoRoot, stack } from '../support/stack';

const run = promisify(execFile);

/** The lines of a README example block, with `\` continuations joined. */
function readmeBlock(name: string): string[] {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const block = new RegExp(`<!-- ${name}:start -->\\s*\`\`\`sh\\n([\\s\\S]*?)\`\`\`\\s*<!-- ${name}:end -->`).exec(
    readme,
  );
  assert.ok(block, `README.md must contain the ${name} block`);
  return block[1]!
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((line) => line.trim() !== '');
}

async function shell(command: string): Promise<string> {
  const { stdout } = await run('bash', ['-c', command], {
    cwd: repoRoot,
    env: { ...process.env, TEMPORAL_ADDRESS: stack().server.address, TEMPORAL_NAMESPACE: stack().server.namespace },
  });
  return stdout;
}

/** What makes two schedules the same: cron, policies and the workflow they start. */
function essentials(d: ScheduleDescription) {
  assert.equal(d.action.type, 'startWorkflow');
  return {
    calendars: d.spec.calendars,
    overlap: d.policies.overlap,
    catchupWindow: d.policies.catchupWindow,
    workflowType: d.action.workflowType,
    workflowId: d.action.workflowId,
    taskQueue: d.action.taskQueue,
    args: d.action.args,
  };
}

describe('the monitoring schedule commands in the README', function () {
  this.timeout(120_000);

  it('the temporal schedule create line and npm run monitoring -- schedule make the same schedule, and the npm command updates it in place', async function () {
    const [cliLine] = readmeBlock('schedule-example');
    assert.match(cliLine!, /^temporal schedule create /);
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const npmLine = /^npm run monitoring -- schedule .*$/m.exec(readme)?.[0];
    assert.ok(npmLine, 'README.md shows the npm run monitoring command');
    const handle = stack().client.schedule.getHandle(monitoringScheduleId('churn'));

    await shell(cliLine!.replace(/^temporal /, `"${stack().cliPath}" `));
    const fromCli = essentials(await handle.describe());
    await handle.delete();

    assert.match(await shell(npmLine), /Created schedule monitor-churn/);
    const fromNpm = essentials(await handle.describe());
    assert.deepEqual(fromNpm, fromCli);
    assert.equal(fromNpm.workflowType, 'monitorModel');
    assert.equal(fromNpm.catchupWindow, 3_600_000);

    assert.match(await shell(npmLine), /Updated schedule monitor-churn/);
    // Updated, not replaced: the schedule keeps its history (the update is recorded in its info).
    const after = await handle.describe();
    assert.deepEqual(essentials(after), fromCli);
    assert.ok(after.info.lastUpdatedAt, 'the second command updated the existing schedule');
    await handle.delete();
  });
});
