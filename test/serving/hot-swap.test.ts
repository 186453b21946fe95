import assert from 'node:assert/strict';
import fs from 'node:fs';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildServer } from '../../src/serving/app';
import { loadVersion } from '../../src/serving/load-version';
import { ModelSlot } from '../../src/serving/model-slot';
import { writeDeployment } from '../../src/models/deployment-record';
import { readVersion, resolveAlias } from '../../src/registry/model-registry';
import { riskyCustomer, servedChurn } from '../support/served-model';
import type { ServedChurn } from '../support/served-model';

/** A full garbage collection, so RSS compares live memory rather than garbage not yet collected. */
function gc(): void {
  v8.setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

const predict = { method: 'POST' as const, url: '/v1/models/churn:predict', payload: { instances: [riskyCustomer] } };

interface Readiness {
  ready: boolean;
  version: number;
  routing: { stable: number; canary?: { version: number; weight: number } };
  lastSwapFailure?: { message: string; attempts: number; nextRetryAt: string; record: { stable: number } };
}

const readyz = async (address: string) => (await fetch(`${address}/readyz`)).json() as Promise<Readiness>;
const scrape = async (address: string) => (await fetch(`${address}/metrics`)).text();

/** Asks `probe` until it returns something, for at most `ms`; the server's state is polled, no fixed wait. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('the model server following deployments (hot swap)', function () {
  let served: ServedChurn;
  let v1: number;
  let v2: number;

  before(async function () {
    this.timeout(120_000);
    served = await servedChurn();
    v1 = (await resolveAlias(served.store, 'churn', 'production')).version;
    v2 = await served.registerVersion('serving/swap-v2', 3);
  });

  it('lets a request finish on the session it started on, and releases that session once it drains', async function () {
    const slot = new ModelSlot('churn');
    const first = await loadVersion(served.store, await resolveAlias(served.store, 'churn', 'production'));
    await served.deploy(v2, 'drain-test');
    const second = await loadVersion(served.store, await resolveAlias(served.store, 'churn', 'drain-test'));
    slot.route({ stable: first });
    const answer = await slot.use(first, async (loaded) => {
      slot.route({ stable: second });
      assert.equal(slot.current, second, 'new requests go to the new version at once');
      assert.equal(slot.sessions, 2, 'the old session is still held while a request uses it');
      return loaded.predictor.predict([riskyCustomer]);
    });
    assert.equal(answer.length, 1);
    await first.predictor.predict([riskyCustomer]).then(
      () => assert.fail('the drained session should have been released'),
      () => undefined,
    );
    assert.equal(slot.sessions, 1);
    await slot.close();
  });

  it('swaps to a newly deployed version, and keeps serving the old one when the new one fails to load', async function () {
    this.timeout(120_000);
    await served.deploy(v1, 'swap-test');
    const app = await buildServer({ store: served.store, modelName: 'churn', alias: 'swap-test' });
    try {
      await served.deploy(v2, 'swap-test');
      assert.equal(await app.serving.follower.sync(), 'swapped');
      const after = await app.inject(predict);
      assert.equal(after.headers['x-model-version'], String(v2));

      const broken = await served.registerVersion('serving/swap-broken', 2);
      const record = (await served.store.list(served.store.uri('registry', 'churn', 'versions'))).find((u) =>
        u.endsWith(`${String(broken).padStart(6, '0')}/version.json`),
      )!;
      const { modelUri } = JSON.parse((await served.store.read(record)).toString()) as { modelUri: string };
      // The deploy step loads a model before it moves the alias; the file goes bad afterwards (a partial copy, a bad disk).
      await served.deploy(broken, 'swap-test');
      await served.store.write(modelUri, 'not an onnx model');
      assert.equal(await app.serving.follower.sync(), 'failed');
      const still = await app.inject(predict);
      assert.equal(still.statusCode, 200);
      assert.equal(still.headers['x-model-version'], String(v2));
      const ready = (await app.inject({ method: 'GET', url: '/readyz' })).json<{
        ready: boolean;
        version: number;
        lastSwapFailure?: { message: string; record: { stable: number } };
      }>();
      assert.equal(ready.ready, true);
      assert.equal(ready.version, v2);
      assert.equal(ready.lastSwapFailure?.record.stable, broken);
      assert.match(ready.lastSwapFailure.message, /MLOPS_ERR_MODEL_INVALID/);
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /mlops_serve_swaps_total\{model="churn",outcome="failed"\} 1/);

      await served.deploy(v1, 'swap-test');
      assert.equal(await app.serving.follower.sync(), 'swapped');
      assert.equal((await app.inject(predict)).headers['x-model-version'], String(v1));
      assert.equal(
        (await app.inject({ method: 'GET', url: '/readyz' })).json<{ lastSwapFailure?: unknown }>().lastSwapFailure,
        undefined,
      );
    } finally {
      await app.close();
    }
  });

  it('follows the deployment record by polling', async function () {
    this.timeout(30_000);
    await served.deploy(v1, 'poll-test');
    const app = await buildServer({ store: served.store, modelName: 'churn', alias: 'poll-test', pollMs: 50 });
    try {
      await served.deploy(v2, 'poll-test');
      const deadline = Date.now() + 20_000;
      while (app.serving.slot.current?.version !== v2 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 25));
      assert.equal(app.serving.slot.current?.version, v2);
    } finally {
      await app.close();
    }
  });

  it('retries a canary whose files are missing on later polls, and serves it once they are written', async function () {
    this.timeout(120_000);
    const canary = await served.registerVersion('serving/canary-retry', 6);
    const file = served.store.localPath((await readVersion(served.store, 'churn', canary)).modelUri);
    const aside = `${file}.aside`;
    // Not uploaded yet (or the store briefly down): the record names a canary whose model file is not there.
    fs.renameSync(file, aside);
    await writeDeployment(served.store, 'churn', 'retry-test', {
      stable: v1,
      canary: { version: canary, weight: 0.5 },
    });
    const app = await buildServer({ store: served.store, modelName: 'churn', alias: 'retry-test', pollMs: 50 });
    try {
      const address = await app.listen({ host: '127.0.0.1', port: 0 });
      const failing = await readyz(address);
      assert.equal(failing.ready, true);
      assert.deepEqual(failing.routing, { stable: v1 });
      assert.match(failing.lastSwapFailure?.message ?? '', new RegExp(`canary v${canary} could not be loaded`));
      assert.match(await scrape(address), /mlops_serve_deployment_failing\{model="churn"\} 1\n/);
      for (let i = 0; i < 20; i++) {
        const response = await fetch(`${address}${predict.url}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': `retry-${i}` },
          body: JSON.stringify(predict.payload),
        });
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('x-model-version'), String(v1));
      }
      // The same record is loaded again while it fails, and the failure stays shown.
      const retried = await eventually('a second attempt', async () => {
        const failure = (await readyz(address)).lastSwapFailure;
        return failure && failure.attempts >= 2 ? failure : undefined;
      });
      assert.match(retried.message, new RegExp(`canary v${canary} could not be loaded`));
      assert.ok(Date.parse(retried.nextRetryAt) > Date.parse(failing.lastSwapFailure!.nextRetryAt));

      fs.renameSync(aside, file);
      const loaded = await eventually('the canary served', async () => {
        const now = await readyz(address);
        return now.routing.canary ? now : undefined;
      });
      assert.deepEqual(loaded.routing, { stable: v1, canary: { version: canary, weight: 0.5 } });
      assert.equal(loaded.lastSwapFailure, undefined);
      assert.match(await scrape(address), /mlops_serve_deployment_failing\{model="churn"\} 0\n/);
      const versions = new Set<string>();
      for (let i = 0; i < 40; i++)
        versions.add(
          String(
            (await app.inject({ ...predict, headers: { 'x-request-id': `after-${i}` } })).headers['x-model-version'],
          ),
        );
      assert.deepEqual([...versions].sort(), [String(v1), String(canary)].sort());
    } finally {
      if (fs.existsSync(aside)) fs.renameSync(aside, file);
      await app.close();
    }
  });

  it('names a transform.json that is not JSON or lacks fields, and what is wrong, on /readyz and in the log', async function () {
    this.timeout(120_000);
    const version = await served.registerVersion('serving/swap-transform', 5);
    const { transformUri } = await readVersion(served.store, 'churn', version);
    const intact = await served.store.read(transformUri);
    await writeDeployment(served.store, 'churn', 'transform-test', { stable: v1 });
    const logLines: string[] = [];
    const app = await buildServer({
      store: served.store,
      modelName: 'churn',
      alias: 'transform-test',
      logger: { level: 'info', stream: { write: (line: string) => void logLines.push(line) } },
    });
    try {
      const address = await app.listen({ host: '127.0.0.1', port: 0 });
      await served.store.write(transformUri, '{"version": 2, "task": "classification",\n');
      await writeDeployment(served.store, 'churn', 'transform-test', { stable: version });
      assert.equal(await app.serving.follower.sync(), 'failed');
      const notJson = await readyz(address);
      assert.equal(notJson.version, v1);
      const prefix = `MLOPS_ERR_MODEL_TRANSFORM_INVALID: Fitted transform "${transformUri}" cannot be used: `;
      assert.ok(
        notJson.lastSwapFailure?.message.startsWith(`${prefix}not valid JSON (`),
        notJson.lastSwapFailure?.message,
      );
      const logged = logLines.filter((line) => line.includes('deployment change not applied'));
      assert.equal(logged.length, 1);
      assert.ok(logged[0]!.includes(transformUri) && logged[0]!.includes('not valid JSON'), logged[0]);

      const transform = JSON.parse(intact.toString('utf8')) as { outputColumns?: unknown; features: object[] };
      const categorical = transform.features.findIndex((f) => (f as { kind: string }).kind === 'categorical');
      delete transform.outputColumns;
      transform.features[categorical] = { ...transform.features[categorical], categories: 'a,b' };
      await served.store.write(transformUri, JSON.stringify(transform));
      await writeDeployment(served.store, 'churn', 'transform-test', { stable: v1, canary: { version, weight: 0.3 } });
      assert.equal(await app.serving.follower.sync(), 'failed');
      const shape = (await readyz(address)).lastSwapFailure?.message ?? '';
      assert.ok(shape.includes(`so v${v1} answers every request: ${prefix}`), shape);
      assert.ok(shape.includes('"outputColumns" must be an array of strings'), shape);
      assert.ok(shape.includes(`"features[${categorical}].categories" must be an array of strings`), shape);
      assert.ok(logLines.some((line) => line.includes(transformUri) && line.includes('outputColumns')));
    } finally {
      await served.store.write(transformUri, intact);
      await app.close();
    }
  });

  it('survives 100 swaps under continuous load with 0 failed requests and bounded memory', async function () {
    this.timeout(300_000);
    await served.deploy(v1, 'soak-test');
    const app = await buildServer({ store: served.store, modelName: 'churn', alias: 'soak-test' });
    const failures: string[] = [];
    const seen = new Set<string>();
    let answered = 0;
    let swapping = true;
    const load = async () => {
      while (swapping) {
        const response = await app.inject(predict);
        answered++;
        if (response.statusCode !== 200) failures.push(`${response.statusCode} ${response.body.slice(0, 200)}`);
        seen.add(String(response.headers['x-model-version']));
      }
    };
    const swap = async (i: number) => {
      await served.deploy(i % 2 === 0 ? v2 : v1, 'soak-test');
      assert.equal(await app.serving.follower.sync(), 'swapped');
    };
    try {
      const loaders = [load(), load()];
      // Warm-up (20 swaps and 8,000 requests): heap and allocator pools reach their working size first.
      let i = 0;
      while (i < 20 || answered < 8000) await swap(i++);
      gc();
      const before = process.memoryUsage().rss;
      const start = answered;
      for (const end = i + 100; i < end;) await swap(i++);
      gc();
      const growth = process.memoryUsage().rss - before;

      swapping = false;
      await Promise.all(loaders);
      assert.deepEqual(failures, []);
      assert.ok(answered > 100, `only ${answered} requests ran beside the swaps`);
      assert.deepEqual([...seen].sort(), [String(v1), String(v2)].sort());
      assert.ok(app.serving.slot.sessions <= 2, `${app.serving.slot.sessions} sessions held after the swaps`);
      // Bound: 128 MiB over 100 swaps. Measured on 2 shared cores: 18–90 MiB, not growing with more swaps (a further
      // 100 left RSS level or lower), and 150 swaps without concurrent load grew it 3 MiB: allocator noise, no leak
      // per session for this model. A leak of onnxruntime#25325's size (~67 MB per release) would fail at once.
      console.log(
        `      RSS growth over 100 swaps: ${(growth / 2 ** 20).toFixed(1)} MiB, ${answered - start} requests`,
      );
      assert.ok(growth < 128 * 2 ** 20, `RSS grew ${(growth / 2 ** 20).toFixed(1)} MiB over 100 swaps`);
    } finally {
      swapping = false;
      await app.close();
    }
  });
});
