import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { taskQueues } from '../../src/contracts/task-queues';
import type { TrainingProgress } from '../../src/contracts/training';
import { trainingPipeline } from '../../src/workflows';
import { repoRoot, stack, tempDir, uniqueName } from '../support/stack';
import { waitForHeartbeat } from '../support/progress';
import { churnPipelineInput } from '../support/pipeline-input';

/** Starts a worker entry point as its own process, the way `npm run worker:*` and the Dockerfile do. */
function startWorker(entry: string, env: Record<string, string>): ChildProcess & { exited: Promise<number | null> } {
  const child = spawn(
    process.execPath,
    ['--require', require.resolve('tsx/cjs'), path.join(repoRoot, 'src', 'workers', entry)],
    {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  return Object.assign(child, {
    exited: new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))),
  });
}

describe('worker processes', function () {
  let env: Record<string, string>;

  before(function () {
    this.timeout(120_000);
    const bundle = path.join(tempDir('bundle'), 'workflow-bundle.js');
    execFileSync(
      process.execPath,
      [
        '--require',
        require.resolve('tsx/cjs'),
        path.join(repoRoot, 'scripts', 'build-workflow-bundle.ts'),
        '--out',
        bundle,
      ],
      { cwd: repoRoot, stdio: 'ignore' },
    );
    env = {
      TEMPORAL_ADDRESS: stack().server.address,
      MLOPS_STATE_DIR: tempDir('worker-state'),
      MLOPS_CACHE_DIR:
        process.env.MLOPS_CACHE_DIR ?? path.join(process.env.HOME ?? '/root', '.cache', 'temporal-mlops'),
      MLOPS_WORKER_SHUTDOWN_GRACE_MS: '3000',
      MLOPS_LOG_LEVEL: 'ERROR',
      NODE_ENV: 'production',
      MLOPS_WORKFLOW_BUNDLE: bundle,
    };
    assert.ok(fs.statSync(bundle).size > 100_000, 'the prebuilt bundle was written');
  });

  it('run a pipeline from the prebuilt workflow bundle and exit 0 on SIGTERM', async function () {
    const pipeline = startWorker('pipeline-worker.ts', env);
    const training = startWorker('training-worker.ts', env);
    try {
      const result = await stack().client.workflow.execute(trainingPipeline, {
        taskQueue: taskQueues.pipeline,
        workflowId: uniqueName(this.test!.title),
        args: [
          churnPipelineInput({
            modelName: 'churn',
            trainer: { hyperparameters: { epochs: 3 } },
          }),
        ],
      });
      assert.equal(result.outcome, 'deployed');
    } finally {
      pipeline.kill('SIGTERM');
      training.kill('SIGTERM');
    }
    assert.equal(await pipeline.exited, 0);
    assert.equal(await training.exited, 0);
  });

  it('finish a pipeline whose training worker was killed mid-training, resuming from the last checkpoint', async function () {
    const pipeline = startWorker('pipeline-worker.ts', env);
    let training = startWorker('training-worker.ts', env);
    const workflowId = uniqueName(this.test!.title);
    try {
      const handle = await stack().client.workflow.start(trainingPipeline, {
        taskQueue: taskQueues.pipeline,
        workflowId,
        args: [
          churnPipelineInput({
            modelName: 'churn-killed',
            // Slow epochs so the kill lands mid-training; 5 s without a heartbeat hands the attempt to a new worker.
            trainer: { hyperparameters: { epochs: 12, patience: 0, epoch_delay_ms: 400 }, heartbeatTimeoutSeconds: 5 },
          }),
        ],
      });
      await waitForHeartbeat<TrainingProgress>(workflowId, (p) => p.epoch >= 3);
      training.kill('SIGKILL');
      await training.exited;
      training = startWorker('training-worker.ts', env);
      const result = await handle.result();
      assert.equal(result.outcome, 'deployed');
      const history = await handle.fetchHistory();
      const trainingResult = history
        .events!.map((e) => e.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data)
        .filter((d): d is Uint8Array => !!d)
        .map((d) => JSON.parse(Buffer.from(d).toString('utf8')) as { resumedFromEpoch?: number })
        .find((r) => 'resumedFromEpoch' in r || 'modelUri' in r);
      assert.ok((trainingResult?.resumedFromEpoch ?? 0) >= 3, `resumed from epoch ${trainingResult?.resumedFromEpoch}`);
    } finally {
      pipeline.kill('SIGTERM');
      training.kill('SIGTERM');
      await Promise.all([pipeline.exited, training.exited]);
    }
  });
});
