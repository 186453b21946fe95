import assert from 'node:assert/strict';
import { BigQuery } from '@google-cloud/bigquery';
import type { RunningEmulator } from '../../src/dev/emulators';
import { buildServer } from '../../src/serving/app';
import { BigQueryPredictionSink } from '../../src/serving/bigquery-prediction-sink';
import { startTestBigQuery } from '../support/bigquery-emulator';
import { loyalCustomer, riskyCustomer, servedChurn } from '../support/served-model';

const project = 'serving-log';

describe('the prediction log in BigQuery (goccy/bigquery-emulator)', function () {
  this.timeout(180_000);
  let emulator: RunningEmulator | undefined;
  let client: BigQuery;

  before(async function () {
    this.timeout(30 * 60_000);
    emulator = await startTestBigQuery(`projects:\n  - id: ${project}\n    datasets: []\n`);
    client = new BigQuery({ projectId: project, apiEndpoint: emulator.url });
  });

  after(async () => {
    await emulator?.stop();
  });

  it('streams every prediction of a run into the table, created on first write, by the real client', async function () {
    const { store } = await servedChurn();
    const app = await buildServer({
      store,
      modelName: 'churn',
      alias: 'production',
      predictionLog: {
        flushRows: 4,
        flushMs: 60_000,
        sinks: [{ name: 'bigquery', sink: new BigQueryPredictionSink(client, 'serving_log', 'predictions') }],
      },
    });
    try {
      for (let i = 0; i < 10; i++) {
        const response = await app.inject({
          method: 'POST',
          url: '/v1/models/churn:predict',
          headers: { 'x-request-id': `bq-${i}` },
          payload: { instances: [i % 2 ? riskyCustomer : loyalCustomer] },
        });
        assert.equal(response.statusCode, 200);
      }
    } finally {
      await app.close();
    }
    const [rows] = await client.query(
      `SELECT request_id, model, version, instance, features, output FROM \`${project}.serving_log.predictions\` ORDER BY request_id`,
    );
    const logged = rows as { request_id: string; model: string; version: number; features: string; output: string }[];
    assert.deepEqual(
      logged.map((r) => r.request_id),
      Array.from({ length: 10 }, (_, i) => `bq-${i}`).sort(),
    );
    for (const row of logged) {
      assert.equal(row.model, 'churn');
      assert.equal(Number(row.version), 1);
      const i = Number(row.request_id.slice(3));
      assert.deepEqual(JSON.parse(row.features), i % 2 ? riskyCustomer : loyalCustomer);
      assert.equal((JSON.parse(row.output) as { label: string }).label, i % 2 ? 'true' : 'false');
    }
  });
});
