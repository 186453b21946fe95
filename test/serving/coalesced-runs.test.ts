/**
 * Dynamic batching of the model server's runs, on the served churn model's real onnxruntime session: requests of one
 * event-loop turn share one `session.run`, each gets exactly its own rows' output, and a failing run fails each
 * request it held.
 */
import assert from 'node:assert/strict';
import { readJson } from '../../src/artifacts';
import type { FittedTransform } from '../../src/contracts/datasets';
import { loadOnnxModel } from '../../src/models/onnx-model';
import type { OnnxModel } from '../../src/models/onnx-model';
import { resolveAlias } from '../../src/registry/model-registry';
import { coalescedRuns } from '../../src/serving/coalesced-runs';
import { servedChurn } from '../support/served-model';

describe('coalesced runs (the model server, real onnxruntime)', function () {
  let model: OnnxModel;
  let width: number;
  /** The row counts of the calls that reached the session. */
  const calls: number[] = [];
  let counted: OnnxModel;

  before(async function () {
    const { store } = await servedChurn();
    const record = await resolveAlias(store, 'churn', 'production');
    const transform = await readJson<FittedTransform>(store, record.transformUri);
    width = transform.outputColumns.length;
    model = await loadOnnxModel(await store.read(record.modelUri), record.modelUri, width);
    counted = {
      ...model,
      run: (features, rows) => {
        calls.push(rows);
        return model.run(features, rows);
      },
    };
  });
  after(() => model.close());
  beforeEach(() => {
    calls.length = 0;
  });

  /** `rows` rows of model input, different for each `seed`. */
  const input = (rows: number, seed: number) =>
    Float32Array.from({ length: rows * width }, (_, i) => Math.sin(seed * 131 + i * 0.37));

  it('joins the runs of one turn into one call and gives each request its own rows, as its own call would', async function () {
    const batched = coalescedRuns(counted);
    const requests = [1, 64, 3, 1, 17].map((rows, seed) => ({ rows, features: input(rows, seed) }));
    const outputs = await Promise.all(requests.map((r) => batched.run(r.features, r.rows)));
    assert.deepEqual(calls, [86], 'one session.run over all 86 rows');
    for (const [i, r] of requests.entries()) {
      const alone = await model.run(r.features, r.rows);
      assert.equal(outputs[i]!.length, r.rows * model.outputWidth);
      for (let k = 0; k < alone.length; k++)
        assert.ok(Math.abs(outputs[i]![k]! - alone[k]!) <= 1e-6, `request ${i}, output ${k}`);
    }
    // A request alone in its turn runs alone; the next turn starts a new call.
    await batched.run(input(2, 9), 2);
    await Promise.all([batched.run(input(1, 10), 1), batched.run(input(1, 11), 1)]);
    assert.deepEqual(calls, [86, 2, 2]);
  });

  it('waits one more turn while requests keep arriving, at most three more, and none for a request alone', async function () {
    const batched = coalescedRuns(counted);
    const outputs: Promise<Float32Array>[] = [];
    // One request in each of six turns, each queued ahead of the join's check of its turn, as a request that the poll
    // phase reads is.
    await new Promise<void>((done) => {
      const arrive = (turn: number) => {
        if (turn === 6) return done();
        setImmediate(() => arrive(turn + 1));
        outputs.push(batched.run(input(1, turn), 1));
      };
      arrive(0);
    });
    const answered = await Promise.all(outputs);
    assert.deepEqual(calls, [5, 1], 'turns 0-4 joined (the first check and three waits), then turn 5 alone');
    for (const [turn, output] of answered.entries())
      assert.deepEqual(output, await model.run(input(1, turn), 1), `the request of turn ${turn}`);
  });

  it('keeps each call under the row cap, running a request at the cap on its own', async function () {
    const batched = coalescedRuns(counted, 100);
    await Promise.all([60, 30, 30, 150, 5].map((rows, seed) => batched.run(input(rows, seed), rows)));
    assert.deepEqual(
      [...calls].sort((a, b) => a - b),
      [35, 90, 150],
      'the third request would pass the cap: the first two run, it waits for the next call with the fifth',
    );
  });

  it('fails only the requests whose own rows fail when a joined call fails, and every request of a failing session', async function () {
    // A session that cannot run a row whose first input is 99 (as a graph may refuse some inputs).
    let lost = false;
    const picky: OnnxModel = {
      ...model,
      run: (features, rows) => {
        calls.push(rows);
        if (lost) return Promise.reject(new Error('session lost'));
        for (let r = 0; r < rows; r++)
          if (features[r * width] === 99) return Promise.reject(new Error(`cannot run row ${r}`));
        return model.run(features, rows);
      },
    };
    const batched = coalescedRuns(picky);
    const bad = input(2, 5);
    bad[width] = 99;
    const settle = (requests: Float32Array[]) =>
      Promise.allSettled(requests.map((f) => batched.run(f, f.length / width))).then((results) =>
        results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : r.value.length)),
      );
    assert.deepEqual(await settle([input(1, 1), bad, input(3, 3)]), [2, 'cannot run row 1', 6]);
    assert.deepEqual(calls, [6, 1, 2, 3], 'the joined call, then each request on its own');
    lost = true;
    assert.deepEqual(await settle([input(1, 1), input(2, 2)]), ['session lost', 'session lost']);
  });
});
