/**
 * Loading and running contract-shaped ONNX models with onnxruntime-node: one float32 input `features`
 * `[batch, n]` and one output, `probabilities` `[batch, classes]` or `prediction` `[batch, 1]`.
 */
// Before onnxruntime-node: its settings must be in the environment when the native library loads.
import './ort-environment';
import * as ort from 'onnxruntime-node';
import { mlopsError } from '../errors';

export interface OnnxModel {
  readonly outputName: 'probabilities' | 'prediction';
  /** Width of each output row (classes, or 1). */
  readonly outputWidth: number;
  readonly featureCount: number;
  /** Runs `rows` rows laid out row-major in `features`; returns the output row-major. */
  run(features: Float32Array, rows: number): Promise<Float32Array>;
  close(): Promise<void>;
}

/**
 * One intra-op thread and no spinning: a serving or evaluation process scales out by processes, and spinning
 * threads would keep cores busy after each call.
 */
const sessionOptions: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
};

export async function loadOnnxModel(bytes: Uint8Array, uri: string, expectedFeatures: number): Promise<OnnxModel> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, sessionOptions);
  } catch (err) {
    throw mlopsError('MLOPS_ERR_MODEL_INVALID', {
      uri,
      reason: `onnxruntime could not load it: ${ortMessage(err)}`,
    });
  }
  if (!session.inputNames.includes('features')) {
    throw mlopsError('MLOPS_ERR_MODEL_INVALID', {
      uri,
      reason: `its inputs are [${session.inputNames.join(', ')}], not "features"`,
    });
  }
  const outputName = session.outputNames.find(
    (n): n is OnnxModel['outputName'] => n === 'probabilities' || n === 'prediction',
  );
  if (!outputName) {
    throw mlopsError('MLOPS_ERR_MODEL_INVALID', {
      uri,
      reason: `its outputs are [${session.outputNames.join(', ')}]; expected "probabilities" or "prediction"`,
    });
  }
  // Probe with one zero row (checks the feature count and learns the output width), then two: a model exported with
  // a fixed batch size of 1 (torch.onnx.export without dynamic axes) would load, then fail on every batch.
  const probe = await runSession(session, outputName, new Float32Array(expectedFeatures), 1, expectedFeatures, uri);
  const pair = await runSession(session, outputName, new Float32Array(2 * expectedFeatures), 2, expectedFeatures, uri, {
    batchOfTwo: true,
  });
  if (pair.length !== 2 * probe.length) {
    throw mlopsError('MLOPS_ERR_MODEL_INVALID', {
      uri,
      reason: `its output has ${pair.length} values for 2 rows but ${probe.length} for one: each row must give one output row`,
    });
  }
  return {
    outputName,
    outputWidth: probe.length,
    featureCount: expectedFeatures,
    run: (features, rows) => runSession(session, outputName, features, rows, expectedFeatures, uri),
    close: () => session.release(),
  };
}

/** onnxruntime's message in one line, bounded: its first line alone drops what it got and expected. */
function ortMessage(err: unknown): string {
  const text = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ').trim();
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

async function runSession(
  session: ort.InferenceSession,
  output: string,
  features: Float32Array,
  rows: number,
  width: number,
  uri: string,
  probe: { batchOfTwo?: boolean } = {},
): Promise<Float32Array> {
  try {
    const result = await session.run({ features: new ort.Tensor('float32', features, [rows, width]) });
    return result[output]!.data as Float32Array;
  } catch (err) {
    const reason = probe.batchOfTwo
      ? `it runs one row but not a batch of two, so its batch size is fixed (export it with a dynamic batch axis: ` +
        `torch.onnx.export(..., dynamic_axes={"features": {0: "batch"}, <output>: {0: "batch"}})): ${ortMessage(err)}`
      : `running it on ${rows} row(s) of ${width} features failed: ${ortMessage(err)}`;
    throw mlopsError('MLOPS_ERR_MODEL_INVALID', { uri, reason });
  }
}
