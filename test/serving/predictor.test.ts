import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { readJson } from '../../src/artifacts';
import type { FittedTransform } from '../../src/contracts/datasets';
import { isMlopsError } from '../../src/errors';
import { loadOnnxModel } from '../../src/models/onnx-model';
import { createPredictor } from '../../src/models/predictor';
import { newRecordedValues } from '../../src/models/recorded-values';
import type { ClassPrediction } from '../../src/models/predictor';
import { transformSelectList } from '../../src/preprocessing/transform-sql';
import { resolveAlias } from '../../src/registry/model-registry';
import { batchRows } from '../../src/serving/prediction-batch';
import { appendRecorded, newTypedBatch } from '../../src/serving/typed-rows';
import { appendInstances } from '../support/logged-instances';
import { ident, literal, withDuckDb } from '../../src/warehouse/duckdb';
import { runPython } from '../support/python-clients';
import { riskyCustomer, servedChurn } from '../support/served-model';
import { exampleDataset, tempDir } from '../support/stack';

describe('the Predictor shared by evaluation and the model server', function () {
  let transform: FittedTransform;
  let modelBytes: Uint8Array;

  before(async function () {
    const { store } = await servedChurn();
    const record = await resolveAlias(store, 'churn', 'production');
    transform = await readJson<FittedTransform>(store, record.transformUri);
    modelBytes = await store.read(record.modelUri);
  });

  const load = async (t = transform, bytes = modelBytes) =>
    createPredictor(t, await loadOnnxModel(bytes, 'model.onnx', t.outputColumns.length));

  it('scores raw records online exactly as it scores the rows the preprocessing SQL transformed (evaluation)', async function () {
    const predictor = await load();
    try {
      const { raw, transformed } = await withDuckDb(async (db) => {
        const from = `(SELECT * EXCLUDE (${ident(transform.target.name)}) FROM read_csv(${literal(exampleDataset)}, header = true, auto_detect = true) LIMIT 300)`;
        const cols = transform.outputColumns.map((c) => ident(c)).join(', ');
        return {
          raw: await db.query(`SELECT * FROM ${from}`),
          transformed: await db.query(
            `SELECT ${cols} FROM (SELECT ${transformSelectList(transform).join(', ')} FROM ${from})`,
          ),
        };
      });
      const width = transform.outputColumns.length;
      const features = new Float32Array(transformed.length * width);
      transformed.forEach((row, i) =>
        transform.outputColumns.forEach((c, j) => (features[i * width + j] = row[c] as number)),
      );
      const batch = await predictor.scoreTransformed(features, transformed.length);
      const online = (await predictor.predict(raw)) as ClassPrediction[];
      assert.equal(online.length, 300);
      online.forEach((p, i) =>
        assert.deepEqual(
          transform.target.classes!.map((c) => p.probabilities[c]),
          Array.from(batch.subarray(i * 2, i * 2 + 2)),
          `row ${i}`,
        ),
      );
      // Request by request, as the server calls it: each request's input and recorded values share slabs with the
      // requests before it (src/models/slab.ts), past the end of a slab too, and each is answered on its own rows.
      for (let i = 0; i < 3000; i++) {
        const row = raw[i % raw.length]!;
        const [one] = (await predictor.predict([row])) as ClassPrediction[];
        assert.deepEqual(one, online[i % raw.length], `request ${i}`);
      }
    } finally {
      await predictor.close();
    }
  });

  it("records each instance's raw values in the pass that validates it: the log rows equal those typed from the instances", async function () {
    const predictor = await load();
    // Values a stranger sends: unseen categories (quotes, control and non-ASCII text), "" (imputed, logged as null),
    // numbers and booleans as categories, nulls, -0 and extreme numbers, keys in another order than the schema's.
    const odd = [
      { ...riskyCustomer, contract: 'weekly "trial" \u0001 ✓', region: '', senior: null },
      { ...riskyCustomer, tenure_months: -0, payment_method: 3, internet_service: 1e21, senior: false },
      { ...riskyCustomer, monthly_charges: 1e-300, total_charges: null, contract: null, region: true },
      Object.fromEntries(Object.entries(riskyCustomer).reverse()),
      { ...riskyCustomer, support_calls: 3e38, region: 'north\\east', internet_service: 'fiber' },
    ];
    try {
      const recorded = [
        newRecordedValues(odd.length, predictor.features.length),
        newRecordedValues(2, predictor.features.length),
      ];
      const requests = [odd, odd.slice(0, 2).reverse()];
      const outputs = await Promise.all(requests.map((instances, r) => predictor.score(instances, recorded[r])));
      const fromRecorded = newTypedBatch('churn', '2026-12-02', 8, predictor.features.length);
      const fromInstances = newTypedBatch('churn', '2026-12-02', 8);
      requests.forEach((instances, r) => {
        const request = { requestId: `r${r}`, time: 0, version: 1, latencyMs: 1 };
        // The second request's "other" values are renumbered after the first's in the batch's side list.
        appendRecorded(fromRecorded, predictor, request, recorded[r]!, outputs[r]!, instances.length);
        appendInstances(fromInstances, predictor, request, instances, outputs[r]!, instances.length);
      });
      const rows = batchRows(fromRecorded);
      assert.deepEqual(rows, batchRows(fromInstances));
      const order = predictor.features.map((f) => f.name);
      requests.flat().forEach((instance, i) => {
        const sent = instance as Record<string, unknown>;
        const logged = order.map((n) => [n, sent[n] === '' ? null : sent[n]]);
        assert.equal(rows[i]!.features, JSON.stringify(Object.fromEntries(logged)), `row ${i}`);
      });
    } finally {
      await predictor.close();
    }
  });

  it('names every bad field of every instance before running anything', async function () {
    const predictor = await load();
    try {
      const problems = predictor.validate([
        riskyCustomer,
        { ...riskyCustomer, tenure_months: '3', region: undefined, color: 'red' },
        [1, 2],
        { ...riskyCustomer, monthly_charges: -4e38, contract: null, senior: null },
        // senior is a BOOLEAN column of the training data: any spelling DuckDB reads as one is fine (a CSV column of
        // "yes"/"no" is inferred BOOLEAN, and its own values must be accepted), other values are refused.
        { ...riskyCustomer, senior: 'true' },
        { ...riskyCustomer, senior: 'Maybe' },
        { ...riskyCustomer, senior: 2 },
        { ...riskyCustomer, senior: 'yes' },
        { ...riskyCustomer, senior: 'N' },
        { ...riskyCustomer, senior: 0 },
      ]);
      assert.deepEqual(problems, [
        'instances[1]: unknown field "color"',
        'instances[1]: "tenure_months" must be a finite number or null, got the string "3"',
        'instances[1]: missing field "region" (send null to impute it)',
        'instances[2]: must be an object of feature values, got an array',
        'instances[3]: "monthly_charges" is -4e+38, outside the float32 range (±3.4028234663852886e+38)',
        'instances[5]: "senior" must be true, false or null (a boolean in training; "yes"/"no", "t"/"f" and 1/0 are read as true/false too), got the string "Maybe"',
        'instances[6]: "senior" must be true, false or null (a boolean in training; "yes"/"no", "t"/"f" and 1/0 are read as true/false too), got 2',
      ]);
      // Each spelling is the boolean itself: the same prediction, and the log records true or false.
      const spellings = [true, 'true', 'YES', 'y', 't', 1];
      const recorded = newRecordedValues(spellings.length, predictor.features.length);
      const instances = spellings.map((senior) => ({ ...riskyCustomer, senior }));
      const answers = await predictor.score(instances, recorded);
      const predictions = await predictor.predict(instances);
      const batch = newTypedBatch('churn', '2026-12-03', spellings.length, predictor.features.length);
      appendRecorded(
        batch,
        predictor,
        { requestId: 'r', time: 0, version: 1, latencyMs: 1 },
        recorded,
        answers,
        spellings.length,
      );
      for (const [i, row] of batchRows(batch).entries()) {
        assert.deepEqual(predictions[i], predictions[0], `senior ${JSON.stringify(spellings[i])}`);
        assert.equal((JSON.parse(row.features) as { senior: unknown }).senior, true);
      }
    } finally {
      await predictor.close();
    }
  });

  it('refuses a value that standardizes outside the float32 range', async function () {
    const features = transform.features.map((f) =>
      f.kind === 'numeric' && f.name === 'tenure_months' ? { ...f, clip: undefined, std: 1e-30 } : f,
    );
    const predictor = await load({ ...transform, features });
    try {
      await assert.rejects(predictor.predict([{ ...riskyCustomer, tenure_months: 1e10 }]), (err: Error) => {
        assert.ok(isMlopsError(err, 'MLOPS_ERR_SERVE_INPUT_INVALID'));
        assert.match(
          err.message,
          /instances\[0\]: "tenure_months" is 10000000000, which standardizes to a value outside the float32 range/,
        );
        return true;
      });
    } finally {
      await predictor.close();
    }
  });

  it("keeps a refusal a few kilobytes when the model's own feature names are long (a 10,000-character column)", async function () {
    const long = `region_${'x'.repeat(10_000)}`;
    const features = transform.features.map((f) => (f.name === 'region' ? { ...f, name: long } : f));
    const predictor = await load({ ...transform, features });
    try {
      await assert.rejects(predictor.predict(Array.from({ length: 200 }, () => ({}))), (err: Error) => {
        assert.ok(isMlopsError(err, 'MLOPS_ERR_SERVE_INPUT_INVALID'));
        assert.ok(err.message.length < 20_000, `${err.message.length} characters`);
        assert.ok(err.message.includes(`missing field ${JSON.stringify(long.slice(0, 80))}… (10007 characters)`));
        return true;
      });
    } finally {
      await predictor.close();
    }
  });

  it('answers 400 naming the instance, never null or infinite probabilities, when the model output is not finite', async function () {
    this.timeout(120_000);
    const file = path.join(tempDir('nonfinite'), 'model.onnx');
    await runPython('make-nonfinite-onnx.py', [String(transform.outputColumns.length), file]);
    const predictor = await load(transform, fs.readFileSync(file));
    try {
      await assert.rejects(predictor.predict([{ ...riskyCustomer }, { ...riskyCustomer }]), (err: Error) => {
        assert.ok(isMlopsError(err, 'MLOPS_ERR_SERVE_INPUT_INVALID'));
        assert.match(err.message, /instances\[0\]: the model's output is not finite/);
        assert.match(err.message, /instances\[1\]: the model's output is not finite/);
        return true;
      });
    } finally {
      await predictor.close();
    }
  });
});
