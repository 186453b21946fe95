/**
 * Dynamic batching for the model server: the `session.run` calls of requests that arrive together are joined into one
 * call over all their rows, and each request gets its own rows' output. onnxruntime's cost per call (about 10 µs on
 * the churn model, the same as 60 rows) is then paid once per join, not once per request. A request never waits for
 * a timer: a join waits one more turn of the event loop only while requests keep arriving (turns whose poll read
 * more of them), at most `maxWaitTurns`; a request alone runs at the end of its own turn. Under load this roughly
 * doubles the requests per join in the multi-core mode, where each process sees half the traffic. When a joined call
 * fails, each request it held is run on its own, so a request fails only when its own call would have.
 *
 * Only the server batches: evaluation scores whole tables in its own batches, and the in-process Predictor runs each
 * call as given.
 */
import type { OnnxModel } from '../models/onnx-model';

interface Waiting {
  features: Float32Array;
  rows: number;
  resolve: (output: Float32Array) => void;
  reject: (err: unknown) => void;
}

/** Turns of the event loop a join waits at most for more requests (each adds one poll of the connections). */
const maxWaitTurns = 3;

/** `model` with the `run` calls of requests that arrive together joined, up to `maxRows` rows per call. */
export function coalescedRuns(model: OnnxModel, maxRows = 4096): OnnxModel {
  let waiting: Waiting[] = [];
  let rowsWaiting = 0;
  let scheduled = false;
  /** Requests waiting at the last check, and the turns waited so far. */
  let seen = 0;
  let turns = 0;
  const width = model.featureCount;

  // At the end of a turn: wait another turn if this one brought more requests, else run.
  const check = () => {
    if (waiting.length > seen && turns < maxWaitTurns) {
      seen = waiting.length;
      turns++;
      setImmediate(check);
      return;
    }
    scheduled = false;
    runWaiting();
  };

  /** Runs the waiting requests now (a scheduled check then runs whatever arrives after them). */
  const runWaiting = () => {
    const jobs = waiting;
    waiting = [];
    rowsWaiting = 0;
    if (jobs.length === 0) return;
    if (jobs.length === 1) {
      const only = jobs[0]!;
      model.run(only.features, only.rows).then(only.resolve, only.reject);
      return;
    }
    const rows = jobs.reduce((n, j) => n + j.rows, 0);
    const features = new Float32Array(rows * width);
    let at = 0;
    for (const j of jobs) {
      features.set(j.features.subarray(0, j.rows * width), at);
      at += j.rows * width;
    }
    model.run(features, rows).then(
      (output) => {
        let from = 0;
        for (const j of jobs) {
          const n = j.rows * model.outputWidth;
          j.resolve(output.subarray(from, from + n));
          from += n;
        }
      },
      // A joined call that fails is run again request by request, so only a request whose own rows fail gets the
      // error (an input a graph cannot run, say), as its own call would have.
      () => {
        for (const j of jobs) model.run(j.features, j.rows).then(j.resolve, j.reject);
      },
    );
  };

  return {
    outputName: model.outputName,
    outputWidth: model.outputWidth,
    featureCount: model.featureCount,
    close: () => model.close(),
    run(features, rows) {
      if (rows >= maxRows) return model.run(features, rows);
      return new Promise<Float32Array>((resolve, reject) => {
        if (rowsWaiting + rows > maxRows) runWaiting();
        waiting.push({ features, rows, resolve, reject });
        rowsWaiting += rows;
        if (!scheduled) {
          scheduled = true;
          seen = waiting.length;
          turns = 0;
          setImmediate(check);
        }
      });
    },
  };
}
