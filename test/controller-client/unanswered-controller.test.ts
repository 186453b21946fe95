/**
 * `npm run models` against a controller that does not answer: its worker was killed (SIGKILL, as a crash: the server
 * still lists it as a poller for a while, so the poller check lets the command through), or the update's step does
 * not end. Each command waits `--timeout` seconds, then exits 1 with a catalogued error naming the task queue and
 * saying what was and was not sent. Scripts run in a child process against the dev server; the killed worker is a
 * child process too (test/support/controller-worker-child.ts).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { cancelled } from '@temporalio/activity';
import type { ControllerState, SetDeploymentInput } from '../../src/contracts/controller';
import { controllerWorkflowId } from '../../src/contracts/controller';
import { controllerFakes } from '../support/controller-fakes';
import { withFakeActivities } from '../support/fake-activities';
import { registryWith } from '../support/listed-registry';
import { modelsScriptWith } from '../support/models-script';
import { cliServerFlags, repoRoot, stack, tempDir, uniqueName } from '../support/stack';

const execFileAsync = promisify(execFile);

function modelOf(title: string): string {
  return `m-${uniqueName(title)}`.slice(0, 60);
}

/** `npm run models -- start <model>` with the controller (and its retrains) on `queue`. */
function startOn(env: Record<string, string>, model: string, queue: string) {
  const file = path.join(tempDir('unanswered-training'), 'training.json');
  const training = { dataset: { uri: 'examples/churn.csv' }, target: 'churned', trainer: { taskQueue: queue } };
  fs.writeFileSync(file, JSON.stringify(training));
  return modelsScriptWith(env, 'start', model, '--training', file, '--task-queue', queue);
}

/** A worker process running the controller on `queue`, once it says it is ready. */
async function workerProcess(queue: string): Promise<ChildProcess> {
  const bundle = path.join(tempDir('controller-bundle'), 'workflows.js');
  fs.writeFileSync(bundle, stack().workflowBundle.code);
  const { address, namespace } = stack().server;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/support/controller-worker-child.ts', address, namespace, queue, bundle],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += String(chunk)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => output.includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`the worker process exited (${code}) before it was ready`)));
  });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

async function terminate(modelName: string): Promise<void> {
  await stack()
    .client.workflow.getHandle(controllerWorkflowId(modelName))
    .terminate('test over')
    .catch(() => undefined);
}

describe('npm run models against a controller that does not answer', function () {
  this.timeout(120_000);

  it('status, history and deploy of a controller whose worker was killed exit 1 naming its queue, and the deploy is not applied when a worker comes back', async function () {
    const modelName = modelOf(this.test!.title);
    const env = { MLOPS_ARTIFACT_ROOT: (await registryWith([modelName])).root };
    const queue = uniqueName(this.test!.title);
    const id = controllerWorkflowId(modelName);
    const workers: ChildProcess[] = [];
    try {
      workers.push(await workerProcess(queue));
      const started = await startOn(env, modelName, queue);
      assert.equal(started.code, 0, started.stderr);
      const answered = await modelsScriptWith(env, 'status', modelName);
      assert.equal(answered.code, 0, answered.stderr);
      await kill(workers[0]!);

      const noAnswer = (command: string, consequence: string) =>
        `MLOPS_ERR_CONTROLLER_NO_ANSWER: The controller ${id} did not answer within 2 s: no worker on its task queue "${queue}" runs it now (the server still lists a worker stopped or killed in the last few minutes as polling). \`npm run models -- ${command}\` ${consequence}`;
      for (const [command, ...args] of [['status'], ['history', '--json'], ['deploy', '3']]) {
        const refused = await modelsScriptWith(env, command!, modelName, ...args, '--timeout', '2');
        assert.equal(refused.code, 1, refused.stdout);
        const [message, fix] = refused.stderr.trimEnd().split('\nFix: ');
        const consequence = command === 'deploy' ? 'was not sent: nothing changes' : 'could not read its state';
        assert.equal(message, noAnswer(command!, consequence));
        assert.match(fix!, /^Start a pipeline worker on that task queue/);
      }

      workers.push(await workerProcess(queue));
      const after = await modelsScriptWith(env, 'status', modelName, '--json');
      assert.equal(after.code, 0, after.stderr);
      const state = JSON.parse(after.stdout) as ControllerState;
      assert.equal(state.stable, 2);
      assert.equal(state.canary, undefined);
      assert.deepEqual(
        state.history.filter((event) => event.version === 3),
        [],
      );
    } finally {
      await terminate(modelName);
      await Promise.all(workers.map(kill));
    }
  });

  it('an update not answered within --timeout exits 1 naming its update id, and is applied when the step it waits on ends', async function () {
    const modelName = modelOf(this.test!.title);
    const env = { MLOPS_ARTIFACT_ROOT: (await registryWith([modelName])).root };
    const id = controllerWorkflowId(modelName);
    const fakes = controllerFakes();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const setDeployment = fakes.activities.setDeployment!;
    const activities = {
      ...fakes.activities,
      // Every deployment move waits for the test (or the worker's shutdown, so a failed test does not hang).
      setDeployment: async (input: SetDeploymentInput) => {
        await Promise.race([released, cancelled()]);
        return setDeployment(input);
      },
    };
    await withFakeActivities(this.test!.title, activities, async (queue) => {
      try {
        const started = await startOn(env, modelName, queue);
        assert.equal(started.code, 0, started.stderr);
        const deploy = await modelsScriptWith(env, 'deploy', modelName, '3', '--direct', '--timeout', '2');
        assert.equal(deploy.code, 1, deploy.stdout);
        const [message, fix] = deploy.stderr.trimEnd().split('\nFix: ');
        const updateId = /\(update id (deploy-[0-9a-f-]+)\)/.exec(message!)?.[1];
        assert.ok(updateId, message);
        assert.equal(
          message,
          `MLOPS_ERR_CONTROLLER_UPDATE_UNANSWERED: \`npm run models -- deploy\` was sent to the controller ${id} (update id ${updateId}) and not answered within 2 s. It is not withdrawn (Temporal has no way to withdraw an update): the server holds it, and it may still be applied when a worker on task queue "${queue}" picks the controller up again, or when the step it waits on ends`,
        );
        assert.match(fix!, /^Do not send it again before you know whether it was applied/);
        assert.equal(fakes.moves.length, 0);

        // Where it is, as the fix says to look.
        const { stdout: described } = await execFileAsync(stack().cliPath, [
          'workflow',
          'update',
          'describe',
          ...cliServerFlags(),
          '--workflow-id',
          id,
          '--update-id',
          updateId,
        ]);
        assert.match(described, /Accepted|ACCEPTED/, described);

        release();
        const handle = stack().client.workflow.getHandle(id);
        await handle.getUpdateHandle(updateId).result();
        assert.deepEqual(
          fakes.moves.map((move) => move.stable),
          [3],
        );
        const history = await modelsScriptWith(env, 'history', modelName, '--json');
        assert.equal(history.code, 0, history.stderr);
        const events = JSON.parse(history.stdout) as ControllerState['history'];
        assert.ok(
          events.some((event) => event.version === 3),
          history.stdout,
        );
      } finally {
        release();
        await terminate(modelName);
      }
    });
  });
});
