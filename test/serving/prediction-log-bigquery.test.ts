import assert from 'node:assert/strict';
import { BigQuery } from '@google-cloud/bigquery';
import type { RunningEmulator } from '../../src/dev/emulators';
import { buildServer } from '../../src/serving/app';
import { BigQueryPredictionSink } from '../../src/serving/bigquery-prediction-sink';
import { startTestBigQuery } from '../support/bigquery-emulator';
import { gate, startSlowBigQuery } from '../support/slow-bigquery';
import type { SlowBigQuery } from '../support/slow-bigquery';
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

  it('inserts a large batch in requests of 500 rows; the rows of a refused request count as dropped, the others as written', async function () {
    // The insert request of rows 1,000 to 1,233 is refused; the other two reach the emulator.
    const proxy = await startSlowBigQuery(emulator!.url, {
      refuse: ({ method, path, body }) =>
        method === 'POST' && path.endsWith('/insertAll') && firstInstance(body) === 1000,
    });
    const { metrics, stored } = await logOneRequest(proxy, 'large_batch', 1234);
    const statuses = proxy.calls.filter((c) => c.path.endsWith('/insertAll')).map((c) => c.status);
    assert.deepEqual(statuses.sort(), [200, 200, 400]);
    assert.match(metrics, /mlops_serve_prediction_log_written_rows_total\{sink="bigquery"\} 1000\b/);
    assert.match(metrics, /mlops_serve_prediction_log_dropped_rows_total\{reason="sink",sink="bigquery"\} 234\b/);
    assert.deepEqual(
      stored,
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });

  it('sends four insert requests at a time, and every row of the batch lands', async function () {
    // Inserts are held until four are in flight at once.
    const fourAtOnce = gate(4);
    const proxy = await startSlowBigQuery(emulator!.url, { insert: fourAtOnce });
    const { metrics, stored } = await logOneRequest(proxy, 'parallel', 2100, async () => {
      await fourAtOnce.reached;
      fourAtOnce.open();
    });
    assert.equal(proxy.calls.filter((c) => c.path.endsWith('/insertAll') && c.status === 200).length, 5);
    assert.match(metrics, /mlops_serve_prediction_log_written_rows_total\{sink="bigquery"\} 2100\b/);
    assert.deepEqual(
      stored,
      Array.from({ length: 2100 }, (_, i) => i),
    );
  });

  /**
   * One request of `count` instances (instance i with tenure i) to a server whose log streams into `table` through
   * `proxy`; `whileWriting` runs while the log writes. Closes the server and the proxy; returns `/metrics` after the
   * write and the instances the table holds.
   */
  async function logOneRequest(proxy: SlowBigQuery, table: string, count: number, whileWriting = async () => {}) {
    const { store } = await servedChurn();
    const viaProxy = new BigQuery({ projectId: project, apiEndpoint: proxy.url });
    const app = await buildServer({
      store,
      modelName: 'churn',
      alias: 'production',
      predictionLog: {
        flushMs: 60_000,
        sinks: [{ name: 'bigquery', sink: new BigQueryPredictionSink(viaProxy, 'serving_log', table) }],
      },
    });
    let metrics = '';
    try {
      const instances = Array.from({ length: count }, (_, i) => ({ ...riskyCustomer, tenure_months: i }));
      const response = await app.inject({
        method: 'POST',
        url: '/v1/models/churn:predict',
        headers: { 'x-request-id': table },
        payload: { instances },
      });
      assert.equal(response.statusCode, 200);
      const written = app.serving.log!.flush();
      await whileWriting();
      await written;
      metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    } finally {
      await app.close();
      await proxy.close();
    }
    const [rows] = await client.query(`SELECT instance FROM \`${project}.serving_log.${table}\` ORDER BY instance`);
    return { metrics, stored: (rows as { instance: number }[]).map((r) => Number(r.instance)) };
  }
});

/** The `instance` of the first row of a streaming insert request's body. */
function firstInstance(body: string): number {
  return (JSON.parse(body) as { rows: { json: { instance: number } }[] }).rows[0]!.json.instance;
}
