/**
 * evaluateModel with the real activities on the prepared churn splits: what it refuses to judge.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createPipelineActivities, createTrainingQueueActivities } from '../../src/activities';
import { LocalArtifactStore, readJson, writeJson } from '../../src/artifacts';
import type { FittedTransform, PreprocessResult } from '../../src/contracts/datasets';
import type { EvaluateModelInput } from '../../src/contracts/training';
import { ident, literal, withDuckDb } from '../../src/warehouse/duckdb';
import { isMlopsError } from '../../src/errors';
import { noteFewTestRows } from '../../src/evaluation/gate';
import { classificationMetrics } from '../../src/evaluation/metrics';
import { moveAlias, registerVersion } from '../../src/registry/model-registry';
import { mockEnv, runActivity } from '../support/activity-env';
import { testDeps } from '../support/dependencies';
import { prepareChurn, trainInput } from '../support/prepared-data';
import { runPython } from '../support/python-clients';
import { tempDir } from '../support/stack';

/** The evaluation step's input for a churn model at `modelUri` on the prepared splits; `more` replaces fields. */
function churnEvaluation(
  prepared: PreprocessResult,
  modelUri: string,
  outputUri: string,
  more: Partial<EvaluateModelInput> = {},
): EvaluateModelInput {
  return {
    modelName: 'churn',
    modelUri,
    testUri: prepared.testUri,
    validationUri: prepared.validationUri,
    transformUri: prepared.transformUri,
    featureColumns: prepared.featureColumns,
    labelColumn: prepared.labelColumn,
    task: 'classification',
    outputUri,
    gate: { minImprovement: 0 },
    championAlias: 'production',
    ...more,
  };
}

describe('evaluateModel (the evaluation activity)', function () {
  it('refuses a test split of one class, naming it, instead of judging the model on it', async function () {
    const store = new LocalArtifactStore(tempDir('evaluation-store'));
    const prepared = await prepareChurn(store);
    const deps = testDeps({ store });
    const trained = await runActivity(
      mockEnv(),
      createTrainingQueueActivities(deps).trainModel,
      trainInput(prepared, { hyperparameters: { epochs: 2 } }, 'one-class'),
    );
    // The prepared test split's rows of class 0 ("false") only: as a rare positive class can leave a split.
    const oneClassUri = store.uri('evaluation-test', 'test-no-only.parquet');
    const oneClass = store.localPath(oneClassUri);
    fs.mkdirSync(path.dirname(oneClass), { recursive: true });
    await withDuckDb((db) =>
      db.run(
        `COPY (SELECT * FROM read_parquet(${literal(store.localPath(prepared.testUri))}) WHERE ${ident(prepared.labelColumn)} = 0) TO ${literal(oneClass)} (FORMAT parquet)`,
      ),
    );
    const rows = await withDuckDb((db) =>
      db.query(`SELECT count(*)::INTEGER AS n FROM read_parquet(${literal(oneClass)})`),
    );
    await assert.rejects(
      createPipelineActivities(deps).evaluateModel({
        modelName: 'churn',
        modelUri: trained.modelUri,
        testUri: oneClassUri,
        transformUri: prepared.transformUri,
        featureColumns: prepared.featureColumns,
        labelColumn: prepared.labelColumn,
        task: 'classification',
        outputUri: trained.outputUri,
        gate: { minImprovement: 0 },
        championAlias: 'production',
      }),
      (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure, String(err));
        assert.equal(err.type, 'MLOPS_ERR_EVALUATION_ONE_CLASS');
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, new RegExp(`holds ${Number(rows[0]!.n)} rows, all of class "false"`));
        return true;
      },
    );
  });
  it('refuses a model whose output is not what the contract says before taking any metric from it, naming what is wrong', async function () {
    this.timeout(180_000);
    const store = new LocalArtifactStore(tempDir('evaluation-contract-store'));
    const prepared = await prepareChurn(store);
    const evaluate = createPipelineActivities(testDeps({ store })).evaluateModel;
    const features = prepared.featureColumns.length;
    const cases: [mode: string, reason: RegExp][] = [
      // Logits scored a log loss of about 0 (each value clamped into (0, 1)) and replaced a good champion.
      [
        'logits',
        /its "probabilities" are not probabilities in \d+ of \d+ test rows \(test row 0: [-\d.e, ]+, summing to [-\d.e]+\): each row must be a distribution over the classes.*apply a softmax/,
      ],
      // NaN scored as class 0, an accuracy only the baseline stopped.
      [
        'nan',
        /its output is not finite \(NaN or ±Infinity\) in \d+ of \d+ test rows \(test row 0: NaN, NaN, not finite\)/,
      ],
      // One column more than classes served a class "2" nobody trained.
      ['extra-class', /its "probabilities" output has 3 column\(s\) per row; it needs 2, one per class of "churned"/],
      [
        'one-column',
        /has 1 column\(s\) per row; it needs 2, .*\(both P\(not\) and P\(yes\): a softmax over two logits, not one sigmoid\)/,
      ],
      ['wide-value', /it outputs "prediction", but a classification model outputs "probabilities"/],
      // Without a dynamic batch axis the model ran the probe's one row and failed on the test split.
      [
        'fixed-batch',
        /it runs one row but not a batch of two, so its batch size is fixed \(export it with a dynamic batch axis: .*dynamic_axes.*\): .*Got.*Expected/,
      ],
    ];
    for (const [mode, reason] of cases) {
      const modelUri = store.uri('contract-breaking', mode, 'model.onnx');
      const file = store.localPath(modelUri);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      await runPython('make-contract-breaking-onnx.py', [mode, String(features), '2', file]);
      await assert.rejects(
        evaluate(churnEvaluation(prepared, modelUri, store.uri('contract-breaking', mode))),
        (err: unknown) => {
          assert.ok(isMlopsError(err, 'MLOPS_ERR_MODEL_INVALID'), `${mode}: ${String(err)}`);
          assert.equal(err.nonRetryable, true);
          assert.match((err as Error).message, reason, mode);
          return true;
        },
      );
    }
  });

  it('lets a good challenger replace a champion registered before outputs were checked, whose logits cannot be used', async function () {
    this.timeout(180_000);
    const store = new LocalArtifactStore(tempDir('evaluation-unusable-champion'));
    const prepared = await prepareChurn(store);
    const deps = testDeps({ store });
    // The champion: logits under "probabilities" (log loss ~0 once clamped), registered as a version before the check.
    const badUri = store.uri('runs', 'churn', 'logits', 'model.onnx');
    fs.mkdirSync(path.dirname(store.localPath(badUri)), { recursive: true });
    await runPython('make-contract-breaking-onnx.py', [
      'logits',
      String(prepared.featureColumns.length),
      '2',
      store.localPath(badUri),
    ]);
    const evaluationUri = store.uri('runs', 'churn', 'logits', 'evaluation.json');
    await store.write(evaluationUri, '{}');
    const champion = await registerVersion(store, {
      modelName: 'churn',
      modelUri: badUri,
      transformUri: prepared.transformUri,
      evaluationUri,
      snapshotId: prepared.snapshotId,
      metrics: { log_loss: 1e-15, auc: 0.99 },
      registrationKey: 'churn/logits',
    });
    await moveAlias(store, 'churn', 'production', champion.version);
    const trained = await runActivity(
      mockEnv(),
      createTrainingQueueActivities(deps).trainModel,
      trainInput(prepared, { hyperparameters: { epochs: 2 } }, 'good-challenger'),
    );
    const result = await createPipelineActivities(deps).evaluateModel(
      churnEvaluation(prepared, trained.modelUri, trained.outputUri, {
        gate: { minImprovement: 0, metric: 'log_loss' },
      }),
    );
    assert.equal(result.gate.passed, true, result.gate.reason);
    assert.match(
      result.gate.reason,
      /^champion v1 cannot be used \(its "probabilities" are not probabilities in \d+ of \d+ test rows .*\); log_loss \d\.\d+ beats the baseline/,
    );
  });

  it('names the features a champion takes that the data lacks, and shows a tiny improvement as it is, not as 0.0000', async function () {
    this.timeout(180_000);
    const store = new LocalArtifactStore(tempDir('evaluation-missing-feature'));
    const prepared = await prepareChurn(store);
    const deps = testDeps({ store });
    const trained = await runActivity(
      mockEnv(),
      createTrainingQueueActivities(deps).trainModel,
      trainInput(prepared, { hyperparameters: { epochs: 2 } }, 'challenger'),
    );
    const first = await createPipelineActivities(deps).evaluateModel(
      churnEvaluation(prepared, trained.modelUri, trained.outputUri),
    );
    // A champion that also took a feature "club", which this dataset no longer has; its AUC a hair under the challenger's.
    const transform = await readJson<FittedTransform>(store, prepared.transformUri);
    const club = { ...transform.features.find((f) => f.kind === 'numeric')!, name: 'club', output: 'club' };
    const championTransform = store.uri('runs', 'churn', 'with-club', 'transform.json');
    await writeJson(store, championTransform, { ...transform, features: [...transform.features, club] });
    const evaluationUri = store.uri('runs', 'churn', 'with-club', 'evaluation.json');
    await store.write(evaluationUri, '{}');
    const champion = await registerVersion(store, {
      modelName: 'churn',
      modelUri: trained.modelUri,
      transformUri: championTransform,
      evaluationUri,
      snapshotId: prepared.snapshotId,
      metrics: { auc: first.metrics.auc! - 0.00003 },
      registrationKey: 'churn/with-club',
    });
    await moveAlias(store, 'churn', 'production', champion.version);
    const result = await createPipelineActivities(deps).evaluateModel(
      churnEvaluation(prepared, trained.modelUri, `${trained.outputUri}-again`),
    );
    assert.equal(result.gate.passed, true, result.gate.reason);
    assert.match(
      result.gate.reason,
      /^auc \d\.\d{4} vs champion v1 \d\.\d{4} as recorded at its registration \(not re-scored: the data lacks its feature "club"; requests that send it are refused once this version serves\): improvement 0\.00003 > required 0; its requests differ from v1's: it no longer takes "club", so clients must change when it serves$/,
    );
  });

  it('says when a passing gate was judged on fewer than 100 test rows, where chance wins often', function () {
    const passed = {
      passed: true,
      metric: 'auc',
      challenger: 0.63,
      reason: 'no champion yet; auc 0.6349 beats the baseline 0.5000',
    };
    assert.equal(
      noteFewTestRows(passed, 55).reason,
      'no champion yet; auc 0.6349 beats the baseline 0.5000; judged on only 55 test rows, where a model that learnt nothing often wins by chance: give the pipeline more data, or a larger split.testFraction',
    );
    assert.deepEqual(noteFewTestRows(passed, 100), passed, '100 rows and more: no note');
    const rejected = { ...passed, passed: false, reason: 'auc 0.4800 is no better than the trivial baseline 0.5000' };
    assert.deepEqual(noteFewTestRows(rejected, 8), rejected, 'a rejection needs no note');
  });

  it('averages macro F1 over the classes among the labels or the predictions, as scikit-learn does', function () {
    // Three classes; the test rows hold classes 0 and 1 only (a rare class 2 left none in the split).
    const rows = (predicted: number[]) => predicted.flatMap((k) => [0, 1, 2].map((c) => (c === k ? 0.9 : 0.05)));
    const labels = [0, 0, 1, 1];
    // Perfect on the classes present: 1, not the 2/3 a zero for the absent class made it.
    assert.equal(classificationMetrics(rows([0, 0, 1, 1]), labels, 3).f1, 1);
    // A prediction of the absent class counts it: F1 of 0 for it, (2/3 + 1 + 0) / 3 over the three.
    assert.equal(classificationMetrics(rows([0, 2, 1, 1]), labels, 3).f1.toFixed(6), ((2 / 3 + 1 + 0) / 3).toFixed(6));
  });
});
