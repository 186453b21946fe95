import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ApplicationFailure } from '@temporalio/common';
import { createTrainingActivities } from '../../src/activities/training';
import { LocalArtifactStore } from '../../src/artifacts';
import { trainingRun } from '../../src/artifacts/layout';
import type { PreprocessResult } from '../../src/contracts/datasets';
import type { TrainingProgress } from '../../src/contracts/training';
import { GpuPool } from '../../src/trainers/gpu-pool';
import { createTrainerCatalog } from '../../src/trainers/trainer-commands';
import { parseTrainerJson, TrainerJsonError } from '../../src/trainers/trainer-json';
import { isAlive } from '../../src/scratch';
import { mockEnv, runActivity, waitUntilGone } from '../support/activity-env';
import { prepareChurn, trainInput } from '../support/prepared-data';
import { repoRoot, tempDir, testConfig } from '../support/stack';

/** A trainer written from docs/trainer-contract.md with Python's defaults; `hyperparameters.mode` picks its behaviour. */
const fixture = path.join(repoRoot, 'test', 'fixtures', 'trainers', 'contract_trainer.py');

describe('a Python trainer written from the contract (test/fixtures/trainers/contract_trainer.py)', function () {
  let store: LocalArtifactStore;
  let prepared: PreprocessResult;
  let python: string;

  /** Training activities of a worker registering the fixture as "py", in the environment `env` (as npm run sets it). */
  function worker(env: Record<string, string> = {}) {
    const trainers = createTrainerCatalog(
      testConfig({ MLOPS_TRAINERS: JSON.stringify({ py: [python, fixture] }), ...env }),
    );
    return createTrainingActivities({ store, gpus: new GpuPool(1), trainers, workDir: tempDir('work') });
  }

  function train(
    mode: string,
    runKey: string,
    more: { heartbeatTimeoutSeconds?: number; leak?: string; env?: Record<string, string> } = {},
  ) {
    const { heartbeatTimeoutSeconds = 60, leak } = more;
    const input = trainInput(
      prepared,
      { kind: 'py', heartbeatTimeoutSeconds, hyperparameters: { mode, ...(leak !== undefined && { leak }) } },
      runKey,
    );
    const env = mockEnv();
    const beats: TrainingProgress[] = [];
    env.on('heartbeat', (d: TrainingProgress) => beats.push(d));
    return { beats, result: runActivity(env, worker(more.leak ? npmEnv() : (more.env ?? {})).trainModel, input) };
  }

  function failure(promise: Promise<unknown>): Promise<ApplicationFailure> {
    return promise.then(
      () => assert.fail('the training step must fail'),
      (e: unknown) => {
        assert.ok(e instanceof ApplicationFailure, `a catalogued failure, not ${String(e)}`);
        return e;
      },
    );
  }

  /** What `npm run worker:training` puts in the worker's environment, plus a real secret. */
  function npmEnv(): Record<string, string> {
    return {
      INIT_CWD: repoRoot,
      npm_config_local_prefix: repoRoot,
      npm_package_json: path.join(repoRoot, 'package.json'),
      MLOPS_STATE_DIR: store.localPath(store.root),
      MLOPS_NOTIFY_WEBHOOK_URL: 'https://hooks.slack.com/services/T0001/B0001/webhooksecret42',
    };
  }

  before(async function () {
    const config = testConfig();
    // The reference trainer's Python (scripts/setup-python.sh); the fixture needs only its standard library.
    const venv = config.training.python ?? path.join(config.cacheDir, 'python', 'torch-tabular-venv', 'bin', 'python');
    python = fs.existsSync(venv) ? venv : 'python3';
    store = new LocalArtifactStore(tempDir('contract-store'));
    prepared = await prepareChurn(store);
  });

  it('reads the NaN and Infinity Python writes into metrics.json and progress lines as null, and names them', async function () {
    const { beats, result } = train('nan', 'nan/run');
    const trained = await result;
    assert.deepEqual(trained.metrics, {
      epochs: 1,
      train_loss: null,
      validation: { auc: null, accuracy: 0.5, r: null },
    });
    assert.deepEqual(trained.nonFiniteMetrics, ['train_loss', 'validation.auc', 'validation.r']);
    const beat = beats.find((b) => b.epoch === 1);
    assert.equal(beat?.loss, null);
    assert.equal(beat?.value, null);
  });

  it('counts NaN progress lines as progress, so a trainer printing them is not killed as silent', async function () {
    const { beats, result } = train('nan-slow', 'nan-slow/run', { heartbeatTimeoutSeconds: 1 });
    await result;
    assert.equal(Math.max(...beats.map((b) => b.epoch)), 8);
  });

  it('fails on a metrics.json that is not JSON with a non-retryable error naming the file, the place and the fix', async function () {
    const err = await failure(train('repr-metrics', 'repr/run').result);
    assert.equal(err.type, 'MLOPS_ERR_TRAIN_METRICS_INVALID');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /file:\/\/\S+\/repr\/run\/training\/metrics\.json/);
    assert.match(err.message, /line 1, column 2 \(position 1\)/);
    assert.match(err.message, /strict JSON/);
  });

  it('kills a trainer whose event lines are not JSON with a non-retryable error quoting the last one', async function () {
    const err = await failure(train('bad-events', 'bad-events/run', { heartbeatTimeoutSeconds: 1 }).result);
    assert.equal(err.type, 'MLOPS_ERR_TRAIN_EVENT_UNREADABLE');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /\{"type": "progress", "epoch": \d+, "loss": None\}/);
    assert.match(err.message, /json\.dumps/);
  });

  it('kills a silent trainer with a catalogued retryable error', async function () {
    const err = await failure(train('silent', 'silent/run', { heartbeatTimeoutSeconds: 1 }).result);
    assert.equal(err.type, 'MLOPS_ERR_TRAIN_NO_PROGRESS');
    assert.equal(err.nonRetryable, false);
    assert.match(err.message, /printed no progress event for 1s/);
  });

  it("quotes a failing trainer's traceback with its paths intact and the worker's secrets blanked", async function () {
    const secret = npmEnv().MLOPS_NOTIFY_WEBHOOK_URL!;
    const err = await failure(train('traceback', 'traceback/run', { leak: secret }).result);
    assert.equal(err.type, 'MLOPS_ERR_TRAIN_COMMAND_FAILED');
    assert.ok(!err.message.includes(secret), err.message);
    assert.match(err.message, /webhook is \[redacted\]/);
    assert.ok(err.message.includes(`File "${fixture}"`), err.message);
    assert.ok(err.message.includes(`writing to ${store.localPath(store.root)}/`), err.message);
  });

  it('resumes from the last checkpoint the trainer announced, never from a file it was killed while writing', async function () {
    // The first attempt announces epoch 1 and dies within epoch 2's file; its heartbeat never reached the server.
    const first = train('torn', 'torn-checkpoint');
    await failure(first.result);
    const output = store.localPath(trainingRun(store, 'churn', 'torn-checkpoint').output);
    assert.equal(fs.readFileSync(path.join(output, 'checkpoints', 'epoch-0002.ckpt'), 'utf8'), 'half');
    const second = await train('chatty', 'torn-checkpoint').result;
    assert.equal(second.resumedFromEpoch, 1);
  });

  it('keeps the last two announced checkpoints on disk by default, every one with MLOPS_TRAINING_KEEP_CHECKPOINTS=0', async function () {
    const checkpointsOf = async (runKey: string, env?: Record<string, string>) => {
      const trained = await train('checkpoints', runKey, { env }).result;
      return fs.readdirSync(path.join(store.localPath(trained.outputUri), 'checkpoints')).sort();
    };
    assert.deepEqual(await checkpointsOf('pruned/run'), [
      'announced.json',
      'best.ckpt',
      'epoch-0005.ckpt',
      'epoch-0006.ckpt',
    ]);
    const all = await checkpointsOf('kept/run', { MLOPS_TRAINING_KEEP_CHECKPOINTS: '0' });
    assert.deepEqual(
      all.filter((name) => name.startsWith('epoch-')),
      [1, 2, 3, 4, 5, 6].map((epoch) => `epoch-000${epoch}.ckpt`),
    );
  });

  it('stops the trainer at once when its worker dies by SIGKILL, instead of when it next writes a line', async function () {
    // A trainer in a long silent epoch ('silent' sleeps 300 s after its first event).
    const output = tempDir('owned-trainer');
    const owner = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(repoRoot, 'test', 'support', 'trainer-owner-child.ts'),
        python,
        fixture,
        output,
        'silent',
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const pid = await new Promise<number>((resolve, reject) => {
      createInterface({ input: owner.stdout }).on('line', (line) => {
        const match = /^trainer (\d+)$/.exec(line);
        if (match) resolve(Number(match[1]));
      });
      owner.once('exit', (code) => reject(new Error(`the owner exited (${code}) before its trainer started`)));
    });
    assert.ok(isAlive(pid), 'the trainer runs');
    owner.kill('SIGKILL');
    assert.ok(await waitUntilGone(pid), 'the trainer was still running 10 s after its worker died');
  });

  it("keeps the trainer's whole output in trainer.log of its output folder", async function () {
    const trained = await train('chatty', 'chatty/run').result;
    const log = fs.readFileSync(path.join(store.localPath(trained.outputUri), 'trainer.log'), 'utf8');
    for (const line of ['loading the training split', 'a warning on stderr', '"loss": 0.25', 'saved the model'])
      assert.ok(log.includes(line), `${line} in:\n${log}`);
  });
});

describe("redaction of trainer output (the worker's environment)", function () {
  const redacted = (env: Record<string, string>) => new Set(testConfig(env).training.secretValues);

  it('blanks keys, tokens, passwords, webhook URLs and credentials', function () {
    const secrets = {
      MY_API_KEY: 'key-0123456789',
      GITHUB_TOKEN: 'ghp_0123456789',
      DB_PASSWORD: 'hunter2-long',
      MLOPS_NOTIFY_WEBHOOK_URL: 'https://hooks.example.com/abc',
      MLOPS_PAYLOAD_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
      GOOGLE_APPLICATION_CREDENTIALS: '/secrets/sa.json',
      NPM_TOKEN: 'npm_0123456789',
      'npm_config_//registry.npmjs.org/:_authToken': 'npm_abcdefghij',
      SECRET_KEY_PATH: 'plain-key-value',
      SOMETHING_UNKNOWN: 'opaque-value-1',
    };
    const blanked = redacted(secrets);
    for (const [name, value] of Object.entries(secrets)) assert.ok(blanked.has(value), `${name} must be blanked`);
  });

  it("keeps folders, program paths and npm's own variables", function () {
    const paths = {
      INIT_CWD: '/srv/temporal-mlops',
      npm_config_local_prefix: '/srv/temporal-mlops-prefix',
      npm_package_json: '/srv/temporal-mlops/package.json',
      MLOPS_STATE_DIR: '/srv/state-folder',
      MLOPS_CACHE_DIR: '/srv/cache-folder',
      MLOPS_ARTIFACT_ROOT: '/srv/artifact-folder',
      TEMPORAL_CLI_PATH: '/opt/temporal/bin/temporal',
      MLOPS_PYTHON: '/opt/venv/bin/python3',
    };
    const blanked = redacted(paths);
    for (const [name, value] of Object.entries(paths)) assert.ok(!blanked.has(value), `${name} must not be blanked`);
  });
});

describe('reading trainer JSON (src/trainers/trainer-json.ts)', function () {
  it('refuses a line nested 100,000 levels deep with a positioned error, instead of overflowing the stack', function () {
    const deep = `{"type":"progress","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    assert.throws(
      () => parseTrainerJson(deep),
      (err: unknown) =>
        err instanceof TrainerJsonError && /nested more than 512 levels deep at line 1, column \d+/.test(err.message),
    );
  });
});
