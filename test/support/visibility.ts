import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { stack } from './stack';

const run = promisify(execFile);

/** Workflow ids that `temporal workflow list --query <query>` prints, as a user would run it. */
export async function listWithCli(query: string): Promise<string[]> {
  const { server, cliPath } = stack();
  const { stdout } = await run(cliPath, [
    'workflow',
    'list',
    '--query',
    query,
    '--output',
    'json',
    '--address',
    server.address,
    '--namespace',
    server.namespace,
  ]);
  return [...stdout.matchAll(/"workflowId":\s*"([^"]+)"/g)].map((m) => m[1]!);
}

/**
 * Waits until `temporal workflow list --query <query>` lists `workflowId` (visibility is eventually consistent: the
 * server indexes search attributes after the run records them), polling; the test's mocha timeout bounds the wait.
 */
export async function waitUntilListed(query: string, workflowId: string): Promise<void> {
  while (!(await listWithCli(query)).includes(workflowId)) await new Promise((resolve) => setTimeout(resolve, 200));
}
