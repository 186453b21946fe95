import assert from 'node:assert/strict';
import type { JobServiceClient } from '@google-cloud/aiplatform';
import { Storage } from '@google-cloud/storage';
import { status } from '@grpc/grpc-js';
import { ActivityCancellationDetails, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { VertexTrainingActivities } from '../../src/activities/vertex-training';
import { createVertexTrainingActivities } from '../../src/activities/vertex-training';
import { buildDependencies } from '../../src/dependencies';
import { createVertexJobClient } from '../../src/vertex/job-client';
import type { VertexTrainingProgress } from '../../src/vertex/vertex-training';
import { LocalArtifactStore } from '../../src/artifacts';
import type { MlopsConfig } from '../../src/config';
import type { PreprocessResult } from '../../src/contracts/datasets';
import type { SubmitVertexJobInput } from '../../src/contracts/training';
import type { RunningEmulator } from '../../src/dev/emulators';
import { trainerCommand } from '../../src/trainers/trainer-commands';
import { startTestFakeGcs } from '../support/fake-gcs';
import { prepareChurn, trainerJob } from '../support/prepared-data';
import { tempDir, testConfig, uniqueName } from '../support/stack';
import { VertexFake } from '../support/vertex-fake';
import { isAlive } from '../../src/scratch';
import { mockEnv, runActivity } from '../support/activity-env';

const bucket = 'vertex-staging';
const linearImage = 'example.com/trainers/linear:1';
const emptyImage = 'example.com/trainers/writes-nothing:1';

function isCatalogued(code: string, pattern?: RegExp): (err: unknown) => boolean {
  return (err) =>
    err instanceof ApplicationFailure &&
    err.type === code &&
    err.nonRetryable === true &&
    (pattern === undefined || pattern.test(err.message));
}

describe('Vertex AI training (real JobServiceClient against a gRPC fake of Vertex AI and fake-gcs-server)', function () {
  let gcs: RunningEmulator;
  let fake: VertexFake;
  let client: JobServiceClient;
  let config: Readonly<MlopsConfig>;
  let activities: VertexTrainingActivities;
  let prepared: PreprocessResult;
  let storage: Storage;

  before(async function () {
    this.timeout(15 * 60_000);
    gcs = await startTestFakeGcs();
    storage = new Storage({ apiEndpoint: gcs.url, projectId: 'test' });
    await storage.createBucket(bucket);
    // The splits are local files, as on a worker with a local artifact store: the submit uploads them.
    const local = new LocalArtifactStore(tempDir('vertex-local-store'));
    prepared = await prepareChurn(local);
    fake = await VertexFake.start({
      images: {
        [linearImage]: trainerCommand(testConfig(), 'builtin-linear'),
        [emptyImage]: ['bash', '-c', 'echo "nothing to do"', 'trainer'],
      },
      gcsApiEndpoint: gcs.url,
      workDir: tempDir('vertex-fake'),
    });
    config = testConfig({
      MLOPS_GCP_PROJECT: 'p',
      MLOPS_GCS_API_ENDPOINT: gcs.url,
      MLOPS_VERTEX_API_ENDPOINT: fake.endpoint,
      MLOPS_VERTEX_STAGING_URI: `gs://${bucket}/mlops`,
      MLOPS_VERTEX_IMAGE_URI: linearImage,
    });
    client = createVertexJobClient(config.vertex);
    activities = createVertexTrainingActivities(buildDependencies(config, { store: local, jobClient: client }));
  });

  after(async function () {
    await client?.close();
    await fake?.stop();
    await gcs?.stop();
  });

  function submitInput(
    title: string,
    hyperparameters: SubmitVertexJobInput['hyperparameters'],
    overrides: Partial<SubmitVertexJobInput> = {},
  ): SubmitVertexJobInput {
    return { ...trainerJob(prepared, `${uniqueName(title)}/run-1`), spec: {}, hyperparameters, ...overrides };
  }

  async function readObject(uri: string): Promise<Buffer> {
    const [, name, object] = /^gs:\/\/([^/]+)\/(.+)$/.exec(uri)!;
    const [data] = await storage.bucket(name!).file(object!).download();
    return data;
  }

  it('trains on Vertex AI: the wait ends with model.onnx and metrics.json in the gs:// output folder and heartbeats rising epochs', async function () {
    const input = submitInput(this.test!.title, { epochs: 8, epoch_delay_ms: 150 });
    const submitted = await runActivity(mockEnv(), activities.submitVertexTrainingJob, input);
    assert.equal(submitted.created, true);
    assert.match(submitted.jobName, /^projects\/p\/locations\/us-central1\/customJobs\/\d+$/);
    assert.equal(submitted.outputUri, `gs://${bucket}/mlops/runs/churn/${input.runKey}/training`);

    const env = mockEnv();
    const beats: VertexTrainingProgress[] = [];
    env.on('heartbeat', (d: VertexTrainingProgress) => beats.push(d));
    const result = await runActivity(env, activities.waitForVertexTrainingJob, { ...submitted, pollSeconds: 0.1 });

    assert.equal(result.modelUri, `${submitted.outputUri}/model.onnx`);
    assert.ok((await readObject(result.modelUri)).length > 0, 'model.onnx is on Cloud Storage');
    const metrics = JSON.parse((await readObject(result.metricsUri)).toString()) as { validation: { auc: number } };
    assert.ok(metrics.validation.auc > 0.75, `validation AUC ${metrics.validation.auc}`);
    assert.deepEqual(result.metrics, metrics);

    const epochs = beats.map((b) => b.epoch);
    assert.deepEqual(
      epochs,
      [...epochs].sort((a, b) => a - b),
      'epochs never go back',
    );
    assert.ok(new Set(epochs.filter((e) => e > 0)).size >= 2, `progress was seen while training: ${epochs.join(',')}`);
    assert.equal(beats.at(-1)!.epoch, 8);
    assert.equal(beats.at(-1)!.checkpointUri, `${submitted.outputUri}/checkpoints/epoch-0008.ckpt`);
    assert.equal(beats.at(-1)!.state, 'JOB_STATE_SUCCEEDED');
  });

  it('submits one worker pool with the requested machine and accelerator, the image, and the contract flags on gs:// inputs', async function () {
    const input = submitInput(
      this.test!.title,
      { epochs: 1 },
      { spec: { machineType: 'n1-highmem-8', acceleratorType: 'NVIDIA_TESLA_T4' } },
    );
    const submitted = await runActivity(mockEnv(), activities.submitVertexTrainingJob, input);
    const [job] = await client.getCustomJob({ name: submitted.jobName });
    const pool = job.jobSpec!.workerPoolSpecs![0]!;
    assert.equal(job.jobSpec!.workerPoolSpecs!.length, 1);
    assert.equal(Number(pool.replicaCount), 1);
    assert.deepEqual(
      [pool.machineSpec!.machineType, pool.machineSpec!.acceleratorType, pool.machineSpec!.acceleratorCount],
      ['n1-highmem-8', 'NVIDIA_TESLA_T4', 1],
    );
    assert.equal(pool.containerSpec!.imageUri, linearImage);
    assert.equal(job.jobSpec!.baseOutputDirectory!.outputUriPrefix, submitted.outputUri);
    const args = pool.containerSpec!.args!;
    const flag = (name: string) => args[args.indexOf(name) + 1];
    assert.deepEqual(
      args.filter((a) => a.startsWith('--')),
      [
        '--train',
        '--validation',
        '--transform',
        '--output',
        '--task',
        '--label-column',
        '--feature-columns',
        '--hyperparameters',
        '--seed',
      ],
    );
    const runFolder = submitted.outputUri.replace(/\/training$/, '');
    assert.equal(flag('--train'), `${runFolder}/inputs/train.parquet`);
    assert.ok((await readObject(flag('--train')!)).length > 0, 'the local train split was uploaded');
    assert.equal(flag('--output'), submitted.outputUri);
    assert.equal(flag('--feature-columns'), prepared.featureColumns.join(','));
    assert.match(job.labels!.mlops_run!, /^[a-f0-9]{32}$/);
  });

  it('a retried submit after a lost response returns the job already created instead of creating a second one', async function () {
    const input = submitInput(this.test!.title, { epochs: 1 });
    const createsBefore = fake.createCalls;
    fake.failNext('CreateCustomJob', status.UNAVAILABLE, 'after');
    const lost = await runActivity(mockEnv(), activities.submitVertexTrainingJob, input).then(
      () => assert.fail('the first submit must fail'),
      (e: unknown) => e,
    );
    assert.ok(lost instanceof Error && !(lost instanceof ApplicationFailure), 'a plain Error, which Temporal retries');

    const retried = await runActivity(mockEnv({ attempt: 2 }), activities.submitVertexTrainingJob, input);
    const again = await runActivity(mockEnv({ attempt: 3 }), activities.submitVertexTrainingJob, input);
    assert.equal(retried.created, false);
    assert.deepEqual(again, retried);
    assert.equal(fake.createCalls - createsBefore, 1, 'exactly one CreateCustomJob');
    const [jobs] = await client.listCustomJobs({
      parent: 'projects/p/locations/us-central1',
      filter: `labels.mlops_run="${(await client.getCustomJob({ name: retried.jobName }))[0].labels!.mlops_run}"`,
    });
    assert.deepEqual(
      jobs.map((j) => j.name),
      [retried.jobName],
    );
  });

  it('cancelling the wait cancels the CustomJob, which ends CANCELLED with its trainer process gone', async function () {
    const input = submitInput(this.test!.title, { epochs: 30, epoch_delay_ms: 300, patience: 0 });
    const submitted = await runActivity(mockEnv(), activities.submitVertexTrainingJob, input);
    const cancelsBefore = fake.cancelCalls;
    const env = mockEnv();
    env.on('heartbeat', (d: VertexTrainingProgress) => d.epoch >= 2 && env.cancel());
    await assert.rejects(
      runActivity(env, activities.waitForVertexTrainingJob, { ...submitted, pollSeconds: 0.1 }),
      CancelledFailure,
    );

    assert.equal(fake.cancelCalls - cancelsBefore, 1, 'the fake got one CancelCustomJob');
    const ended = await fake.job(submitted.jobName).settled;
    assert.equal(ended.state, 'JOB_STATE_CANCELLED');
    const [job] = await client.getCustomJob({ name: submitted.jobName });
    assert.equal(job.state, 'JOB_STATE_CANCELLED');
    assert.ok(!isAlive(fake.job(submitted.jobName).pid!), 'the trainer process is gone');
  });

  it('a worker shutdown leaves the job running, and the retried wait resumes from the heartbeat details', async function () {
    const submitted = await runActivity(
      mockEnv(),
      activities.submitVertexTrainingJob,
      submitInput(this.test!.title, { epochs: 6, epoch_delay_ms: 150 }),
    );
    const first = mockEnv();
    let last: VertexTrainingProgress | undefined;
    first.on('heartbeat', (d: VertexTrainingProgress) => {
      last = d;
      if (d.epoch >= 2) first.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({ workerShutdown: true }));
    });
    const cancelsBefore = fake.cancelCalls;
    await assert.rejects(
      runActivity(first, activities.waitForVertexTrainingJob, { ...submitted, pollSeconds: 0.1 }),
      CancelledFailure,
    );
    assert.equal(fake.cancelCalls, cancelsBefore, 'no CancelCustomJob');

    const retry = mockEnv({ attempt: 2, heartbeatDetails: last });
    const epochs: number[] = [];
    retry.on('heartbeat', (d: VertexTrainingProgress) => epochs.push(d.epoch));
    const result = await runActivity(retry, activities.waitForVertexTrainingJob, { ...submitted, pollSeconds: 0.1 });
    assert.ok(
      epochs[0]! >= last!.epoch,
      `the retried wait starts from epoch ${last!.epoch}, not 0: ${epochs.join(',')}`,
    );
    assert.equal((result.metrics as { epochs: number }).epochs, 6);
  });

  it('a failing trainer fails the wait with MLOPS_ERR_VERTEX_JOB_FAILED carrying the job error message', async function () {
    const input = submitInput(this.test!.title, { epochs: 2 }, { labelColumn: 'no_such_label' });
    const submitted = await runActivity(mockEnv(), activities.submitVertexTrainingJob, input);
    await assert.rejects(
      runActivity(mockEnv(), activities.waitForVertexTrainingJob, { ...submitted, pollSeconds: 0.1 }),
      isCatalogued('MLOPS_ERR_VERTEX_JOB_FAILED', /non-zero status of 2[\s\S]*no_such_label/),
    );
  });

  it('a job that succeeds without writing a model fails the wait with MLOPS_ERR_TRAIN_OUTPUT_MISSING', async function () {
    const input = submitInput(this.test!.title, {}, { spec: { imageUri: emptyImage } });
    const submitted = await runActivity(mockEnv(), activities.submitVertexTrainingJob, input);
    await assert.rejects(
      runActivity(mockEnv(), activities.waitForVertexTrainingJob, { ...submitted, pollSeconds: 0.1 }),
      isCatalogued('MLOPS_ERR_TRAIN_OUTPUT_MISSING', /model\.onnx/),
    );
  });

  it('a job cancelled outside the pipeline fails the wait with MLOPS_ERR_VERTEX_JOB_CANCELLED', async function () {
    const submitted = await runActivity(
      mockEnv(),
      activities.submitVertexTrainingJob,
      submitInput(this.test!.title, { epochs: 30, epoch_delay_ms: 300, patience: 0 }),
    );
    await client.cancelCustomJob({ name: submitted.jobName });
    await fake.job(submitted.jobName).settled;
    await assert.rejects(
      runActivity(mockEnv(), activities.waitForVertexTrainingJob, { ...submitted, pollSeconds: 0.1 }),
      isCatalogued('MLOPS_ERR_VERTEX_JOB_CANCELLED', new RegExp(submitted.jobName)),
    );
  });

  it('waiting for a job that does not exist fails with MLOPS_ERR_VERTEX_NOT_FOUND naming the job', async function () {
    const jobName = 'projects/p/locations/us-central1/customJobs/424242';
    await assert.rejects(
      runActivity(mockEnv(), activities.waitForVertexTrainingJob, {
        jobName,
        outputUri: `gs://${bucket}/mlops/runs/x/training`,
        pollSeconds: 0.1,
      }),
      isCatalogued('MLOPS_ERR_VERTEX_NOT_FOUND', new RegExp(jobName)),
    );
  });

  it('an unavailable Vertex AI endpoint fails the poll with a plain Error, which Temporal retries', async function () {
    fake.failNext('GetCustomJob', status.UNAVAILABLE);
    const err = await runActivity(mockEnv(), activities.waitForVertexTrainingJob, {
      jobName: 'projects/p/locations/us-central1/customJobs/1',
      outputUri: `gs://${bucket}/mlops/runs/x/training`,
      pollSeconds: 0.1,
    }).then(
      () => assert.fail('the wait must fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error && !(err instanceof ApplicationFailure), 'a plain Error');
    assert.match(err.message, /getCustomJob .* failed: 14 UNAVAILABLE/);
  });

  it('a submit without a trainer image fails with MLOPS_ERR_VERTEX_SETTING_MISSING naming where to set it', async function () {
    const withoutImage = createVertexTrainingActivities(
      buildDependencies(
        { ...config, vertex: { ...config.vertex, imageUri: undefined } },
        { store: new LocalArtifactStore(tempDir('vertex-no-image')), jobClient: client },
      ),
    );
    const createsBefore = fake.createCalls;
    await assert.rejects(
      runActivity(mockEnv(), withoutImage.submitVertexTrainingJob, submitInput(this.test!.title, {})),
      isCatalogued('MLOPS_ERR_VERTEX_SETTING_MISSING', /MLOPS_VERTEX_IMAGE_URI.*trainer\.vertex\.imageUri/),
    );
    assert.equal(fake.createCalls, createsBefore);
  });
});
