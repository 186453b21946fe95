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
import { trainerCommand } from '../../src/trainers/trainer-commands';
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

  before(async function () {
    const config = testConfig();
    store = new LocalArtifactStore(tempDir('training-store'));
    prepared = await prepareChurn(store);
    activities = createTrainingActivities({
      store,
      gpus: new GpuPool(1),
      trainerCommand: (kind) => trainerCommand(config, kind),
      workDir: tempDir('work'),
    });
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
    const trainer = bashTrainer(`sleep 300 & echo "$$ $!" > ${pidFile}; echo '{"type":"progress","epoch":1}'; wait`);
    await assert.rejects(
      runActivity(
        env,
        activities.trainModel,
        trainInput(prepared, { kind: 'command', command: trainer }, 'cancel/run'),
      ),
      CancelledFailure,
    );
    const [shell, child] = fs.readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
    assert.ok(await waitUntilGone(shell!), 'the trainer process is gone');
    assert.ok(await waitUntilGone(child!), "the trainer's child process is gone too");
  });

  it('kills a trainer that stops printing progress and fails the attempt as retryable', async function () {
    const pidFile = path.join(tempDir('pids'), 'pid');
    const trainer = bashTrainer(`echo $$ > ${pidFile}; echo '{"type":"progress","epoch":1}'; sleep 300`);
    const err = await mockEnv()
      .run(
        activities.trainModel,
        trainInput(prepared, { kind: 'command', command: trainer, heartbeatTimeoutSeconds: 1 }, 'hung/run'),
      )
      .then(
        () => assert.fail('a hung trainer must fail'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof Error && !(err instanceof ApplicationFailure), 'a plain Error, which Temporal retries');
    assert.match(err.message, /printed no progress for 1s/);
    assert.ok(await waitUntilGone(Number(fs.readFileSync(pidFile, 'utf8'))));
  });

  it('reports a failing trainer with a catalogued error that carries its last output', async function () {
    const trainer = bashTrainer(`echo 'loading data' ; echo 'CUDA out of memory on device 0' >&2; exit 3`);
    await assert.rejects(
      runActivity(
        mockEnv(),
        activities.trainModel,
        trainInput(prepared, { kind: 'command', command: trainer }, 'fail/run'),
      ),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'MLOPS_ERR_TRAIN_COMMAND_FAILED' &&
        err.nonRetryable &&
        /code 3/.test(err.message) &&
        /CUDA out of memory/.test(err.message),
    );
  });

  it('fails with MLOPS_ERR_TRAIN_OUTPUT_MISSING when the trainer exits 0 without a model', async function () {
    const trainer = bashTrainer(`echo '{"type":"done","epochs":0}'`);
    await assert.rejects(
      runActivity(
        mockEnv(),
        activities.trainModel,
        trainInput(prepared, { kind: 'command', command: trainer }, 'nomodel/run'),
      ),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'MLOPS_ERR_TRAIN_OUTPUT_MISSING' &&
        /model\.onnx/.test(err.message),
    );
  });

  it('gives each concurrent trainer its own GPU through CUDA_VISIBLE_DEVICES', async function () {
    const twoGpus = createTrainingActivities({
      store,
      gpus: new GpuPool(2),
      trainerCommand: () => [],
      workDir: tempDir('work'),
    });
    // Each trainer reports its device, then waits until both have started, so the two runs overlap.
    const barrier = tempDir('barrier');
    const trainer = bashTrainer(
      `echo "$CUDA_VISIBLE_DEVICES" > "$out/device"; touch ${barrier}/$CUDA_VISIBLE_DEVICES; while [ $(ls ${barrier} | wc -l) -lt 2 ]; do sleep 0.05; done; echo '{"type":"progress","epoch":1}'; touch "$out/model.onnx"; echo '{}' > "$out/metrics.json"`,
    );
    const results = await Promise.all(
      ['gpu/a', 'gpu/b'].map((key) =>
        runActivity(mockEnv(), twoGpus.trainModel, trainInput(prepared, { kind: 'command', command: trainer }, key)),
      ),
    );
    const devices = results
      .map((r) => fs.readFileSync(path.join(store.localPath(r.outputUri), 'device'), 'utf8').trim())
      .sort();
    assert.deepEqual(devices, ['0', '1']);
  });
});
