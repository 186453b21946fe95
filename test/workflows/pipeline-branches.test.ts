/**
 * trainingPipeline's branches over fake activities (STYLE 28): the real workflow code on the real dev server, with
 * each step replaced by an async function, so every branch runs in about a second. The end-to-end behaviour with the
 * real steps is in training-pipeline.test.ts, cancellation.test.ts and the replay test.
 */
import assert from 'node:assert/strict';
import { ActivityFailure, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { cancelled, heartbeat, sleep } from '@temporalio/activity';
import { Worker } from '@temporalio/worker';
import type { TrainingPipelineInput } from '../../src/contracts/pipeline';
import { searchAttributes } from '../../src/contracts/search-attributes';
import { mlopsError } from '../../src/errors';
import { trainingPipeline } from '../../src/workflows';
import { pipelineStatusQuery } from '../../src/workflows/definitions';
import { assertWorkflowFailed } from '../support/assert-workflow';
import { pipelineFakes, withFakeActivities } from '../support/fake-activities';
import {
  activityEvents,
  bundleWithActivityOrder,
  patchIds,
  recordedHistory,
  replayedActivityOrder,
} from '../support/history';
import { churnPipelineInput } from '../support/pipeline-input';
import { stack, uniqueName } from '../support/stack';
import { waitUntilListed } from '../support/visibility';

/** A valid input whose training runs on the fakes' task queue. */
function fakeInput(taskQueue: string, overrides: Partial<TrainingPipelineInput> = {}): TrainingPipelineInput {
  return churnPipelineInput({ modelName: 'churn-fake', trainer: { taskQueue }, ...overrides });
}

function startPipeline(taskQueue: string, title: string, input: TrainingPipelineInput) {
  return stack().client.workflow.start(trainingPipeline, {
    taskQueue,
    workflowId: uniqueName(title),
    args: [input],
  });
}

describe('trainingPipeline branches (fake activities)', function () {
  it('runs every step in order, profiling beside preprocessing (the patched arm), with one run key', async function () {
    const fakes = pipelineFakes();
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const handle = await startPipeline(taskQueue, this.test!.title, fakeInput(taskQueue));
      const result = await handle.result();
      assert.equal(result.outcome, 'deployed');
      assert.equal(result.version, 3);
      assert.deepEqual(result.artifacts, {
        profile: 'file:///fake/profile.json',
        report: 'file:///fake/report.html',
        transform: 'file:///fake/transform.json',
        model: 'file:///fake/runs/m/run/model.onnx',
        evaluation: 'file:///fake/runs/m/run/evaluation.json',
      });

      const history = await handle.fetchHistory();
      assert.deepEqual(patchIds(history), ['profile-beside-preprocess', 'check-champion-before-training']);
      const dataEvents = activityEvents(history).filter((e) => !e.endsWith('checkChampion'));
      assert.deepEqual(dataEvents.slice(2, 6).sort(), [
        'completed preprocessDataset',
        'completed profileDataset',
        'scheduled preprocessDataset',
        'scheduled profileDataset',
      ]);
      assert.deepEqual(
        dataEvents.slice(2, 4),
        ['scheduled profileDataset', 'scheduled preprocessDataset'],
        'both are scheduled before either completes',
      );
      assert.deepEqual(
        fakes.calls.filter((c) => !['profileDataset', 'preprocessDataset'].includes(c)),
        ['ingestDataset', 'checkChampion', 'trainModel', 'evaluateModel', 'registerModel', 'deployModel'],
      );
      // The champion is checked once the task is settled, before training (the patched arm).
      assert.ok(fakes.calls.indexOf('preprocessDataset') < fakes.calls.indexOf('checkChampion'));
      assert.deepEqual(fakes.inputs.checkChampion, {
        modelName: 'churn-fake',
        championAlias: 'production',
        task: 'classification',
        target: 'churned',
      });

      // The run key names the training output and the registration: the same `<workflow id>/<run id>` for both.
      const runKey = `${handle.workflowId}/${(await handle.describe()).runId}`;
      assert.equal((fakes.inputs.trainModel as { runKey: string }).runKey, runKey);
      assert.equal((fakes.inputs.registerModel as { registrationKey: string }).registrationKey, runKey);

      const status = await handle.query(pipelineStatusQuery);
      assert.deepEqual(
        status.steps.map((s) => [s.stage, s.summary]),
        [
          ['ingesting', '120 rows, 2 columns'],
          ['profiling', '2 columns profiled'],
          ['preprocessing', '84/12/24 rows, 1 features'],
          ['training', 'trained'],
          ['evaluating', 'no champion yet'],
          ['registering', 'version 3'],
          ['deploying', 'production → v3 (was v2)'],
          ['completed', undefined],
        ],
      );
      // The fresh history replays against the same code.
      await Worker.runReplayHistory({ workflowBundle: stack().workflowBundle }, history, handle.workflowId);
    });
  });

  it('takes the old arm (profiling, then preprocessing) replaying histories from before the patch, the new arm after', async function () {
    this.timeout(180_000);
    // A replay alone accepts either arm here (both schedule the same commands in the same order); the interceptor
    // reports the order in which the code scheduled each activity and saw its result.
    const workflowBundle = await bundleWithActivityOrder();
    const order = (lines: string[], a: string, b: string) => lines.indexOf(a) < lines.indexOf(b);
    for (const file of ['deployed.json', 'gate-rejected.json', 'missing-target.json']) {
      const history = recordedHistory(file);
      assert.deepEqual(patchIds(history), [], `${file} predates the patch`);
      assert.ok(order(activityEvents(history), 'completed profileDataset', 'scheduled preprocessDataset'), file);
      const replayed = await replayedActivityOrder(workflowBundle, history);
      assert.ok(
        order(replayed, 'completed profileDataset', 'scheduled preprocessDataset'),
        `${file}: ${replayed.join(', ')}`,
      );
    }
    for (const file of ['deployed-profile-beside-preprocess.json', 'gate-rejected-findable-failures.json']) {
      const replayed = await replayedActivityOrder(workflowBundle, recordedHistory(file));
      assert.ok(
        order(replayed, 'scheduled preprocessDataset', 'completed profileDataset'),
        `${file}: ${replayed.join(', ')}`,
      );
    }
  });

  it('stops with outcome rejected when the gate says no: nothing is registered or deployed', async function () {
    const fakes = pipelineFakes({
      evaluateModel: () =>
        Promise.resolve({
          metrics: { auc: 0.7 },
          baseline: { auc: 0.5 },
          reportUri: 'file:///fake/evaluation.json',
          gate: { passed: false, metric: 'auc', challenger: 0.7, champion: 0.75, championVersion: 2, reason: 'worse' },
        }),
    });
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const handle = await startPipeline(taskQueue, this.test!.title, fakeInput(taskQueue));
      const result = await handle.result();
      assert.equal(result.outcome, 'rejected');
      assert.equal(result.version, undefined);
      assert.equal(result.gate.championVersion, 2);
      assert.ok(!fakes.calls.includes('registerModel') && !fakes.calls.includes('deployModel'), fakes.calls.join());
      assert.equal((await handle.query(pipelineStatusQuery)).stage, 'rejected');
      const attributes = (await handle.describe()).typedSearchAttributes;
      assert.equal(attributes.get(searchAttributes.stage), 'rejected');
      assert.equal(attributes.get(searchAttributes.modelVersion), undefined);
    });
  });

  it("carries ingestion's and profiling's data warnings, then preprocessing's feature warnings, in its result and status", async function () {
    const renamed = {
      kind: 'column-renamed' as const,
      column: 'lead',
      message:
        'Column " lead" of the CSV header was read as "lead": use "lead" in target, features and prediction requests',
    };
    const spelled = {
      kind: 'spelling-variants' as const,
      column: 'churned',
      target: true,
      message:
        'Target column "churned" has classes that differ only in letter case or whitespace: "Yes" (5 rows), "yes" (2)',
    };
    const unknown = { kind: 'feature-mostly-unknown' as const, feature: 'customer_id', message: 'mostly unknown' };
    const base = pipelineFakes();
    const fakes = pipelineFakes({
      ingestDataset: async (input) => ({ ...(await base.activities.ingestDataset!(input)), warnings: [renamed] }),
      profileDataset: async (input) => ({ ...(await base.activities.profileDataset!(input)), warnings: [spelled] }),
      preprocessDataset: async (input) => ({
        ...(await base.activities.preprocessDataset!(input)),
        warnings: [unknown],
      }),
    });
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const handle = await startPipeline(taskQueue, this.test!.title, fakeInput(taskQueue));
      const result = await handle.result();
      assert.deepEqual(result.warnings, [renamed, spelled, unknown]);
      const steps = (await handle.query(pipelineStatusQuery)).steps;
      assert.match(steps.find((s) => s.stage === 'ingesting')!.summary!, /, 1 warning \(the result's warnings\)$/);
      assert.equal(
        steps.find((s) => s.stage === 'profiling')?.summary,
        '2 columns profiled, 1 warning (see the report)',
      );
    });
  });

  it('names the model and the failed step in the failure, keeping the activity error type', async function () {
    const fakes = pipelineFakes({
      trainModel: () => {
        throw mlopsError('MLOPS_ERR_TRAIN_COMMAND_FAILED', { trainer: 'fake', exit: 3, tail: 'out of memory' });
      },
    });
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const handle = await startPipeline(taskQueue, this.test!.title, fakeInput(taskQueue));
      const failure = await assertWorkflowFailed(handle.result(), ApplicationFailure, 'MLOPS_ERR_TRAIN_COMMAND_FAILED');
      assert.match(failure.message, /^trainingPipeline for model "churn-fake" failed at step training: /);
      assert.match(failure.message, /Trainer "fake" exited with 3/);
      assert.equal(failure.nonRetryable, true);
      assert.ok(failure.cause instanceof ActivityFailure, 'the activity failure is kept as the cause');
      assert.equal(fakes.calls.filter((c) => c === 'trainModel').length, 1, 'a non-retryable failure is not retried');
      assert.ok(!fakes.calls.includes('evaluateModel'));
      const status = await handle.query(pipelineStatusQuery);
      assert.equal(status.stage, 'failed');
      assert.match(
        status.error ?? '',
        /^trainingPipeline for model "churn-fake" failed at step training: [^]*exited with 3/,
      );
    });
  });

  it('fails at preprocessing, before training, when the run would train another target than the champion', async function () {
    const fakes = pipelineFakes({
      checkChampion: () => {
        throw mlopsError('MLOPS_ERR_EVALUATION_TARGET_MISMATCH', {
          model: 'churn-fake',
          version: 2,
          alias: 'production',
          championTarget: 'churned',
          target: 'tenure',
        });
      },
    });
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const handle = await startPipeline(taskQueue, this.test!.title, fakeInput(taskQueue));
      const failure = await assertWorkflowFailed(
        handle.result(),
        ApplicationFailure,
        'MLOPS_ERR_EVALUATION_TARGET_MISMATCH',
      );
      assert.match(failure.message, /^trainingPipeline for model "churn-fake" failed at step preprocessing: /);
      assert.match(failure.message, /predicts "churned"; the model of this run predicts "tenure"/);
      assert.ok(!fakes.calls.includes('trainModel'), 'nothing was trained');
    });
  });

  it('names the step that failed first when profiling fails while preprocessing still runs', async function () {
    const fakes = pipelineFakes({
      profileDataset: () => {
        throw mlopsError('MLOPS_ERR_DATA_COLUMN_MISSING', {
          column: 'churned',
          role: 'target',
          source: 'fake',
          columns: 'tenure',
        });
      },
      // Runs until the worker stops (after the test): it never ends while the workflow runs.
      preprocessDataset: () => cancelled(),
    });
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const handle = await startPipeline(taskQueue, this.test!.title, fakeInput(taskQueue));
      const failure = await assertWorkflowFailed(handle.result(), ApplicationFailure, 'MLOPS_ERR_DATA_COLUMN_MISSING');
      assert.match(failure.message, /^trainingPipeline for model "churn-fake" failed at step profiling: /);
      const status = await handle.query(pipelineStatusQuery);
      assert.deepEqual(
        status.steps.map((s) => s.stage),
        ['ingesting', 'profiling', 'preprocessing', 'failed'],
        'preprocessing was the step entered last, profiling the one that failed',
      );
    });
  });

  it('is found by model name and stage "cancelled" after a cancellation, which waits for the trainer to stop', async function () {
    const modelName = `m-${uniqueName('cancel')}`;
    let trainingStarted!: () => void;
    const started = new Promise<void>((resolve) => (trainingStarted = resolve));
    let trainerSawCancellation = false;
    const fakes = pipelineFakes({
      trainModel: async () => {
        trainingStarted();
        try {
          for (;;) {
            heartbeat({ epoch: 1 });
            await sleep(100);
          }
        } catch (err) {
          trainerSawCancellation = err instanceof CancelledFailure;
          throw err;
        }
      },
    });
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      // The cancellation reaches the activity with a heartbeat's answer; heartbeats are throttled to 80% of the timeout.
      const trainer = { taskQueue, heartbeatTimeoutSeconds: 5 };
      const handle = await startPipeline(taskQueue, this.test!.title, fakeInput(taskQueue, { modelName, trainer }));
      await started;
      await handle.cancel();
      await assertWorkflowFailed(handle.result(), CancelledFailure);
      assert.ok(trainerSawCancellation, 'the run ended only after the training activity was cancelled');
      assert.equal((await handle.query(pipelineStatusQuery)).stage, 'cancelled');
      assert.equal((await handle.describe()).typedSearchAttributes.get(searchAttributes.stage), 'cancelled');
      await waitUntilListed(`MlopsModelName="${modelName}" AND MlopsPipelineStage="cancelled"`, handle.workflowId);
    });
  });

  it('ends cancelled when asked to, though its training step then timed out instead of stopping (its worker was gone)', async function () {
    let trainingStarted!: () => void;
    const started = new Promise<void>((resolve) => (trainingStarted = resolve));
    const fakes = pipelineFakes({
      // A worker that died mid-step: it never heartbeats, so the cancellation cannot reach it (until shutdown).
      trainModel: async () => {
        trainingStarted();
        return cancelled();
      },
    });
    await withFakeActivities(this.test!.title, fakes.activities, async (taskQueue) => {
      const trainer = { taskQueue, heartbeatTimeoutSeconds: 5 };
      const handle = await startPipeline(taskQueue, this.test!.title, fakeInput(taskQueue, { trainer }));
      await started;
      await handle.cancel();
      await assertWorkflowFailed(handle.result(), CancelledFailure);
      assert.equal((await handle.describe()).status.name, 'CANCELLED');
      const status = await handle.query(pipelineStatusQuery);
      assert.equal(status.stage, 'cancelled');
      assert.match(status.error ?? '', /timed out/i, 'how the step ended is kept');
    });
  });

  it('is found by model name and stage "failed" when the rest of its input is invalid', async function () {
    const modelName = `m-${uniqueName('invalid')}`;
    await withFakeActivities(this.test!.title, {}, async (taskQueue) => {
      const handle = await startPipeline(taskQueue, this.test!.title, {
        modelName,
        dataset: {},
        target: '',
      } as unknown as TrainingPipelineInput);
      const failure = await assertWorkflowFailed(
        handle.result(),
        ApplicationFailure,
        'MLOPS_ERR_PIPELINE_INPUT_INVALID',
      );
      assert.match(failure.message, /- dataset\.uri:/);
      const status = await handle.query(pipelineStatusQuery);
      assert.equal(status.stage, 'failed');
      assert.equal(status.modelName, modelName);
      assert.match(status.error ?? '', /MLOPS_ERR_PIPELINE_INPUT_INVALID/);
      await waitUntilListed(`MlopsModelName="${modelName}" AND MlopsPipelineStage="failed"`, handle.workflowId);
    });
  });

  it('marks any invalid input failed, and keeps a hostile model name searchable without failing the workflow task', async function () {
    const cases: [input: unknown, searchable: string | undefined][] = [
      [{ modelName: 'Churn Model ☃' }, 'Churn Model ☃'],
      // Longer than a keyword search attribute may be: cut, or every workflow task would fail.
      [{ modelName: `x${'é'.repeat(20_000)}` }, `x${'é'.repeat(199)}`],
      [{ modelName: 42 }, undefined],
      [{ modelName: '' }, undefined],
      [null, undefined],
      ['churn', undefined],
      [['churn'], undefined],
    ];
    await withFakeActivities(this.test!.title, {}, async (taskQueue) => {
      for (const [input, searchable] of cases) {
        const handle = await startPipeline(taskQueue, this.test!.title, input as TrainingPipelineInput);
        await assertWorkflowFailed(handle.result(), ApplicationFailure, 'MLOPS_ERR_PIPELINE_INPUT_INVALID');
        const attributes = (await handle.describe()).typedSearchAttributes;
        assert.equal(attributes.get(searchAttributes.stage), 'failed');
        assert.equal(attributes.get(searchAttributes.modelName), searchable);
      }
    });
  });
});
