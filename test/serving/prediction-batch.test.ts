/**
 * The prediction log's Parquet writer, read back by real DuckDB: every value a request can log lands in its typed
 * column, in a part that mixes versions of different schemas and tasks (a canary), with the JSON rows the BigQuery
 * sink gets as the reference.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { FeatureSchema } from '../../src/models/predictor';
import { ColumnPool, batchParquet, batchRows } from '../../src/serving/prediction-batch';
import type { LogSpec, TypedBatch } from '../../src/serving/typed-rows';
import { categoryCode, newRecordedValues } from '../../src/models/recorded-values';
import { appendRecorded, newTypedBatch } from '../../src/serving/typed-rows';
import { appendInstances } from '../support/logged-instances';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { tempDir } from '../support/stack';

const numeric = (name: string): FeatureSchema => ({ name, type: 'number', impute: 0, imputedWith: 'median' });
const category = (name: string, categories: string[]): FeatureSchema => ({
  name,
  type: 'category',
  categories,
  impute: categories[0],
  imputedWith: 'constant',
});

/** The stable version: a classifier (one class named twice). */
const stable: LogSpec = {
  task: 'classification',
  classes: ['stay', 'leave', 'stay'],
  outputWidth: 3,
  features: [numeric('age'), category('city', ['Oslo', 'Bergen']), numeric('x.y "z"')],
};
/** The canary: a regressor where `age` is a category and `plan` is new. */
const canary: LogSpec = {
  task: 'regression',
  classes: [],
  outputWidth: 1,
  features: [category('age', ['young', 'old']), numeric('x.y "z"'), category('plan', ['a', 'b'])],
};

interface ReadRow {
  version: number;
  instance: number;
  request_id: string;
  features: string;
  output: string;
}

async function readBack(batch: TypedBatch, pool?: ColumnPool) {
  const file = path.join(tempDir('prediction-batch'), 'part.parquet');
  fs.writeFileSync(file, batchParquet(batch, pool));
  return withDuckDb((db) =>
    db.query<ReadRow & Record<string, unknown>>(
      `SELECT version, instance, request_id, to_json(features)::VARCHAR AS features, to_json(output)::VARCHAR AS output FROM read_parquet(${literal(file)})`,
    ),
  );
}

/** A part's output as the response carried it: the group's fields of the row's task, probabilities as float32. */
function loggedOutput(text: string): unknown {
  const o = JSON.parse(text) as { label?: string; probabilities?: Record<string, number>; value?: number };
  if (o.value !== null && o.value !== undefined) return { value: o.value };
  const probabilities = Object.fromEntries(Object.entries(o.probabilities ?? {}).filter(([, p]) => p !== null));
  return { label: o.label, probabilities };
}

describe('the prediction log Parquet writer (real DuckDB)', function () {
  it('writes every logged value of a part that mixes versions, schemas and tasks, as the JSON rows hold them', async function () {
    const batch = newTypedBatch('m', '2026-12-02', 4);
    const t = Date.parse('2026-12-02T10:00:00Z');
    appendInstances(
      batch,
      stable,
      { requestId: 'r1', time: t, version: 1, latencyMs: 1.5 },
      [
        { age: 3.25, city: 'Bergen', 'x.y "z"': -1e300 },
        { age: null, city: 42, 'x.y "z"': 0 },
        { age: 1e-300, city: null, 'x.y "z"': 7 },
        { age: 5, city: 'Zwei "Jahre" \u0001 ✓', 'x.y "z"': null },
      ],
      new Float32Array([0.1, 0.7, 0.2, 0.6, 0.3, 0.1, 0.2, 0.2, 0.6, 0.25, 0.25, 0.5]),
      4,
    );
    appendInstances(
      batch,
      canary,
      { requestId: 'r2', time: t + 1, version: 2, latencyMs: 2 },
      [
        { age: 'old', 'x.y "z"': 1, plan: true },
        { age: 'centenarian', 'x.y "z"': null, plan: null },
        { age: false, 'x.y "z"': 2.5, plan: 'b' },
      ],
      new Float32Array([1.5, -2.25, 3e38]),
      3,
    );
    const rows = await readBack(batch);
    const expected = batchRows(batch);
    assert.equal(rows.length, 7);
    rows.forEach((row, i) => {
      const want = expected[i]!;
      assert.deepEqual([row.request_id, row.version, row.instance], [want.request_id, want.version, want.instance]);
      const features = JSON.parse(row.features) as Record<string, unknown>;
      const sent = JSON.parse(want.features) as Record<string, unknown>;
      for (const [name, value] of Object.entries(features))
        assert.deepEqual(value, name in sent ? sent[name] : null, `row ${i}, ${name}`);
      assert.deepEqual(Object.keys(features).sort(), ['age', 'city', 'plan', 'x.y "z"']);
      const answered = JSON.parse(want.output) as { probabilities?: Record<string, number> };
      assert.deepEqual(loggedOutput(row.output), {
        ...answered,
        ...(answered.probabilities && {
          probabilities: Object.fromEntries(
            Object.entries(answered.probabilities).map(([c, p]) => [c, Math.fround(p)]),
          ),
        }),
      });
    });
    // The class named twice keeps its last output, as the response's object; the label is the first largest output.
    assert.deepEqual(JSON.parse(rows[0]!.output), {
      label: 'leave',
      probabilities: { stay: Math.fround(0.2), leave: Math.fround(0.7) },
      value: null,
    });
  });

  it('logs the first rows of a request the capacity cuts, and keeps only their side texts', async function () {
    const batch = newTypedBatch('m', '2026-12-02', 4);
    const t = Date.parse('2026-12-02T10:00:00Z');
    // Four rows recorded by the transform (every city unseen, so each has a side text); the capacity takes two.
    const recorded = newRecordedValues(4, 3);
    ['Atlantis', 42, 'Mu', 'Lemuria'].forEach((city, i) => {
      recorded.codes.set([i, categoryCode(city, -1, recorded.side), 0], i * 3);
    });
    const request = { requestId: 'cut', time: t, version: 1, latencyMs: 1 };
    appendRecorded(batch, stable, request, recorded, new Float32Array(12).fill(0.25), 2);
    appendInstances(
      batch,
      stable,
      { requestId: 'next', time: t + 1, version: 1, latencyMs: 1 },
      [{ age: 9, city: 'Thule', 'x.y "z"': 1 }],
      new Float32Array([0.5, 0.25, 0.25]),
      1,
    );
    assert.deepEqual(batch.side, ['"Atlantis"', '42', '"Thule"'], 'the texts of the rows not logged are left behind');
    assert.equal((await readBack(batch)).length, 3);
    assert.deepEqual(
      batchRows(batch).map((r) => JSON.parse(r.features) as unknown),
      [
        { age: 0, city: 'Atlantis', 'x.y "z"': 0 },
        { age: 1, city: 42, 'x.y "z"': 0 },
        { age: 9, city: 'Thule', 'x.y "z"': 1 },
      ],
    );
  });

  it('stores more than 256 and more than 65,536 distinct categories in a part, nulls between them, and reuses its buffers', async function () {
    const pool = new ColumnPool();
    for (const size of [300, 70_000, 3]) {
      const categories = Array.from({ length: size }, (_, i) => `c${i}`);
      const spec: LogSpec = {
        task: 'classification',
        classes: ['a', 'b'],
        outputWidth: 2,
        features: [category('c', categories), numeric('n')],
      };
      // As many rows as categories, so a part's dictionary (the values its rows have) reaches the size.
      const n = Math.max(size, 2000);
      const batch = newTypedBatch('m', '2026-12-02', n);
      const instances = Array.from({ length: n }, (_, i) => ({
        c: i % 3 === 1 ? null : `c${(i * 7919) % size}`,
        n: i % 5 === 0 ? null : i,
      }));
      appendInstances(
        batch,
        spec,
        { requestId: `r-${size}`, time: Date.now(), version: 1, latencyMs: 1 },
        instances,
        new Float32Array(2 * n).fill(0.5),
        n,
      );
      const rows = await readBack(batch, pool);
      assert.equal(rows.length, n);
      rows.forEach((row, i) => {
        const features = JSON.parse(row.features) as Record<string, unknown>;
        assert.deepEqual(features, instances[i], `${size} categories, row ${i}`);
      });
    }
  });

  it("keeps every request's id, time, version and latency over thousands of requests, ids in any script", async function () {
    const spec: LogSpec = { task: 'regression', classes: [], outputWidth: 1, features: [numeric('n')] };
    // More requests than a new batch has room for (its per-request arrays grow), of one row or three.
    const ids = Array.from({ length: 3000 }, (_, r) => (r % 7 === 3 ? `ид-${r}-✓-"q"\u0000` : `req-${r}`));
    const batch = newTypedBatch('m', '2026-12-02', 16);
    const t = Date.parse('2026-12-02T10:00:00Z');
    ids.forEach((requestId, r) => {
      const count = r % 2 ? 3 : 1;
      const instances = Array.from({ length: count }, (_, i) => ({ n: r * 10 + i }));
      appendInstances(
        batch,
        spec,
        { requestId, time: t + r, version: 1 + (r % 3), latencyMs: r / 8 },
        instances,
        new Float32Array(count),
        count,
      );
    });
    const file = path.join(tempDir('prediction-batch'), 'requests.parquet');
    fs.writeFileSync(file, batchParquet(batch));
    const rows = await withDuckDb((db) =>
      db.query<{ request_id: string; ms: bigint; version: number; instance: number; latency_ms: number; n: number }>(
        `SELECT request_id, epoch_ms(ts) AS ms, version, instance, latency_ms, features.n AS n FROM read_parquet(${literal(file)})`,
      ),
    );
    assert.equal(rows.length, 6000);
    let row = 0;
    ids.forEach((id, r) => {
      for (let i = 0; i < (r % 2 ? 3 : 1); i++, row++) {
        const got = rows[row]!;
        assert.deepEqual(
          [got.request_id, Number(got.ms), got.version, got.instance, got.latency_ms, got.n],
          [id, t + r, 1 + (r % 3), i, r / 8, r * 10 + i],
          `request ${r}, row ${i}`,
        );
      }
    });
    assert.deepEqual(
      [...new Set(batchRows(batch).map((x) => x.request_id))],
      ids,
      'the rows a BigQuery sink takes carry the same ids',
    );
  });
});
