import assert from 'node:assert/strict';
import { helpers, v1 } from '@google-cloud/aiplatform';
import type { FastifyInstance } from 'fastify';
import { OAuth2Client } from 'google-auth-library';
import { buildServer } from '../../src/serving/app';
import { runPython, servingClientsPython } from '../support/python-clients';
import { loyalCustomer, riskyCustomer, servedChurn } from '../support/served-model';

interface ClassPrediction {
  label: string;
  probabilities: Record<string, number>;
}

describe('the model server driven by real clients nobody here wrote', function () {
  let app: FastifyInstance;
  let address: string;
  let expected: ClassPrediction[];

  before(async function () {
    this.timeout(600_000);
    servingClientsPython();
    const { store } = await servedChurn();
    app = await buildServer({ store, modelName: 'churn', alias: 'production' });
    address = await app.listen({ host: '127.0.0.1', port: 0 });
    const direct = await app.inject({
      method: 'POST',
      url: '/v1/models/churn:predict',
      payload: { instances: [riskyCustomer, loyalCustomer] },
    });
    expected = direct.json<{ predictions: ClassPrediction[] }>().predictions;
  });

  after(async () => {
    await app?.close();
  });

  it("answers Google's PredictionServiceClient (REST transport) on the Vertex AI endpoint path", async function () {
    const authClient = new OAuth2Client();
    authClient.setCredentials({ access_token: 'local', expiry_date: Date.now() + 3_600_000 });
    const client = new v1.PredictionServiceClient({
      fallback: true,
      protocol: 'http',
      apiEndpoint: '127.0.0.1',
      port: Number(new URL(address).port),
      authClient,
    } as unknown as ConstructorParameters<typeof v1.PredictionServiceClient>[0]);
    try {
      const [response] = await client.predict({
        endpoint: 'projects/local/locations/us-central1/endpoints/churn',
        instances: [riskyCustomer, loyalCustomer].map((i) => helpers.toValue(i)!),
      });
      assert.deepEqual(
        response.predictions!.map((p) => helpers.fromValue(p as Parameters<typeof helpers.fromValue>[0])),
        expected,
      );
      assert.deepEqual([response.model, response.deployedModelId, response.modelVersionId], ['churn', '1', '1']);
      await assert.rejects(
        client.predict({
          endpoint: 'projects/local/locations/us-central1/endpoints/churn',
          instances: [helpers.toValue({ ...riskyCustomer, tenure_months: 'ten' })!],
        }),
        (err: Error & { code?: number; status?: number }) => {
          assert.match(err.message, /tenure_months\\?" must be a finite number/);
          assert.match(err.message, /INVALID_ARGUMENT/);
          return true;
        },
      );
    } finally {
      await client.close();
    }
  });

  it("answers Triton's tritonclient[http] in binary and in JSON mode through the Open Inference Protocol v2", async function () {
    this.timeout(60_000);
    const out = JSON.parse(
      await runPython('triton-client.py', [
        address.replace('http://', ''),
        'churn',
        JSON.stringify([riskyCustomer, loyalCustomer]),
      ]),
    ) as {
      live: boolean;
      ready: boolean;
      model_ready: boolean;
      metadata: { inputs: { name: string }[] };
      binary: { labels: string[]; probabilities: number[][]; response: { outputs: { parameters?: object }[] } };
      json: { labels: string[]; probabilities: number[][]; response: { id: string; outputs: { data?: unknown }[] } };
      bad: { status: string; message: string };
    };
    assert.deepEqual([out.live, out.ready, out.model_ready], [true, true, true]);
    assert.deepEqual(
      out.metadata.inputs.map((i) => i.name),
      Object.keys(riskyCustomer),
    );
    const want = expected.map((p) => [p.probabilities.false!, p.probabilities.true!]);
    for (const mode of [out.binary, out.json]) {
      assert.deepEqual(
        mode.labels,
        expected.map((p) => p.label),
      );
      assert.deepEqual(mode.probabilities, want);
    }
    assert.ok(out.binary.response.outputs.every((o) => o.parameters && 'binary_data_size' in o.parameters));
    assert.ok(out.json.response.outputs.every((o) => Array.isArray(o.data)));
    assert.equal(out.json.response.id, 'triton-1');
    assert.equal(out.bad.status, '400');
    assert.match(out.bad.message, /row 0: "tenure_months" must be a finite number or null, got NaN/);
  });
});
