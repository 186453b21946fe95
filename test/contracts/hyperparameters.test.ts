import assert from 'node:assert/strict';
import { hyperparameterProblems } from '../../src/contracts/hyperparameters';
import { trainingPipelineInputSchema } from '../../src/contracts/pipeline';
import { churnPipelineInput } from '../support/pipeline-input';

describe('hyperparameters of the built-in trainers at pipeline input validation', function () {
  it('refuses export_onnx false for torch-tabular, which would train fully and then have no model.onnx', function () {
    const problems = hyperparameterProblems('torch-tabular', { export_onnx: false });
    assert.deepEqual(
      problems.map((p) => p.path),
      [['export_onnx']],
    );
    assert.match(problems[0]!.message, /no model\.onnx/);
    assert.match(problems[0]!.message, /by hand/);
    const parsed = trainingPipelineInputSchema.safeParse(
      churnPipelineInput({ trainer: { kind: 'torch-tabular', hyperparameters: { export_onnx: false } } }),
    );
    assert.ok(!parsed.success);
    assert.deepEqual(
      parsed.error.issues.map((i) => i.path.join('.')),
      ['trainer.hyperparameters.export_onnx'],
    );
  });

  it('accepts export_onnx true or left out', function () {
    assert.deepEqual(hyperparameterProblems('torch-tabular', { export_onnx: true }), []);
    assert.deepEqual(hyperparameterProblems('torch-tabular', {}), []);
  });

  it('takes hidden_sizes as the trainer does ("64,32", [64, 32] or 64) and names what else is wrong with it', function () {
    for (const hidden_sizes of ['64,32', ' 8 , 4 ', [64, 32], [16], 64])
      assert.deepEqual(hyperparameterProblems('torch-tabular', { hidden_sizes }), [], JSON.stringify(hidden_sizes));
    for (const hidden_sizes of ['64,0', '64;32', '', [], [64, 0], [1.5], ['64'], 0, 70_000, true, Array(33).fill(8)]) {
      const problems = hyperparameterProblems('torch-tabular', { hidden_sizes });
      assert.deepEqual(
        problems.map((p) => p.path),
        [['hidden_sizes']],
        JSON.stringify(hidden_sizes),
      );
      assert.match(problems[0]!.message, /must be hidden layer widths such as "64,32", \[64, 32\] or 64/);
    }
  });
});
