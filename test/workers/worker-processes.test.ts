import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { decodeTimeoutType } from '@temporalio/common';
import { taskQueues } from '../../src/contracts/task-queues';
import type { TrainingProgress } from '../../src/contracts/training';
import { trainingPipeline } from '../../src/workflows';
import { exampleDataset, repoRoot, stack, tempDir, uniqueName } from '../support/stack';
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

  it('exit 1 with MLOPS_ERR_TEMPORAL_UNREACHABLE naming the address when no server answers, not a transport stack', async function () {
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    for (const entry of ['pipeline-worker.ts', 'training-worker.ts']) {
      const run = spawnSync(
        process.execPath,
        ['--require', require.resolve('tsx/cjs'), path.join(repoRoot, 'src', 'workers', entry)],
        {
          cwd: repoRoot,
          env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, TEMPORAL_ADDRESS: `127.0.0.1:${closed}` },
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      assert.equal(run.status, 1, entry);
      assert.match(
        run.stderr,
        new RegExp(`^MLOPS_ERR_TEMPORAL_UNREACHABLE: The Temporal server at 127\\.0\\.0\\.1:${closed} did not answer`),
      );
      assert.match(run.stderr, /\nFix: Start a server/);
      assert.doesNotMatch(run.stderr, /\n +at /, 'no stack trace');
    }
  });

  it('run a pipeline from the prebuilt workflow bundle, training on the queue MLOPS_TRAINING_TASK_QUEUE names, and exit 0 on SIGTERM', async function () {
    // A pool of machines of one kind: its training workers poll their own queue, which a pipeline names.
    const pool = uniqueName('gpu-pool');
    const pipeline = startWorker('pipeline-worker.ts', env);
    const training = startWorker('training-worker.ts', { ...env, MLOPS_TRAINING_TASK_QUEUE: pool });
    try {
      const result = await stack().client.workflow.execute(trainingPipeline, {
        taskQueue: taskQueues.pipeline,
        workflowId: uniqueName(this.test!.title),
        args: [
          churnPipelineInput({
            modelName: 'churn',
            trainer: { hyperparameters: { epochs: 3 }, taskQueue: pool },
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

  it("retry a data step whose worker was killed mid-step after its heartbeat timeout, and sweep the dead attempt's scratch folder", async function () {
    this.timeout(180_000);
    const csv = fs.readFileSync(exampleDataset);
    // The first download sends a part of the file and then hangs, so the kill lands mid-ingest; later ones get it all.
    let firstRequest: (() => void) | undefined;
    const downloading = new Promise<void>((resolve) => (firstRequest = resolve));
    const held: http.ServerResponse[] = [];
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/csv' });
      if (!firstRequest) return res.end(csv);
      res.write(csv.subarray(0, 4096));
      held.push(res);
      firstRequest();
      firstRequest = undefined;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/churn.csv`;
    const stepEnv = { ...env, MLOPS_HTTP_ALLOWED_HOSTS: '127.0.0.1', MLOPS_STATE_DIR: tempDir('killed-step-state') };
    const scratchRoot = path.join(stepEnv.MLOPS_STATE_DIR, 'scratch');
    let pipeline = startWorker('pipeline-worker.ts', stepEnv);
    const training = startWorker('training-worker.ts', stepEnv);
    const workflowId = uniqueName(this.test!.title);
    try {
      const handle = await stack().client.workflow.start(trainingPipeline, {
        taskQueue: taskQueues.pipeline,
        workflowId,
        args: [
          churnPipelineInput({
            modelName: 'churn-step-killed',
            dataset: { uri: url, format: 'csv' },
            stepHeartbeatTimeoutSeconds: 3,
            trainer: { hyperparameters: { epochs: 3 } },
          }),
        ],
      });
      await downloading;
      const progress = await waitForHeartbeat<{ bytesRead?: number }>(
        workflowId,
        (p) => (p.bytesRead ?? 0) > 0,
        'ingestDataset',
      );
      assert.ok(progress.bytesRead! <= 4096, `the heartbeat reports the bytes read so far (${progress.bytesRead})`);
      const deadAttempt = fs
        .readdirSync(scratchRoot)
        .find((name) => name.startsWith(`${os.hostname()}@${pipeline.pid}-`));
      assert.ok(deadAttempt, 'the running attempt has its scratch folder');
      assert.ok(
        fs.readdirSync(path.join(scratchRoot, deadAttempt)).some((name) => name.startsWith('mlops-ingest-')),
        "the download lands in the attempt's scratch folder",
      );

      pipeline.kill('SIGKILL');
      await pipeline.exited;
      held.forEach((res) => res.destroy());
      pipeline = startWorker('pipeline-worker.ts', stepEnv);
      const result = await handle.result();
      assert.equal(result.outcome, 'deployed');

      const history = await handle.fetchHistory();
      const ingestScheduled = history.events!.find(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'ingestDataset',
      )!;
      const ingestStarted = history.events!.find(
        (e) =>
          e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === ingestScheduled.eventId?.toString(),
      )!.activityTaskStartedEventAttributes!;
      assert.equal(ingestStarted.attempt, 2, 'the ingest step ran a second attempt');
      assert.equal(
        decodeTimeoutType(ingestStarted.lastFailure?.timeoutFailureInfo?.timeoutType),
        'HEARTBEAT',
        `the first attempt ended by heartbeat timeout: ${ingestStarted.lastFailure?.message}`,
      );
      assert.equal(
        ingestScheduled.activityTaskScheduledEventAttributes!.heartbeatTimeout?.seconds?.toString(),
        '3',
        'the heartbeat timeout came from the workflow input',
      );
      assert.ok(
        !fs.existsSync(path.join(scratchRoot, deadAttempt)),
        "the next worker start swept the dead attempt's folder",
      );
      assert.deepEqual(fs.readdirSync(scratchRoot), [], 'finished attempts removed their own folders');
    } finally {
      pipeline.kill('SIGTERM');
      training.kill('SIGTERM');
      await Promise.all([pipeline.exited, training.exited]);
      server.closeAllConnections();
      server.close();
    }
  });
});
