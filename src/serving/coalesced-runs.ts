/**
 * Dynamic batching for the model server: the `session.run` calls of requests that arrive together (read in the same
 * turn of the event loop) are joined into one call over all their rows, and each request gets its own rows' output.
 * onnxruntime's cost per call (about 12 µs on the churn model, the same as 60 rows) is then paid once per turn, not
 * once per request. A request never waits for a timer: the joined call runs as soon as the turn's input is read
 * (`setImmediate`). When a joined call fails, each request it held is run on its own, so a request fails only when its
 * own call would have.
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

/** `model` with its `run` calls of one event-loop turn joined, up to `maxRows` rows per call. */
export function coalescedRuns(model: OnnxModel, maxRows = 4096): OnnxModel {
  let waiting: Waiting[] = [];
  let rowsWaiting = 0;
  let scheduled = false;
  const width = model.featureCount;

  const runAll = () => {
    scheduled = false;
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
        if (rowsWaiting + rows > maxRows) runAll();
        waiting.push({ features, rows, resolve, reject });
        rowsWaiting += rows;
        if (!scheduled) {
          scheduled = true;
          setImmediate(runAll);
        }
      });
    },
  };
}
