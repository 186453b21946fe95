/**
 * Records event histories of `trainingPipeline` for the replay test (test/workflows/replay.test.ts): one per path
 * through the workflow (deployed, gate-rejected, invalid input, failed step). Run it after a deliberate, versioned
 * change to the workflow, and commit the files it writes:
 *
 *   npm run record:histories
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig } from '../src/config';
import type { TrainingPipelineInput } from '../src/contracts/pipeline';
import { resolveTemporalCli, startDevServer } from '../src/dev/temporal-server';
import { createPipelineWorker, createTrainingWorker } from '../src/workers/create-workers';
import { trainingPipeline } from '../src/workflows';

const outDir = path.resolve(__dirname, '..', 'test', 'fixtures', 'histories');
const dataset = path.resolve(__dirname, '..', 'examples', 'churn.csv');

const scenarios: { name: string; input: (trainingQueue: string) => TrainingPipelineInput }[] = [
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
];

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-record-'));
  const config = loadConfig({ ...process.env, MLOPS_STATE_DIR: tmp });
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const cliPath = resolveTemporalCli(config, console.log);
  const server = await startDevServer({ cliPath, stateDir: path.join(tmp, 'temporal'), port: 0, uiPort: false });
  const workerConfig = loadConfig({ ...process.env, MLOPS_STATE_DIR: tmp, TEMPORAL_ADDRESS: server.address });
  const native = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  try {
    const queues = { pipeline: 'record-pipeline', training: 'record-training' };
    const pipelineWorker = await createPipelineWorker({
      config: workerConfig,
      connection: native,
      taskQueue: queues.pipeline,
    });
    const trainingWorker = await createTrainingWorker({
      config: workerConfig,
      connection: native,
      taskQueue: queues.training,
    });
    await pipelineWorker.runUntil(
      trainingWorker.runUntil(async () => {
        for (const scenario of scenarios) {
          const handle = await client.workflow.start(trainingPipeline, {
            taskQueue: queues.pipeline,
            workflowId: `replay-${scenario.name}`,
            args: [scenario.input(queues.training)],
          });
          await handle.result().catch(() => undefined);
          // The CLI's JSON export is the same format the Web UI downloads and Worker.runReplayHistory reads.
          const history = execFileSync(cliPath, [
            'workflow',
            'show',
            '--workflow-id',
            handle.workflowId,
            '--output',
            'json',
            '--address',
            server.address,
          ]);
          fs.writeFileSync(path.join(outDir, `${scenario.name}.json`), history);
          console.log(`recorded ${scenario.name}`);
        }
      }),
    );
  } finally {
    await native.close();
    await connection.close();
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
