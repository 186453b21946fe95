/**
 * modelController's branches over fake activities (STYLE 28): the controller and its retraining children run on the
 * real dev server; deployment moves, server counters, prediction comparisons and webhook calls are fakes whose calls
 * the tests read. The end-to-end loop with the real activities, servers and schedules is in
 * test/e2e/closed-loop.test.ts.
 */
import assert from 'node:assert/strict';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import type { ControllerInput, ControllerState } from '../../src/contracts/controller';
import { controllerWorkflowId } from '../../src/contracts/controller';
import type { MonitoringIncident } from '../../src/contracts/monitoring';
import { modelController, monitorModel } from '../../src/workflows';
import {
  approveUpdate,
  controllerStatusQuery,
  deployUpdate,
  incidentSignal,
  muteUpdate,
  pauseUpdate,
  promoteUpdate,
  rejectUpdate,
  requestRetrainSignal,
  resumeUpdate,
  retrainUpdate,
  rollbackUpdate,
  setServersUpdate,
  setThresholdsUpdate,
} from '../../src/workflows/definitions';
import { formatStatus } from '../../src/controller-client/format-status';
import { controllerFakes, fakeControllerInput } from '../support/controller-fakes';
import { withFakeActivities } from '../support/fake-activities';
import { recordHistory } from '../support/history';
import { stack, uniqueName } from '../support/stack';

type Controller = WorkflowHandle<typeof modelController>;

const healthy = {
  '2': { requests: 200, errors: 0, rejected: 3, latencyMsSum: 400 },
  '3': { requests: 40, errors: 0, rejected: 1, latencyMsSum: 84 },
};
const failing = {
  '2': { requests: 200, errors: 0, rejected: 0, latencyMsSum: 400 },
  '3': { requests: 40, errors: 6, rejected: 0, latencyMsSum: 80 },
};

/** A canary that refuses every request the stable version answers (it requires an input the clients do not send). */
const refusing = {
  '2': { requests: 200, errors: 0, rejected: 0, latencyMsSum: 400 },
  '3': { requests: 40, errors: 0, rejected: 40, latencyMsSum: 40 },
};

function drift(version = 2, features = ['tenure', 'monthly_charges']): MonitoringIncident {
  return {
    kind: 'drift',
    modelName: 'm',
    version,
    driftedFeatures: features,
    driftShare: 0.5,
    reason: `${features.length} feature(s) drifted (share 0.5): ${features.join(', ')}`,
    reportUri: 'file:///r.html',
  };
}

/** Controllers the current test started; each is terminated after it, whatever the test's outcome. */
const started: Controller[] = [];

/** Starts a controller for a fresh model name on the fakes' queue. */
async function startController(title: string, taskQueue: string, overrides: Partial<ControllerInput> = {}) {
  const modelName = uniqueName(title)
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^[^a-z]+/, 'm')
    .slice(0, 60);
  const handle = await stack().client.workflow.start(modelController, {
    taskQueue,
    workflowId: controllerWorkflowId(modelName),
    args: [fakeControllerInput(modelName, taskQueue, overrides)],
  });
  started.push(handle);
  return { handle, modelName };
}

/** Polls the controller's status query until `ready` holds (bounded), returning that state. */
async function waitForState(
  handle: Controller,
  ready: (s: ControllerState) => boolean,
  what: string,
  limitMs = 30_000,
): Promise<ControllerState> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const state = await handle.query(controllerStatusQuery);
    if (ready(state)) return state;
    if (Date.now() > deadline)
      assert.fail(`controller never reached: ${what}; state ${JSON.stringify(state, null, 1)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const kinds = (state: ControllerState) => state.history.map((e) => e.kind);
/** The event happened and its webhook messages were sent. */
const settled = (kind: ControllerState['history'][number]['kind']) => (s: ControllerState) =>
  kinds(s).includes(kind) && s.outbox.length === 0;

/** Asserts that an update is refused by the controller (its validator, or its handler after a lookup) with a message matching `message`. */
async function assertRefused(update: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(update, (err: unknown) => {
    assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
    const cause = err.cause?.message ?? '';
    assert.match(cause, /MLOPS_ERR_CONTROLLER_UPDATE_REJECTED/);
    assert.match(cause, message);
    // The fix names the command that shows this model's state (the model filled in, not a placeholder).
    assert.match(
      cause,
      /\nFix: Do what the reason says, then send the request again if it still applies; `npm run models -- status [a-z][a-z0-9-]*`/,
    );
    return true;
  });
}

/** Ends a controller inside its test (while the fakes' worker still runs). */
async function stop(handle: Controller): Promise<void> {
  await handle.terminate('test over');
}

describe('modelController (fake activities)', function () {
  this.timeout(120_000);
  afterEach(async function () {
    const running = started.splice(0);
    await Promise.all(running.map((h) => h.terminate('test over').catch(() => undefined)));
  });

  it('folds 20 concurrent incidents into exactly one retraining child, then promotes a healthy canary', async function () {
    const fakes = controllerFakes({ holdTraining: true });
    fakes.traffic = healthy;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle, modelName } = await startController(this.test!.title, taskQueue);
      await Promise.all(Array.from({ length: 20 }, () => handle.signal(incidentSignal, drift())));
      const running = await waitForState(
        handle,
        (s) => s.retrain !== undefined && s.retrain.folded === 19,
        '19 incidents folded',
      );
      assert.equal(running.attempts, 1);
      assert.equal(running.retrain!.workflowId, `retrain-${modelName}-1`);
      assert.equal(running.openIncidents.length, 20);
      fakes.releaseTraining();

      const done = await waitForState(
        handle,
        (s) => s.stable === 3 && !s.canary && s.outbox.length === 0,
        'v3 promoted',
      );
      assert.equal(fakes.trainings, 1, 'one training ran');
      assert.deepEqual(
        fakes.moves.map((m) => [m.stable, m.canary?.version ?? null, m.canary?.weight ?? null]),
        [
          [2, 3, 0.1],
          [3, null, null],
        ],
      );
      assert.equal(done.lastVerdict?.decision, 'promote');
      assert.match(done.lastVerdict.reasons.join(' '), /server-error rate was 0/);
      assert.deepEqual(done.openIncidents, []);
      assert.equal(done.previousStable, 2);
      for (const kind of [
        'incident',
        'incident-folded',
        'retrain-started',
        'retrain-finished',
        'canary-started',
        'canary-judged',
        'promoted',
      ])
        assert.ok(kinds(done).includes(kind as never), `history has ${kind}`);
      assert.deepEqual(
        [...new Set(fakes.notifications.map((n) => n.event))],
        ['incident', 'retrain-started', 'promoted'],
      );
      assert.equal(fakes.notifications.filter((n) => n.event === 'retrain-started').length, 1);
      await stop(handle);
    });
  });

  it('rolls a canary with a high error rate back, leaving stable where it was, and says why', async function () {
    const fakes = controllerFakes();
    fakes.traffic = failing;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue);
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'weekly' }] });
      const done = await waitForState(handle, settled('rolled-back'), 'canary rolled back');
      assert.equal(done.stable, 2);
      assert.equal(done.canary, undefined);
      assert.equal(done.lastVerdict?.decision, 'rollback');
      assert.match(done.lastVerdict.reasons.join(' '), /15\.0*%|15%/);
      const last = fakes.moves.at(-1)!;
      assert.equal(last.stable, 2);
      assert.equal(last.canary, undefined);
      assert.ok(fakes.notifications.some((n) => n.event === 'rolled-back' && /v2 keeps serving/.test(n.text)));
      // A canary of v1 started by hand afterwards: the status's last verdict says it judged v3, and when.
      const judged = done.history.findLast((e) => e.kind === 'canary-judged')!;
      assert.equal(judged.version, 3);
      const byHand = await handle.executeUpdate(deployUpdate, { args: [{ version: 1 }] });
      const status = formatStatus(byHand.state, handle.workflowId);
      assert.match(status, /\n {2}canary: +version 1 at 10 % of requests/);
      assert.ok(status.includes(`\n  last verdict: v3, ${judged.at}: rollback: `), status);
      await stop(handle);
    });
  });

  it('hands a deployment move whose worker stopped answering to another attempt after its heartbeat timeout', async function () {
    // Without a heartbeat timeout the stalled attempt would hold the rollout for its two-minute start-to-close timeout.
    const fakes = controllerFakes({ stallFirstMove: true });
    fakes.traffic = healthy;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue);
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'weekly' }] });
      const done = await waitForState(handle, settled('promoted'), 'canary promoted', 50_000);
      assert.equal(done.stable, 3);
      assert.equal(fakes.moves[0]?.canary?.version, 3, 'the canary started on the second attempt');
      assert.equal(fakes.moveAttempts, fakes.moves.length + 1, 'one attempt stalled');
      await stop(handle);
    });
  });

  it('started again after a stop, remembers from the deployment history the version rolled back and where a rollback goes', async function () {
    // v3 is rolled back by its canary's verdict; v4 is deployed by hand over v2; the controller is stopped (to change
    // its options) and started again: it must not roll out v3's model again, and can still roll v4 back to v2.
    const fakes = controllerFakes({ registeredVersions: [3, 5], sameModel: (v) => (v === 5 ? 3 : null) });
    fakes.traffic = failing;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const first = await startController(this.test!.title, taskQueue);
      await first.handle.executeUpdate(retrainUpdate, { args: [{ reason: 'drift' }] });
      await waitForState(first.handle, settled('rolled-back'), 'canary v3 rolled back');
      await first.handle.executeUpdate(deployUpdate, { args: [{ version: 4, direct: true }] });
      await stop(first.handle);

      const again = {
        handle: await stack().client.workflow.start(modelController, {
          taskQueue,
          workflowId: controllerWorkflowId(first.modelName),
          args: [fakeControllerInput(first.modelName, taskQueue, { canary: { bakeSeconds: 2, minRequests: 10 } })],
        }),
      };
      started.push(again.handle);
      const recalled = await waitForState(again.handle, (s) => kinds(s).includes('recalled'), 'memory recalled');
      assert.deepEqual(
        recalled.rolledBack?.map((r) => r.version),
        [3],
      );
      assert.match(recalled.rolledBack[0]!.reason, /server-error rate/);
      assert.equal(recalled.previousStable, 2);
      const model = first.modelName;
      assert.equal(
        recalled.history.find((e) => e.kind === 'recalled')?.message,
        'from the deployment history: rolled back v3; a rollback goes back to v2; from the training runs: retrains ' +
          `go on from retrain-${model}-2 (retrain-${model}-1 left a run)`,
      );

      // A retrain on unchanged data makes v3's model again (v5): it is not rolled out. It is the second retrain of the
      // model, under a new id, not a second run of the first controller's retrain-<model>-1.
      await again.handle.executeUpdate(retrainUpdate, { args: [{ reason: 'drift again, same data' }] });
      const skipped = await waitForState(again.handle, settled('rollout-skipped'), 'v5 not rolled out');
      assert.deepEqual(fakes.trainingRuns, [`retrain-${model}-1`, `retrain-${model}-2`]);
      assert.match(skipped.history.find((e) => e.kind === 'rollout-skipped')!.message, /^v5 is the same model as v3/);
      assert.equal(skipped.stable, 4);

      // The rollback by hand goes back to v2, and is kept in the history for the next start.
      await again.handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'v4 answers slowly' }] });
      assert.equal((await again.handle.query(controllerStatusQuery)).stable, 2);
      assert.deepEqual(fakes.moves.at(-1)?.rolledBack, { version: 4, reason: 'v4 answers slowly' });
      await stop(again.handle);
    });
  });

  it('records why a retrain failed, says it on the webhook, and keeps the stable version', async function () {
    const fakes = controllerFakes({ trainingFails: 'trainer exited with code 1: CUDA out of memory' });
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue);
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'weekly' }] });
      const done = await waitForState(handle, settled('retrain-finished'), 'retrain failed');
      const line = done.history.find((e) => e.kind === 'retrain-finished')!.message;
      assert.match(line, /^retrain-\S+-1: failed: .*CUDA out of memory/);
      assert.equal(done.lastRetrain?.outcome, 'failed');
      assert.equal(done.stable, 2);
      assert.equal(done.canary, undefined);
      assert.deepEqual(fakes.moves, [], 'no deployment moved');
      const sent = fakes.notifications.find((n) => n.event === 'retrain-failed');
      assert.match(sent?.text ?? '', /failed: .*CUDA out of memory/);
      await stop(handle);
    });
  });

  it('promotes a canary retrained for drift that predicts unlike the stable version, saying why; a retrain asked by hand is rolled back', async function () {
    // The canary's predictions sit at a distance of 0.7 from stable's (limit 0.2): a model retrained on moved data.
    const fakes = controllerFakes({ registeredVersions: [3, 4], predictionDistance: 0.7 });
    fakes.traffic = healthy;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue);
      await handle.signal(incidentSignal, drift(2, ['tenure']));
      const promoted = await waitForState(handle, settled('promoted'), 'v3 promoted');
      assert.equal(promoted.stable, 3);
      assert.deepEqual(promoted.retrainedAfter?.version, 3);
      const reason = promoted.lastVerdict!.reasons.find((r) => /Jensen–Shannon/.test(r))!;
      assert.match(
        reason,
        /^The Jensen–Shannon distance .* was 0\.700 .*above the limit of 0\.200\. Not held against it: it was retrained because monitoring found 1 feature\(s\) drifted \(share 0\.5\): tenure; the gate: auc 0\.8 vs champion v2 0\.7, so its predictions are expected to differ/,
      );

      // Retrained because a person asked (no incident): the same distance is held against the canary.
      fakes.traffic = { '3': healthy['2'], '4': healthy['3'] };
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'weekly' }] });
      const rolledBack = await waitForState(
        handle,
        (s) => s.rolledBack?.some((r) => r.version === 4) ?? false,
        'v4 rolled back',
      );
      assert.equal(rolledBack.stable, 3);
      assert.equal(rolledBack.retrainedAfter, undefined);
      assert.match(rolledBack.lastVerdict!.reasons.join(' '), /above the limit of 0\.200\.$/);
      await stop(handle);
    });
  });

  it("fails at once when started under another workflow id than the model's, naming the id to use", async function () {
    const fakes = controllerFakes();
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      // A second controller for a model, started by hand: Temporal keeps one run per id, not one per model.
      const second = stack().client.workflow.execute(modelController, {
        taskQueue,
        workflowId: uniqueName('my-churn-controller'),
        args: [fakeControllerInput('churn', taskQueue)],
      });
      await assert.rejects(second, (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError, String(err));
        assert.equal((err.cause as ApplicationFailure).nonRetryable, true);
        assert.match(
          err.cause?.message ?? '',
          /MLOPS_ERR_CONTROLLER_WORKFLOW_ID.*"churn" must run under workflow id model-controller-churn, not my-churn-controller/,
        );
        assert.match(err.cause?.message ?? '', /--workflow-id model-controller-churn` on `temporal workflow start/);
        return true;
      });
      assert.equal(fakes.moves.length, 0, 'it moved no deployment');
    });
  });

  it('fails at once when started with a server URL the controller cannot append its paths to, naming the base URL', async function () {
    const fakes = controllerFakes();
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue, {
        servers: ['http://127.0.0.1:9/?token=1', 'http://127.0.0.1:10'],
      });
      await assert.rejects(handle.result(), (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError, String(err));
        assert.equal((err.cause as ApplicationFailure).nonRetryable, true);
        assert.match(
          err.cause?.message ?? '',
          /- servers\.0: "http:\/\/127\.0\.0\.1:9\/\?token=1" has a query string .*give the server's base URL, "http:\/\/127\.0\.0\.1:9"/,
        );
        return true;
      });
      assert.equal(fakes.moves.length, 0, 'it moved no deployment');
    });
  });

  it('does not roll out a retrain that makes the same model as a version rolled back, and rolls out one that differs', async function () {
    // v3 is rolled back; the next retrain registers v4, the same model as v3; the one after, v5, a different model.
    const fakes = controllerFakes({ registeredVersions: [3, 4, 5], sameModel: (v) => (v === 4 ? 3 : null) });
    fakes.traffic = failing;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle, modelName } = await startController(this.test!.title, taskQueue);
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'drift' }] });
      const rolledBack = await waitForState(handle, settled('rolled-back'), 'canary v3 rolled back');
      assert.deepEqual(
        rolledBack.rolledBack?.map((r) => r.version),
        [3],
      );
      assert.match(rolledBack.rolledBack[0]!.reason, /server-error rate/);

      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'drift again, same data' }] });
      const skipped = await waitForState(handle, settled('rollout-skipped'), 'v4 not rolled out');
      const event = skipped.history.find((e) => e.kind === 'rollout-skipped')!;
      assert.equal(event.version, 4);
      assert.match(
        event.message,
        /^v4 is the same model as v3 \(the same ONNX and transform bytes\), rolled back at \S+: .*server-error rate.*It is not rolled out/,
      );
      assert.equal(skipped.stable, 2);
      assert.equal(skipped.canary, undefined);
      assert.equal(fakes.moves.length, 2, 'v4 never took traffic: only v3 canary and its rollback moved');
      assert.ok(
        fakes.notifications.some(
          (n) =>
            n.event === 'rollout-skipped' &&
            n.version === 4 &&
            n.text.startsWith(`${modelName}: v4 is the same model as v3`),
        ),
      );

      fakes.traffic = { '2': healthy['2'], '5': healthy['3'] };
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'new data' }] });
      const promoted = await waitForState(handle, (s) => s.stable === 5 && s.outbox.length === 0, 'v5 promoted');
      // Each retrain is compared with the stable version first, then with the versions rolled back.
      assert.deepEqual(fakes.sameModelChecks, [
        { version: 3, among: [2] },
        { version: 4, among: [2, 3] },
        { version: 5, among: [2, 3] },
      ]);
      assert.deepEqual(
        promoted.rolledBack?.map((r) => r.version),
        [3],
      );

      // Rolled back by hand, v5 joins the list; deployed by hand again, it leaves it.
      await handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'on-call saw bad answers' }] });
      const back = await handle.query(controllerStatusQuery);
      assert.equal(back.stable, 2);
      assert.deepEqual(
        back.rolledBack?.map((r) => [r.version, r.reason]),
        [
          [3, rolledBack.rolledBack[0]!.reason],
          [5, 'on-call saw bad answers'],
        ],
      );
      // A retried rollback does not put v5 back: stable has no previous version now.
      await assertRefused(
        handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'retry of my script' }] }),
        /no canary is baking and stable has no previous version to go back to \(a rollback by hand leaves none/,
      );
      await handle.executeUpdate(deployUpdate, { args: [{ version: 5, direct: true }] });
      const again = await handle.query(controllerStatusQuery);
      assert.deepEqual(
        again.rolledBack?.map((r) => r.version),
        [3],
      );
      await stop(handle);
    });
  });

  it('does not roll out a retrain that makes the model already serving, in its name, even when that model was once rolled back', async function () {
    // v3 is rolled back; a person deploys v4, the same bytes, by hand; the next retrain makes v5, the same bytes again.
    const same = new Set([3, 4, 5]);
    const fakes = controllerFakes({
      registeredVersions: [3, 5],
      sameModel: (v, among) => (same.has(v) ? (among.find((o) => same.has(o)) ?? null) : null),
    });
    fakes.traffic = failing;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue);
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'drift' }] });
      await waitForState(handle, settled('rolled-back'), 'canary v3 rolled back');
      await handle.executeUpdate(deployUpdate, { args: [{ version: 4, direct: true }] });
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'accuracy dropped' }] });
      const skipped = await waitForState(handle, settled('rollout-skipped'), 'v5 not rolled out');
      assert.equal(
        skipped.history.findLast((e) => e.kind === 'rollout-skipped')!.message,
        'v5 is the same model as the stable v4 (the same ONNX and transform bytes): nothing to roll out; retrain on data that has changed',
      );
      assert.equal(skipped.stable, 4);
      assert.equal(skipped.holding?.cause, 'same-model');
      assert.deepEqual(fakes.sameModelChecks.at(-1), { version: 5, among: [4, 3] });
      await stop(handle);
    });
  });

  it('does not hold a rollback for too little traffic against the model: the same model retrained rolls out', async function () {
    const fakes = controllerFakes({ registeredVersions: [3, 4], sameModel: (v) => (v === 4 ? 3 : null) });
    fakes.traffic = { '2': healthy['2'] };
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue);
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'drift' }] });
      const starved = await waitForState(handle, settled('rolled-back'), 'canary v3 rolled back');
      assert.match(starved.lastVerdict!.reasons[0]!, /^Not enough traffic/);
      assert.equal(starved.lastVerdict!.modelFault, false);
      assert.deepEqual(starved.rolledBack ?? [], [], 'too little traffic says nothing of v3');
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'drift, same data' }] });
      await waitForState(handle, (s) => s.canary?.version === 4, 'v4 (the same model as v3) canaried');
      assert.deepEqual(
        fakes.sameModelChecks,
        [
          { version: 3, among: [2] },
          { version: 4, among: [2] },
        ],
        'compared with the stable version only: nothing was rolled back',
      );
      await stop(handle);
    });
  });

  it('does not roll out a retrained version deployed and rolled back by hand while it waited', async function () {
    let answer!: (same: number | null) => void;
    const comparison = new Promise<number | null>((resolve) => (answer = resolve));
    const fakes = controllerFakes({ registeredVersions: [3, 4], sameModel: (v) => (v === 4 ? comparison : null) });
    fakes.traffic = failing;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue);
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'drift' }] });
      await waitForState(handle, settled('rolled-back'), 'canary v3 rolled back');
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'drift again' }] });
      // v4 waits for its comparison with v3; meanwhile someone deploys it by hand, then rolls it back.
      await waitForState(
        handle,
        (s) => s.retrained?.version === 4 && fakes.sameModelChecks.length === 2,
        'v4 compared',
      );
      await handle.executeUpdate(deployUpdate, { args: [{ version: 4, direct: true }] });
      await handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'wrong answers on the phone line' }] });
      answer(null);
      const skipped = await waitForState(handle, settled('rollout-skipped'), 'v4 not rolled out');
      const event = skipped.history.findLast((e) => e.kind === 'rollout-skipped')!;
      assert.equal(event.version, 4);
      assert.equal(event.message, 'v4 was rolled back by hand before its rollout started; it is not rolled out');
      assert.equal(skipped.stable, 2);
      assert.equal(skipped.canary, undefined);
      assert.equal(skipped.nextRollout, undefined);
      assert.ok(!fakes.moves.some((m) => m.canary?.version === 4), 'v4 never became a canary');
      await stop(handle);
    });
  });

  it('paused, starts nothing by itself (incidents and scheduled retrains are held, a registered version waits), and goes on when resumed', async function () {
    const fakes = controllerFakes({ registeredVersion: 3, holdTraining: true });
    fakes.traffic = healthy;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle, modelName } = await startController(this.test!.title, taskQueue, {
        canary: { bakeSeconds: 3600 },
      });
      await waitForState(handle, (s) => s.stable === 2, 'following v2');
      const paused = await handle.executeUpdate(pauseUpdate, { args: [{ reason: 'incident review' }] });
      assert.equal(
        paused.message,
        'paused: incidents and scheduled retrains are recorded and not acted on, and nothing rolls out by itself until resume',
      );
      await handle.signal(incidentSignal, drift(2));
      await handle.signal(requestRetrainSignal, { reason: 'nightly retrain' });
      const held = await waitForState(
        handle,
        (s) => s.paused?.held === 2,
        'the incident and the scheduled retrain held',
      );
      assert.deepEqual(
        held.history
          .filter((e) => e.kind.endsWith('-held'))
          .map((e) => [e.kind, e.message.replace(/since \d{4}-\S+Z/, 'since …')]),
        [
          [
            'incident-held',
            'drift on v2: 2 feature(s) drifted (share 0.5): tenure, monthly_charges (paused since …: incident review)',
          ],
          ['retrain-held', 'nightly retrain: not started (paused since …: incident review)'],
        ],
      );
      assert.equal(held.requestedRetrain, undefined);
      assert.equal(held.retrain, undefined);
      assert.match(
        formatStatus(held, controllerWorkflowId(modelName)),
        /\n {2}paused: +since \S+ \(incident review\); 2 incident\(s\) or scheduled retrain\(s\) not acted on; npm run models -- resume /,
      );
      await assertRefused(
        handle.executeUpdate(retrainUpdate, { args: [{ reason: 'by hand' }] }),
        /the controller is paused since \S+ \(incident review\): resume it before asking for a retrain \(npm run models -- resume /,
      );
      await assertRefused(
        handle.executeUpdate(pauseUpdate, { args: [{}] }),
        /paused already since \S+ \(incident review\)/,
      );
      const resumed = await handle.executeUpdate(resumeUpdate);
      assert.equal(
        resumed.message,
        `resumed: 2 incident(s) or scheduled retrain(s) came while paused and were not acted on (npm run models -- retrain ${modelName} acts on them now)`,
      );
      await assertRefused(handle.executeUpdate(resumeUpdate), /not paused: nothing to resume/);

      // A retrain that was running when the controller was paused registers its version, which waits for resume.
      await handle.signal(incidentSignal, drift(2));
      await waitForState(handle, (s) => s.retrain !== undefined, 'retraining');
      await handle.executeUpdate(pauseUpdate, { args: [{ reason: 'freeze' }] });
      fakes.releaseTraining();
      await resumeIntoCanary(handle, fakes, 3);
      await stop(handle);
    });
  });

  it('rolls back what serves: a version deployed outside it, to the one that version replaced', async function () {
    const fakes = controllerFakes();
    fakes.traffic = healthy;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue);
      await waitForState(handle, (s) => s.stable === 2, 'following v2');
      await handle.executeUpdate(deployUpdate, { args: [{ version: 3, direct: true }] });
      // A training pipeline run with deploy: true moves the record to v5; the controller still remembers v3 after v2.
      fakes.deployment = { stable: 5, updatedAt: new Date().toISOString() };
      const answer = await handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'undo the outside deploy' }] });
      assert.equal(answer.message, 'v3 is stable again');
      assert.equal(answer.state.stable, 3);
      assert.deepEqual(
        answer.state.rolledBack?.map((r) => r.version),
        [5],
        'the version that served is remembered as rolled back, not the one before it',
      );
      assert.deepEqual(
        fakes.moves.map((m) => m.stable),
        [3, 3],
      );
      assert.equal(fakes.deployment.stable, 3);
      assert.match(
        answer.state.history.find((e) => e.kind === 'deployed' && e.version === 5)!.message,
        /^v5 was deployed outside the controller \(it followed v3\)/,
      );
      await stop(handle);
    });
  });

  it('rolls back a version deployed outside it also when it knew no version before the stable one', async function () {
    const fakes = controllerFakes();
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue);
      await waitForState(handle, (s) => s.stable === 2 && s.previousStable === undefined, 'following v2 alone');
      fakes.deployment = { stable: 5, updatedAt: new Date().toISOString() };
      const answer = await handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'the outside deploy is bad' }] });
      assert.equal(answer.message, 'v2 is stable again');
      assert.deepEqual(
        answer.state.rolledBack?.map((r) => r.version),
        [5],
      );
      // Two deployments outside it: the alias says v7 replaced v6, which is where the rollback goes.
      fakes.deployment = { stable: 7, previousStable: 6, updatedAt: new Date().toISOString() };
      const twice = await handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'v7 is bad too' }] });
      assert.equal(twice.message, 'v6 is stable again');
      assert.match(
        twice.state.history.findLast((e) => e.kind === 'deployed' && e.version === 7)!.message,
        /^v7 was deployed outside the controller \(it followed v6\)/,
      );
      // With nothing deployed outside and nothing before it, the rollback is still refused, saying why.
      await assertRefused(
        handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'again' }] }),
        /no canary is baking and stable has no previous version to go back to/,
      );
      await stop(handle);
    });
  });

  /**
   * With `version` waiting for resume on a paused controller (nothing moved, no canary), resumes it and waits for that
   * version's canary.
   */
  async function resumeIntoCanary(
    handle: WorkflowHandle,
    fakes: ReturnType<typeof controllerFakes>,
    version: number,
  ): Promise<void> {
    const waiting = await waitForState(handle, (s) => s.nextRollout === version, `v${version} waiting for resume`);
    assert.equal(waiting.canary, undefined);
    assert.equal(fakes.moves.length, 0, 'nothing moved while paused');
    const resumed = await handle.executeUpdate(resumeUpdate);
    assert.match(resumed.message, new RegExp(`; v${version} rolls out now$`));
    await waitForState(handle, (s) => s.canary?.version === version, `canary v${version} after resume`);
  }

  /** A controller whose retrain (v3) registers while it is paused: v3 waits for resume. */
  async function queuedWhilePaused(title: string, taskQueue: string, fakes: ReturnType<typeof controllerFakes>) {
    const { handle, modelName } = await startController(title, taskQueue, { canary: { bakeSeconds: 3600 } });
    await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'drift' }] });
    await waitForState(handle, (s) => s.retrain !== undefined, 'retraining');
    await handle.executeUpdate(pauseUpdate, { args: [{ reason: 'freeze' }] });
    fakes.releaseTraining();
    const waiting = await waitForState(handle, (s) => s.nextRollout === 3, 'v3 waiting for resume');
    return { handle, modelName, waiting };
  }

  it('does not roll out on resume a version that waited and that a person deployed and rolled back meanwhile', async function () {
    const fakes = controllerFakes({ registeredVersion: 3, holdTraining: true });
    fakes.traffic = healthy;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle, modelName, waiting } = await queuedWhilePaused(this.test!.title, taskQueue, fakes);
      assert.match(
        formatStatus(waiting, controllerWorkflowId(modelName)),
        /\n {2}next rollout: v3 \(waits for resume\)/,
      );
      // Deployed by hand, v3 leaves the queue at once (status no longer shows it waiting); rolled back, it stays out.
      const deployed = await handle.executeUpdate(deployUpdate, { args: [{ version: 3, direct: true }] });
      assert.equal(deployed.state.nextRollout, undefined);
      assert.equal(
        deployed.state.history.findLast((e) => e.kind === 'rollout-skipped')!.message,
        'v3 waited for its rollout; it was deployed by hand',
      );
      await handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'v3 answers badly' }] });
      const resumed = await handle.executeUpdate(resumeUpdate);
      assert.equal(resumed.message, 'resumed: nothing came while paused');
      const skipped = await handle.query(controllerStatusQuery);
      assert.equal(skipped.nextRollout, undefined);
      assert.equal(skipped.canary, undefined);
      assert.equal(skipped.stable, 2);
      assert.deepEqual(
        fakes.moves.map((m) => [m.stable, m.canary?.version]),
        [
          [3, undefined],
          [2, undefined],
        ],
        'only the person moved the record',
      );
      await stop(handle);
    });
  });

  it('drops a version that waited for resume when a person deploys another by hand, instead of rolling it out over it', async function () {
    const fakes = controllerFakes({ registeredVersion: 3, holdTraining: true });
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await queuedWhilePaused(this.test!.title, taskQueue, fakes);
      const deployed = await handle.executeUpdate(deployUpdate, { args: [{ version: 4, direct: true }] });
      assert.equal(deployed.state.nextRollout, undefined);
      assert.equal(
        deployed.state.history.findLast((e) => e.kind === 'rollout-skipped')!.message,
        'v3 waited for its rollout; v4 was deployed by hand instead',
      );
      const resumed = await handle.executeUpdate(resumeUpdate);
      assert.equal(resumed.message, 'resumed: nothing came while paused');
      assert.equal(resumed.state.stable, 4);
      await stop(handle);
    });
  });

  it('holds a rollout the loop began when a pause arrives while it reads the servers, and starts it on resume', async function () {
    const fakes = controllerFakes({ registeredVersion: 3, holdSampling: true });
    fakes.traffic = healthy;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue, { canary: { bakeSeconds: 3600 } });
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'drift' }] });
      // v3 is registered and its rollout reads the servers' counters (held) when the pause arrives.
      await waitForState(handle, () => fakes.sampledServers.length === 1, 'the rollout sampling the servers');
      await handle.executeUpdate(pauseUpdate, { args: [{ reason: 'freeze' }] });
      fakes.releaseSampling();
      await resumeIntoCanary(handle, fakes, 3);
      await stop(handle);
    });
  });

  it('adopts a stable version deployed outside it before a canary starts, instead of moving the record back', async function () {
    const fakes = controllerFakes({ registeredVersion: 6 });
    fakes.traffic = healthy;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue, { canary: { bakeSeconds: 3600 } });
      await waitForState(handle, (s) => s.stable === 2, 'following v2');
      // A training pipeline run with deploy: true moves the record to v5; the controller still remembers v2.
      fakes.deployment = { stable: 5, updatedAt: new Date().toISOString() };
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'drift' }] });
      const baking = await waitForState(handle, (s) => s.canary?.version === 6, 'canary v6 started');
      assert.equal(baking.stable, 5);
      assert.equal(baking.previousStable, 2);
      assert.equal(
        baking.history.find((e) => e.kind === 'deployed')!.message,
        'v5 was deployed outside the controller (it followed v2); canaries now run against it',
      );
      assert.deepEqual(
        fakes.moves.map((m) => [m.stable, m.canary?.version]),
        [[5, 6]],
        'the canary runs beside v5: the record never went back to v2',
      );
      // A version deployed outside that a person then asks to canary is stable already: nothing moves.
      await handle.executeUpdate(promoteUpdate);
      fakes.deployment = { stable: 7, updatedAt: new Date().toISOString() };
      const answer = await handle.executeUpdate(deployUpdate, { args: [{ version: 7 }] });
      assert.equal(answer.message, 'v7 is stable already (deployed outside the controller)');
      assert.equal(answer.state.stable, 7);
      assert.equal(answer.state.canary, undefined);
      assert.equal(fakes.moves.length, 2, 'only the canary and its promotion moved the record');
      // Asked again, the version the controller itself knows as stable is refused: nothing to deploy.
      await assertRefused(
        handle.executeUpdate(deployUpdate, { args: [{ version: 7 }] }),
        /v7 is stable already: nothing to deploy\n/,
      );
      await stop(handle);
    });
  });

  it('judges afresh a canary left in the record by a controller stopped while it baked, and drops one it cannot judge', async function () {
    const left = { stable: 2, canary: { version: 3, weight: 0.1 }, updatedAt: '2026-12-01T00:00:00Z' };
    const fakes = controllerFakes({ deployment: structuredClone(left) });
    fakes.traffic = healthy;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue);
      const baking = await waitForState(handle, (s) => kinds(s).includes('canary-started'), 'left canary adopted');
      assert.equal(baking.canary?.version, 3);
      assert.match(
        baking.history.findLast((e) => e.kind === 'canary-started')!.message,
        /^v3 was a canary of a controller stopped while it baked: it keeps 10% of requests and is judged afresh at /,
      );
      const done = await waitForState(handle, settled('promoted'), 'v3 promoted');
      assert.equal(done.stable, 3);
      assert.deepEqual(fakes.moves.at(-1)?.canary, undefined);
      await stop(handle);
    });
    const lone = controllerFakes({ deployment: structuredClone(left) });
    await withFakeActivities(`${this.test!.title} without servers`, lone.activities, async (taskQueue) => {
      const { handle } = await startController(`${this.test!.title} without servers`, taskQueue, { servers: [] });
      const dropped = await waitForState(handle, settled('rolled-back'), 'left canary dropped');
      assert.equal(dropped.stable, 2);
      assert.equal(dropped.canary, undefined);
      assert.deepEqual([lone.moves.length, lone.moves[0]?.stable, lone.moves[0]?.canary], [1, 2, undefined]);
      assert.match(
        dropped.history.findLast((e) => e.kind === 'rolled-back')!.message,
        /no servers to judge it, v2 serves alone again/,
      );
      await stop(handle);
    });
  });

  it('rolls back a canary that refuses the requests the stable version answers', async function () {
    const fakes = controllerFakes();
    fakes.traffic = refusing;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue);
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'new input' }] });
      const done = await waitForState(handle, settled('rolled-back'), 'canary rolled back');
      assert.deepEqual({ stable: done.stable, canary: done.canary }, { stable: 2, canary: undefined });
      assert.match(
        done.lastVerdict!.reasons.join(' '),
        /refused 100\.00% of its requests as client errors \(40 of 40 answered 4xx, at least [\d.]+% at 99% confidence\) against the stable version's 0\.00%/,
      );
      await stop(handle);
    });
  });

  it('waits for approval and takes the configured default when nobody decides in time', async function () {
    const fakes = controllerFakes();
    fakes.traffic = healthy;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle: rejecting } = await startController(`${this.test!.title} reject`, taskQueue, {
        approval: { required: true, timeoutSeconds: 2, onTimeout: 'reject' },
      });
      await rejecting.executeUpdate(retrainUpdate, { args: [{ reason: 'approval test' }] });
      const waiting = await waitForState(
        rejecting,
        (s) => s.pendingApproval !== undefined && s.outbox.length === 0,
        'approval pending',
      );
      assert.equal(waiting.pendingApproval!.version, 3);
      assert.ok(fakes.notifications.some((n) => n.event === 'approval-needed'));
      const rejected = await waitForState(rejecting, (s) => kinds(s).includes('rejected'), 'default reject');
      assert.match(rejected.history.at(-1)!.message, /no decision by .*: reject \(the configured default\)/);
      assert.equal(rejected.stable, 2);
      assert.equal(fakes.moves.length, 0, 'a rejected version never takes traffic');

      const { handle: approving } = await startController(`${this.test!.title} approve`, taskQueue, {
        approval: { required: true, timeoutSeconds: 2, onTimeout: 'approve' },
      });
      await approving.executeUpdate(retrainUpdate, { args: [{}] });
      const promoted = await waitForState(approving, (s) => s.stable === 3, 'default approve, then promote');
      assert.ok(kinds(promoted).includes('approved'));
      await Promise.all([stop(rejecting), stop(approving)]);
    });
  });

  it('answers approve with the decision, and refuses updates that do not fit the state', async function () {
    const fakes = controllerFakes();
    fakes.traffic = healthy;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue, {
        approval: { required: true, timeoutSeconds: 3600, onTimeout: 'reject' },
        canary: { bakeSeconds: 3600, minRequests: 10 },
      });
      await assertRefused(handle.executeUpdate(promoteUpdate), /no canary is baking/);
      // What the Temporal CLI sends when the input is left out or mistyped: refused, naming what is missing.
      await assertRefused(handle.executeUpdate('deploy'), /"version" is missing: it must be a version number/);
      await assertRefused(
        handle.executeUpdate('approve', { args: [{ version: 'three' }] }),
        /"version" must be a version number \(1, 2, …\), not "three"/,
      );
      // A field of the wrong type (this "false" read as true: no canary) or one the update does not take: refused.
      await assertRefused(
        handle.executeUpdate('deploy', { args: [{ version: 1, direct: 'false' }] }),
        /"direct" must be true or false, not "false"/,
      );
      await assertRefused(
        handle.executeUpdate('deploy', { args: [{ version: 1, wieght: 0.5 }] }),
        /unknown field "wieght": it takes \{"version", "direct"\}/,
      );
      await assertRefused(
        handle.executeUpdate('mute', { args: [{ feature: 'region', muted: 'false' }] }),
        /"muted" must be true or false, not "false"/,
      );
      await assertRefused(handle.executeUpdate('rollback', { args: ['latency'] }), /its arguments must be an object/);
      // A reason is kept in the state and its history for good: a bounded length.
      await assertRefused(
        handle.executeUpdate('pause', { args: [{ reason: 'x'.repeat(1001) }] }),
        /"reason" must be text of at most 1000 characters, not "x{59}…/,
      );
      await handle.executeUpdate(retrainUpdate, { args: [{}] });
      await waitForState(handle, (s) => s.pendingApproval?.version === 3, 'approval pending');
      await assertRefused(
        handle.executeUpdate(approveUpdate, { args: [{ version: 4 }] }),
        /v3 waits for approval, not v4/,
      );
      await assertRefused(handle.executeUpdate(deployUpdate, { args: [{ version: 1 }] }), /v3 waits for approval/);
      const approved = await handle.executeUpdate(approveUpdate, { args: [{ version: 3 }] });
      assert.equal(approved.message, 'v3 approved');
      const baking = await waitForState(handle, (s) => s.canary?.version === 3, 'canary baking');
      assert.equal(baking.stable, 2);
      await assertRefused(handle.executeUpdate(deployUpdate, { args: [{ version: 1 }] }), /canary v3 is baking/);
      await assertRefused(
        handle.executeUpdate(setThresholdsUpdate, { args: [{ maxErrorRate: 2 }] }),
        /"maxErrorRate": /,
      );
      const thresholds = await handle.executeUpdate(setThresholdsUpdate, { args: [{ maxErrorRate: 0.05 }] });
      assert.equal(thresholds.state.thresholds.maxErrorRate, 0.05);
      assert.doesNotMatch(thresholds.message, /keeps its weight/);
      // A new bake length during a bake: the answer says the baking canary keeps its own.
      const longer = await handle.executeUpdate(setThresholdsUpdate, { args: [{ bakeSeconds: 7200 }] });
      assert.equal(longer.state.canary?.bakeUntil, baking.canary!.bakeUntil);
      assert.match(
        longer.message,
        /; canary v3 keeps its weight 0\.1 and is judged at \S+Z \(weight and bakeSeconds apply from the next canary\), by the other thresholds as now set$/,
      );

      const rolledBack = await handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'on-call said so' }] });
      assert.equal(rolledBack.message, 'canary v3 rolled back');
      assert.equal(rolledBack.state.stable, 2);
      assert.equal(rolledBack.state.canary, undefined);
      assert.match(rolledBack.state.history.at(-1)!.message, /on-call said so/);

      const direct = await handle.executeUpdate(deployUpdate, { args: [{ version: 3, direct: true }] });
      assert.equal(direct.state.stable, 3);
      const back = await handle.executeUpdate(rollbackUpdate, { args: [{}] });
      assert.equal(back.message, 'v2 is stable again');
      await stop(handle);
    });
  });

  it('records and drops a signal sent by hand whose payload does not fit, and goes on answering', async function () {
    const fakes = controllerFakes();
    fakes.traffic = healthy;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue, {
        approval: { required: true, timeoutSeconds: 3600, onTimeout: 'reject' },
      });
      // What `temporal workflow signal` sends without --input, or with a partial one: each failed every workflow task.
      await handle.signal('incident');
      await handle.signal('incident', { kind: 'drift' });
      await handle.signal('retrainFinished');
      await handle.signal('requestRetrain', 'now');
      const ignored = await waitForState(
        handle,
        (s) => kinds(s).filter((k) => k === 'signal-ignored').length === 4,
        'four signals ignored',
      );
      const messages = ignored.history.filter((e) => e.kind === 'signal-ignored').map((e) => e.message);
      assert.match(messages[0]!, /^incident signal ignored: an incident is an object \{kind, modelName, version/);
      assert.match(
        messages[1]!,
        /^incident signal ignored: "modelName" must be text, not undefined; "version" must be a version number/,
      );
      assert.match(messages[2]!, /^retrainFinished signal ignored: a retrain's outcome is an object/);
      assert.match(
        messages[3]!,
        /^requestRetrain signal ignored: its arguments must be an object: it takes \{"reason"\}/,
      );
      assert.equal(ignored.retrain, undefined, 'nothing was started');
      // Still answering: a scheduled retrain without input (the schedule's own sends {}) starts one.
      await handle.signal('requestRetrain');
      await waitForState(handle, (s) => s.pendingApproval?.version === 3, 'retrained version waits for approval');
      await stop(handle);
    });
  });

  it('judges canaries on the servers set while it runs, refuses a change while one bakes, and deploys directly with none', async function () {
    // v3 is deployed by hand; the retrain registers v4.
    const fakes = controllerFakes({ registeredVersion: 4 });
    fakes.traffic = healthy;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue, { canary: { bakeSeconds: 3600 } });
      assert.deepEqual((await handle.query(controllerStatusQuery)).servers, ['http://127.0.0.1:9']);
      await assertRefused(
        handle.executeUpdate(setServersUpdate, { args: [{ servers: ['10.0.0.5:8080'] }] }),
        /"servers\.0": Invalid url/,
      );
      const two = ['http://10.0.0.5:8080', 'http://10.0.0.6:8080'];
      const set = await handle.executeUpdate(setServersUpdate, { args: [{ servers: [...two, two[0]!] }] });
      assert.equal(set.message, `canaries are judged on 2 server(s): ${two.join(', ')}`);
      assert.deepEqual(set.state.servers, two);
      assert.equal(set.state.history.at(-1)!.message, `servers now ${two.join(', ')} (were http://127.0.0.1:9)`);
      // The same servers again (a retried script, another order) change nothing, and add no line to the history.
      const again = await handle.executeUpdate(setServersUpdate, { args: [{ servers: [two[1]!, two[0]!] }] });
      assert.equal(again.state.history.length, set.state.history.length);

      await handle.executeUpdate(deployUpdate, { args: [{ version: 3 }] });
      await assertRefused(
        handle.executeUpdate(setServersUpdate, { args: [{ servers: [] }] }),
        /canary v3 is baking, judged on the counters of the servers it started with/,
      );
      await handle.executeUpdate(promoteUpdate);
      assert.deepEqual(fakes.sampledServers, [two], 'the canary baseline was sampled from the new servers');

      const none = await handle.executeUpdate(setServersUpdate, { args: [{ servers: [] }] });
      assert.equal(none.message, 'no servers: new versions are deployed directly, without a canary');
      const byHand = await handle.executeUpdate(deployUpdate, { args: [{ version: 2 }] });
      assert.equal(
        byHand.state.history.findLast((e) => e.kind === 'deployed')!.message,
        'deployed by hand (no servers configured to judge a canary)',
      );
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'no servers now' }] });
      const direct = await waitForState(handle, (s) => s.stable === 4, 'v4 deployed directly');
      assert.match(
        direct.history.findLast((e) => e.kind === 'deployed')!.message,
        /deployed directly \(no servers configured to judge a canary\)/,
      );
      assert.deepEqual([fakes.moves.at(-1)!.stable, fakes.moves.at(-1)!.canary], [4, undefined]);
      await stop(handle);
    });
  });

  it('rolls back a canary judged healthy whose promotion is refused because it can no longer be loaded', async function () {
    const fakes = controllerFakes({ unservableAsStable: 3 });
    fakes.traffic = healthy;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue);
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'drift' }] });
      const done = await waitForState(handle, settled('rolled-back'), 'canary v3 rolled back');
      // The verdict shown is what happened: judged healthy, rolled back because it would not load.
      assert.equal(done.lastVerdict?.decision, 'rollback');
      assert.deepEqual(done.lastVerdict?.reasons, [
        'v3 can no longer be loaded, so it is not promoted: v3 cannot be loaded',
      ]);
      assert.equal(done.lastVerdict?.canary.requests, healthy['3'].requests);
      assert.equal(done.stable, 2);
      assert.equal(done.canary, undefined);
      const event = done.history.find((e) => e.kind === 'rolled-back')!;
      assert.match(event.message, /^v3 can no longer be loaded, so it is not promoted: v3 cannot be loaded$/);
      // Its files, not the model, failed: the same model retrained (new files) may roll out.
      assert.deepEqual(done.rolledBack ?? [], []);
      assert.ok(!kinds(done).includes('step-failed'), 'no failed step, no second verdict');
      assert.deepEqual(
        fakes.moves.map((m) => [m.stable, m.canary?.version]),
        [
          [2, 3],
          [2, undefined],
        ],
      );
      await stop(handle);
    });
  });

  it('refuses a rollback by hand to a version that was rolled back', async function () {
    const fakes = controllerFakes();
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue, { canary: { bakeSeconds: 3600 } });
      await handle.executeUpdate(deployUpdate, { args: [{ version: 3, direct: true }] });
      const back = await handle.executeUpdate(deployUpdate, { args: [{ version: 2, direct: true }] });
      assert.equal(back.state.previousStable, 3);
      await handle.executeUpdate(deployUpdate, { args: [{ version: 3 }] });
      await handle.executeUpdate(rollbackUpdate, { args: [{ reason: 'bad canary' }] });
      await assertRefused(
        handle.executeUpdate(rollbackUpdate, { args: [{}] }),
        /stable's previous version v3 was rolled back at \S+ \(bad canary\): deploy it by hand with --direct if you mean it/,
      );
      assert.equal((await handle.query(controllerStatusQuery)).stable, 2);
      await stop(handle);
    });
  });

  it('promotes a canary by hand before its bake ends', async function () {
    const fakes = controllerFakes();
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue, { canary: { bakeSeconds: 3600 } });
      const started = await handle.executeUpdate(deployUpdate, { args: [{ version: 3 }] });
      assert.equal(started.state.canary?.version, 3);
      const promoted = await handle.executeUpdate(promoteUpdate);
      assert.equal(promoted.message, 'canary v3 promoted');
      assert.equal(promoted.state.stable, 3);
      await stop(handle);
    });
  });

  it('ignores drift of muted features, refuses to mute one the model lacks, and a retrain failing the gate changes nothing', async function () {
    const fakes = controllerFakes({ gatePasses: false });
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle, modelName } = await startController(this.test!.title, taskQueue, {
        muted: ['contract', 'regoin'],
      });
      // A typo in the input's muted list is dropped at start and recorded, naming the stable version's features.
      const started = await waitForState(handle, (s) => kinds(s).includes('muted'), 'the muted list checked');
      assert.deepEqual(started.muted, ['contract']);
      assert.equal(
        started.history.find((e) => e.kind === 'muted')!.message,
        `not muted: v2 takes no feature "regoin" (a typo?); the features are "tenure", "contract", "monthly charges"; mute one with npm run models -- mute ${modelName} <feature>`,
      );
      // A typo mutes nothing: it is refused, naming the stable version's features.
      await assertRefused(
        handle.executeUpdate(muteUpdate, { args: [{ feature: 'tenur' }] }),
        /v2 takes no feature "tenur"; the features are "tenure", "contract", "monthly charges"/,
      );
      assert.deepEqual((await handle.query(controllerStatusQuery)).muted, ['contract']);
      const muted = await handle.executeUpdate(muteUpdate, { args: [{ feature: 'tenure' }] });
      assert.deepEqual(muted.state.muted, ['contract', 'tenure']);
      await handle.signal(incidentSignal, drift(2, ['tenure']));
      const ignored = await waitForState(
        handle,
        (s) => kinds(s).includes('incident-ignored'),
        'muted incident ignored',
      );
      assert.equal(ignored.attempts, 0);
      await handle.signal(incidentSignal, drift(2, ['tenure', 'contract']));
      await waitForState(
        handle,
        (s) => kinds(s).filter((k) => k === 'incident-ignored').length === 2,
        'drift of two muted features ignored',
      );
      await handle.signal(incidentSignal, drift(2, ['tenure', 'monthly charges']));
      const rejected = await waitForState(handle, settled('gate-failed'), 'gate failed');
      assert.equal(rejected.stable, 2);
      assert.equal(rejected.lastRetrain?.outcome, 'rejected');
      assert.deepEqual(fakes.moves, []);
      assert.ok(fakes.notifications.some((n) => n.event === 'gate-failed' && /did not pass the gate/.test(n.text)));
      await stop(handle);
    });
  });

  it('holds incidents about the version whose retrain the gate rejected, says so once, and retrains when asked by hand', async function () {
    const fakes = controllerFakes({ gatePasses: false });
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle, modelName } = await startController(this.test!.title, taskQueue);
      await waitForState(handle, (s) => s.stable === 2, 'following v2');
      await handle.signal(incidentSignal, drift(2));
      const rejected = await waitForState(handle, settled('gate-failed'), 'the retrain rejected');
      const until = Date.parse(rejected.holding!.until);
      const day = 24 * 3600_000;
      assert.ok(until > Date.now() + day - 60_000 && until <= Date.now() + day, rejected.holding!.until);
      // The drift persists: every monitoring run sends it again. Held, not retrained; one message says so.
      for (let run = 0; run < 3; run++) await handle.signal(incidentSignal, drift(2));
      const held = await waitForState(
        handle,
        (s) => kinds(s).filter((k) => k === 'incident-held').length === 3 && s.outbox.length === 0,
        'three incidents held',
      );
      assert.equal(held.attempts, 1);
      assert.equal(fakes.trainings, 1);
      assert.equal(held.holding?.held, 3);
      assert.match(
        formatStatus(held, handle.workflowId),
        /\n {2}incidents: +0 open; those about v2 held until \S+Z \(3 so far\): the last retrain was rejected\n/,
      );
      assert.match(
        held.history.findLast((e) => e.kind === 'incident-held')!.message,
        /^drift on v2: .* \(held until .*Z: the last retrain was rejected\)$/,
      );
      const messages = fakes.notifications.filter((n) => n.event === 'incident-held');
      assert.equal(messages.length, 1);
      assert.match(
        messages[0]!.text,
        new RegExp(
          `^Incidents on ${modelName} v2 are held until .*Z: the retrain for them was rejected by the gate \\(auc 0\\.7 vs champion v2 0\\.8\\).*npm run models -- retrain ${modelName}`,
        ),
      );
      assert.equal(fakes.notifications.filter((n) => n.event === 'gate-failed').length, 1);
      // An incident about another version is not held by v2's hold (here: one the alias no longer serves, ignored).
      await handle.signal(incidentSignal, drift(1));
      await waitForState(handle, (s) => kinds(s).includes('incident-ignored'), 'v1 incident ignored');
      // A person who knows the data changed retrains at once.
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'new data landed' }] });
      const again = await waitForState(
        handle,
        (s) => kinds(s).filter((k) => k === 'gate-failed').length === 2 && s.outbox.length === 0,
        'the retrain asked by hand rejected too',
      );
      assert.equal(fakes.trainings, 2);
      assert.equal(again.holding?.held, 0, 'a new hold from the second rejection');
      // RECORD_CONTROLLER_HISTORIES=1 keeps this history for test/workflows/controller-replay.test.ts.
      if (process.env.RECORD_CONTROLLER_HISTORIES)
        recordHistory(handle.workflowId, 'controller', 'incidents-held-after-gate-failed');
      await stop(handle);
    });
  });

  it('does not put to approval again a retrain that makes the same model as one rejected, and holds the incidents', async function () {
    // v3 waits for approval and is rejected; the next retrain (asked by a drift incident) registers v4, the same model.
    const fakes = controllerFakes({ registeredVersions: [3, 4], sameModel: (v) => (v === 4 ? 3 : null) });
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle, modelName } = await startController(this.test!.title, taskQueue, {
        approval: { required: true, timeoutSeconds: 3600, onTimeout: 'approve' },
      });
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'new labels' }] });
      await waitForState(handle, (s) => s.pendingApproval?.version === 3, 'v3 waits for approval');
      const answer = await handle.executeUpdate(rejectUpdate, { args: [{ version: 3, reason: 'not today' }] });
      assert.equal(answer.message, 'v3 rejected: not today');
      const rejected = await handle.query(controllerStatusQuery);
      assert.deepEqual(
        rejected.rejected?.map((r) => [r.version, r.reason]),
        [[3, 'not today']],
      );

      await handle.signal(incidentSignal, drift(2));
      const skipped = await waitForState(handle, settled('rollout-skipped'), 'v4 not put to approval');
      assert.equal(skipped.pendingApproval, undefined);
      assert.ok(!skipped.history.some((e) => e.kind === 'approval-requested' && e.version === 4));
      assert.match(
        skipped.history.find((e) => e.kind === 'rollout-skipped')!.message,
        /^v4 is the same model as v3 \(the same ONNX and transform bytes\), rejected at its approval at \S+: not today\. It is not rolled out/,
      );
      assert.deepEqual(fakes.sameModelChecks, [
        { version: 3, among: [2] },
        { version: 4, among: [2, 3] },
      ]);
      assert.equal(skipped.holding?.cause, 'same-model');
      assert.equal(skipped.stable, 2);
      assert.equal(fakes.moves.length, 0, 'neither version took traffic');

      // The drift persists: the next monitoring runs' incidents are held, not retrained into v5 = v4 = v3 again.
      for (let run = 0; run < 2; run++) await handle.signal(incidentSignal, drift(2));
      const held = await waitForState(
        handle,
        (s) => kinds(s).filter((k) => k === 'incident-held').length === 2 && s.outbox.length === 0,
        'two incidents held',
      );
      assert.equal(fakes.trainings, 2);
      assert.match(
        held.history.findLast((e) => e.kind === 'incident-held')!.message,
        /\(held until .*Z: the last retrain made a model already turned down\)$/,
      );
      const status = formatStatus(held, handle.workflowId);
      assert.match(
        status,
        /\n {2}incidents: +0 open; those about v2 held until \S+Z \(2 so far\): the last retrain made v4, the same model as v3 rejected at its approval\n/,
      );
      assert.match(status, /\n {2}rejected: +version 3 \(not today\) at their approval \(a retrain that makes one/);
      const messages = fakes.notifications.filter((n) => n.event === 'incident-held');
      assert.equal(messages.length, 1);
      assert.match(
        messages[0]!.text,
        new RegExp(
          `^Incidents on ${modelName} v2 are held until .*Z: the retrain for them made v4, the same model as v3 rejected at its approval, and the same data would make the same model`,
        ),
      );
      if (process.env.RECORD_CONTROLLER_HISTORIES)
        recordHistory(handle.workflowId, 'controller', 'same-model-as-rejected-held');
      await stop(handle);
    });
  });

  it('retrains for every incident with retrainCooldownSeconds 0, and after a hold has ended', async function () {
    const fakes = controllerFakes({ gatePasses: false });
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const off = await startController(`${this.test!.title} off`, taskQueue, { retrainCooldownSeconds: 0 });
      await waitForState(off.handle, (s) => s.stable === 2, 'following v2');
      await off.handle.signal(incidentSignal, drift(2));
      const first = await waitForState(off.handle, settled('gate-failed'), 'the first retrain rejected');
      assert.equal(first.holding, undefined);
      await off.handle.signal(incidentSignal, drift(2));
      await waitForState(
        off.handle,
        (s) => kinds(s).filter((k) => k === 'gate-failed').length === 2,
        'the second incident retrained',
      );
      await stop(off.handle);

      const short = await startController(`${this.test!.title} short`, taskQueue, { retrainCooldownSeconds: 1 });
      await waitForState(short.handle, (s) => s.stable === 2, 'following v2');
      await short.handle.signal(incidentSignal, drift(2));
      const rejected = await waitForState(short.handle, settled('gate-failed'), 'rejected, held for a second');
      // The hold is a time: wait for the clock to pass it (bounded), then the next incident retrains.
      const ends = Date.parse(rejected.holding!.until);
      const deadline = Date.now() + 10_000;
      while (Date.now() <= ends && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      await short.handle.signal(incidentSignal, drift(2));
      const retrained = await waitForState(
        short.handle,
        (s) => kinds(s).filter((k) => k === 'gate-failed').length === 2,
        'retrained after the hold',
      );
      assert.equal(retrained.attempts, 2);
      assert.ok(!kinds(retrained).includes('incident-held'));
      await stop(short.handle);
    });
  });

  it('ignores incidents about another alias or a version the alias no longer serves, and retrains for its own', async function () {
    const fakes = controllerFakes({ gatePasses: false });
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue);
      await waitForState(handle, (s) => s.stable === 2, 'following v2');
      await handle.signal(incidentSignal, { ...drift(2), alias: 'staging' });
      await handle.signal(incidentSignal, drift(1));
      const ignored = await waitForState(
        handle,
        (s) => kinds(s).filter((k) => k === 'incident-ignored').length === 2,
        'both incidents ignored',
      );
      assert.equal(ignored.attempts, 0);
      assert.deepEqual(ignored.openIncidents, []);
      const messages = ignored.history.filter((e) => e.kind === 'incident-ignored').map((e) => e.message);
      assert.match(
        messages[0]!,
        /^drift on v2 \(alias staging\): .*it is about alias "staging"; this controller rolls out "production"/,
      );
      assert.match(messages[1]!, /^drift on v1: .*v1 no longer serves "production"; v2 serves it\)$/);
      assert.equal(fakes.notifications.filter((n) => n.event === 'incident').length, 0);
      // The alias's own incident (a monitoring run older than the alias field sends none: production) retrains.
      await handle.signal(incidentSignal, { ...drift(2), alias: 'production' });
      const rejected = await waitForState(handle, settled('gate-failed'), 'retrained, gate failed');
      assert.equal(rejected.attempts, 1);
      await stop(handle);
    });
  });

  it('keeps its whole state across continue-as-new, and a retrain running across it is not lost', async function () {
    const fakes = controllerFakes({ holdTraining: true });
    fakes.traffic = healthy;
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle, modelName } = await startController(this.test!.title, taskQueue, {
        continueAsNewAfterEvents: 50,
      });
      const firstRunId = (await handle.describe()).runId;
      await handle.executeUpdate(setThresholdsUpdate, { args: [{ maxLatencyRatio: 3 }] });
      await handle.signal(incidentSignal, drift());
      await waitForState(handle, (s) => s.retrain !== undefined, 'retrain running');
      // Enough messages to pass 50 history events while the retrain runs.
      for (let i = 0; i < 30; i++) await handle.signal(incidentSignal, drift());
      const continued = await waitForState(handle, (s) => s.generation >= 1, 'continued as new');
      assert.notEqual((await handle.describe()).runId, firstRunId);
      assert.equal(continued.retrain?.workflowId, `retrain-${modelName}-1`, 'the retrain is carried');
      assert.equal(continued.thresholds.maxLatencyRatio, 3);
      assert.ok(continued.history.some((e) => e.kind === 'retrain-started'));

      fakes.releaseTraining();
      const done = await waitForState(handle, (s) => s.stable === 3, 'the carried retrain is rolled out');
      assert.equal(done.lastRetrain?.workflowId, `retrain-${modelName}-1`);
      assert.equal(done.attempts, 1);
      assert.equal(fakes.trainings, 1);
      await stop(handle);
    });
  });

  it('survives a rollout step that fails for good: the failure is recorded, the controller keeps running', async function () {
    const fakes = controllerFakes({ refuseMoves: true });
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const { handle } = await startController(this.test!.title, taskQueue);
      await assert.rejects(
        handle.executeUpdate(deployUpdate, { args: [{ version: 3, direct: true }] }),
        (err: unknown) => {
          assert.ok(err instanceof WorkflowUpdateFailedError);
          return true;
        },
      );
      await handle.executeUpdate(retrainUpdate, { args: [{ reason: 'new data' }] });
      const failed = await waitForState(handle, (s) => kinds(s).includes('step-failed'), 'failed rollout recorded');
      assert.match(failed.history.at(-1)!.message, /v3 cannot be loaded/);
      assert.equal(failed.stable, 2);
      assert.equal(failed.canary, undefined);
      assert.equal((await handle.describe()).status.name, 'RUNNING');
      await stop(handle);
    });
  });

  it('receives the incident a monitoring run finds, and a run for a model without a controller keeps it in its result', async function () {
    const fakes = controllerFakes({ holdTraining: true });
    const drifted = {
      version: 2,
      until: '2026-12-01T01:00:00Z',
      rows: 5000,
      minRows: 500,
      driftShare: 0.6,
      driftedFeatures: ['tenure_months', 'contract'],
      datasetDrift: true,
      reportUris: { drift: 'file:///m/drift.json', report: 'file:///m/report.html' },
      watermark: '2026-12-01T01:00:00Z',
    };
    const activities = { ...fakes.activities, checkModelDrift: () => Promise.resolve(drifted) };
    await withFakeActivities(this.test!.title, activities, async (taskQueue) => {
      const { handle, modelName } = await startController(this.test!.title, taskQueue);
      await waitForState(handle, (s) => kinds(s).includes('started'), 'controller started');
      const monitored = await stack().client.workflow.execute(monitorModel, {
        taskQueue,
        workflowId: uniqueName(`${this.test!.title} monitor`),
        args: [{ modelName }],
      });
      assert.equal(monitored.controllerSignalled, true);
      const retraining = await waitForState(handle, (s) => s.retrain !== undefined, 'retrain started by the incident');
      assert.deepEqual(
        retraining.openIncidents.map((i) => [i.kind, i.driftedFeatures]),
        [['drift', drifted.driftedFeatures]],
      );
      assert.match(
        retraining.retrain!.reason,
        /incident: drift on v2: 2 feature\(s\) drifted \(share 0.6\): tenure_months, contract/,
      );

      const orphan = await stack().client.workflow.execute(monitorModel, {
        taskQueue,
        workflowId: uniqueName(`${this.test!.title} orphan`),
        args: [{ modelName: 'no-controller-here' }],
      });
      assert.equal(orphan.controllerSignalled, false);
      assert.equal(orphan.incident?.modelName, 'no-controller-here');
      fakes.releaseTraining();
      await stop(handle);
    });
  });
});
