/**
 * The closed loop with real parts (issue 12): the model controller on the real dev server, the real pipeline and
 * training workers with the real activities, a real model server process following the deployment record, real
 * client traffic over HTTP, the real prediction log (Parquet, read by DuckDB) and a local webhook receiver.
 * Its branches are tested over fake activities in test/workflows/model-controller.test.ts.
 *
 * With RECORD_CONTROLLER_HISTORIES=1 the tests also write their controllers' histories to
 * test/fixtures/histories/controller/ (replayed by test/workflows/controller-replay.test.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { createPipelineActivities } from '../../src/activities';
import type { ArtifactStore } from '../../src/artifacts';
import { readJson } from '../../src/artifacts';
import type { MlopsConfig } from '../../src/config';
import type { ControllerInput, ControllerState } from '../../src/contracts/controller';
import { controllerWorkflowId } from '../../src/contracts/controller';
import type { FittedTransform } from '../../src/contracts/datasets';
import type { TrainingPipelineInput } from '../../src/contracts/pipeline';
import { taskQueues } from '../../src/contracts/task-queues';
import { generateChurnCsv } from '../../src/data/churn-generator';
import { readDeployment } from '../../src/models/deployment-record';
import { readVersion } from '../../src/registry/model-registry';
import { listDeploymentHistory } from '../../src/rollout/deployment-history';
import { modelController, trainingPipeline } from '../../src/workflows';
import { approveUpdate, deployUpdate, incidentSignal, retrainUpdate } from '../../src/workflows/definitions';
import { historyJsonOf } from '../support/history';
import type { Controller, ModelServer } from '../support/closed-loop';
import {
  startModelServer,
  startProcess,
  stopProcess,
  Traffic,
  waitFor,
  waitForState,
  webhookReceiver,
  workflowBundleFile,
} from '../support/closed-loop';
import { testDeps } from '../support/dependencies';
import { churnInstances } from '../support/monitored-model';
import { runPython } from '../support/python-clients';
import { repoRoot, stack, tempDir, testConfig, uniqueName } from '../support/stack';
import type { Queues } from '../support/workers';
import { withWorkers } from '../support/workers';

const recordDir = path.join(repoRoot, 'test', 'fixtures', 'histories', 'controller');

/** Writes a churn CSV drawn by the project's generator (a new draw stands for new data at the same URI). */
function writeChurn(file: string, rows: number, seed: number): void {
  fs.writeFileSync(file, `${[...generateChurnCsv({ rows, seed })].join('\n')}\n`);
}

/** A model name unique to the test. */
function modelNameOf(title: string): string {
  return `loop-${uniqueName(title).slice(0, 40)}`.replace(/-+$/, '');
}

function trainingInput(
  dataFile: string,
  queues: Queues,
  epochs: number,
  hyperparameters: Record<string, number> = {},
): Omit<TrainingPipelineInput, 'modelName'> {
  return {
    dataset: { uri: dataFile },
    target: 'churned',
    trainer: { taskQueue: queues.training, hyperparameters: { epochs, ...hyperparameters } },
  };
}

/** Trains, registers and deploys v1 with the real pipeline (the champion the controller starts from). */
async function deployFirstVersion(modelName: string, dataFile: string, queues: Queues): Promise<number> {
  const result = await stack().client.workflow.execute(trainingPipeline, {
    taskQueue: queues.pipeline,
    workflowId: uniqueName(`first ${modelName}`),
    args: [{ modelName, ...trainingInput(dataFile, queues, 1) }],
  });
  assert.equal(result.outcome, 'deployed');
  return result.version!;
}

/** Canary thresholds for short tests: a few seconds of bake, a few dozen requests; latency is not what is tested. */
const shortCanary = { weight: 0.3, bakeSeconds: 5, minRequests: 20, maxLatencyRatio: 5, maxPredictionDrift: 0.5 };

function controllerInput(
  modelName: string,
  server: ModelServer,
  training: Omit<TrainingPipelineInput, 'modelName'>,
  overrides: Partial<ControllerInput> = {},
): ControllerInput {
  return { modelName, training, servers: [server.url], canary: shortCanary, ...overrides };
}

const kinds = (s: ControllerState) => s.history.map((e) => e.kind);
const count = (s: ControllerState, kind: ControllerState['history'][number]['kind']) =>
  kinds(s).filter((k) => k === kind).length;

/** Waits until the server routes everything to `stable` (it follows the record), then checks 20 fresh requests. */
async function assertServes(server: ModelServer, traffic: Traffic, stable: number, instance: Record<string, unknown>) {
  await waitFor(`the server to route everything to v${stable}`, async () => {
    const { routing } = await server.stats();
    return routing.stable === stable && !routing.canary ? true : undefined;
  });
  for (let i = 0; i < 20; i++) {
    const answer = await traffic.send(`after-${stable}-${i}`, instance);
    assert.deepEqual(answer, { status: 200, version: String(stable) });
  }
}

/** Replays the named runs' live histories against the current code; with RECORD_CONTROLLER_HISTORIES, records them. */
async function replayAndRecord(handle: Controller, runs: { name: string; runId?: string }[]): Promise<void> {
  for (const { name, runId } of runs) {
    const json = historyJsonOf(handle.workflowId, runId);
    await Worker.runReplayHistory({ workflowBundle: stack().workflowBundle }, JSON.parse(json.toString('utf8')));
    if (process.env.RECORD_CONTROLLER_HISTORIES) {
      fs.mkdirSync(recordDir, { recursive: true });
      fs.writeFileSync(path.join(recordDir, `${name}.json`), json);
    }
  }
}

describe('the closed loop with real parts (controller, pipeline, model server, prediction log, webhook)', function () {
  this.timeout(300_000);
  let server: ModelServer | undefined;
  let traffic: Traffic | undefined;
  let handle: Controller | undefined;
  const closers: (() => Promise<unknown>)[] = [];

  afterEach(async function () {
    await traffic?.stop();
    await handle?.terminate('test over').catch(() => undefined);
    await stopProcess(server?.process);
    for (const close of closers.splice(0)) await close();
    server = traffic = handle = undefined;
  });

  /** A store, a config and a data file for one test. */
  function setUp(overrides: Record<string, string> = {}) {
    const artifactRoot = tempDir('loop-store');
    const config: Readonly<MlopsConfig> = testConfig({ MLOPS_ARTIFACT_ROOT: artifactRoot, ...overrides });
    const dataFile = path.join(tempDir('loop-data'), 'churn.csv');
    // Few rows: the first champion is weak, so a retrain on fresh, larger data beats it at the gate.
    writeChurn(dataFile, 300, 101);
    return { artifactRoot, config, dataFile, store: testDeps({ config }).store };
  }

  /**
   * v1 trained on the first data and deployed, a model server on it with client traffic drawn with `seed`, and fresher,
   * larger data at the same URI for the retrain to beat v1 with.
   */
  async function serveFirstVersion(
    modelName: string,
    dataFile: string,
    queues: Queues,
    artifactRoot: string,
    seed: number,
  ): Promise<{ server: ModelServer; traffic: Traffic; instances: Record<string, unknown>[] }> {
    assert.equal(await deployFirstVersion(modelName, dataFile, queues), 1);
    const started = await startModelServer(artifactRoot, modelName);
    // Stopped after the test, whatever happens next.
    server = started;
    const instances = churnInstances({ rows: 400, seed });
    writeChurn(dataFile, 4000, 202);
    return { server: started, traffic: new Traffic(started, modelName, instances), instances };
  }

  it('retrains on an incident, canaries the new version on live traffic, and promotes it with no failed request', async function () {
    const hook = await webhookReceiver(1);
    closers.push(hook.close);
    const { artifactRoot, config, dataFile, store } = setUp({ MLOPS_NOTIFY_WEBHOOK_URL: hook.url });
    const modelName = modelNameOf(this.test!.title);
    await withWorkers({ config, title: this.test!.title }, async (queues) => {
      const first = await serveFirstVersion(modelName, dataFile, queues, artifactRoot, 7);
      ({ server, traffic } = first);
      const { instances } = first;

      handle = await stack().client.workflow.start(modelController, {
        taskQueue: queues.pipeline,
        workflowId: controllerWorkflowId(modelName),
        // A low threshold, and epochs slowed to 0.8 s with no early stop (8 s of training): the controller continues
        // as new while its retraining child runs (the incidents below take it past 50 events within seconds).
        args: [
          controllerInput(
            modelName,
            server,
            trainingInput(dataFile, queues, 10, { epoch_delay_ms: 800, patience: 0 }),
            { continueAsNewAfterEvents: 50 },
          ),
        ],
      });
      const firstRunId = (await handle.describe()).runId;
      const incident = {
        kind: 'drift' as const,
        modelName,
        version: 1,
        driftedFeatures: ['tenure_months', 'contract'],
        driftShare: 0.5,
        reason: '2 feature(s) drifted (share 0.5): tenure_months, contract',
        reportUri: 'file:///drift-report.html',
      };
      await handle.signal(incidentSignal, incident);
      await waitForState(handle, (s) => s.retrain !== undefined, 'the retraining child running');
      for (let i = 0; i < 12; i++) await handle.signal(incidentSignal, incident);
      const carried = await waitForState(handle, (s) => s.generation >= 1, 'continued as new');
      assert.equal(carried.retrain?.workflowId, `retrain-${modelName}-1`, 'the running retrain is carried across');
      assert.equal(carried.retrain.folded, 12);
      await waitForState(handle, (s) => s.canary?.version === 2, 'the canary of the retrained v2');
      await traffic.waitForAnswers(2, 10);
      const done = await waitForState(
        handle,
        (s) => s.stable === 2 && !s.canary && kinds(s).includes('promoted') && s.outbox.length === 0,
        'v2 promoted',
      );
      await assertServes(server, traffic, 2, instances[0]!);
      await traffic.stop();

      assert.deepEqual(traffic.failed(), [], 'no request failed');
      assert.ok(traffic.by(1).length > 0 && traffic.by(2).length > 0, 'both versions answered');
      assert.equal(done.lastRetrain?.outcome, 'registered');
      assert.equal(done.lastRetrain?.workflowId, `retrain-${modelName}-1`);
      // The gate re-scored champion v1 on the challenger's test rows, and the challenger (more data) beat it.
      assert.match(done.lastRetrain.reason, /^auc [\d.]+ vs champion v1 [\d.]+ .*improvement [\d.]+ > required 0/);
      assert.equal(done.attempts, 1);

      const verdict = done.lastVerdict!;
      assert.equal(verdict.decision, 'promote', verdict.reasons.join(' '));
      assert.match(verdict.reasons.join(' '), /server-error rate was 0/);
      // The counters are the server's own: at least minRequests, and never more than the client saw v2 answer.
      assert.ok(verdict.canary.requests >= 20 && verdict.canary.requests <= traffic.by(2).length);
      assert.equal(verdict.canary.errors, 0);
      assert.ok(verdict.predictionDrift?.distance !== undefined, JSON.stringify(verdict.predictionDrift));
      assert.ok(verdict.predictionDrift.canaryRows >= 20, 'the prediction log held the canary answers');
      // v2's gate re-scored v1, the stable version: the distance its evaluation found there came with the comparison.
      assert.equal(
        typeof verdict.predictionDrift.expected?.distance,
        'number',
        JSON.stringify(verdict.predictionDrift),
      );
      assert.match(verdict.reasons.join(' '), /its evaluation found [\d.]+ between the two on the same \d+ test rows/);

      const moves = (await listDeploymentHistory(store, modelName)).filter((e) => e.actor === handle!.workflowId);
      assert.deepEqual(
        moves.map((e) => [e.stable, e.canary?.version, e.canary?.weight]),
        [
          [1, 2, 0.3],
          [2, undefined, undefined],
        ],
      );
      assert.match(moves[0]!.reason, /canary v2 at 0\.3/);
      assert.match(moves[1]!.reason, /canary v2 promoted: .*server-error rate was 0/);
      const record = await readDeployment(store, modelName, 'production');
      assert.equal(record?.stable, 2);
      assert.equal(record?.canary, undefined);

      // Each message once, although the webhook's first answer was a 500 (the activity retried it): the incident that
      // started the retrain (the 12 folded into it send nothing), one retrain start, one promotion.
      assert.equal(hook.received[0]!.status, 500);
      assert.equal(hook.accepted('incident').length, 1);
      assert.match(
        hook.accepted('incident')[0]!.body.text,
        new RegExp(`^Incident on ${modelName}: drift on v1: 2 feature\\(s\\) drifted`),
      );
      for (const event of ['retrain-started', 'promoted'])
        assert.equal(hook.accepted(event).length, 1, `one ${event} message`);
      assert.equal(hook.received.length, 4, '3 messages, the first of them sent twice');
      assert.deepEqual(hook.received[0]!.body, hook.received[1]!.body, 'the retry sent the same message');
      assert.match(hook.accepted('promoted')[0]!.body.text, new RegExp(`v2 of ${modelName} is the new stable version`));
      assert.equal(count(done, 'notification-failed'), 0);

      // The first run ended while its child ran (ABANDON): the child's outcome reached the next run by signal.
      const firstRun = await stack().client.workflow.getHandle(handle.workflowId, firstRunId).fetchHistory();
      const events = firstRun.events ?? [];
      assert.ok(
        events.some((e) => e.childWorkflowExecutionStartedEventAttributes),
        'the child started in run 1',
      );
      assert.ok(!events.some((e) => e.childWorkflowExecutionCompletedEventAttributes), 'and ended after it');
      const continuedAsNew = events.at(-1)!.workflowExecutionContinuedAsNewEventAttributes;
      assert.ok(continuedAsNew?.newExecutionRunId, 'run 1 ended by continuing as new');
      const secondRunId = continuedAsNew.newExecutionRunId;
      assert.ok(kinds(done).includes('continued-as-new'));
      await replayAndRecord(handle, [
        { name: 'incident-retrain-continued-as-new', runId: firstRunId },
        { name: 'carried-retrain-canary-promoted', runId: secondRunId },
      ]);
    });
  });

  it("rolls back a canary whose model fails on part of the traffic, and the stable version's requests all succeed", async function () {
    const hook = await webhookReceiver();
    closers.push(hook.close);
    const { artifactRoot, config, dataFile, store } = setUp({ MLOPS_NOTIFY_WEBHOOK_URL: hook.url });
    const modelName = modelNameOf(this.test!.title);
    await withWorkers({ config, title: this.test!.title }, async (queues) => {
      const stable = await deployFirstVersion(modelName, dataFile, queues);
      const failing = await registerFailingVersion(store, config, modelName, stable);
      server = await startModelServer(artifactRoot, modelName);
      const instances = churnInstances({ rows: 400, seed: 8 });
      traffic = new Traffic(server, modelName, instances);
      handle = await stack().client.workflow.start(modelController, {
        taskQueue: queues.pipeline,
        workflowId: controllerWorkflowId(modelName),
        args: [controllerInput(modelName, server, trainingInput(dataFile, queues, 1))],
      });
      const started = await handle.executeUpdate(deployUpdate, { args: [{ version: failing }] });
      assert.equal(started.state.canary?.version, failing);
      await waitFor('the canary to fail some requests', () =>
        Promise.resolve(traffic!.failed().length >= 5 || undefined),
      );
      const done = await waitForState(
        handle,
        (s) => kinds(s).includes('rolled-back') && s.outbox.length === 0,
        'the canary rolled back',
      );
      await assertServes(server, traffic, stable, instances[0]!);
      await traffic.stop();

      const verdict = done.lastVerdict!;
      assert.equal(verdict.decision, 'rollback');
      assert.match(verdict.reasons.join(' '), /server-error rate was .* above the limit of 1/);
      assert.ok(verdict.canary.errors > 0);
      assert.equal(verdict.stable.errors, 0);
      // Every failure was the canary's 500; every request the stable version answered succeeded.
      assert.ok(traffic.failed().length > 0);
      assert.deepEqual(new Set(traffic.failed().map((a) => `${a.status} v${a.version}`)), new Set([`500 v${failing}`]));
      assert.ok(traffic.by(stable).length > 0);
      assert.ok(traffic.by(stable).every((a) => a.status === 200));
      assert.equal(done.stable, stable);
      const record = await readDeployment(store, modelName, 'production');
      assert.equal(record?.stable, stable);
      assert.equal(record?.canary, undefined);
      const moves = (await listDeploymentHistory(store, modelName)).filter((e) => e.actor === handle!.workflowId);
      assert.deepEqual(
        moves.map((e) => [e.stable, e.canary?.version]),
        [
          [stable, failing],
          [stable, undefined],
        ],
      );
      assert.match(moves[1]!.reason, /rolled back: .*server-error rate/);
      assert.equal(hook.accepted('rolled-back').length, 1);
      assert.match(hook.accepted('rolled-back')[0]!.body.text, new RegExp(`v${stable} keeps serving`));

      // A retrain on the same data ties the champion: the gate refuses it and nothing moves.
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'same data' }] });
      const rejected = await waitForState(
        handle,
        (s) => kinds(s).includes('gate-failed') && s.outbox.length === 0,
        'the gate refused the tie',
      );
      assert.equal(rejected.lastRetrain?.outcome, 'rejected');
      assert.match(
        rejected.lastRetrain.reason,
        new RegExp(`vs champion v${stable} .*improvement -?0\\.0+ <= required 0`),
      );
      assert.equal(rejected.stable, stable);
      assert.equal(hook.accepted('gate-failed').length, 1);
      assert.equal(hook.accepted('retrain-started').length, 1);
      assert.equal(
        (await listDeploymentHistory(store, modelName)).filter((e) => e.actor === handle!.workflowId).length,
        2,
      );
      await replayAndRecord(handle, [{ name: 'canary-rolled-back-then-gate-failed' }]);
    });
  });

  it('does not canary again a retrain on unchanged data: it makes the model that was rolled back, byte for byte', async function () {
    const hook = await webhookReceiver();
    closers.push(hook.close);
    const { artifactRoot, config, dataFile, store } = setUp({ MLOPS_NOTIFY_WEBHOOK_URL: hook.url });
    const modelName = modelNameOf(this.test!.title);
    await withWorkers({ config, title: this.test!.title }, async (queues) => {
      const first = await serveFirstVersion(modelName, dataFile, queues, artifactRoot, 9);
      ({ server, traffic } = first);
      const { instances } = first;
      // No prediction drift allowed: the retrained v2 beats v1 at the gate, and its canary answers differently from
      // v1 on live traffic, so it is rolled back (what a person would see for a model whose answers moved too far).
      handle = await stack().client.workflow.start(modelController, {
        taskQueue: queues.pipeline,
        workflowId: controllerWorkflowId(modelName),
        args: [
          controllerInput(modelName, server, trainingInput(dataFile, queues, 1), {
            canary: { ...shortCanary, maxPredictionDrift: 0 },
          }),
        ],
      });
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'drift' }] });
      await waitForState(handle, (s) => s.canary?.version === 2, 'the canary of v2');
      await traffic.waitForAnswers(2, 10);
      const rolledBack = await waitForState(
        handle,
        (s) => kinds(s).includes('rolled-back') && s.outbox.length === 0,
        'v2 rolled back',
      );
      assert.match(rolledBack.lastVerdict!.reasons.join(' '), /prediction/);
      assert.deepEqual(
        rolledBack.rolledBack?.map((r) => r.version),
        [2],
      );

      // The drift persists and the data has not changed: the retrain makes v2 again.
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'drift again' }] });
      const skipped = await waitForState(
        handle,
        (s) => kinds(s).includes('rollout-skipped') && s.outbox.length === 0,
        'v3 not rolled out',
      );
      await assertServes(server, traffic, 1, instances[0]!);
      await traffic.stop();
      assert.equal(skipped.lastRetrain?.outcome, 'registered');
      assert.equal(skipped.lastRetrain.version, 3);
      const event = skipped.history.find((e) => e.kind === 'rollout-skipped')!;
      assert.equal(event.version, 3);
      assert.match(event.message, /^v3 is the same model as v2 .*rolled back at .*prediction.*It is not rolled out/);
      // The claim the check rests on, read from the registry: both files of v3 are v2's bytes.
      const [v2, v3] = await Promise.all([readVersion(store, modelName, 2), readVersion(store, modelName, 3)]);
      assert.notEqual(v3.modelUri, v2.modelUri, 'two registrations, two copies');
      assert.ok((await store.read(v3.modelUri)).equals(await store.read(v2.modelUri)));
      assert.ok((await store.read(v3.transformUri)).equals(await store.read(v2.transformUri)));
      assert.equal(skipped.stable, 1);
      assert.equal(skipped.canary, undefined);
      const moves = (await listDeploymentHistory(store, modelName)).filter((e) => e.actor === handle!.workflowId);
      assert.deepEqual(
        moves.map((e) => [e.stable, e.canary?.version]),
        [
          [1, 2],
          [1, undefined],
        ],
        'v3 never took traffic',
      );
      assert.equal(hook.accepted('rollout-skipped').length, 1);
      assert.match(
        hook.accepted('rollout-skipped')[0]!.body.text,
        new RegExp(`^${modelName}: v3 is the same model as v2`),
      );
      await replayAndRecord(handle, [{ name: 'retrain-same-as-rolled-back-skipped' }]);
    });
  });

  it('resumes a rollout whose pipeline worker was killed with kill -9 while the canary baked, to the same outcome', async function () {
    const hook = await webhookReceiver();
    closers.push(hook.close);
    const { artifactRoot, config, dataFile, store } = setUp();
    const modelName = modelNameOf(this.test!.title);
    const bundle = workflowBundleFile();
    const workerEnv = {
      TEMPORAL_ADDRESS: stack().server.address,
      TEMPORAL_NAMESPACE: stack().server.namespace,
      MLOPS_STATE_DIR: tempDir('loop-worker-state'),
      MLOPS_ARTIFACT_ROOT: artifactRoot,
      MLOPS_DATA_ROOTS: stack().tmpRoot,
      MLOPS_CACHE_DIR:
        process.env.MLOPS_CACHE_DIR ?? path.join(process.env.HOME ?? '/root', '.cache', 'temporal-mlops'),
      MLOPS_NOTIFY_WEBHOOK_URL: hook.url,
      MLOPS_LOG_LEVEL: 'ERROR',
      NODE_ENV: 'production',
      MLOPS_WORKFLOW_BUNDLE: bundle,
    };
    let worker = startProcess(path.join('workers', 'pipeline-worker.ts'), workerEnv);
    closers.push(() => stopProcess(worker));
    // The in-process workers train (their training queue); the controller and its retrain run in the worker process.
    await withWorkers({ config, title: this.test!.title }, async (queues) => {
      const stable = await deployFirstVersion(modelName, dataFile, queues);
      server = await startModelServer(artifactRoot, modelName);
      const instances = churnInstances({ rows: 400, seed: 9 });
      traffic = new Traffic(server, modelName, instances);
      writeChurn(dataFile, 4000, 303);
      handle = await stack().client.workflow.start(modelController, {
        taskQueue: taskQueues.pipeline,
        workflowId: controllerWorkflowId(modelName),
        args: [
          controllerInput(modelName, server, trainingInput(dataFile, queues, 10), {
            approval: { required: true, timeoutSeconds: 3600, onTimeout: 'reject' },
            canary: { ...shortCanary, bakeSeconds: 15 },
          }),
        ],
      });
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'weekly' }] });
      const waiting = await waitForState(handle, (s) => s.pendingApproval !== undefined, 'approval requested');
      const candidate = waiting.pendingApproval!.version;
      await handle.executeUpdate(approveUpdate, { args: [{ version: candidate }] });
      await waitForState(handle, (s) => s.canary?.version === candidate, 'the canary baking');
      await traffic.waitForAnswers(candidate, 5);

      worker.kill('SIGKILL');
      assert.equal(await worker.exited, null, 'killed by a signal');
      const canaryState = (await readDeployment(store, modelName, 'production'))!;
      assert.equal(canaryState.canary?.version, candidate, 'the canary keeps serving while no worker runs');
      worker = startProcess(path.join('workers', 'pipeline-worker.ts'), workerEnv);

      const done = await waitForState(
        handle,
        (s) => !s.canary && kinds(s).includes('promoted') && s.outbox.length === 0,
        'the rollout finished after the restart',
      );
      await assertServes(server, traffic, candidate, instances[0]!);
      await traffic.stop();

      assert.equal(done.lastVerdict?.decision, 'promote', done.lastVerdict?.reasons.join(' '));
      assert.equal(done.stable, candidate);
      assert.deepEqual(traffic.failed(), []);
      for (const kind of ['approval-requested', 'approved', 'canary-started', 'canary-judged', 'promoted'] as const)
        assert.equal(count(done, kind), 1, `one ${kind}`);
      const moves = (await listDeploymentHistory(store, modelName)).filter((e) => e.actor === handle!.workflowId);
      assert.deepEqual(
        moves.map((e) => [e.stable, e.canary?.version]),
        [
          [stable, candidate],
          [candidate, undefined],
        ],
        'one canary entry and one promotion entry',
      );
      for (const event of ['retrain-started', 'approval-needed', 'promoted'])
        assert.equal(hook.accepted(event).length, 1, `one ${event} message`);
      // The verdict's samples were taken by the new worker process (identity `<pid>@<host>`), not the killed one.
      const judgedBy = await activityWorkers(handle, 'sampleServingStats');
      assert.equal(judgedBy.length, 2, 'the baseline sample and the verdict sample');
      assert.match(judgedBy.at(-1)!, new RegExp(`^${worker.pid}@`));
      assert.notEqual(judgedBy[0], judgedBy.at(-1));
      await replayAndRecord(handle, [{ name: 'approved-canary-promoted-after-worker-kill' }]);
    });
  });
});

/** The identities of the workers that started each `activityType` activity of the controller's latest run. */
async function activityWorkers(handle: Controller, activityType: string): Promise<string[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = new Set(
    events
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType)
      .map((e) => String(e.eventId)),
  );
  return events
    .filter((e) => scheduled.has(String(e.activityTaskStartedEventAttributes?.scheduledEventId)))
    .map((e) => e.activityTaskStartedEventAttributes!.identity ?? '');
}

/**
 * Registers a version whose ONNX graph fails in onnxruntime for rows whose first feature is above 0 (about half of
 * live traffic), with v`like`'s transform: it loads (its probe row is all zeros) and fails only on requests.
 */
async function registerFailingVersion(
  store: ArtifactStore,
  config: Readonly<MlopsConfig>,
  modelName: string,
  like: number,
): Promise<number> {
  const base = await readVersion(store, modelName, like);
  const transform = await readJson<FittedTransform>(store, base.transformUri);
  const file = path.join(tempDir('failing-model'), 'model.onnx');
  await runPython('make-failing-onnx.py', [String(transform.outputColumns.length), '0', file]);
  const modelUri = store.uri('test-models', modelName, 'failing.onnx');
  await store.upload(file, modelUri);
  const registered = await createPipelineActivities(testDeps({ config, store })).registerModel({
    modelName,
    modelUri,
    transformUri: base.transformUri,
    evaluationUri: base.evaluationUri,
    snapshotId: base.snapshotId,
    metrics: base.metrics,
    registrationKey: `failing-${modelName}`,
  });
  return registered.version;
}
