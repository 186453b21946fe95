import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createControllerActivities } from '../../src/activities/controller';
import { judgeCanary } from '../../src/contracts/canary-verdict';
import type { VersionCounters } from '../../src/contracts/controller';
import { canaryThresholdsSchema } from '../../src/contracts/controller';
import { isMlopsError } from '../../src/errors';
import { writeDeployment } from '../../src/models/deployment-record';
import { readAlias } from '../../src/registry/model-registry';
import { buildServer } from '../../src/serving/app';
import type { VersionStats } from '../../src/serving/metrics';
import type { ServedChurn } from '../support/served-model';
import { loyalCustomer, riskyCustomer, servedChurn } from '../support/served-model';

const apiKey = 'stats-test-key-0123456789';

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

/** A URL on which nothing listens: a port that was just free. */
async function closedUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

async function send(base: string, count: number, prefix: string, key?: string): Promise<void> {
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${base}/v1/models/churn:predict`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-request-id': `${prefix}-${i}`,
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
      body: JSON.stringify({ instances: [i % 2 ? riskyCustomer : loyalCustomer] }),
    });
    assert.equal(response.status, 200, await response.text());
  }
}

function sum(...stats: Record<string, VersionStats>[]): Record<string, VersionCounters> {
  const out: Record<string, VersionCounters> = {};
  for (const s of stats)
    for (const [v, c] of Object.entries(s)) {
      const t = (out[v] ??= { requests: 0, errors: 0, rejected: 0, latencyMsSum: 0 });
      t.requests += c.requests;
      t.errors += c.errors;
      t.rejected += c.rejected;
      t.latencyMsSum += c.latencyMsSum;
    }
  return out;
}

describe('sampling the model servers per-version counters', function () {
  let served: ServedChurn;
  let stable: number;
  let canary: number;
  let open: FastifyInstance;
  let keyed: FastifyInstance;
  let openUrl: string;
  let keyedUrl: string;
  const helpers: http.Server[] = [];

  before(async function () {
    this.timeout(180_000);
    served = await servedChurn();
    stable = (await readAlias(served.store, 'churn', 'production'))!.version;
    canary = await served.registerVersion('stats/canary', 3);
    await writeDeployment(served.store, 'churn', 'stats-test', { stable, canary: { version: canary, weight: 0.3 } });
    open = await buildServer({ store: served.store, modelName: 'churn', alias: 'stats-test' });
    keyed = await buildServer({ store: served.store, modelName: 'churn', alias: 'stats-test', apiKeys: [apiKey] });
    openUrl = await listen(open);
    keyedUrl = await listen(keyed);
  });

  after(async () => {
    await open?.close();
    await keyed?.close();
    await Promise.all(helpers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('sums each version over the servers that answer and lists the one that does not', async function () {
    const { sampleServingStats } = createControllerActivities({
      store: served.store,
      duckDbThreads: 1,
      serveApiKey: apiKey,
    });
    const down = await closedUrl();
    const servers = [openUrl, `${keyedUrl}/`, down];
    const before = await sampleServingStats({ modelName: 'churn', servers });
    await send(openUrl, 60, 'open');
    await send(keyedUrl, 40, 'keyed', apiKey);
    const refused = await fetch(`${openUrl}/v1/models/churn:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [{ tenure_months: 'many' }] }),
    });
    assert.equal(refused.status, 400);
    const after = await sampleServingStats({ modelName: 'churn', servers });
    assert.deepEqual(after.unreachable, [down]);
    assert.ok(!Number.isNaN(Date.parse(after.takenAt)));
    const expected = sum(open.serving.metrics.versionStats(), keyed.serving.metrics.versionStats());
    assert.deepEqual(Object.keys(after.versions).sort(), Object.keys(expected).sort());
    for (const [version, counters] of Object.entries(expected)) {
      const got = after.versions[version]!;
      assert.equal(got.requests, counters.requests);
      assert.equal(got.errors, counters.errors);
      assert.equal(got.rejected, counters.rejected);
      assert.ok(Math.abs(got.latencyMsSum - counters.latencyMsSum) < 1e-6);
    }
    const total = Object.values(after.versions).reduce((n, c) => n + c.requests, 0);
    const totalBefore = Object.values(before.versions).reduce((n, c) => n + c.requests, 0);
    assert.equal(total - totalBefore, 101);
    assert.equal(
      Object.values(after.versions).reduce((n, c) => n + c.rejected, 0),
      1,
    );
    assert.ok(after.versions[String(canary)]!.requests > 0 && after.versions[String(stable)]!.requests > 0);

    const verdict = judgeCanary(
      before,
      after,
      stable,
      canary,
      canaryThresholdsSchema.parse({ minRequests: 5, maxLatencyRatio: 1000 }),
    );
    assert.equal(
      verdict.canary.requests + verdict.stable.requests,
      101,
      'the verdict counts the traffic between the samples',
    );
    // Every check passed but one: a server did not answer at the end of the bake.
    assert.equal(verdict.decision, 'rollback');
    assert.deepEqual(verdict.reasons, [
      `1 server(s) did not answer at the end of the bake (${down}) (at the bake's start ${down} did not): the canary is not judged on part of the fleet; bring them back, or set the servers the controller samples (npm run models -- servers).`,
    ]);
    const routing = { stable, canary: { version: canary, weight: 0.3 } };
    assert.deepEqual(after.routing, { [openUrl]: routing, [`${keyedUrl}/`]: routing });
  });

  it('starts a server whose canary cannot be loaded on the stable version alone, and its stats roll the canary back', async function () {
    this.timeout(60_000);
    const broken = await served.registerVersion('stats/broken-canary', 2);
    const record = (await served.store.list(served.store.uri('registry', 'churn', 'versions'))).find((u) =>
      u.endsWith(`${String(broken).padStart(6, '0')}/version.json`),
    )!;
    const { modelUri } = JSON.parse((await served.store.read(record)).toString()) as { modelUri: string };
    await served.store.write(modelUri, 'not an onnx model');
    await writeDeployment(served.store, 'churn', 'broken-canary', { stable, canary: { version: broken, weight: 0.5 } });
    const app = await buildServer({ store: served.store, modelName: 'churn', alias: 'broken-canary' });
    try {
      const url = await listen(app);
      const ready = (await app.inject({ method: 'GET', url: '/readyz' })).json<{
        ready: boolean;
        routing: { stable: number; canary?: unknown };
        lastSwapFailure?: { message: string };
      }>();
      assert.equal(ready.ready, true);
      assert.deepEqual(ready.routing, { stable });
      assert.match(
        ready.lastSwapFailure!.message,
        new RegExp(
          `^canary v${broken} could not be loaded, so v${stable} answers every request: MLOPS_ERR_MODEL_INVALID`,
        ),
      );
      const { sampleServingStats } = createControllerActivities({ store: served.store, duckDbThreads: 1 });
      const before = await sampleServingStats({ modelName: 'churn', servers: [url] });
      await send(url, 30, 'broken-canary');
      const after = await sampleServingStats({ modelName: 'churn', servers: [url] });
      assert.deepEqual(after.routing, { [url]: { stable } });
      const verdict = judgeCanary(before, after, stable, broken, canaryThresholdsSchema.parse({ minRequests: 1 }));
      assert.equal(verdict.decision, 'rollback');
      assert.match(verdict.reasons.join(' '), /Not enough traffic: the canary \(version \d+\) answered 0 requests/);
      // With traffic to judge, the server that does not serve it is named.
      const judged = judgeCanary(
        before,
        {
          ...after,
          versions: { ...after.versions, [String(broken)]: { requests: 50, errors: 0, rejected: 0, latencyMsSum: 50 } },
        },
        stable,
        broken,
        canaryThresholdsSchema.parse({ minRequests: 1, maxLatencyRatio: 1000 }),
      );
      assert.deepEqual(judged.reasons, [
        `1 server(s) did not serve canary v${broken} at the end of the bake (${url}): it could not be loaded there (the server's /readyz says why), so those servers' clients never reached it.`,
      ]);
    } finally {
      await app.close();
    }
  });

  it('fails retryably when no server answers, naming each one and why', async function () {
    const silent = http.createServer(() => {
      // Accepts and never answers.
    });
    const garbage = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('hello'));
    helpers.push(silent, garbage);
    await Promise.all([silent, garbage].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
    const urlOf = (s: http.Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    const down = await closedUrl();
    const { sampleServingStats } = createControllerActivities({
      store: served.store,
      duckDbThreads: 1,
      httpTimeoutMs: 300,
    });
    const err = await sampleServingStats({ modelName: 'churn', servers: [down, urlOf(silent), urlOf(garbage)] }).catch(
      (e: unknown) => e,
    );
    assert.ok(isMlopsError(err, 'MLOPS_ERR_ROLLOUT_STATS_UNAVAILABLE'), String(err));
    assert.equal(err.nonRetryable, false);
    assert.match(err.message, new RegExp(`${down}: could not be reached \\(ECONNREFUSED\\)`));
    assert.match(err.message, new RegExp(`${urlOf(silent)}: no answer within 300 ms`));
    assert.match(err.message, new RegExp(`${urlOf(garbage)}: answered with something other than a stats document`));
    const oneAnswers = await sampleServingStats({ modelName: 'churn', servers: [urlOf(garbage), openUrl] });
    assert.deepEqual(oneAnswers.unreachable, [urlOf(garbage)]);
  });

  it('fails non-retryably when every server refuses the request for want of the API key', async function () {
    const noKey = createControllerActivities({ store: served.store, duckDbThreads: 1 });
    const err = await noKey.sampleServingStats({ modelName: 'churn', servers: [keyedUrl] }).catch((e: unknown) => e);
    assert.ok(isMlopsError(err, 'MLOPS_ERR_ROLLOUT_STATS_REFUSED'), String(err));
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /answered HTTP 401/);
    assert.match(err.message, /MLOPS_SERVE_API_KEYS/);
    const wrongModel = await noKey
      .sampleServingStats({ modelName: 'other', servers: [openUrl] })
      .catch((e: unknown) => e);
    assert.ok(isMlopsError(wrongModel, 'MLOPS_ERR_ROLLOUT_STATS_REFUSED'), String(wrongModel));
    assert.match(wrongModel.message, /answered HTTP 404/);
  });

  it('answers an empty sample when the controller lists no servers', async function () {
    const { sampleServingStats } = createControllerActivities({ store: served.store, duckDbThreads: 1 });
    const sample = await sampleServingStats({ modelName: 'churn', servers: [] });
    assert.deepEqual({ ...sample, takenAt: 'x' }, { takenAt: 'x', versions: {}, unreachable: [], routing: {} });
  });
});
