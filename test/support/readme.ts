/** The README's example blocks, run as a reader would run them, against the test's dev server. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ScheduleDescription } from '@temporalio/client';
import { repoRoot, stack } from './stack';

const run = promisify(execFile);

/** The lines of a README example block (`<!-- name:start -->` … `<!-- name:end -->`), with `\` continuations joined. */
export function readmeBlock(name: string): string[] {
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

/** Runs a README line with bash in the repository, `temporal` being the test's CLI, against the test server. */
export async function runReadmeLine(line: string): Promise<string> {
  const command = line.replace(/^temporal /, `"${stack().cliPath}" `);
  const { stdout } = await run('bash', ['-c', command], {
    cwd: repoRoot,
    env: { ...process.env, TEMPORAL_ADDRESS: stack().server.address, TEMPORAL_NAMESPACE: stack().server.namespace },
  });
  return stdout;
}

/** What makes two schedules the same: cron, policies and the workflow they start. */
export function scheduleEssentials(d: ScheduleDescription) {
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
