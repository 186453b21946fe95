import assert from 'node:assert/strict';
import { Storage } from '@google-cloud/storage';
import { status as grpcStatus } from '@grpc/grpc-js';
import { CancelledFailure } from '@temporalio/common';
import type { MlopsConfig } from '../../src/config';
import type { RunningEmulator } from '../../src/dev/emulators';
import type { TrainingPipelineInput } from '../../src/contracts/pipeline';
import { trainerCommand } from '../../src/trainers/trainer-commands';
import { trainingPipeline } from '../../src/workflows';
import { startTestFakeGcs } from '../support/fake-gcs';
import { stack, tempDir, testConfig, uniqueName } from '../support/stack';
import { VertexFake } from '../support/vertex-fake';
import type { Queues } from '../support/workers';
import { withWorkers } from '../support/workers';
import { churnPipelineInput } from '../support/pipeline-input';
import { waitForHeartbeat } from '../support/progress';
import { assertWorkflowFailed } from '../support/assert-workflow';

const image = 'us-docker.pkg.dev/example/trainers/linear:1';

type VertexProgress = { epoch?: number; state?: string; jobName?: string };

/** Waits until the pipeline's Vertex AI wait reports a trained epoch. */
function waitForRunningJob(workflowId: string): Promise<VertexProgress> {
  return waitForHeartbeat<VertexProgress>(
    workflowId,
    (p) => !!p.jobName && (p.epoch ?? 0) >= 1,
    'waitForVertexTrainingJob',
  );
}

describe('trainingPipeline on the Vertex AI backend', function () {
  let gcs: RunningEmulator;
  let fake: VertexFake;
  let config: Readonly<MlopsConfig>;

  before(async function () {
    this.timeout(15 * 60_000);
    gcs = await startTestFakeGcs();
    await new Storage({ apiEndpoint: gcs.url, projectId: 'test' }).createBucket('mlops-pipeline');
    fake = await VertexFake.start({
      images: { [image]: trainerCommand(testConfig(), 'builtin-linear') },
      gcsApiEndpoint: gcs.url,
      workDir: tempDir('vertex'),
    });
    // The whole artifact store lives on (fake) Cloud Storage, as it would in a cloud deployment.
    config = testConfig({
      MLOPS_ARTIFACT_ROOT: 'gs://mlops-pipeline/mlops',
      MLOPS_GCS_API_ENDPOINT: gcs.url,
      MLOPS_GCP_PROJECT: 'test-project',
      MLOPS_VERTEX_API_ENDPOINT: fake.endpoint,
      MLOPS_VERTEX_IMAGE_URI: image,
    });
  });

  after(async () => {
    await fake?.stop();
    await gcs?.stop();
  });

  const input = (queues: Queues, hyperparameters: Record<string, number>): TrainingPipelineInput =>
    churnPipelineInput({
      modelName: 'churn-vertex',
      trainer: {
        backend: 'vertex',
        hyperparameters,
        taskQueue: queues.training,
        vertex: { pollSeconds: 0.3, machineType: 'n1-standard-8' },
      },
    });

  it('trains as one CustomJob even when a create response is lost, reports its progress, and deploys the model', async function () {
    const workflowId = uniqueName(this.test!.title);
    const createsBefore = fake.createCalls;
    // The first create succeeds on the server but its response is lost; the retried submit must find that job.
    fake.failNext('CreateCustomJob', grpcStatus.UNAVAILABLE, 'after');
    const result = await withWorkers({ config, title: this.test!.title }, async (queues) => {
      const handle = await stack().client.workflow.start(trainingPipeline, {
        taskQueue: queues.pipeline,
        workflowId,
        args: [input(queues, { epochs: 10, epoch_delay_ms: 400 })],
      });
      const { jobName = '', state } = await waitForRunningJob(workflowId);
      assert.equal(state, 'JOB_STATE_RUNNING', 'the heartbeat details carry the job state and epoch');
      assert.match(jobName, /^projects\/test-project\/locations\/us-central1\/customJobs\/\d+$/);
      return handle.result();
    });
    assert.equal(result.outcome, 'deployed');
    assert.ok(result.metrics.auc! > 0.75);
    assert.match(result.artifacts.model, /^gs:\/\/mlops-pipeline\/mlops\/runs\/churn-vertex\/.+\/model\.onnx$/);
    assert.equal(fake.createCalls - createsBefore, 1, 'exactly one CreateCustomJob reached the service');
  });

  it('cancels the CustomJob when the workflow is cancelled, and stops its trainer', async function () {
    const workflowId = uniqueName(this.test!.title);
    await withWorkers({ config, title: this.test!.title }, async (queues) => {
      const handle = await stack().client.workflow.start(trainingPipeline, {
        taskQueue: queues.pipeline,
        workflowId,
        // patience 0: early stopping would end the job before the cancellation reaches it.
        args: [input(queues, { epochs: 200, epoch_delay_ms: 300, patience: 0 })],
      });
      const { jobName = '' } = await waitForRunningJob(workflowId);
      const cancelsBefore = fake.cancelCalls;
      await handle.cancel();
      await assertWorkflowFailed(handle.result(), CancelledFailure);
      assert.equal(fake.cancelCalls - cancelsBefore, 1);
      const job = await fake.job(jobName).settled;
      assert.equal(job.state, 'JOB_STATE_CANCELLED');
      const pid = fake.job(jobName).pid!;
      assert.throws(() => process.kill(pid, 0), 'the trainer process is gone');
    });
  });
});
