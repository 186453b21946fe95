import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { LocalArtifactStore } from '../../src/artifacts';
import { readJson } from '../../src/artifacts';
import type { FittedTransform } from '../../src/contracts/datasets';
import { buildServer } from '../../src/serving/app';
import { transformSelectList } from '../../src/preprocessing/transform-sql';
import { transformInstance } from '../../src/models/transform-instance';
import { ident, literal, withDuckDb } from '../../src/warehouse/duckdb';
import { exampleDataset } from '../support/stack';
import { prepareChurn } from '../support/prepared-data';
import { loyalCustomer, riskyCustomer, servedChurn } from '../support/served-model';

describe('the model server', function () {
  let store: LocalArtifactStore;
  let app: FastifyInstance;
  let transformUri: string;

  before(async function () {
    const served = await servedChurn();
    store = served.store;
    transformUri = served.prepared.transformUri;
    app = await buildServer({ store, modelName: 'churn', alias: 'production' });
  });

  after(async () => {
    await app?.close();
  });

  it('predicts churn probabilities for raw feature rows, applying the fitted transform', async function () {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/models/churn:predict',
      payload: { instances: [riskyCustomer, loyalCustomer] },
    });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.headers['x-model-version'], '1');
    const body = response.json<{
      deployedModelId: string;
      model: string;
      modelVersionId: string;
      predictions: { label: string; probabilities: Record<string, number> }[];
    }>();
    assert.deepEqual([body.model, body.deployedModelId, body.modelVersionId], ['churn', '1', '1']);
    const [r, l] = body.predictions;
    assert.equal(r!.label, 'true');
    assert.equal(l!.label, 'false');
    assert.ok(Math.abs(r!.probabilities.true! + r!.probabilities.false! - 1) < 1e-5);
    assert.ok(r!.probabilities.true! > 0.8 && l!.probabilities.true! < 0.1, JSON.stringify(body));
  });

  it('imputes a feature sent as explicit null, exactly as the preprocessing SQL imputes a missing value', async function () {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/models/churn:predict',
      payload: { instances: [{ ...riskyCustomer, tenure_months: null, contract: null }] },
    });
    assert.equal(response.statusCode, 200, response.body);
  });

  it('turns a row into exactly the model input the preprocessing SQL produced for it', async function () {
    const transform = await readJson<FittedTransform>(store, transformUri);
    await assertSqlParity(transform);
  });

  it('applies clipping, ordinal encoding, constant and most-frequent imputation and unstandardized features exactly as the SQL does', async function () {
    const prepared = await prepareChurn(store, {
      defaults: { numeric: { clip: { lower: 0.05, upper: 0.95 } } },
      features: {
        tenure_months: { impute: { strategy: 'constant', value: 12 }, standardize: false },
        monthly_charges: { impute: 'mean', clip: { upper: 0.9 } },
        total_charges: { clip: false },
        support_calls: { type: 'categorical', encoding: 'ordinal' },
        contract: { encoding: 'ordinal', impute: 'most_frequent' },
        payment_method: { impute: { strategy: 'constant', value: 'unknown-method' }, maxCategories: 2 },
        region: { encoding: 'ordinal', maxCategories: 2 },
      },
    });
    const transform = await readJson<FittedTransform>(store, prepared.transformUri);
    const byName = new Map(transform.features.map((f) => [f.name, f]));
    assert.deepEqual(
      transform.features.map((f) => [f.name, f.kind === 'numeric' ? `clip ${!!f.clip}` : (f.encoding ?? 'onehot')]),
      [
        ['tenure_months', 'clip true'],
        ['monthly_charges', 'clip true'],
        ['total_charges', 'clip false'],
        ['contract', 'ordinal'],
        ['payment_method', 'onehot'],
        ['internet_service', 'onehot'],
        ['support_calls', 'ordinal'],
        ['senior', 'onehot'],
        ['region', 'ordinal'],
      ],
    );
    const tenure = byName.get('tenure_months');
    assert.ok(tenure?.kind === 'numeric');
    assert.deepEqual([tenure.imputeStrategy, tenure.impute, tenure.standardize], ['constant', 12, false]);
    const region = byName.get('region');
    assert.ok(region?.kind === 'categorical' && region.encoding === 'ordinal');
    assert.deepEqual([region.categories.length, region.unknownIndex], [2, -1]);
    // Raw rows plus rows that exercise every branch: all nulls (imputation), out-of-range numbers and unseen categories.
    await assertSqlParity(transform, [
      `(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'yes')`,
      `(1000, -50.0, 1e6, 'lifetime', 'crypto', 'satellite', 99, true, 'mars', 'no')`,
      `(-3, 1e9, -1e9, 'two-year', 'credit-card', 'dsl', 0, false, 'north', 'no')`,
    ]);
  });

  it('answers a request with a missing or wrong-typed feature with 400 naming every bad field, never a stack trace', async function () {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/models/churn:predict',
      payload: { instances: [{ tenure_months: 'ten' }] },
    });
    assert.equal(response.statusCode, 400);
    const body = response.json<{ code: string; error: string }>();
    assert.equal(body.code, 'MLOPS_ERR_SERVE_INPUT_INVALID');
    assert.match(body.error, /instances\[0\]: "tenure_months" must be a finite number/);
    assert.match(body.error, /instances\[0\]: missing field "region"/);
    assert.doesNotMatch(response.body, /at .*\.ts:\d+/);

    const empty = await app.inject({ method: 'POST', url: '/v1/models/churn:predict', payload: { rows: [] } });
    assert.equal(empty.statusCode, 400);
    assert.equal(empty.json<{ code: string }>().code, 'MLOPS_ERR_SERVE_INPUT_INVALID');
    assert.match(empty.body, /unknown top-level field \\"rows\\"/);
  });

  it('describes the deployed model and answers 404 for a model it does not serve', async function () {
    const meta = (await app.inject({ method: 'GET', url: '/v1/models/churn' })).json<{
      version: number;
      features: { name: string }[];
      classes: string[];
    }>();
    assert.equal(meta.version, 1);
    assert.deepEqual(meta.classes, ['false', 'true']);
    assert.ok(meta.features.some((f) => f.name === 'contract'));
    // v2 metadata says which column of the probabilities is which class.
    const v2 = (await app.inject({ method: 'GET', url: '/v2/models/churn' })).json<{
      outputs: { name: string; parameters?: { classes: string[] } }[];
    }>();
    assert.deepEqual(v2.outputs.find((o) => o.name === 'probabilities')?.parameters, { classes: ['false', 'true'] });
    // The server's metadata names only the extensions it has routes for (no repository index, load or unload).
    const server = (await app.inject({ method: 'GET', url: '/v2' })).json<{ extensions: string[] }>();
    assert.deepEqual(server.extensions, ['binary_tensor_data']);
    const missing = await app.inject({ method: 'GET', url: '/v1/models/fraud' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json<{ code: string }>().code, 'MLOPS_ERR_SERVE_MODEL_NOT_SERVED');
  });

  it('serves over a real socket', async function () {
    const server = await buildServer({ store, modelName: 'churn', alias: 'production' });
    try {
      const address = await server.listen({ host: '127.0.0.1', port: 0 });
      const health = await fetch(`${address}/healthz`).then(
        (r) => r.json() as Promise<{ status: string; version: number }>,
      );
      assert.deepEqual(health, { status: 'ok', model: 'churn', version: 1 });
      const ready = await fetch(`${address}/readyz`);
      assert.equal(ready.status, 200);
    } finally {
      await server.close();
    }
  });
});

/**
 * Runs the preprocessing SQL for `transform` (src/preprocessing/transform-sql.ts) over raw rows of the bundled data,
 * plus `extraRows` (SQL value tuples), and checks transformInstance gives each row exactly the same float32 model input.
 */
async function assertSqlParity(transform: FittedTransform, extraRows: string[] = []): Promise<void> {
  const width = transform.outputColumns.length;
  const { rows, expected } = await withDuckDb(async (db) => {
    await db.run(
      `CREATE TABLE raw AS SELECT * FROM read_csv(${literal(exampleDataset)}, header = true, auto_detect = true, sample_size = -1) LIMIT 200`,
    );
    for (const values of extraRows) await db.run(`INSERT INTO raw VALUES ${values}`);
    const raw = await db.query('SELECT * FROM raw');
    const cols = transform.outputColumns.map((c) => ident(c)).join(', ');
    const out = await db.query(`SELECT ${cols} FROM (SELECT ${transformSelectList(transform).join(', ')} FROM raw)`);
    return { rows: raw, expected: out };
  });
  assert.equal(rows.length, 200 + extraRows.length);
  for (const [i, row] of rows.entries()) {
    const features = new Float32Array(width);
    assert.deepEqual(transformInstance(transform, row, features, 0), []);
    const want = Float32Array.from(transform.outputColumns.map((c) => expected[i]![c] as number));
    assert.deepEqual(features, want, `row ${i}: ${JSON.stringify(row)}`);
  }
}
