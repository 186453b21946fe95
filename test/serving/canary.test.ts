import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { writeDeployment } from '../../src/models/deployment-record';
import { resolveAlias } from '../../src/registry/model-registry';
import { buildServer } from '../../src/serving/app';
import { riskyCustomer, servedChurn } from '../support/served-model';

const predict = { method: 'POST' as const, url: '/v1/models/churn:predict', payload: { instances: [riskyCustomer] } };

describe('the model server splitting traffic with a canary', function () {
  let app: FastifyInstance;
  let stable: number;
  let canary: number;

  before(async function () {
    this.timeout(120_000);
    const served = await servedChurn();
    stable = (await resolveAlias(served.store, 'churn', 'production')).version;
    canary = await served.registerVersion('serving/canary', 4);
    await writeDeployment(served.store, 'churn', 'canary-test', { stable, canary: { version: canary, weight: 0.2 } });
    app = await buildServer({ store: served.store, modelName: 'churn', alias: 'canary-test' });
  });

  after(async () => {
    await app?.close();
  });

  it('sends a weight share of 10,000 requests to the canary, inside the 99% binomial interval', async function () {
    this.timeout(120_000);
    const n = 10_000;
    const p = 0.2;
    let toCanary = 0;
    for (let i = 0; i < n; i++) {
      const response = await app.inject({ ...predict, headers: { 'x-request-id': `split-${i}` } });
      assert.equal(response.statusCode, 200);
      const version = response.headers['x-model-version'];
      assert.equal(response.json<{ modelVersionId: string }>().modelVersionId, version, 'body and header agree');
      if (version === String(canary)) toCanary++;
      else assert.equal(version, String(stable));
    }
    const sd = Math.sqrt(n * p * (1 - p));
    const z99 = 2.5758;
    assert.ok(
      Math.abs(toCanary - n * p) <= z99 * sd,
      `${toCanary} of ${n} went to the canary; expected ${n * p} ± ${(z99 * sd).toFixed(0)}`,
    );
  });

  it('keeps a request id on the same side of the split', async function () {
    for (const id of ['customer-7', 'customer-8', 'customer-9', 'order-1234']) {
      const versions = new Set<string>();
      for (let k = 0; k < 20; k++)
        versions.add(
          String((await app.inject({ ...predict, headers: { 'x-request-id': id } })).headers['x-model-version']),
        );
      assert.equal(versions.size, 1, `${id} was answered by ${[...versions].join(' and ')}`);
    }
  });

  it('names the answering version in OIP v2 responses and serves an explicit version path', async function () {
    const inputs = Object.entries(riskyCustomer).map(([name, v]) => ({
      name,
      shape: [1],
      datatype: typeof v === 'number' ? 'FP64' : typeof v === 'boolean' ? 'BOOL' : 'BYTES',
      data: [v],
    }));
    const response = await app.inject({
      method: 'POST',
      url: `/v2/models/churn/versions/${canary}/infer`,
      payload: { inputs },
    });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.json<{ model_version: string }>().model_version, String(canary));
    assert.equal(response.headers['x-model-version'], String(canary));
  });

  it('gives the deploy step per-version counters of requests, errors and latency', async function () {
    await app.inject({ ...predict, payload: { instances: [{}] }, headers: { 'x-request-id': 'split-1' } });
    const stats = (await app.inject({ method: 'GET', url: '/v1/models/churn/stats' })).json<{
      routing: { stable: number; canary: { version: number; weight: number } };
      versions: Record<string, { requests: number; errors: number; rejected: number; latencyMsSum: number }>;
    }>();
    assert.deepEqual(stats.routing, { stable, canary: { version: canary, weight: 0.2 } });
    const s = stats.versions[String(stable)]!;
    const c = stats.versions[String(canary)]!;
    assert.ok(s.requests + c.requests >= 10_000 + 80);
    assert.ok(c.requests > 1000 && s.requests > 7000);
    assert.equal(s.errors + c.errors, 0);
    assert.equal(s.rejected + c.rejected, 1);
    assert.ok(s.latencyMsSum > 0 && c.latencyMsSum > 0);
    assert.deepEqual(
      app.serving.metrics.versionStats()[String(canary)],
      c,
      'the same counters are readable in process',
    );
  });

  it('promotes the canary when the record drops it, without a failed request', async function () {
    const served = await servedChurn();
    await writeDeployment(served.store, 'churn', 'canary-test', { stable: canary });
    assert.equal(await app.serving.follower.sync(), 'swapped');
    for (let i = 0; i < 50; i++) {
      const response = await app.inject({ ...predict, headers: { 'x-request-id': `after-${i}` } });
      assert.equal(response.headers['x-model-version'], String(canary));
    }
    assert.equal(app.serving.slot.sessions, 1);
  });
});
