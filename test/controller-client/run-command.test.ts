/**
 * `npm run models -- start` and `servers` as a user runs them (the script in a child process, against the dev server):
 * the note on a model with no version registered, the answer of a start that finds its controller running with other
 * options, and the warnings about model servers that do not answer ready. Controllers that must answer run on a
 * worker over the controller's fake activities (test/support/controller-fakes.ts); real loopback sockets stand in for
 * the model servers.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ArtifactStore } from '../../src/artifacts';
import { writeJson } from '../../src/artifacts';
import { modelVersionFiles } from '../../src/artifacts/layout';
import type { ControllerState } from '../../src/contracts/controller';
import { controllerWorkflowId, retrainScheduleId } from '../../src/contracts/controller';
import { writeDeployment } from '../../src/models/deployment-record';
import { moveAlias, readVersion } from '../../src/registry/model-registry';
import { controllerStatusQuery, setServersUpdate } from '../../src/workflows/definitions';
import { controllerFakes } from '../support/controller-fakes';
import { withFakeActivities } from '../support/fake-activities';
import { registryWith } from '../support/listed-registry';
import { modelsScriptWith } from '../support/models-script';
import { repoRoot, stack, tempDir, uniqueName } from '../support/stack';

/** The training input file of `start`: retrains (none here) would run on `taskQueue`. */
function trainingFile(taskQueue: string): string {
  const file = path.join(tempDir('models-training'), 'training.json');
  const training = { dataset: { uri: 'examples/churn.csv' }, target: 'churned', trainer: { taskQueue } };
  fs.writeFileSync(file, JSON.stringify(training));
  return file;
}

/** `npm run models -- start <model>` with retrains on `queue`, the controller itself on `queue`, and `extra`. */
function startOn(env: Record<string, string>, model: string, queue: string, ...extra: string[]) {
  return modelsScriptWith(env, 'start', model, '--training', trainingFile(queue), '--task-queue', queue, ...extra);
}

/** A model name of the test's own (the registry's pattern: it starts with a letter). */
function modelOf(title: string): string {
  return `m-${uniqueName(title)}`.slice(0, 60);
}

/**
 * Runs a worker over the controller's fake activities until `fn` settles; `controllerStarted` resolves when a
 * controller on it has finished its first workflow task (it then reads its deployment), so it answers queries.
 */
async function withControllerWorker<T>(
  title: string,
  fn: (taskQueue: string, controllerStarted: Promise<void>) => Promise<T>,
): Promise<T> {
  const fakes = controllerFakes();
  let started!: () => void;
  const controllerStarted = new Promise<void>((resolve) => (started = resolve));
  const readDeployment = fakes.activities.readDeployment!;
  const activities = {
    ...fakes.activities,
    readDeployment: (input: Parameters<typeof readDeployment>[0]) => {
      started();
      return readDeployment(input);
    },
  };
  return withFakeActivities(title, activities, (taskQueue) => fn(taskQueue, controllerStarted));
}

function controllerState(modelName: string): Promise<ControllerState> {
  return stack().client.workflow.getHandle(controllerWorkflowId(modelName)).query(controllerStatusQuery);
}

async function runIdOf(modelName: string): Promise<string> {
  return (await stack().client.workflow.getHandle(controllerWorkflowId(modelName)).describe()).runId;
}

async function terminate(...modelNames: string[]): Promise<void> {
  await Promise.all(
    modelNames.map((modelName) =>
      stack()
        .client.workflow.getHandle(controllerWorkflowId(modelName))
        .terminate('test over')
        .catch(() => undefined),
    ),
  );
}

/** A loopback URL where nothing listens: a port bound, then released. */
async function closedServerUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  return `http://127.0.0.1:${port}`;
}

/** An HTTP server that answers `GET /readyz` as a ready model server of `modelName` does, and 404 elsewhere. */
async function readyServer(modelName: string): Promise<{ url: string; close(): Promise<void> }> {
  return loopbackServer((request, response) => {
    const ready = request.method === 'GET' && request.url === '/readyz';
    response.writeHead(ready ? 200 : 404, { 'content-type': 'application/json' });
    response.end(JSON.stringify(ready ? { ready: true, model: modelName, version: 1 } : { error: 'no route' }));
  });
}

/** An HTTP server on a free loopback port, and how to close it with its connections. */
async function loopbackServer(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url: `http://127.0.0.1:${port}`, close };
}

/** A web server that answers 200 with an HTML page at every path, as the Temporal Web UI does. */
function webPage(): Promise<{ url: string; close(): Promise<void> }> {
  return loopbackServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end('<!DOCTYPE html><html><head><title>Temporal</title></head><body><div id="app"></div></body></html>');
  });
}

/** A registry with versions 1 and 2 of `modelName`, both taking `features`, and alias production on v2. */
async function registryWithFeatures(modelName: string, features: string[]): Promise<ArtifactStore> {
  const store = await registryWith([modelName]);
  const run = store.uri('runs', modelName, 'run-2');
  await writeJson(store, store.uri(run, 'transform.json'), {
    specHash: 'test',
    features: features.map((name) => ({ name })),
  });
  for (const version of [1, 2]) {
    const record = await readVersion(store, modelName, 1);
    await writeJson(store, modelVersionFiles(store, modelName, version).record, {
      ...record,
      version,
      transformUri: store.uri(run, 'transform.json'),
    });
  }
  await moveAlias(store, modelName, 'production', 2);
  return store;
}

/** A TCP server that accepts connections and never answers. */
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url: `http://127.0.0.1:${port}`, close };
}

const serverWarnings = (stderr: string) =>
  stderr.split('\n').filter((line) => line.startsWith('Warning: model server'));

describe('npm run models -- start and servers against the dev server', function () {
  this.timeout(120_000);

  it('start notes a model with no version registered yet, naming the registered models, and still starts its controller', async function () {
    const registered = modelOf('registered');
    const typo = modelOf('chrun');
    const unreadable = modelOf('unreadable');
    const store = await registryWith([registered]);
    // A version record that is not JSON: the registry cannot be listed for this model.
    await store.write(modelVersionFiles(store, unreadable, 1).record, 'not json');
    const env = { MLOPS_ARTIFACT_ROOT: store.root };
    // No worker polls this queue: starting the controllers is all this test needs of them.
    const queue = uniqueName(this.test!.title);
    const start = (model: string) =>
      modelsScriptWith(env, 'start', model, '--training', trainingFile(queue), '--task-queue', queue);
    try {
      const started = await start(typo);
      assert.equal(started.code, 0, started.stderr);
      assert.equal(
        started.stdout.split('\n')[1],
        `Note: no version of model "${typo}" is registered in ${store.root} yet (a typo in the model name?); the models registered there are "${registered}", "${unreadable}". The controller was started anyway: it waits for its first retrain or deployment.`,
      );
      assert.match(
        started.stdout,
        new RegExp(`^Started the controller ${controllerWorkflowId(typo)} \\(run [\\w-]+\\)`),
      );
      const described = await stack().client.workflow.getHandle(controllerWorkflowId(typo)).describe();
      assert.equal(described.status.name, 'RUNNING');

      const known = await start(registered);
      assert.equal(known.code, 0, known.stderr);
      assert.doesNotMatch(known.stdout, /Note:/);

      // A registry that cannot be read adds nothing, and fails nothing.
      const unlisted = await start(unreadable);
      assert.equal(unlisted.code, 0, unlisted.stderr);
      assert.match(unlisted.stdout, /^Started the controller /);
      assert.doesNotMatch(unlisted.stdout, /Note:/);
    } finally {
      await terminate(typo, registered, unreadable);
    }
  });

  it('start warns about a training input every retrain would fail on (no such dataset, an unknown trainer kind), and still starts', async function () {
    const model = modelOf('typo-training');
    const queue = uniqueName(this.test!.title);
    const file = path.join(tempDir('models-training'), 'training.json');
    const training = {
      dataset: { uri: 'examples/chrun.csv' },
      target: 'churned',
      trainer: { kind: 'xgb', taskQueue: queue },
    };
    fs.writeFileSync(file, JSON.stringify(training));
    const store = await registryWith([model]);
    try {
      const started = await modelsScriptWith(
        { MLOPS_ARTIFACT_ROOT: store.root },
        'start',
        model,
        '--training',
        file,
        '--task-queue',
        queue,
      );
      assert.equal(started.code, 0, started.stderr);
      const warnings = started.stderr.split('\n').filter((line) => line.startsWith("Warning: the training input's"));
      assert.deepEqual(warnings, [
        `Warning: the training input's dataset.uri "examples/chrun.csv" is no file here (${path.join(repoRoot, 'examples', 'chrun.csv')}): every retrain fails at its first step while a pipeline worker with these settings runs it.`,
        `Warning: the training input's trainer.kind "xgb" is not one this machine knows (builtin-linear, torch-tabular): register it in MLOPS_TRAINERS on the training worker, or every retrain fails at its training step.`,
      ]);
      assert.equal(
        (await stack().client.workflow.getHandle(controllerWorkflowId(model)).describe()).status.name,
        'RUNNING',
      );
    } finally {
      await terminate(model);
    }
  });

  it('start on a running controller names each option that differs, with the command that changes it, and changes nothing', async function () {
    const modelName = modelOf(this.test!.title);
    const env = { MLOPS_ARTIFACT_ROOT: (await registryWith([modelName])).root };
    await withControllerWorker(this.test!.title, async (queue, controllerStarted) => {
      const start = ['start', modelName, '--training', trainingFile(queue), '--task-queue', queue];
      try {
        const first = await modelsScriptWith(env, ...start, '--muted', 'tenure');
        assert.equal(first.code, 0, first.stderr);
        await controllerStarted;
        const runId = await runIdOf(modelName);
        const id = controllerWorkflowId(modelName);
        const stop = `temporal workflow terminate --workflow-id ${id} --reason "restart with new options"`;

        const same = await modelsScriptWith(env, ...start, '--muted', 'tenure');
        assert.equal(same.code, 0, same.stderr);
        assert.deepEqual(same.stdout.split('\n').slice(0, 2), [
          `The controller ${id} is already running (run ${runId}) and was left as it is (it follows alias production); its input is unchanged.`,
          `Note: --training is not compared (a running controller does not report it); it keeps what it started with. To start it with what was given, stop it with ${stop}, then run this start again.`,
        ]);

        const other = await modelsScriptWith(
          env,
          ...start,
          '--servers',
          'http://127.0.0.1:9,http://127.0.0.1:10',
          '--max-error-rate',
          '0.05',
          '--muted',
          'contract',
          '--retrain-on',
          'drift',
        );
        assert.equal(other.code, 0, other.stderr);
        assert.deepEqual(other.stdout.trimEnd().split('\n'), [
          `The controller ${id} is already running (run ${runId}) and was not changed (it follows alias production); the options given differ from it:`,
          `  --servers: the running controller has none; given: http://127.0.0.1:9, http://127.0.0.1:10. To change it: npm run models -- servers ${modelName} http://127.0.0.1:9,http://127.0.0.1:10`,
          `  --max-error-rate: the running controller has 0.01; given: 0.05. To change it: npm run models -- thresholds ${modelName} --max-error-rate 0.05`,
          `  --muted: the running controller has tenure; given: contract. To change it: npm run models -- mute ${modelName} contract && npm run models -- unmute ${modelName} tenure`,
          `Note: --training and --retrain-on are not compared (a running controller does not report them); it keeps what it started with. To start it with what was given, stop it with ${stop}, then run this start again.`,
        ]);
        // Servers given to a controller that is not started with them are not probed.
        assert.deepEqual(serverWarnings(other.stderr), []);
        const { alias, servers, thresholds, muted } = await controllerState(modelName);
        assert.deepEqual(
          { alias, servers, maxErrorRate: thresholds.maxErrorRate, muted },
          {
            alias: 'production',
            servers: [],
            maxErrorRate: 0.01,
            muted: ['tenure'],
          },
        );
        assert.equal(await runIdOf(modelName), runId);
      } finally {
        await terminate(modelName);
      }
    });
  });

  it('start with another alias than the running controller follows exits 1, saying it follows production and was not changed', async function () {
    const modelName = modelOf(this.test!.title);
    const env = { MLOPS_ARTIFACT_ROOT: (await registryWith([modelName])).root };
    await withControllerWorker(this.test!.title, async (queue, controllerStarted) => {
      const start = ['start', modelName, '--training', trainingFile(queue), '--task-queue', queue];
      try {
        assert.equal((await modelsScriptWith(env, ...start)).code, 0);
        await controllerStarted;
        const runId = await runIdOf(modelName);
        const id = controllerWorkflowId(modelName);

        const staging = await modelsScriptWith(env, ...start, '--alias', 'staging', '--weight', '0.2');
        assert.equal(staging.code, 1, staging.stdout);
        assert.equal(staging.stdout, '');
        assert.equal(
          staging.stderr.split('\nFix: ')[0],
          [
            `MLOPS_ERR_CONTROLLER_START_CONFLICT: The controller ${id} is already running (run ${runId}) and was not changed (it follows alias production); the options given differ from it:`,
            `  --alias: the running controller has production; given: staging. Only a new controller takes another one: stop this one with temporal workflow terminate --workflow-id ${id} --reason "restart with new options", then run this start again.`,
            `  --weight: the running controller has 0.1; given: 0.2. To change it: npm run models -- thresholds ${modelName} --weight 0.2`,
          ].join('\n'),
        );
        assert.match(
          staging.stderr,
          /\nFix: A running controller keeps its alias and task queue: leave --alias and --task-queue out/,
        );
        const state = await controllerState(modelName);
        assert.equal(state.alias, 'production');
        assert.equal(state.thresholds.weight, 0.1);
        assert.equal(await runIdOf(modelName), runId);

        // The same holds for the task queue it runs on.
        const moved = await modelsScriptWith(env, ...start.slice(0, -1), `${queue}-other`);
        assert.equal(moved.code, 1);
        assert.match(
          moved.stderr,
          new RegExp(
            `\\n {2}--task-queue: the running controller has ${queue}; given: ${queue}-other\\. Only a new controller`,
          ),
        );
      } finally {
        await terminate(modelName);
      }
    });
  });

  it('start and servers refuse a server URL with a query string, fragment or credentials (exit 2), and so does the controller', async function () {
    const modelName = modelOf(this.test!.title);
    const refusedModel = modelOf(`${this.test!.title} refused`);
    const env = { MLOPS_ARTIFACT_ROOT: (await registryWith([modelName])).root };
    const closed = await closedServerUrl();
    await withControllerWorker(this.test!.title, async (queue, controllerStarted) => {
      const start = (model: string, servers: string) => startOn(env, model, queue, '--servers', servers);
      try {
        const fragment = await start(refusedModel, `${closed}/#stats`);
        assert.equal(fragment.code, 2, fragment.stdout);
        assert.match(
          fragment.stderr,
          new RegExp(
            `^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument --servers of \`npm run models -- start\` is invalid: \\n- --servers \\(servers\\.0\\): "${closed}/#stats" has a fragment \\("#stats"\\): give the server's base URL, "${closed}",`,
          ),
        );
        await assert.rejects(
          stack().client.workflow.getHandle(controllerWorkflowId(refusedModel)).describe(),
          WorkflowNotFoundError,
        );

        assert.equal((await start(modelName, closed)).code, 0);
        await controllerStarted;
        const query = await modelsScriptWith(env, 'servers', modelName, `${closed}/?model=churn`);
        assert.equal(query.code, 2, query.stdout);
        assert.match(
          query.stderr,
          new RegExp(
            `^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument <urls> of \`npm run models -- servers\` is invalid: \\n- <urls> \\(servers\\.0\\): "${closed}/\\?model=churn" has a query string \\("\\?model=churn"\\): give the server's base URL, "${closed}",`,
          ),
        );
        // Sent straight to the controller, past the script: its update validator refuses it, naming the URL.
        const handle = stack().client.workflow.getHandle(controllerWorkflowId(modelName));
        await assert.rejects(
          handle.executeUpdate(setServersUpdate, { args: [{ servers: [`http://user:pw@${closed.slice(7)}`] }] }),
          (err: unknown) => {
            assert.ok(err instanceof WorkflowUpdateFailedError);
            assert.ok(err.cause instanceof ApplicationFailure);
            assert.equal(err.cause.type, 'MLOPS_ERR_CONTROLLER_UPDATE_REJECTED');
            assert.match(
              err.cause.message,
              /"servers\.0": "http:\/\/\*\*\*@127\.0\.0\.1:\d+" has credentials: give the server's base URL/,
            );
            assert.doesNotMatch(err.cause.message, /user:pw/);
            return true;
          },
        );
        assert.deepEqual((await controllerState(modelName)).servers, [closed]);
      } finally {
        await terminate(modelName, refusedModel);
      }
    });
  });

  it('start and servers warn about each model server that is unreachable, silent or not found, and not about a ready one', async function () {
    const modelName = modelOf(this.test!.title);
    const env = { MLOPS_ARTIFACT_ROOT: (await registryWith([modelName])).root };
    const closed = await closedServerUrl();
    const ready = await readyServer(modelName);
    const silent = await silentServer();
    const elsewhere = await readyServer('another-model');
    try {
      await withControllerWorker(this.test!.title, async (queue) => {
        const start = ['start', modelName, '--training', trainingFile(queue), '--task-queue', queue];
        try {
          const started = await modelsScriptWith(env, ...start, '--servers', `${closed},${ready.url}`);
          assert.equal(started.code, 0, started.stderr);
          assert.match(started.stdout, /^Started the controller /);
          assert.deepEqual(serverWarnings(started.stderr), [
            `Warning: model server ${closed} did not answer ready on GET ${closed}/readyz: connection refused (ECONNREFUSED). A canary is judged only on the servers that answer: check the URL, or start the server before the next rollout.`,
          ]);

          const fine = await modelsScriptWith(env, 'servers', modelName, ready.url);
          assert.equal(fine.code, 0, fine.stderr);
          assert.equal(fine.stdout, `canaries are judged on 1 server(s): ${ready.url}\n`);
          assert.deepEqual(serverWarnings(fine.stderr), []);

          const urls = [`${ready.url}/v9`, silent.url, closed, elsewhere.url];
          const typos = await modelsScriptWith(env, 'servers', modelName, urls.join(','));
          assert.equal(typos.code, 0, typos.stderr);
          assert.match(typos.stdout, /^canaries are judged on 4 server\(s\)/);
          const warnings = serverWarnings(typos.stderr);
          assert.equal(warnings.length, 4, typos.stderr);
          assert.match(
            warnings[0]!,
            new RegExp(
              `^Warning: model server ${ready.url}/v9 did not answer ready on GET ${ready.url}/v9/readyz: HTTP 404\\.`,
            ),
          );
          assert.match(
            warnings[1]!,
            new RegExp(
              `^Warning: model server ${silent.url} did not answer ready on GET ${silent.url}/readyz: no answer within 2000 ms\\.`,
            ),
          );
          assert.match(
            warnings[2]!,
            new RegExp(
              `^Warning: model server ${closed} did not answer ready on .*: connection refused \\(ECONNREFUSED\\)\\.`,
            ),
          );
          // A ready server of another model is a mistake too: its counters are not this model's.
          assert.match(
            warnings[3]!,
            new RegExp(
              `^Warning: model server ${elsewhere.url} did not answer ready on .*: it serves model "another-model", not "${modelName}"\\.`,
            ),
          );
          // Warned about, not refused: the controller has them all.
          assert.deepEqual((await controllerState(modelName)).servers, urls);
        } finally {
          await terminate(modelName);
        }
      });
    } finally {
      await Promise.all([ready.close(), silent.close(), elsewhere.close()]);
    }
  });

  it('start and schedule-retrain warn about a task queue no worker polls; status and updates of that controller are refused at once naming it', async function () {
    const modelName = modelOf(this.test!.title);
    const env = { MLOPS_ARTIFACT_ROOT: (await registryWith([modelName])).root };
    const queue = `nobody-polls-${uniqueName(this.test!.title)}`;
    const id = controllerWorkflowId(modelName);
    const schedule = stack().client.schedule.getHandle(retrainScheduleId(modelName));
    try {
      const started = await startOn(env, modelName, queue);
      assert.equal(started.code, 0, started.stderr);
      assert.match(started.stdout, /^Started the controller /);
      assert.ok(
        started.stderr.includes(
          `Warning: no worker polls task queue "${queue}": the controller ${id} waits there until one does. Start a pipeline worker on it (npm run worker:pipeline polls mlops-pipeline), or use the --task-queue your workers poll.`,
        ),
        started.stderr,
      );

      for (const command of [['status'], ['history', '--json'], ['retrain', '--reason', 'x']]) {
        const refused = await modelsScriptWith(env, command[0]!, modelName, ...command.slice(1));
        assert.equal(refused.code, 1, refused.stdout);
        assert.equal(
          refused.stderr.split('\nFix: ')[0],
          `MLOPS_ERR_CONTROLLER_NO_WORKER: The controller ${id} runs on task queue "${queue}", which no worker polls: it cannot answer \`npm run models -- ${command[0]}\` until one does`,
        );
      }

      const scheduled = await modelsScriptWith(
        env,
        'schedule-retrain',
        modelName,
        '--cron',
        '0 3 * * 1',
        '--task-queue',
        queue,
        '--reason',
        'weekly',
      );
      assert.equal(scheduled.code, 0, scheduled.stderr);
      assert.match(
        scheduled.stderr,
        new RegExp(
          `^Warning: no worker polls task queue "${queue}": each run of the schedule ${retrainScheduleId(modelName)} waits there until one does\\.`,
          'm',
        ),
      );
      // Updated without the reason given before: said so, as npm run monitoring -- schedule says of its settings.
      const reschedule = (...extra: string[]) =>
        modelsScriptWith(env, 'schedule-retrain', modelName, '--cron', '0 4 * * 1', '--task-queue', queue, ...extra);
      const updated = await reschedule();
      assert.equal(updated.code, 0, updated.stderr);
      assert.ok(
        updated.stdout.includes(
          `Note: the schedule's input is replaced whole; its previous --reason "weekly" was not given again and is gone (its runs now ask with the default reason). Give it again to keep it.`,
        ),
        updated.stdout,
      );
      const again = await reschedule('--reason', 'weekly');
      assert.doesNotMatch(again.stdout, /Note: the schedule's input/);
    } finally {
      await terminate(modelName);
      await schedule.delete().catch(() => undefined);
    }
  });

  it('a controller whose task queue a worker polls answers status, and its start warns about no queue', async function () {
    const modelName = modelOf(this.test!.title);
    const store = await registryWith([modelName]);
    const env = { MLOPS_ARTIFACT_ROOT: store.root };
    await withControllerWorker(this.test!.title, async (queue, controllerStarted) => {
      try {
        const started = await startOn(env, modelName, queue);
        assert.equal(started.code, 0, started.stderr);
        assert.doesNotMatch(started.stderr, /no worker polls/);
        await controllerStarted;
        const status = await modelsScriptWith(env, 'status', modelName, '--json');
        assert.equal(status.code, 0, status.stderr);
        assert.equal((JSON.parse(status.stdout) as ControllerState).modelName, modelName);
        // A pipeline run deployed v7 outside the controller (which follows v2): status says what serves.
        await writeDeployment(store, modelName, 'production', { stable: 7 });
        const text = await modelsScriptWith(env, 'status', modelName);
        assert.equal(text.code, 0, text.stderr);
        assert.match(text.stdout, /\n {2}stable: +version 2\n/);
        assert.match(
          text.stdout,
          /\nNote: the deployment record says v7 serves \(deployed outside the controller, at \S+\); the controller adopts it when it next acts/,
        );
      } finally {
        await terminate(modelName);
      }
    });
  });

  it('status says when the retrain under way waits for a training worker that does not poll its queue', async function () {
    const modelName = modelOf(this.test!.title);
    const store = await registryWith([modelName]);
    const env = { MLOPS_ARTIFACT_ROOT: store.root };
    const nobodyTrains = uniqueName('nobody-trains');
    const file = path.join(tempDir('models-training'), 'training.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        dataset: { uri: 'examples/churn.csv' },
        target: 'churned',
        trainer: { taskQueue: nobodyTrains },
      }),
    );
    await withControllerWorker(this.test!.title, async (queue, controllerStarted) => {
      try {
        const started = await modelsScriptWith(env, 'start', modelName, '--training', file, '--task-queue', queue);
        assert.equal(started.code, 0, started.stderr);
        await controllerStarted;
        const retrain = await modelsScriptWith(env, 'retrain', modelName, '--reason', 'by hand');
        assert.equal(retrain.code, 0, retrain.stderr);
        const child = stack().client.workflow.getHandle(`retrain-${modelName}-1`);
        const deadline = Date.now() + 60_000;
        const trainingScheduled = async () =>
          ((await child.describe().catch(() => undefined))?.raw.pendingActivities ?? []).some(
            (a) => a.activityType?.name === 'trainModel',
          );
        while (!(await trainingScheduled())) {
          assert.ok(Date.now() < deadline, 'the retrain never reached its training step');
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        const status = await modelsScriptWith(env, 'status', modelName);
        assert.equal(status.code, 0, status.stderr);
        assert.ok(
          status.stdout.includes(
            `Note: retrain retrain-${modelName}-1 waits: its training step is scheduled on task queue "${nobodyTrains}", which no training worker polls.`,
          ),
          status.stdout,
        );
      } finally {
        await stack()
          .client.workflow.getHandle(`retrain-${modelName}-1`)
          .terminate('test over')
          .catch(() => undefined);
        await terminate(modelName);
      }
    });
  });

  it('start --muted and unmute refuse a feature the deployed version does not take, listing its features, as mute does', async function () {
    const modelName = modelOf(this.test!.title);
    const store = await registryWithFeatures(modelName, ['tenure', 'contract', 'monthly charges']);
    const env = { MLOPS_ARTIFACT_ROOT: store.root };
    await withControllerWorker(this.test!.title, async (queue, controllerStarted) => {
      const start = ['start', modelName, '--training', trainingFile(queue), '--task-queue', queue];
      try {
        const typo = await modelsScriptWith(env, ...start, '--muted', 'tenure,nosuch');
        assert.equal(typo.code, 2, typo.stdout);
        assert.match(
          typo.stderr,
          /^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument --muted of `npm run models -- start` is invalid: v2 takes no feature "nosuch"; the features are "tenure", "contract", "monthly charges" \(alias production serves v2\)/,
        );
        await assert.rejects(
          stack().client.workflow.getHandle(controllerWorkflowId(modelName)).describe(),
          WorkflowNotFoundError,
        );

        const started = await modelsScriptWith(env, ...start, '--muted', 'tenure');
        assert.equal(started.code, 0, started.stderr);
        await controllerStarted;
        const mute = await modelsScriptWith(env, 'mute', modelName, 'nosuch');
        const unmute = await modelsScriptWith(env, 'unmute', modelName, 'nosuch');
        for (const [command, refused] of [
          ['mute', mute],
          ['unmute', unmute],
        ] as const) {
          assert.equal(refused.code, 1, refused.stdout);
          assert.match(
            refused.stderr,
            new RegExp(
              `^${command} failed: .*v2 takes no feature "nosuch"; the features are "tenure", "contract", "monthly charges"`,
            ),
          );
        }
        const unmuted = await modelsScriptWith(env, 'unmute', modelName, 'tenure');
        assert.equal(unmuted.code, 0, unmuted.stderr);
        assert.equal(unmuted.stdout, 'tenure unmuted\n');
        assert.deepEqual((await controllerState(modelName)).muted, []);
      } finally {
        await terminate(modelName);
      }
    });
  });

  it("servers warns about a URL whose 200 answer is not a model server's readiness document, naming what answered", async function () {
    const modelName = modelOf(this.test!.title);
    const env = { MLOPS_ARTIFACT_ROOT: (await registryWith([modelName])).root };
    const page = await webPage();
    try {
      await withControllerWorker(this.test!.title, async (queue, controllerStarted) => {
        try {
          const started = await startOn(env, modelName, queue);
          assert.equal(started.code, 0, started.stderr);
          await controllerStarted;
          const set = await modelsScriptWith(env, 'servers', modelName, page.url);
          assert.equal(set.code, 0, set.stderr);
          assert.deepEqual(serverWarnings(set.stderr), [
            `Warning: model server ${page.url} did not answer ready on GET ${page.url}/readyz: it answered HTTP 200 with text/html: "<!DOCTYPE html><html><head><title>Temporal</title></head><bo…", not a model server's readiness document ({"ready": true, "model": "${modelName}", …}): it is not a model server. A canary is judged only on the servers that answer: check the URL, or start the server before the next rollout.`,
          ]);
        } finally {
          await terminate(modelName);
        }
      });
    } finally {
      await page.close();
    }
  });
});
