import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/serving/app';
import { riskyCustomer, servedChurn } from '../support/served-model';

const predict = { method: 'POST' as const, url: '/v1/models/churn:predict', payload: { instances: [riskyCustomer] } };

describe('the model server in operation', function () {
  let app: FastifyInstance;

  before(async function () {
    const { store } = await servedChurn();
    app = await buildServer({ store, modelName: 'churn', alias: 'production' });
  });

  after(async () => {
    await app?.close();
  });

  it('honours a client request id, generates one otherwise, and returns it', async function () {
    const given = await app.inject({ ...predict, headers: { 'x-request-id': 'order-42' } });
    assert.equal(given.headers['x-request-id'], 'order-42');
    const generated = await app.inject(predict);
    assert.match(String(generated.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    const hostile = await app.inject({ ...predict, headers: { 'x-request-id': 'a b\u0001'.repeat(100) } });
    assert.match(String(hostile.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  it('exports Prometheus metrics by model, version and status, with batch sizes', async function () {
    await app.inject({ ...predict, payload: { instances: [riskyCustomer, riskyCustomer, riskyCustomer] } });
    await app.inject({ ...predict, payload: { instances: [{}] } });
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/plain/);
    const text = response.body;
    assert.match(
      text,
      /mlops_serve_requests_total\{model="churn",version="1",route="\/v1\/models\/:target",status="200"\} \d+/,
    );
    assert.match(
      text,
      /mlops_serve_requests_total\{model="churn",version="1",route="\/v1\/models\/:target",status="400"\} \d+/,
    );
    assert.match(text, /mlops_serve_request_seconds_bucket\{le="0\.005",model="churn",version="1",status="200"\} \d+/);
    assert.match(text, /mlops_serve_batch_instances_count\{model="churn"\} \d+/);
    assert.match(text, /mlops_serve_process_resident_memory_bytes \d+/);
    const stats = (await app.inject({ method: 'GET', url: '/v1/models/churn/stats' })).json<{
      versions: Record<string, { requests: number; rejected: number }>;
    }>();
    assert.ok(stats.versions['1']!.requests >= 2 && stats.versions['1']!.rejected >= 1, JSON.stringify(stats));
  });

  it('counts each prediction request once, by route and status, with its latency and its instances', async function () {
    const { store } = await servedChurn();
    const fresh = await buildServer({ store, modelName: 'churn', alias: 'production' });
    try {
      const vertexPath = '/v1/projects/p/locations/l/endpoints/churn:predict';
      for (const n of [1, 3, 64])
        assert.equal(
          (await fresh.inject({ ...predict, payload: { instances: Array(n).fill(riskyCustomer) } })).statusCode,
          200,
        );
      assert.equal((await fresh.inject({ ...predict, url: vertexPath })).statusCode, 200);
      assert.equal((await fresh.inject({ ...predict, payload: { instances: [{}] } })).statusCode, 400);
      assert.equal((await fresh.inject({ ...predict, payload: { instances: [] } })).statusCode, 400);
      // Refused before a version was chosen: counted for no version (they say nothing of one).
      const unversioned = [
        await fresh.inject({ ...predict, url: '/v1/models/other:predict' }),
        await fresh.inject({ ...predict, payload: '{"instances": [', headers: { 'content-type': 'application/json' } }),
        await fresh.inject({ ...predict, payload: 'x', headers: { 'content-type': 'text/plain' } }),
      ];
      assert.deepEqual(
        unversioned.map((r) => r.statusCode),
        [404, 400, 415],
      );
      const series = new Map(
        (await fresh.inject({ method: 'GET', url: '/metrics' })).body
          .split('\n')
          .filter((line) => line && !line.startsWith('#'))
          .map((line) => [line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1))]),
      );
      const at = (name: string) => {
        assert.ok(series.has(name), `no series ${name}`);
        return series.get(name);
      };
      const v1 = 'model="churn",version="1",route="/v1/models/:target"';
      assert.equal(at(`mlops_serve_requests_total{${v1},status="200"}`), 3);
      assert.equal(at(`mlops_serve_requests_total{${v1},status="400"}`), 2);
      const vertex = 'route="/v1/projects/:project/locations/:location/endpoints/:target"';
      assert.equal(at(`mlops_serve_requests_total{model="churn",version="1",${vertex},status="200"}`), 1);
      // Latency by version and status, every route summed: cumulative buckets that end at the count.
      const ok = 'model="churn",version="1",status="200"';
      assert.equal(at(`mlops_serve_request_seconds_count{${ok}}`), 4);
      assert.equal(at(`mlops_serve_request_seconds_bucket{le="+Inf",${ok}}`), 4);
      const buckets = [...series].filter(
        ([k]) => k.startsWith('mlops_serve_request_seconds_bucket') && k.endsWith(`${ok}}`),
      );
      assert.equal(buckets.length, 13);
      buckets.forEach(([, n], i) =>
        assert.ok(i === 0 || n >= buckets[i - 1]![1], `buckets not cumulative: ${buckets.join(' ')}`),
      );
      assert.ok(at(`mlops_serve_request_seconds_sum{${ok}}`)! > 0);
      assert.equal(at(`mlops_serve_request_seconds_count{model="churn",version="1",status="400"}`), 2);
      // Instances of every request routed to a version with a count within the limit (the `{}` one too, not the empty one).
      assert.equal(at('mlops_serve_batch_instances_count{model="churn"}'), 5);
      assert.equal(at('mlops_serve_batch_instances_sum{model="churn"}'), 70);
      assert.equal(at('mlops_serve_batch_instances_bucket{le="1",model="churn"}'), 3);
      assert.equal(at('mlops_serve_batch_instances_bucket{le="4",model="churn"}'), 4);
      assert.equal(at('mlops_serve_batch_instances_bucket{le="32",model="churn"}'), 4);
      assert.equal(at('mlops_serve_batch_instances_bucket{le="64",model="churn"}'), 5);
      const none = 'model="churn",version="none",route="/v1/models/:target"';
      for (const status of [404, 400, 415])
        assert.equal(at(`mlops_serve_requests_total{${none},status="${status}"}`), 1);
      const { requests, rejected } = fresh.serving.metrics.versionStats()['1']!;
      assert.deepEqual({ requests, rejected }, { requests: 6, rejected: 2 });
    } finally {
      await fresh.close();
    }
  });

  it('answers /healthz and /readyz, and names the routing on /readyz', async function () {
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json<{ routing: unknown }>().routing, { stable: 1 });
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v2/health/ready' })).json(), { ready: true });
  });

  it('requires a Bearer API key when keys are configured, except on the health probes', async function () {
    const { store } = await servedChurn();
    const keys = ['first-key-0123456789', 'second-key-0123456789'];
    const locked = await buildServer({ store, modelName: 'churn', alias: 'production', apiKeys: keys });
    try {
      const none = await locked.inject(predict);
      assert.equal(none.statusCode, 401);
      assert.equal(none.json<{ code: string }>().code, 'MLOPS_ERR_SERVE_UNAUTHORIZED');
      assert.equal(none.headers['www-authenticate'], 'Bearer');
      // A client without a key learns nothing of the model, not even the version serving.
      assert.equal(none.headers['x-model-version'], undefined);
      const elsewhere = await locked.inject({ method: 'GET', url: '/no/such/route' });
      assert.equal(elsewhere.statusCode, 401);
      assert.equal(elsewhere.headers['x-model-version'], undefined);
      const wrong = await locked.inject({ ...predict, headers: { authorization: 'Bearer first-key-012345678' } });
      assert.equal(wrong.statusCode, 401);
      assert.match(wrong.json<{ error: string }>().error, /not one of this server's keys/);
      const basic = await locked.inject({ ...predict, headers: { authorization: 'Basic Zm9vOmJhcg==' } });
      assert.equal(basic.statusCode, 401);
      for (const key of keys) {
        const ok = await locked.inject({ ...predict, headers: { authorization: `Bearer ${key}` } });
        assert.equal(ok.statusCode, 200, ok.body);
      }
      assert.equal((await locked.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
      for (const url of ['/healthz', '/readyz', '/v2/health/live', '/v2/health/ready'])
        assert.equal((await locked.inject({ method: 'GET', url })).statusCode, 200, url);
    } finally {
      await locked.close();
    }
  });

  it('serves the Vertex AI custom-container routes named by AIP_PREDICT_ROUTE and AIP_HEALTH_ROUTE', async function () {
    const { store } = await servedChurn();
    const vertex = await buildServer({
      store,
      modelName: 'churn',
      alias: 'production',
      vertex: { predictRoute: '/predict', healthRoute: '/health' },
    });
    try {
      assert.equal((await vertex.inject({ method: 'GET', url: '/health' })).statusCode, 200);
      const response = await vertex.inject({ ...predict, url: '/predict' });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json<{ predictions: { label: string }[] }>().predictions[0]!.label, 'true');
      const wrongMethod = await vertex.inject({ method: 'GET', url: '/predict' });
      assert.equal(wrongMethod.statusCode, 405, wrongMethod.body);
      assert.equal(wrongMethod.headers.allow, 'POST');
      assert.match(
        wrongMethod.json<{ error: string }>().error,
        /Method GET is not allowed on \/predict; it takes POST/,
      );
    } finally {
      await vertex.close();
    }
  });
});
