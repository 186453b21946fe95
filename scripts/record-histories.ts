/**
 * Records event histories of `trainingPipeline` for the replay test (test/workflows/replay.test.ts): one per path
 * through the workflow (deployed, gate-rejected, invalid input, failed step, cancelled while training). Run it after a deliberate, versioned
 * change to the workflow (a `patched()` branch), naming the change, and commit the files it writes beside the older
 * ones, which must keep replaying:
 *
 *   npm run record:histories -- --suffix <change>     (writes deployed-<change>.json, …)
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import type { TrainingPipelineInput } from '../src/contracts/pipeline';
import { startLocalStack } from '../src/dev/local-stack';
import { trainingPipeline } from '../src/workflows';

const outDir = path.resolve(__dirname, '..', 'test', 'fixtures', 'histories');
const dataset = path.resolve(__dirname, '..', 'examples', 'churn.csv');

interface Scenario {
  name: string;
  input: (trainingQueue: string) => TrainingPipelineInput;
  /** What the recorder does to the run while it runs (e.g. cancel it). */
  meanwhile?: (handle: WorkflowHandle<typeof trainingPipeline>) => Promise<void>;
}

const scenarios: Scenario[] = [
  {
    name: 'deployed',
    input: (q) => ({
      modelName: 'churn',
      dataset: { uri: dataset },
      target: 'churned',
      trainer: { hyperparameters: { epochs: 3 }, taskQueue: q },
    }),
  },
  {
    name: 'gate-rejected',
    input: (q) => ({
      modelName: 'churn',
      dataset: { uri: dataset },
      target: 'churned',
      trainer: { hyperparameters: { epochs: 3 }, taskQueue: q },
      gate: { metric: 'auc', minImprovement: 0.5 },
    }),
  },
  { name: 'invalid-input', input: () => ({ modelName: 'Not Valid', dataset: { uri: '' }, target: '' }) },
  {
    name: 'missing-target',
    input: (q) => ({ modelName: 'churn', dataset: { uri: dataset }, target: 'nope', trainer: { taskQueue: q } }),
  },
  {
    name: 'cancelled',
    input: (q) => ({
      modelName: 'churn',
      dataset: { uri: dataset },
      target: 'churned',
      trainer: { hyperparameters: { epochs: 200, epoch_delay_ms: 300 }, taskQueue: q, heartbeatTimeoutSeconds: 5 },
    }),
    meanwhile: cancelWhileTraining,
  },
];

/** Cancels the run once its trainer is running (the training activity has sent progress), polling the run. */
async function cancelWhileTraining(handle: WorkflowHandle<typeof trainingPipeline>): Promise<void> {
  for (;;) {
    const { status, raw } = await handle.describe();
    if (status.name !== 'RUNNING') throw new Error(`the run ended (${status.name}) before it could be cancelled`);
    const training = raw.pendingActivities?.find((a) => a.activityType?.name === 'trainModel');
    if (training?.heartbeatDetails) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await handle.cancel();
}

async function main(): Promise<void> {
  const usage =
    'npm run record:histories -- [--suffix <name>]: runs the workflows on a dev server of its own and writes their\n' +
    'histories to test/fixtures/histories/ (each name followed by -<suffix> when given), for the replay tests.';
  if (process.argv.slice(2).some((arg) => arg === '--help' || arg === '-h')) return console.log(usage);
  let suffix: string | undefined;
  try {
    suffix = parseArgs({ options: { suffix: { type: 'string' } } }).values.suffix;
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage}`);
    process.exitCode = 2;
    return;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-record-'));
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const queues = { pipeline: 'record-pipeline', training: 'record-training' };
  const stack = await startLocalStack({
    env: { ...process.env, MLOPS_STATE_DIR: tmp },
    port: 0,
    uiPort: false,
    taskQueues: queues,
    log: console.log,
  });
  try {
    for (const scenario of scenarios) {
      const handle = await stack.client.workflow.start(trainingPipeline, {
        taskQueue: queues.pipeline,
        workflowId: `replay-${scenario.name}`,
        args: [scenario.input(queues.training)],
      });
      await scenario.meanwhile?.(handle);
      await handle.result().catch(() => undefined);
      // The CLI's JSON export is the same format the Web UI downloads and Worker.runReplayHistory reads.
      const history = execFileSync(stack.cliPath, [
        'workflow',
        'show',
        '--workflow-id',
        handle.workflowId,
        '--output',
        'json',
        '--address',
        stack.server.address,
      ]);
      const name = suffix ? `${scenario.name}-${suffix}` : scenario.name;
      fs.writeFileSync(path.join(outDir, `${name}.json`), history);
      console.log(`recorded ${name}`);
    }
  } finally {
    await stack.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
