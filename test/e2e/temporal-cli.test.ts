import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { taskQueues } from '../../src/contracts/task-queues';
import { repoRoot, stack, testConfig } from '../support/stack';
import { withWorkers } from '../support/workers';

const run = promisify(execFile);

/** The CLI lines of the README's example block, with `\` continuations joined. */
function readmeCliCommands(): string[] {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const block = /<!-- cli-example:start -->\s*```sh\n([\s\S]*?)```\s*<!-- cli-example:end -->/.exec(readme);
  assert.ok(block, 'README.md must contain the cli-example block');
  return block[1]!
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((line) => line.startsWith('temporal '));
}

describe('the Temporal CLI commands in the README', function () {
  it('start a pipeline on the default task queues, and result, describe, show, query and list report on it', async function () {
    const commands = readmeCliCommands();
    assert.equal(commands.length, 6);
    const outputs: string[] = [];
    // The README targets the default task queues; this test's server is private to the test process, so the workers
    // can poll them without meeting any other test's workflows.
    const queues = { pipeline: taskQueues.pipeline, training: taskQueues.training };
    await withWorkers({ config: testConfig(), title: this.test!.title, queues }, async () => {
      for (const command of commands) {
        const { stdout } = await run('bash', ['-c', command.replace(/^temporal /, `"${stack().cliPath}" `)], {
          cwd: repoRoot,
          env: {
            ...process.env,
            TEMPORAL_ADDRESS: stack().server.address,
            TEMPORAL_NAMESPACE: stack().server.namespace,
          },
        });
        outputs.push(stdout);
      }
    });
    const [start, result, describe, show, query, list] = outputs;
    assert.match(start!, /churn-from-cli/);
    assert.match(result!, /"outcome":\s*"deployed"/);
    assert.match(describe!, /MlopsPipelineStage:[^\]]*?\\"completed\\"/);
    assert.match(describe!, /MlopsModelName:[^\]]*?\\"churn\\"/);
    assert.equal(show!.match(/ActivityTaskCompleted/g)?.length, 8, 'eight steps ran as activities (checkChampion too)');
    assert.match(show!, /WorkflowExecutionCompleted/);
    assert.match(query!, /"stage":\s*"completed"/);
    assert.match(list!, /churn-from-cli/);
  });
});
