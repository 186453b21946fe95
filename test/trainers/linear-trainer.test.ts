import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loadOnnxModel } from '../../src/models/onnx-model';
import { trainerContractFlags } from '../../src/trainers/contract-flags';
import { ident, literal, withDuckDb } from '../../src/warehouse/duckdb';
import { trainerCommand } from '../../src/trainers/trainer-commands';
import { leastSquares, readSplit, rmseOf } from '../support/reference-fit';
import { tempDir, testConfig } from '../support/stack';
import { writeSyntheticDataset } from '../support/synthetic-datasets';

const features = ['size', 'age', 'rooms'];

/** Splits the generated regression CSV by row number into train / validation / test Parquet files. */
async function splitFiles(
  dir: string,
  source: string,
  names: string[] = features,
): Promise<Record<'train' | 'validation' | 'test', string>> {
  const files = {
    train: path.join(dir, 'train.parquet'),
    validation: path.join(dir, 'validation.parquet'),
    test: path.join(dir, 'test.parquet'),
  };
  const ranges = { train: 'i % 10 < 7', validation: 'i % 10 = 7', test: 'i % 10 > 7' };
  await withDuckDb(async (db) => {
    for (const [split, where] of Object.entries(ranges)) {
      await db.run(
        `COPY (SELECT ${features.map((f, i) => `${f} AS ${ident(names[i]!)}`).join(', ')}, price AS __label FROM
           (SELECT *, row_number() OVER () AS i FROM read_csv(${literal(source)})) WHERE ${where})
         TO ${literal(files[split as keyof typeof files])} (FORMAT parquet)`,
      );
    }
  });
  return files;
}

/** Runs the built-in trainer on the splits through its contract flags; returns its output folder. */
function trainRegression(dir: string, split: Record<'train' | 'validation', string>, featureColumns: string[]): string {
  const output = path.join(dir, 'out');
  const argv = [
    ...trainerCommand(testConfig(), 'builtin-linear'),
    ...trainerContractFlags({
      ...split,
      transform: 'unused.json',
      output,
      task: 'regression',
      labelColumn: '__label',
      featureColumns,
      hyperparameters: {},
      seed: 7,
    }),
  ];
  const run = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return output;
}

describe('the built-in linear trainer (src/trainers/linear-trainer.ts)', function () {
  it('fits a regression target in the hundreds with default settings to within 3% of least squares, in the target units', async function () {
    const dir = tempDir('linear-regression');
    const dataset = await writeSyntheticDataset(dir, 'regression-csv', 1500);
    const split = await splitFiles(dir, dataset.file);
    const output = trainRegression(dir, split, features);

    const test = await readSplit(split.test, features, '__label');
    const ols = rmseOf(leastSquares(await readSplit(split.train, features, '__label')), test);
    const model = await loadOnnxModel(fs.readFileSync(path.join(output, 'model.onnx')), 'model.onnx', features.length);
    const predictions = await model.run(Float32Array.from(test.x.flat()), test.y.length);
    await model.close();
    const trained = rmse(predictions, test.y);
    const meanPrice = test.y.reduce((a, b) => a + b, 0) / test.y.length;
    assert.ok(meanPrice > 300, `the target is in the hundreds (mean ${meanPrice})`);
    assert.ok(
      trained <= ols * 1.03,
      `test RMSE ${trained.toFixed(2)} should be within 3% of least squares ${ols.toFixed(2)}`,
    );
  });

  it('takes feature names holding commas and percent signs (one-hot columns of "Oslo, NO") as whole names', async function () {
    const dir = tempDir('linear-comma-names');
    const dataset = await writeSyntheticDataset(dir, 'regression-csv', 300);
    const names = ['city=Oslo, NO', 'share%, of total', 'rooms%2C'];
    const split = await splitFiles(dir, dataset.file, names);
    const output = trainRegression(dir, split, names);
    const model = await loadOnnxModel(fs.readFileSync(path.join(output, 'model.onnx')), 'model.onnx', names.length);
    await model.close();
  });

  it('takes names with edge spaces, tabs and non-ASCII letters exactly, never trimmed', async function () {
    const dir = tempDir('linear-spaced-names');
    const dataset = await writeSyntheticDataset(dir, 'regression-csv', 300);
    const names = ['city=Paris ', '\tcity=  padded  ', 'city=Zürich=東京'];
    const split = await splitFiles(dir, dataset.file, names);
    const output = trainRegression(dir, split, names);
    const model = await loadOnnxModel(fs.readFileSync(path.join(output, 'model.onnx')), 'model.onnx', names.length);
    await model.close();
  });

  it('refuses the label among the features, or two names DuckDB reads as one column, with exit code 2', async function () {
    const dir = tempDir('linear-twice');
    const dataset = await writeSyntheticDataset(dir, 'regression-csv', 100);
    const split = await splitFiles(dir, dataset.file);
    for (const [featureColumns, message] of [
      [[...features, '__label'], /column "__label" is named twice in --feature-columns and --label-column/],
      [['size', 'SIZE'], /column "SIZE" is named twice .* \(as "size": names are compared regardless of case\)/],
    ] as const) {
      const argv = [
        ...trainerCommand(testConfig(), 'builtin-linear'),
        ...trainerContractFlags({
          ...split,
          transform: 'unused.json',
          output: path.join(dir, 'out'),
          task: 'regression',
          labelColumn: '__label',
          featureColumns: [...featureColumns],
          hyperparameters: {},
          seed: 7,
        }),
      ];
      const run = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, message);
    }
  });
});

function rmse(predictions: ArrayLike<number>, targets: number[]): number {
  return Math.sqrt(targets.reduce((sum, y, i) => sum + (predictions[i]! - y) ** 2, 0) / targets.length);
}
