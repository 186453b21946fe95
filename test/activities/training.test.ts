import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { createTrainingActivities } from '../../src/activities/training';
import { GpuPool } from '../../src/trainers/gpu-pool';
import { LocalArtifactStore } from '../../src/artifacts';
import type { PreprocessResult } from '../../src/contracts/datasets';
import type { TrainingProgress } from '../../src/contracts/training';
import type { TrainingActivities } from '../../src/activities';
import { createTrainerCatalog } from '../../src/trainers/trainer-commands';
import { prepareChurn, trainInput } from '../support/prepared-data';
import { mockEnv, runActivity, waitUntilGone } from '../support/activity-env';
import { tempDir, testConfig } from '../support/stack';

/** A bash "trainer" following the contract's flags; `body` runs with $out set to the output folder. */
function bashTrainer(body: string): string[] {
  return [
    'bash',
    '-c',
    `out=""; while [ $# -gt 0 ]; do [ "$1" = --output ] && out="\${2#file://}"; shift; done; mkdir -p "$out"; ${body}`,
    'trainer',
  ];
}

describe('trainModel (training task queue activity)', function () {
  let store: LocalArtifactStore;
  let prepared: PreprocessResult;
  let activities: TrainingActivities;

  /** Training activities of a worker whose configuration registers `trainers` (MLOPS_TRAINERS) and sets `env`. */
  function workerWith(trainers: Record<string, string[]>, env: Record<string, string> = {}, gpus = 1) {
    const config = testConfig({ MLOPS_TRAINERS: JSON.stringify(trainers), ...env });
    return createTrainingActivities({
      store,
      gpus: new GpuPool(gpus),
      trainers: createTrainerCatalog(config),
      workDir: tempDir('work'),
    });
  }

  before(async function () {
    store = new LocalArtifactStore(tempDir('training-store'));
    prepared = await prepareChurn(store);
    activities = workerWith({});
  });

  it('relays progress lines as heartbeats and returns the model and metrics the trainer wrote', async function () {
    const env = mockEnv();
    const beats: TrainingProgress[] = [];
    env.on('heartbeat', (d: TrainingProgress) => beats.push(d));
    const result = await runActivity(
      env,
      activities.trainModel,
      trainInput(prepared, { hyperparameters: { epochs: 4 } }, 'progress/run'),
    );
    assert.deepEqual([...new Set(beats.map((b) => b.epoch))], [1, 2, 3, 4]);
    assert.equal(beats.at(-1)!.checkpointEpoch, 4);
    assert.equal(beats.at(-1)!.metric, 'auc');
    assert.ok(fs.existsSync(store.localPath(result.modelUri)));
    assert.equal((result.metrics as { epochs: number }).epochs, 4);
    assert.equal(result.resumedFromEpoch, undefined);
  });

  it('resumes a retried attempt from the checkpoint in the heartbeat details, ending with the same model as an uninterrupted run', async function () {
    const full = await runActivity(
      mockEnv(),
      activities.trainModel,
      trainInput(prepared, { hyperparameters: { epochs: 6 } }, 'resume/full'),
    );

    const first = mockEnv();
    let lastDetails: TrainingProgress | undefined;
    first.on('heartbeat', (d: TrainingProgress) => {
      lastDetails = d;
      if (d.checkpointEpoch === 3) first.cancel();
    });
    const input = trainInput(prepared, { hyperparameters: { epochs: 6, epoch_delay_ms: 200 } }, 'resume/interrupted');
    await assert.rejects(runActivity(first, activities.trainModel, input), CancelledFailure);
    assert.equal(lastDetails?.checkpointEpoch, 3);

    const retry = mockEnv({ attempt: 2, heartbeatDetails: lastDetails });
    const epochs: number[] = [];
    retry.on('heartbeat', (d: TrainingProgress) => epochs.push(d.epoch));
    const resumed = await runActivity(retry, activities.trainModel, {
      ...input,
      trainer: { ...input.trainer, hyperparameters: { epochs: 6 } },
    });
    assert.equal(resumed.resumedFromEpoch, 3);
    assert.equal(Math.min(...epochs.filter((e) => e > 3)), 4, 'training continues at the epoch after the checkpoint');
    assert.ok(!epochs.some((e) => e > 0 && e < 3), 'no epoch before the checkpoint is trained again');
    assert.deepEqual(
      fs.readFileSync(store.localPath(resumed.modelUri)),
      fs.readFileSync(store.localPath(full.modelUri)),
    );
  });

  it('kills the whole trainer process group when the activity is cancelled', async function () {
    const pidFile = path.join(tempDir('pids'), 'pids');
    const env = mockEnv();
    env.on('heartbeat', () => env.cancel());
    const worker = workerWith({
      sleeper: bashTrainer(`sleep 300 & echo "$$ $!" > ${pidFile}; echo '{"type":"progress","epoch":1}'; wait`),
    });
    await assert.rejects(
      runActivity(env, worker.trainModel, trainInput(prepared, { kind: 'sleeper' }, 'cancel/run')),
      CancelledFailure,
    );
    const [shell, child] = fs.readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
    assert.ok(await waitUntilGone(shell!), 'the trainer process is gone');
    assert.ok(await waitUntilGone(child!), "the trainer's child process is gone too");
  });

  it('kills a trainer that stops printing progress and fails the attempt as retryable', async function () {
    const pidFile = path.join(tempDir('pids'), 'pid');
    const worker = workerWith({
      hung: bashTrainer(`echo $$ > ${pidFile}; echo '{"type":"progress","epoch":1}'; sleep 300`),
    });
    const err = await mockEnv()
      .run(worker.trainModel, trainInput(prepared, { kind: 'hung', heartbeatTimeoutSeconds: 1 }, 'hung/run'))
      .then(
        () => assert.fail('a hung trainer must fail'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof ApplicationFailure && err.type === 'MLOPS_ERR_TRAIN_NO_PROGRESS', String(err));
    assert.equal(err.nonRetryable, false, 'retryable: a hang can be transient, and the next attempt resumes');
    assert.match(err.message, /printed no progress event for 1s/);
    assert.ok(await waitUntilGone(Number(fs.readFileSync(pidFile, 'utf8'))));
  });

  it('reports a failing trainer with a catalogued error that carries its last output', async function () {
    const worker = workerWith({
      oom: bashTrainer(`echo 'loading data' ; echo 'CUDA out of memory on device 0' >&2; exit 3`),
    });
    await assert.rejects(
      runActivity(mockEnv(), worker.trainModel, trainInput(prepared, { kind: 'oom' }, 'fail/run')),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'MLOPS_ERR_TRAIN_COMMAND_FAILED' &&
        err.nonRetryable &&
        /code 3/.test(err.message) &&
        /CUDA out of memory/.test(err.message),
    );
  });

  it('refuses to start a trainer whose --feature-columns is over what Linux takes in one argument, naming it, not retried', async function () {
    // 1,500 model input columns of about 100 characters: 150,390 bytes in one argument (spawn's E2BIG, retried before).
    const wide = { ...prepared, featureColumns: Array.from({ length: 1500 }, (_, i) => `c${i}=${'x'.repeat(94)}`) };
    const bytes = (wide.featureColumns.join(',').length + 1).toLocaleString('en-US');
    const started = tempDir('never-started');
    const worker = workerWith({ probe: bashTrainer(`touch ${started}/ran`) });
    await assert.rejects(
      runActivity(mockEnv(), worker.trainModel, trainInput(wide, { kind: 'probe' }, 'too-long/run')),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'MLOPS_ERR_TRAIN_ARGUMENTS_TOO_LONG' &&
        err.nonRetryable &&
        err.message.includes(
          `Trainer "probe" cannot be started: --feature-columns's value is ${bytes} bytes, over the 131,072 bytes Linux takes in one argument`,
        ) &&
        err.message.includes('lower preprocessing.features.<name>.maxCategories'),
    );
    assert.deepEqual(fs.readdirSync(started), [], 'the trainer never ran');
  });

  it('fails with MLOPS_ERR_TRAIN_OUTPUT_MISSING when the trainer exits 0 without a model', async function () {
    const worker = workerWith({ 'no-model': bashTrainer(`echo '{"type":"done","epochs":0}'`) });
    await assert.rejects(
      runActivity(mockEnv(), worker.trainModel, trainInput(prepared, { kind: 'no-model' }, 'nomodel/run')),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'MLOPS_ERR_TRAIN_OUTPUT_MISSING' &&
        /model\.onnx/.test(err.message),
    );
  });

  it('gives each concurrent trainer its own GPU through CUDA_VISIBLE_DEVICES', async function () {
    // Each trainer reports its device, then waits until both have started, so the two runs overlap.
    const barrier = tempDir('barrier');
    const trainer = bashTrainer(
      `echo "$CUDA_VISIBLE_DEVICES" > "$out/device"; touch ${barrier}/$CUDA_VISIBLE_DEVICES; while [ $(ls ${barrier} | wc -l) -lt 2 ]; do sleep 0.05; done; echo '{"type":"progress","epoch":1}'; touch "$out/model.onnx"; echo '{}' > "$out/metrics.json"`,
    );
    const twoGpus = workerWith({ 'gpu-probe': trainer }, {}, 2);
    const results = await Promise.all(
      ['gpu/a', 'gpu/b'].map((key) =>
        runActivity(mockEnv(), twoGpus.trainModel, trainInput(prepared, { kind: 'gpu-probe' }, key)),
      ),
    );
    const devices = results
      .map((r) => fs.readFileSync(path.join(store.localPath(r.outputUri), 'device'), 'utf8').trim())
      .sort();
    assert.deepEqual(devices, ['0', '1']);
  });

  it('fails a trainer name this worker does not register with a non-retryable error listing the registered ones', async function () {
    const worker = workerWith({ 'xgb-large': ['/bin/false'] });
    await assert.rejects(
      runActivity(mockEnv(), worker.trainModel, trainInput(prepared, { kind: 'xgb-small' }, 'unknown/run')),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'MLOPS_ERR_TRAIN_TRAINER_UNKNOWN' &&
        err.nonRetryable &&
        /"xgb-small"/.test(err.message) &&
        /builtin-linear, torch-tabular, xgb-large/.test(err.message),
    );
  });

  it("gives a trainer only the allow-listed environment, never the worker's secrets", async function () {
    const secrets = {
      GOOGLE_API_KEY: 'AIza-google-secret-1',
      MLOPS_GCP_PROJECT: 'project-secret-2',
      AWS_SECRET: 'aws-3',
    };
    const worker = workerWith(
      { 'env-dump': bashTrainer(`env > "$out/env"; touch "$out/model.onnx"; echo '{}' > "$out/metrics.json"`) },
      { ...secrets, PYTHONHASHSEED: '0', LANG: 'C.UTF-8' },
    );
    const result = await runActivity(
      mockEnv(),
      worker.trainModel,
      trainInput(prepared, { kind: 'env-dump' }, 'env/run'),
    );
    const seen = Object.fromEntries(
      fs
        .readFileSync(path.join(store.localPath(result.outputUri), 'env'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    for (const name of Object.keys(secrets)) assert.equal(seen[name], undefined, `${name} must not reach the trainer`);
    assert.ok(!Object.keys(seen).some((n) => /^(MLOPS|TEMPORAL|GOOGLE)_/.test(n)), Object.keys(seen).join(' '));
    assert.equal(seen.PYTHONHASHSEED, '0');
    assert.equal(seen.LANG, 'C.UTF-8');
    assert.equal(seen.PATH, process.env.PATH);
    assert.equal(seen.CUDA_VISIBLE_DEVICES, '0');
  });

  it("quotes a failing trainer's output capped, with the worker's environment values blanked out", async function () {
    const secret = 'sk-live-0123456789abcdef';
    // The trainer learnt the value some other way (a file, the parent's /proc entry) and prints it.
    const worker = workerWith(
      {
        leaky: bashTrainer(
          `echo "token=${secret}" >&2; head -c 100000 /dev/zero | tr '\\0' x; echo; echo "retrying with ${secret}"; exit 1`,
        ),
      },
      { GOOGLE_OAUTH_TOKEN: secret },
    );
    const err = await runActivity(
      mockEnv(),
      worker.trainModel,
      trainInput(prepared, { kind: 'leaky' }, 'leak/run'),
    ).then(
      () => assert.fail('the trainer exits 1'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure && err.type === 'MLOPS_ERR_TRAIN_COMMAND_FAILED');
    assert.ok(!err.message.includes(secret), err.message);
    assert.match(err.message, /token=\[redacted\]/);
    assert.match(err.message, /retrying with \[redacted\]/);
    assert.match(err.message, /Trainer "leaky" exited with code 1/);
    assert.ok(err.message.length < 3_000, `the quoted output is capped (${err.message.length} characters)`);
  });
});
