import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { errorCatalogue } from '../../src/errors';
import { buildServer } from '../../src/serving/app';
import { loyalCustomer, riskyCustomer, servedChurn } from '../support/served-model';
import { seededRandom } from '../support/seeded-random';

interface Attempt {
  url: string;
  headers: Record<string, string>;
  body: string | Buffer;
}

const hostileValues = (r: () => number): string[] => [
  `${'['.repeat(1 + Math.floor(r() * 20_000))}`,
  `${'{"a":'.repeat(1 + Math.floor(r() * 5000))}1${'}'.repeat(1 + Math.floor(r() * 5000))}`,
  '1e999',
  '-1e999',
  '-0',
  '1e-400',
  '3.5e38',
  '""',
  '"\\u0000"',
  JSON.stringify('x'.repeat(Math.floor(r() * 100_000))),
  '[]',
  '{}',
  'true',
  'NaN',
  'Infinity',
  '123456789012345678901234567890',
  '"\\ud800"',
  '{"__proto__": {"polluted": 1}}',
];

/** One malformed request, derived from a valid one by a random mutation. */
function malformed(r: () => number): Attempt {
  const valid = JSON.stringify({ instances: [riskyCustomer, loyalCustomer] });
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const json = { 'content-type': 'application/json' };
  const url = '/v1/models/churn:predict';
  const keys = Object.keys(riskyCustomer);
  const withExtraField = (raw: string) =>
    valid.replace('{"tenure_months"', `{"${pick(['x', '', 'Tenure_Months', '__proto__'])}":${raw},"tenure_months"`);
  switch (Math.floor(r() * 9)) {
    case 0:
      return { url, headers: json, body: valid.slice(0, Math.floor(r() * valid.length)) };
    case 1: {
      const at = Math.floor(r() * valid.length);
      return {
        url,
        headers: json,
        body: valid.slice(0, at) + String.fromCharCode(Math.floor(r() * 128)) + valid.slice(at + 1),
      };
    }
    case 2: {
      const key = pick(keys);
      const value = pick(hostileValues(r));
      return { url, headers: json, body: valid.replace(new RegExp(`"${key}":[^,}]*`), `"${key}":${value}`) };
    }
    case 3:
      return {
        url,
        headers: {
          'content-type': pick([
            'text/plain',
            'application/xml',
            'multipart/form-data; boundary=x',
            '',
            'application/jsonx',
          ]),
        },
        body: valid,
      };
    case 4:
      return { url, headers: json, body: withExtraField(pick(hostileValues(r))) };
    case 5:
      return {
        url,
        headers: json,
        body: pick([
          'null',
          '1',
          '"instances"',
          '[]',
          '{"instances": {}}',
          '{"instances": [[]]}',
          '{"instances": null}',
          '{"parameters": 1}',
        ]),
      };
    case 6: {
      const shape = [Math.floor(r() * 2 ** 40) - 5, ...(r() < 0.5 ? [] : [Math.floor(r() * 3)])];
      const body = JSON.stringify({
        inputs: [
          { name: pick(keys), datatype: pick(['FP64', 'BYTES', 'BOOL', 'FP16', 'X']), shape, data: [1, 'a', null] },
        ],
      });
      return { url: '/v2/models/churn/infer', headers: json, body };
    }
    case 7: {
      const header = JSON.stringify({
        inputs: [
          {
            name: pick(keys),
            datatype: pick(['FP64', 'BYTES', 'INT64']),
            shape: [2],
            parameters: { binary_data_size: Math.floor(r() * 40) - 4 },
          },
        ],
      });
      const binary = Buffer.alloc(Math.floor(r() * 32), Math.floor(r() * 256));
      const length = pick([String(header.length), String(header.length + Math.floor(r() * 50)), '-1', 'abc', '0']);
      return {
        url: '/v2/models/churn/infer',
        headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': length },
        body: Buffer.concat([Buffer.from(header), binary]),
      };
    }
    default:
      return {
        url,
        headers: json,
        body: JSON.stringify({ instances: new Array(Math.floor(r() * 6000)).fill(riskyCustomer) }),
      };
  }
}

describe('the model server under malformed requests beside valid load', function () {
  let app: FastifyInstance;
  let address: string;

  before(async function () {
    const { store } = await servedChurn();
    app = await buildServer({ store, modelName: 'churn', alias: 'production' });
    address = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  after(async () => {
    await app?.close();
  });

  it('answers every malformed request with a catalogued 4xx (or a correct 200) and keeps valid traffic at 0 errors', async function () {
    this.timeout(120_000);
    const seed = 20261201;
    const r = seededRandom(seed);
    const attempts = Array.from({ length: 300 }, () => malformed(r));
    const validErrors: string[] = [];
    let validDone = 0;
    let fuzzing = true;
    const validLoop = async () => {
      while (fuzzing) {
        const response = await fetch(`${address}/v1/models/churn:predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ instances: [riskyCustomer, loyalCustomer] }),
        });
        const body = (await response.json()) as { predictions?: { label: string }[] };
        if (response.status !== 200 || body.predictions?.map((p) => p.label).join() !== 'true,false')
          validErrors.push(`${response.status} ${JSON.stringify(body).slice(0, 200)}`);
        validDone++;
      }
    };
    const outcomes: { attempt: Attempt; status: number; body: string }[] = [];
    const fuzzLoop = async (from: number) => {
      for (let i = from; i < attempts.length; i += 2) {
        const attempt = attempts[i]!;
        const response = await fetch(`${address}${attempt.url}`, {
          method: 'POST',
          headers: attempt.headers,
          body: attempt.body,
        });
        outcomes.push({ attempt, status: response.status, body: await response.text() });
      }
    };
    const valid = [validLoop(), validLoop()];
    await Promise.all([fuzzLoop(0), fuzzLoop(1)]);
    fuzzing = false;
    await Promise.all(valid);

    assert.deepEqual(validErrors, [], `valid requests failed beside the fuzzing (seed ${seed})`);
    assert.ok(validDone > 0);
    const serverErrors = outcomes.filter((o) => o.status >= 500);
    assert.deepEqual(
      serverErrors.map((o) => `${o.status} ${String(o.attempt.body).slice(0, 120)} → ${o.body.slice(0, 200)}`),
      [],
      `seed ${seed}`,
    );
    for (const o of outcomes) {
      if (o.status === 200) {
        const body = JSON.parse(o.body) as {
          predictions?: { probabilities: Record<string, number> }[];
          outputs?: unknown;
        };
        for (const p of body.predictions ?? [])
          for (const v of Object.values(p.probabilities)) assert.ok(Number.isFinite(v), o.body.slice(0, 300));
        continue;
      }
      const body = JSON.parse(o.body) as { code: string };
      assert.ok(body.code in errorCatalogue, o.body.slice(0, 200));
      assert.ok(o.status >= 400 && o.status < 500);
    }
    const rejected = outcomes.filter((o) => o.status >= 400).length;
    assert.ok(rejected > attempts.length / 2, `only ${rejected} of ${attempts.length} mutations were rejected`);
  });
});
