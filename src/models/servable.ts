import type { ArtifactStore } from '../artifacts';
import type { FittedTransform } from '../contracts/datasets';
import type { ModelVersionRecord } from '../registry/model-registry';
import { mlopsError } from '../errors';
import { loadOnnxModel } from './onnx-model';
import type { OnnxModel } from './onnx-model';
import type { Predictor } from './predictor';
import { createPredictor } from './predictor';
import { readTransform } from './transform-file';

/**
 * Loads a version the way the model server does (its transform, its ONNX session probed with one row, the predictor
 * over both), then releases it; so a version that cannot serve never gets an alias or a place in a deployment record.
 */
export async function checkServable(store: ArtifactStore, record: ModelVersionRecord): Promise<void> {
  const transform = await readTransform(store, record.transformUri);
  await (await loadPredictor(store, record.modelUri, transform)).close();
}

/**
 * The model at `modelUri` behind `transform` as a Predictor: its ONNX session (probed with one row, which checks the
 * input width, `transform.outputColumns.length` unless given) and the transform. A predictor that cannot be built
 * releases its session.
 */
export async function loadPredictor(
  store: ArtifactStore,
  modelUri: string,
  transform: FittedTransform,
  inputWidth = transform.outputColumns.length,
  /** Wraps the loaded session (the model server joins concurrent runs: `src/serving/coalesced-runs.ts`). */
  wrap: (model: OnnxModel) => OnnxModel = (model) => model,
): Promise<Predictor> {
  const model = wrap(await loadOnnxModel(await store.read(modelUri), modelUri, inputWidth));
  try {
    checkOutputShape(model, transform, modelUri);
    return createPredictor(transform, model);
  } catch (err) {
    await model.close();
    throw err;
  }
}

/**
 * The output the transform's task needs: `probabilities` with one column per class (two for a binary target, not one
 * column of P(positive)), or `prediction` with one column. A wider output would serve classes nobody trained (named
 * by index) or silently score its first column.
 */
function checkOutputShape(model: OnnxModel, transform: FittedTransform, uri: string): void {
  const classes = transform.target.classes ?? [];
  // A classification transform without its classes (none are written so) leaves the width unknown.
  if (transform.task === 'classification' && classes.length === 0) return;
  const wanted =
    transform.task === 'classification'
      ? { name: 'probabilities', width: classes.length, what: `one per class of "${transform.target.name}"` }
      : { name: 'prediction', width: 1, what: 'one, the predicted value' };
  const problem =
    model.outputName !== wanted.name
      ? `it outputs "${model.outputName}", but a ${transform.task} model outputs "${wanted.name}"`
      : model.outputWidth !== wanted.width
        ? `its "${wanted.name}" output has ${model.outputWidth} column(s) per row; it needs ${wanted.width}, ${wanted.what}` +
          (transform.task === 'classification' && wanted.width === 2 && model.outputWidth === 1
            ? ' (both P(not) and P(yes): a softmax over two logits, not one sigmoid)'
            : '')
        : undefined;
  if (problem) throw mlopsError('MLOPS_ERR_MODEL_INVALID', { uri, reason: problem });
}
