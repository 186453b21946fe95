/**
 * `npm run models` against a running model controller: the dev server, real pipeline and training workers, a model
 * registered in the worker's artifact store. Most commands run in-process through the same functions the script
 * calls; the script itself runs as a child process where its exit code and stderr are the point.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ControllerState } from '../../src/contracts/controller';
import { controllerWorkflowId, retrainScheduleId } from '../../src/contracts/controller';
import { parseModelsCommand } from '../../src/controller-client/command-line';
import { controllerState, runModelsCommand } from '../../src/controller-client/run-command';
import type { Queues } from '../support/workers';
import { withWorkers } from '../support/workers';
import { modelsScript } from '../support/models-script';
import { monitoredChurn } from '../support/monitored-model';
import { triggerRun } from '../support/schedules';
import { stack, tempDir, testConfig, uniqueName } from '../support/stack';

/** The same command in-process: what the script prints. */
function models(...args: string[]): Promise<string> {
  return runModelsCommand(stack().client, parseModelsCommand(args));
}

/** Reads the controller's state until `ready` holds (the loop works between updates), for at most 60 s. */
async function stateWhen(modelName: string, ready: (state: ControllerState) => boolean): Promise<ControllerState> {
  const giveUpAt = Date.now() + 60_000;
  let state = await controllerState(stack().client, modelName);
  while (!ready(state)) {
    assert.ok(Date.now() < giveUpAt, `the controller of ${modelName} did not get there: ${JSON.stringify(state)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    state = await controllerState(stack().client, modelName);
  }
  return state;
}

/**
 * A model with v1 deployed and v2 registered, and a training input for its retrains whose dataset does not exist:
 * a retrain here fails at ingest within seconds, which is all these tests need of it (the full loop is
 * test/e2e/closed-loop.test.ts).
 */
async function modelWithTwoVersions(title: string, queues: Queues) {
  const churn = await monitoredChurn();
  const modelName = uniqueName(title);
  const stable = await churn.deployAs(modelName);
  const next = await churn.register(modelName, 'second');
  const trainingFile = path.join(tempDir('models-cli'), 'training.json');
  const missing = path.join(path.dirname(trainingFile), 'gone.csv');
  const training = { dataset: { uri: missing }, target: 'churned', trainer: { taskQueue: queues.training } };
  fs.writeFileSync(trainingFile, JSON.stringify(training));
  return { modelName, stable, next, trainingFile };
}

async function stopController(modelName: string): Promise<void> {
  await stack().client.workflow.getHandle(controllerWorkflowId(modelName)).terminate('test over');
}

describe('npm run models against a running controller (dev server, real workers)', function () {
  this.timeout(300_000);

  it('starts the controller once, shows its status, deploys, rolls back, retrains, and reports refusals', async function () {
    const churn = await monitoredChurn();
    const { client } = stack();
    await withWorkers({ config: testConfig(), title: this.test!.title, store: churn.store }, async (queues) => {
      const { modelName, stable, next, trainingFile } = await modelWithTwoVersions('models-cli', queues);
      const id = controllerWorkflowId(modelName);

      const missing = await modelsScript('status', modelName);
      assert.equal(missing.code, 1);
      assert.match(
        missing.stderr,
        new RegExp(`MLOPS_ERR_CONTROLLER_NOT_RUNNING: .*"${modelName}" \\(workflow id ${id}\\)`),
      );
      assert.match(missing.stderr, /npm run models -- start <model> --training/);

      // A training input the controller would refuse is refused before anything starts (exit 2, no workflow).
      const typoFile = path.join(path.dirname(trainingFile), 'typo.json');
      const training = JSON.parse(fs.readFileSync(trainingFile, 'utf8')) as Record<string, unknown>;
      fs.writeFileSync(
        typoFile,
        JSON.stringify({ ...training, trainer: { kind: 'builtin-linear', hyperparameters: { epoch: 5 } } }),
      );
      const refusedStart = await modelsScript('start', modelName, '--training', typoFile);
      assert.equal(refusedStart.code, 2, refusedStart.stderr);
      assert.match(
        refusedStart.stderr,
        /MLOPS_ERR_CLI_ARGUMENT_INVALID[\s\S]*--training \(training\.trainer\.hyperparameters/,
      );
      assert.equal((await modelsScript('status', modelName)).code, 1, 'no controller was started');

      const start = ['start', modelName, '--training', trainingFile, '--task-queue', queues.pipeline];
      assert.match(await models(...start), new RegExp(`^Started the controller ${id} \\(run [\\w-]+\\) on task queue`));
      try {
        assert.match(await models(...start), new RegExp(`^The controller ${id} is already running`));
        await stateWhen(modelName, (state) => state.stable === stable);
        const status = await models('status', modelName);
        assert.match(status, new RegExp(`^Model ${modelName} \\(alias production\\), controller ${id}`));
        assert.match(status, new RegExp(`stable: +version ${stable}\\n`));
        assert.match(status, /canary: +none\n/);
        assert.match(status, /started +following v1/);

        assert.equal(await models('deploy', modelName, String(next)), `v${next} is stable`);
        const afterDeploy = JSON.parse(await models('status', modelName, '--json')) as ControllerState;
        assert.equal(afterDeploy.stable, next);
        assert.equal(await models('rollback', modelName, '--reason', 'cli test'), `v${stable} is stable again`);
        assert.equal((await controllerState(client, modelName)).stable, stable);

        const refused = await modelsScript('approve', modelName, '7');
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /^approve failed: MLOPS_ERR_CONTROLLER_UPDATE_REJECTED: .*no version is waiting/);
        // Refused before it is sent, as the controller would refuse it: exit 2 like any bad argument.
        const weight = await modelsScript('thresholds', modelName, '--weight', '2');
        assert.equal(weight.code, 2);
        assert.match(
          weight.stderr,
          /^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument --weight [\s\S]*- --weight \(weight\): Number must be less than 1/,
        );
        await assert.rejects(models('deploy', modelName, '99'), /deploy failed: MLOPS_ERR_ROLLOUT_VERSION_UNSERVABLE/);

        assert.match(await models('thresholds', modelName, '--max-error-rate', '0.05'), /"maxErrorRate":0\.05/);
        const badServer = await modelsScript('servers', modelName, '127.0.0.1:8080');
        assert.equal(badServer.code, 2);
        assert.match(badServer.stderr, /MLOPS_ERR_CLI_ARGUMENT_INVALID[\s\S]*<urls> \(servers\.0\): Invalid url/);
        assert.equal(
          await models('servers', modelName, 'http://127.0.0.1:1,http://127.0.0.1:2'),
          'canaries are judged on 2 server(s): http://127.0.0.1:1, http://127.0.0.1:2',
        );
        assert.match(await models('status', modelName), /servers: +http:\/\/127\.0\.0\.1:1, http:\/\/127\.0\.0\.1:2\n/);
        const typo = await modelsScript('mute', modelName, 'regoin');
        assert.equal(typo.code, 1);
        assert.match(
          typo.stderr,
          /^mute failed: MLOPS_ERR_CONTROLLER_UPDATE_REJECTED: .*takes no feature "regoin"; the features are "tenure_months", .*"region"/,
        );
        assert.match(await models('mute', modelName, 'region'), /^region muted/);
        assert.deepEqual((await controllerState(client, modelName)).muted, ['region']);
        assert.equal(await models('unmute', modelName, 'region'), 'region unmuted');

        assert.equal(
          await models('retrain', modelName, '--reason', 'cli test'),
          `retrain retrain-${modelName}-1 starting`,
        );
        const retrained = await stateWhen(modelName, (state) => state.lastRetrain !== undefined);
        assert.equal(retrained.lastRetrain?.outcome, 'failed');
        const finalStatus = await models('status', modelName);
        assert.match(finalStatus, new RegExp(`last retrain: failed by retrain-${modelName}-1: .*gone\\.csv`));
        // The version left by the rollback by hand above is remembered, so a retrain making it again is not rolled out.
        assert.match(
          finalStatus,
          new RegExp(`rolled back: +version ${next} \\(a retrain that makes one of these models again`),
        );
        const history = await models('history', modelName);
        for (const kind of [
          'deployed',
          'rolled-back',
          'thresholds-set',
          'muted',
          'retrain-started',
          'retrain-finished',
        ]) {
          assert.match(history, new RegExp(`Z  ${kind} `), `history shows ${kind}`);
        }
        assert.match(history, /retrain-started .*: cli test/);
      } finally {
        await stopController(modelName);
      }
    });
  });

  it('schedule-retrain creates then updates one schedule, and a triggered run reaches the controller', async function () {
    const churn = await monitoredChurn();
    const { client } = stack();
    await withWorkers({ config: testConfig(), title: this.test!.title, store: churn.store }, async (queues) => {
      const { modelName, trainingFile } = await modelWithTwoVersions('models-schedule', queues);
      const schedule = ['schedule-retrain', modelName, '--task-queue', queues.pipeline];
      const badCron = await modelsScript(...schedule, '--cron', 'every tuesday');
      assert.equal(badCron.code, 2);
      assert.match(badCron.stderr, /MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument --cron .*"every tuesday": CronString /);
      const created = await modelsScript(...schedule, '--cron', '0 3 * * 1');
      assert.equal(created.code, 0);
      assert.match(created.stdout, new RegExp(`^Created schedule retrain-${modelName}: requestRetrain`));
      assert.match(created.stdout, /Note: no controller is running/);
      await models('start', modelName, '--training', trainingFile, '--task-queue', queues.pipeline);
      try {
        const updated = await models(...schedule, '--cron', '15 2 * * *', '--reason', 'nightly');
        assert.equal(
          updated,
          `Updated schedule retrain-${modelName}: requestRetrain {"modelName":"${modelName}","reason":"nightly"} on "15 2 * * *"`,
        );
        const handle = client.schedule.getHandle(retrainScheduleId(modelName));
        const { spec } = await handle.describe();
        assert.deepEqual(
          spec.calendars?.map(({ hour, minute }) => ({ hour, minute })),
          [{ hour: [{ start: 2, end: 2, step: 1 }], minute: [{ start: 15, end: 15, step: 1 }] }],
        );

        const run = await triggerRun(handle);
        assert.deepEqual(await run.result(), {
          controllerWorkflowId: controllerWorkflowId(modelName),
          reason: 'nightly',
        });
        const state = await stateWhen(modelName, (s) => s.history.some((event) => event.kind === 'retrain-started'));
        const started = state.history.find((event) => event.kind === 'retrain-started');
        assert.equal(started?.message, `retrain-${modelName}-1: nightly`);
      } finally {
        await stopController(modelName);
        assert.equal(await models('unschedule-retrain', modelName), `Deleted the retraining schedule of ${modelName}.`);
      }
      assert.equal(await models('unschedule-retrain', modelName), `${modelName} had no retraining schedule.`);
    });
  });
});
