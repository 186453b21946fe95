import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cliServerFlags, stack } from './stack';

const run = promisify(execFile);

/** Workflow ids that `temporal workflow list --query <query>` prints, as a user would run it. */
export async function listWithCli(query: string): Promise<string[]> {
  const flags = ['--query', query, '--output', 'json', ...cliServerFlags()];
  const { stdout } = await run(stack().cliPath, ['workflow', 'list', ...flags]);
  return [...stdout.matchAll(/"workflowId":\s*"([^"]+)"/g)].map((m) => m[1]!);
}

/**
 * Waits until `temporal workflow list --query <query>` lists `workflowId`. Visibility is eventually consistent (the
 * server indexes search attributes after the run records them), so this polls, for at most `limitMs`: a run that is
 * never listed fails here with what the query did list, instead of polling past the test.
 */
export async function waitUntilListed(query: string, workflowId: string, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const listed = await listWithCli(query);
    if (listed.includes(workflowId)) return;
    if (Date.now() > deadline)
      assert.fail(`${query} does not list ${workflowId} after ${limitMs} ms; it lists [${listed.join(', ')}]`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
