/**
 * Feature and class names that are keys of Object.prototype (`__proto__`, `toString`, `constructor`,
 * `hasOwnProperty`) are names like any other: a request carrying them is served, one leaving them out is told they
 * are missing, never that they hold an object or a function.
 */
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/serving/app';
import {
  prototypeKeyNames,
  riskyCustomer,
  servedChurn,
  servedPrototypeKeys,
  withPrototypeKeys,
} from '../support/served-model';

const json = { 'content-type': 'application/json' };

interface V2Answer {
  outputs: { name: string; data: unknown[] }[];
}

const v2Inputs = (record: Record<string, unknown>) =>
  Object.entries(record).map(([name, value]) => ({
    name,
    datatype: typeof value === 'string' ? 'BYTES' : typeof value === 'boolean' ? 'BOOL' : 'FP64',
    shape: [1],
    data: [value],
  }));

describe('the model server with features and classes named like Object.prototype keys', function () {
  let keys: FastifyInstance;
  let churn: FastifyInstance;
  let modelName: string;
  /** churn's probabilities of "false" and "true" for riskyCustomer. */
  let expected: [number, number];

  before(async function () {
    const { store } = await servedChurn();
    ({ modelName } = await servedPrototypeKeys());
    keys = await buildServer({ store, modelName, alias: 'production' });
    churn = await buildServer({ store, modelName: 'churn', alias: 'production' });
    const answer = await churn.inject({
      method: 'POST',
      url: '/v1/models/churn:predict',
      payload: { instances: [riskyCustomer] },
    });
    const p = answer.json<{ predictions: { probabilities: Record<string, number> }[] }>().predictions[0]!;
    expected = [p.probabilities.false!, p.probabilities.true!];
  });

  after(async () => {
    await keys?.close();
    await churn?.close();
  });

  it('serves a v1 instance carrying those fields as churn serves the same values', async function () {
    const response = await keys.inject({
      method: 'POST',
      url: `/v1/models/${modelName}:predict`,
      headers: json,
      payload: JSON.stringify({ instances: [withPrototypeKeys(riskyCustomer)] }),
    });
    assert.equal(response.statusCode, 200, response.body);
    const [p] = response.json<{ predictions: { label: string; probabilities: Record<string, number> }[] }>()
      .predictions;
    assert.equal(p!.label, 'toString');
    assert.ok(Object.hasOwn(p!.probabilities, '__proto__'));
    assert.deepEqual([p!.probabilities['__proto__'], p!.probabilities.toString], expected);
  });

  for (const name of prototypeKeyNames.values()) {
    it(`answers a v1 instance without "${name}" with 400 naming it as a missing field`, async function () {
      const instance = withPrototypeKeys(riskyCustomer);
      delete instance[name];
      const response = await keys.inject({
        method: 'POST',
        url: `/v1/models/${modelName}:predict`,
        headers: json,
        payload: JSON.stringify({ instances: [instance] }),
      });
      assert.equal(response.statusCode, 400, response.body);
      const { code, error } = response.json<{ code: string; error: string }>();
      assert.equal(code, 'MLOPS_ERR_SERVE_INPUT_INVALID');
      assert.match(error, new RegExp(`instances\\[0\\]: missing field "${name}"`));
      assert.doesNotMatch(error, /got (an object|a function)/);
    });
  }

  it('serves v2 inputs of those names, and answers with those class names', async function () {
    const response = await keys.inject({
      method: 'POST',
      url: `/v2/models/${modelName}/infer`,
      headers: json,
      payload: JSON.stringify({ inputs: v2Inputs(withPrototypeKeys(riskyCustomer)) }),
    });
    assert.equal(response.statusCode, 200, response.body);
    const outputs = response.json<V2Answer>().outputs;
    assert.deepEqual(outputs.find((o) => o.name === 'label')!.data, ['toString']);
    assert.deepEqual(outputs.find((o) => o.name === 'probabilities')!.data, expected);
  });

  it('answers a v2 request without the "__proto__" input with 400 naming it as missing', async function () {
    const inputs = v2Inputs(withPrototypeKeys(riskyCustomer)).filter((i) => i.name !== '__proto__');
    const response = await keys.inject({
      method: 'POST',
      url: `/v2/models/${modelName}/infer`,
      headers: json,
      payload: JSON.stringify({ inputs }),
    });
    assert.equal(response.statusCode, 400, response.body);
    assert.match(response.json<{ error: string }>().error, /missing input "__proto__"/);
  });
});
