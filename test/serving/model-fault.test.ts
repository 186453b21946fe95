/**
 * A served version that loads but fails in onnxruntime on some requests: those answers are the server's fault (500,
 * counted in the version's `errors`), never a client's 4xx, so a canary failing this way is judged on its error rate.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createPipelineActivities } from '../../src/activities';
import { readJson } from '../../src/artifacts';
import type { FittedTransform } from '../../src/contracts/datasets';
import { writeDeployment } from '../../src/models/deployment-record';
import { resolveAlias } from '../../src/registry/model-registry';
import { buildServer } from '../../src/serving/app';
import { testDeps } from '../support/dependencies';
import { churnInstances } from '../support/monitored-model';
import { runPython } from '../support/python-clients';
import { servedChurn } from '../support/served-model';
import { tempDir } from '../support/stack';

describe('the model server answering for a model that fails at run time', function () {
  let app: FastifyInstance;
  let version: number;

  before(async function () {
    this.timeout(120_000);
    const { store } = await servedChurn();
    const base = await resolveAlias(store, 'churn', 'production');
    const transform = await readJson<FittedTransform>(store, base.transformUri);
    const file = path.join(tempDir('faulty-model'), 'model.onnx');
    await runPython('make-failing-onnx.py', [String(transform.outputColumns.length), '0', file]);
    const modelUri = store.uri('test-models', 'churn-faulty', 'model.onnx');
    await store.upload(file, modelUri);
    ({ version } = await createPipelineActivities(testDeps({ store })).registerModel({
      modelName: 'churn-faulty',
      modelUri,
      transformUri: base.transformUri,
      evaluationUri: base.evaluationUri,
      snapshotId: base.snapshotId,
      metrics: base.metrics,
      registrationKey: 'serving-test-faulty',
    }));
    await writeDeployment(store, 'churn-faulty', 'production', { stable: version });
    app = await buildServer({ store, modelName: 'churn-faulty', alias: 'production' });
  });

  after(async () => {
    await app?.close();
  });

  it('answers 500 MLOPS_ERR_SERVE_INTERNAL for the failing requests and counts them as errors of the version', async function () {
    const statuses: number[] = [];
    for (const instance of churnInstances({ rows: 60, seed: 5 })) {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/models/churn-faulty:predict',
        payload: { instances: [instance] },
      });
      statuses.push(response.statusCode);
      assert.equal(response.headers['x-model-version'], String(version));
      if (response.statusCode === 500) {
        assert.equal(response.json<{ code: string }>().code, 'MLOPS_ERR_SERVE_INTERNAL');
        assert.doesNotMatch(response.body, /onnx|Gather|file:\/\//i, 'no internals in the answer');
      } else {
        assert.equal(response.statusCode, 200, response.body);
      }
    }
    const failed = statuses.filter((s) => s === 500).length;
    assert.ok(failed > 0 && failed < statuses.length, `${failed} of ${statuses.length} failed`);
    const stats = (await app.inject({ method: 'GET', url: '/v1/models/churn-faulty/stats' })).json<{
      versions: Record<string, { requests: number; errors: number; rejected: number }>;
    }>();
    const counters = stats.versions[String(version)]!;
    assert.equal(counters.requests, 60);
    assert.equal(counters.errors, failed, 'every 500 is an error of the version');
    assert.equal(counters.rejected, 0, 'none counted as a client mistake');
  });
});
