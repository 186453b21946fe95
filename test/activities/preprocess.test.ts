import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import { createPipelineActivities } from '../../src/activities';
import { LocalArtifactStore, readJson } from '../../src/artifacts';
import type {
  DatasetSnapshot,
  FittedTransform,
  PreprocessInput,
  PreprocessingSpec,
  PreprocessResult,
} from '../../src/contracts/datasets';
import { trainingPipelineInputSchema } from '../../src/contracts/pipeline';
import { parseWorkflowInput } from '../../src/contracts/validate';
import { isMlopsError } from '../../src/errors';
import { loadOnnxModel } from '../../src/models/onnx-model';
import { createPredictor } from '../../src/models/predictor';
import { transformInstance } from '../../src/models/transform-instance';
import { linearModelToOnnx } from '../../src/trainers/onnx-writer';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { rowNumberedParquet } from '../../src/warehouse/warehouse';
import { exampleDataset, tempDir, testConfig } from '../support/stack';
import { testDeps } from '../support/dependencies';
import { ingestedCsv } from '../support/prepared-data';

/**
 * A hand-made dataset with known answers. With seed 38 and fractions 0.2/0.2 the split hash sends file rows
 * 0–5, 7, 8 and 9 to train, 6 and 11 to test and 10 to validation (row 12 has no target and is dropped). Row 9
 * duplicates row 8, so with dedupe the training rows are 0–5, 7, 8:
 *   a (observed) 1 2 3 4 5 6 70 → exact quantiles 0.25/0.75 = 2.5/5.5 (interpolated at q·(n − 1));
 *     clipped 2.5 2.5 3 4 5 5.5 5.5 → mean 4, median 4
 *   b 2 4 4 4 5 5 7 9 → median 4.5, mean 5, population std 2 (a second 9 from row 9 would change all three)
 *   color red ×3, blue ×2, green ×2, null → most frequent "red"; ordinal red 0, blue 1, green 2 (ties by value)
 *   size S ×3, L ×3, M, null → with null as "M": L 3, S 3, M 2; the top 2 are L and S, M falls in the unknown bucket
 */
const handMadeCsv = `a,b,c,color,size,label
1,2,10,red,S,cat
2,4,,red,L,dog
3,4,30,blue,S,cat
4,4,10,green,,dog
5,5,10,red,L,cat
6,5,20,blue,S,dog
100,0,0,purple,XL,cat
70,7,20,green,M,cat
,9,40,,L,dog
,9,40,,L,dog
0,1,5,red,S,dog
3,3,3,blue,L,cat
8,8,8,red,S,
`;

const handMadeSpec: PreprocessingSpec = {
  dedupe: true,
  features: {
    a: { clip: { lower: 0.25, upper: 0.75 }, impute: 'mean', standardize: false },
    c: { impute: { strategy: 'constant', value: -1 }, standardize: false },
    color: { encoding: 'ordinal', impute: 'most_frequent' },
    size: { impute: { strategy: 'constant', value: 'M' }, maxCategories: 2 },
  },
};

describe('preprocessDataset', function () {
  let store: LocalArtifactStore;
  let handMade: DatasetSnapshot;
  let churn: DatasetSnapshot;

  before(async function () {
    store = new LocalArtifactStore(tempDir('preprocess-store'));
    const csv = path.join(tempDir('preprocess-data'), 'hand-made.csv');
    fs.writeFileSync(csv, handMadeCsv);
    const activities = createPipelineActivities(testDeps({ store }));
    handMade = await activities.ingestDataset({ sourceUri: csv });
    churn = await activities.ingestDataset({ sourceUri: exampleDataset });
  });

  function handMadeInput(preprocessing: PreprocessingSpec | undefined = handMadeSpec): PreprocessInput {
    return {
      ...handMade,
      target: 'label',
      task: 'classification',
      split: { testFraction: 0.2, validationFraction: 0.2, seed: 7153 },
      preprocessing,
    };
  }

  const csvInput = (name: string, header: string, rows: string[]) => ingestedCsv(store, name, header, rows);

  function churnInput(preprocessing?: PreprocessingSpec, snapshot = churn): PreprocessInput {
    return {
      ...snapshot,
      target: 'churned',
      task: 'classification',
      split: { testFraction: 0.2, validationFraction: 0.1, seed: 42 },
      preprocessing,
    };
  }

  it('fits median, mean, quantile clip bounds, constants and ordinal indices on the training rows only', async function () {
    const result = await createPipelineActivities(testDeps({ store })).preprocessDataset(handMadeInput());
    assert.deepEqual(result.rows, { train: 8, validation: 1, test: 2 });
    assert.deepEqual(result.droppedRows, { missingTarget: 1, duplicates: 1 });
    assert.deepEqual(result.classes, ['cat', 'dog']);
    assert.deepEqual(result.featureColumns, ['a', 'b', 'c', 'color', 'size=L', 'size=S', 'size=__unknown__']);

    const transform = await readJson<FittedTransform>(store, result.transformUri);
    assert.equal(transform.version, 2);
    assert.deepEqual(transform.rows, {
      dedupe: true,
      split: { testFraction: 0.2, validationFraction: 0.2, seed: 7153, stratify: false },
    });
    const [a, b, c, color, size] = transform.features;
    assert.ok(a?.kind === 'numeric');
    const { std: aStd, ...aFitted } = a;
    // Population std of the clipped 2.5 2.5 3 4 5 5.5 5.5 around 4 (squared deviations sum to 11); DuckDB's
    // streaming algorithm may differ from the closed form in the last bit.
    assert.ok(Math.abs(aStd - Math.sqrt(11 / 7)) < 1e-12, String(aStd));
    assert.deepEqual(aFitted, {
      kind: 'numeric',
      name: 'a',
      imputeStrategy: 'mean',
      impute: 4,
      clip: { lowerQuantile: 0.25, upperQuantile: 0.75, lower: 2.5, upper: 5.5 },
      mean: 4,
      standardize: false,
      output: 'a',
    });
    assert.deepEqual(b, {
      kind: 'numeric',
      name: 'b',
      imputeStrategy: 'median',
      impute: 4.5,
      mean: 5,
      std: 2,
      standardize: true,
      output: 'b',
    });
    assert.deepEqual(c && c.kind === 'numeric' && [c.imputeStrategy, c.impute, c.standardize], ['constant', -1, false]);
    assert.deepEqual(color, {
      kind: 'categorical',
      name: 'color',
      imputeStrategy: 'most_frequent',
      impute: 'red',
      maxCategories: 50,
      encoding: 'ordinal',
      categories: ['red', 'blue', 'green'],
      unknownIndex: -1,
      output: 'color',
    });
    assert.deepEqual(size, {
      kind: 'categorical',
      name: 'size',
      imputeStrategy: 'constant',
      impute: 'M',
      maxCategories: 2,
      encoding: 'onehot',
      categories: ['L', 'S'],
      outputs: ['size=L', 'size=S'],
      unknownOutput: 'size=__unknown__',
    });
  });

  it('writes clipped, imputed, standardized and encoded rows in file order, and applies the training fit to the test rows', async function () {
    const result = await createPipelineActivities(testDeps({ store })).preprocessDataset(handMadeInput());
    const columns = 'a, b, c, color, "size=L", "size=S", "size=__unknown__", __label';
    assert.deepEqual(await readSplit(result.trainUri, columns), [
      [2.5, -1.5, 10, 0, 0, 1, 0, 0],
      [2.5, -0.5, -1, 0, 1, 0, 0, 1],
      [3, -0.5, 30, 1, 0, 1, 0, 0],
      [4, -0.5, 10, 2, 0, 0, 1, 1],
      [5, 0, 10, 0, 1, 0, 0, 0],
      [5.5, 0, 20, 1, 0, 1, 0, 1],
      [5.5, 1, 20, 2, 0, 0, 1, 0],
      [4, 2, 40, 0, 1, 0, 0, 1],
    ]);
    // Row 6 (a 100 → 5.5, unseen "purple" → -1, unseen "XL" → unknown) and row 11.
    assert.deepEqual(await readSplit(result.testUri, columns), [
      [5.5, -2.5, 0, -1, 0, 0, 1, 0],
      [3, -1, 3, 1, 1, 0, 0, 0],
    ]);
    assert.deepEqual(await readSplit(result.validationUri, columns), [[2.5, -2, 5, 0, 0, 1, 0, 1]]);
  });

  it('keeps duplicate rows unless dedupe is on, and fits on them', async function () {
    const result = await createPipelineActivities(testDeps({ store })).preprocessDataset(
      handMadeInput({ ...handMadeSpec, dedupe: false }),
    );
    assert.deepEqual(result.rows, { train: 9, validation: 1, test: 2 });
    assert.deepEqual(result.droppedRows, { missingTarget: 1, duplicates: 0 });
    const transform = await readJson<FittedTransform>(store, result.transformUri);
    const b = transform.features[1]!;
    assert.ok(b.kind === 'numeric');
    assert.deepEqual([b.impute, b.mean], [5, 49 / 9]);
  });

  it('keeps the class proportions of churn.csv in every split when stratifying, within rounding', async function () {
    const result = await createPipelineActivities(testDeps({ store })).preprocessDataset(
      churnInput({ stratify: true }),
    );
    const classSizes = await withDuckDb((db) =>
      db.query<{ v: string; n: number }>(
        `SELECT churned::VARCHAR AS v, count(*) AS n FROM read_csv(${literal(exampleDataset)}, header = true) GROUP BY 1`,
      ),
    );
    assert.equal(classSizes.length, 2);
    const round = (x: number) => Math.floor(x + 0.5);
    for (const { v, n } of classSizes) {
      const label = result.classes!.indexOf(v);
      const counts = await Promise.all(
        [result.testUri, result.validationUri, result.trainUri].map(async (uri) => {
          const [row] = await readSplit(uri, 'count(*)', `WHERE __label = ${label}`);
          return row![0];
        }),
      );
      const test = round(n * 0.2);
      const validation = round(n * 0.1);
      assert.deepEqual(counts, [test, validation, n - test - validation], `class ${label} of ${n} rows`);
    }
    assert.deepEqual(result.rows.train + result.rows.validation + result.rows.test, 5000);
  });

  it('writes byte-identical split files and transform.json for the same spec on the same snapshot', async function () {
    const spec: PreprocessingSpec = {
      dedupe: true,
      stratify: true,
      defaults: { numeric: { clip: { lower: 0.01, upper: 0.99 } }, categorical: { encoding: 'ordinal' } },
      features: { contract: { encoding: 'onehot', impute: 'most_frequent' } },
    };
    const results: PreprocessResult[] = [];
    for (const name of ['first-store', 'second-store']) {
      const other = new LocalArtifactStore(tempDir(name));
      const activities = createPipelineActivities(testDeps({ store: other }));
      const snapshot = await activities.ingestDataset({ sourceUri: exampleDataset });
      assert.equal(snapshot.snapshotId, churn.snapshotId);
      results.push(await activities.preprocessDataset(churnInput(spec, snapshot)));
    }
    const [first, second] = results as [PreprocessResult, PreprocessResult];
    assert.equal(first.specHash, second.specHash);
    assert.notEqual(first.trainUri, second.trainUri);
    for (const key of ['trainUri', 'validationUri', 'testUri', 'transformUri'] as const) {
      const bytes = fs.readFileSync(fileURLToPath(first[key]));
      assert.ok(bytes.equals(fs.readFileSync(fileURLToPath(second[key]))), `${key} differs`);
    }
  });

  it('writes byte-identical files and profile for a snapshot of several row groups, whatever MLOPS_DATA_THREADS', async function () {
    this.timeout(120_000);
    // 300,000 rows (three Parquet row groups of the snapshot), with values derived from the row number.
    const source = path.join(tempDir('preprocess-large'), 'large.parquet');
    await withDuckDb((db) =>
      db.run(`COPY (SELECT (hash(range) % 10000) / 100.0 AS a,
          CASE WHEN range % 13 = 0 THEN NULL ELSE (hash(range + 1) % 5000) / 10.0 END AS b,
          ['north', 'south', 'east', 'west'][1 + (hash(range + 2) % 4)::INTEGER] AS region,
          CASE WHEN hash(range + 3) % 10 < 3 THEN 'yes' ELSE 'no' END AS label
        FROM range(300000)) TO ${literal(source)} (FORMAT parquet)`),
    );
    const spec: PreprocessingSpec = { features: { a: { clip: { lower: 0.05, upper: 0.95 } } } };
    const hashes: string[][] = [];
    // Twice with the default two statements side by side, then one at a time, then three: the read, the profile's
    // column groups and the concurrent split writes change, the bytes do not.
    for (const threads of [undefined, undefined, '1', '3']) {
      const largeStore = new LocalArtifactStore(tempDir('large'));
      const config = threads ? testConfig({ MLOPS_DATA_THREADS: threads }) : testConfig();
      const activities = createPipelineActivities(testDeps({ store: largeStore, config }));
      const snapshot = await activities.ingestDataset({ sourceUri: source });
      const profiled = await activities.profileDataset({ ...snapshot, target: 'label' });
      const result = await activities.preprocessDataset({
        ...snapshot,
        target: 'label',
        task: 'classification',
        split: { testFraction: 0.2, validationFraction: 0.1, seed: 5 },
        preprocessing: spec,
      });
      assert.equal(result.rows.train + result.rows.validation + result.rows.test, 300_000);
      // 210,000 training rows: b's median comes from a uniform sample of 100,000 of them, so it lands close to the
      // exact median of all rows (a standard error of about 0.004 standard deviations).
      const transform = await readJson<FittedTransform>(largeStore, result.transformUri);
      const b = transform.features.find((t) => t.name === 'b')!;
      assert.ok(b.kind === 'numeric');
      const [exact] = await withDuckDb((db) =>
        db.query<{ m: number }>(`SELECT median(b) AS m FROM read_parquet(${literal(source)})`),
      );
      assert.ok(Math.abs(b.impute - exact!.m) < 0.02 * b.std, `median ${b.impute} vs ${exact!.m} (std ${b.std})`);
      hashes.push(
        [result.trainUri, result.validationUri, result.testUri, result.transformUri, profiled.profileUri].map((uri) =>
          createHash('sha256')
            .update(fs.readFileSync(fileURLToPath(uri)))
            .digest('hex'),
        ),
      );
    }
    for (const other of hashes.slice(1)) assert.deepEqual(other, hashes[0]);
  });

  it('reuses the stored output for the same resolved spec and recomputes when any setting changes', async function () {
    const activities = createPipelineActivities(testDeps({ store }));
    const spec: PreprocessingSpec = { features: { tenure_months: { clip: { upper: 0.99 } } } };
    const first = await activities.preprocessDataset(churnInput(spec));
    const again = await activities.preprocessDataset(churnInput(spec));
    assert.deepEqual(again, { ...first, reused: true });
    // Spelling out the defaults resolves to the same plan, so it is the same output.
    const spelledOut = await activities.preprocessDataset(
      churnInput({
        dedupe: false,
        stratify: false,
        defaults: { numeric: { impute: 'median', standardize: true }, categorical: { encoding: 'onehot' } },
        features: { tenure_months: { type: 'numeric', clip: { upper: 0.99 } } },
      }),
    );
    assert.deepEqual([spelledOut.specHash, spelledOut.reused], [first.specHash, true]);
    const changes: PreprocessingSpec[] = [
      { features: { tenure_months: { clip: { upper: 0.98 } } } },
      // Printed by JavaScript as 1e-7: a level in exponent form.
      { features: { tenure_months: { clip: { lower: 1e-7, upper: 0.99 } } } },
      { ...spec, dedupe: true },
      { ...spec, stratify: true },
      { ...spec, defaults: { numeric: { standardize: false } } },
      { ...spec, defaults: { categorical: { maxCategories: 2 } } },
      { ...spec, defaults: { categorical: { impute: { strategy: 'constant', value: '?' } } } },
    ];
    const hashes = new Set([first.specHash]);
    for (const change of changes) {
      const changed = await activities.preprocessDataset(churnInput(change));
      assert.equal(changed.reused, false, JSON.stringify(change));
      hashes.add(changed.specHash);
    }
    assert.equal(hashes.size, changes.length + 1);
  });

  it('rejects a bad spec with one non-retryable catalogued failure naming every bad field', async function () {
    const bad = {
      stratify: true,
      features: {
        a: { clip: { lower: 0.9, upper: 0.1 } },
        b: { type: 'text' },
        c: { impute: 'constant' },
        color: { clip: { upper: 0.9 } },
        size: { type: 'numeric' },
        nope: { standardize: false },
      },
    } as unknown as PreprocessingSpec;
    const structural = await failure(handMadeInput(bad), 'regression');
    assert.match(structural.message, /^MLOPS_ERR_PREPROCESS_SPEC_INVALID: /);
    for (const line of [
      '- preprocessing.features.a.clip.lower: lower (0.9) must be below upper (0.1)',
      "- preprocessing.features.b.type: Invalid enum value. Expected 'numeric' | 'categorical', received 'text'",
      '- preprocessing.features.c.impute: constant imputation needs a value',
      '- preprocessing.stratify: stratification needs a classification task (task is "regression")',
      '- preprocessing.features.nope: is not one of the features (pipeline field "features"), which are "a", "b", "c", "color", "size"',
    ])
      assert.ok(structural.message.includes(line), `missing "${line}" in:\n${structural.message}`);

    // Problems that need the column types are found once the spec is well-formed.
    const typed = await failure(
      handMadeInput({ features: { color: { clip: { upper: 0.9 } }, size: { type: 'numeric' } } }),
    );
    for (const line of [
      '- preprocessing.features.color.clip: applies to numeric features only (inferred type categorical)',
      '- preprocessing.features.size.type: "numeric" needs a numeric column; "size" is VARCHAR',
    ])
      assert.ok(typed.message.includes(line), `missing "${line}" in:\n${typed.message}`);
  });

  it('lists every problem of an input in one failure: a missing column, a date, an empty one and the spec, each with its code', async function () {
    const rows = Array.from(
      { length: 40 },
      (_, i) => `${i},,2024-01-${String(1 + (i % 28)).padStart(2, '0')},${i % 2 ? 'a' : 'b'}`,
    );
    const { snapshot, input } = await csvInput('many-problems.csv', 'x,notes,day,y', rows);
    const activities = createPipelineActivities(testDeps({ store }));
    const err = await activities
      .preprocessDataset({
        ...input,
        features: ['x', 'notes', 'day', 'nonexist'],
        preprocessing: { features: { x: { encoding: 'ordinal' } } },
      })
      .then(
        () => assert.fail('the input should be refused'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'MLOPS_ERR_PREPROCESS_INPUT_INVALID');
    assert.equal(err.nonRetryable, true);
    const lines = err.message.split('\n').filter((line) => line.startsWith('- MLOPS_ERR_'));
    assert.deepEqual(
      lines.map((line) => line.split(':')[0]),
      [
        '- MLOPS_ERR_DATA_FEATURE_ALL_NULL',
        '- MLOPS_ERR_DATA_FEATURE_TEMPORAL',
        '- MLOPS_ERR_DATA_COLUMN_MISSING',
        '- MLOPS_ERR_PREPROCESS_SPEC_INVALID',
      ],
    );
    assert.match(
      err.message,
      /^MLOPS_ERR_PREPROCESS_INPUT_INVALID: The pipeline input cannot be preprocessed on dataset "ds-\w+": 4 problems/,
    );
    assert.match(
      err.message,
      /- MLOPS_ERR_DATA_FEATURE_ALL_NULL: Feature column "notes" .*\(all 40 rows are null\)\n {2}Fix: Leave the column out/,
    );
    assert.match(err.message, /\n {2}- preprocessing\.features\.x\.encoding: /);
    assert.deepEqual(await store.list(store.uri('preprocessed', snapshot.snapshotId)), []);
  });

  it('leaves a column with no value in any row out of the default features, and refuses it listed, writing nothing', async function () {
    const rows = Array.from({ length: 40 }, (_, i) => `${i},,${i % 2 ? 'a' : 'b'}`);
    const { snapshot, input } = await csvInput('empty-feature.csv', 'x,notes,y', rows);
    const activities = createPipelineActivities(testDeps({ store }));
    await assert.rejects(
      activities.preprocessDataset({ ...input, features: ['x', 'notes'] }),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'MLOPS_ERR_DATA_FEATURE_ALL_NULL' &&
        err.nonRetryable === true &&
        /Feature column "notes" .*\(all 40 rows are null\)/.test(err.message),
    );
    assert.deepEqual(await store.list(store.uri('preprocessed', snapshot.snapshotId)), []);
    // Without a feature list (the snapshot's warnings name the empty column), it is left out, saying why.
    const byDefault = await activities.preprocessDataset(input);
    assert.deepEqual(byDefault.featureColumns, ['x']);
    assert.deepEqual(byDefault.leftOut, [
      { column: 'notes', type: 'VARCHAR', reason: 'it has no values: every row of the snapshot is null' },
    ]);
  });

  it('refuses a classification target with one class, or none, saying which', async function () {
    const activities = createPipelineActivities(testDeps({ store }));
    const cases = [
      {
        name: 'one-class.csv',
        y: (i: number) => (i % 4 ? 'cat' : ''),
        reason: /it has one value \("cat"\) in every row with a value/,
      },
      { name: 'no-class.csv', y: () => '', reason: /it has no value in any row/ },
    ];
    for (const { name, y, reason } of cases) {
      const { input } = await csvInput(
        name,
        'x,y',
        Array.from({ length: 30 }, (_, i) => `${i},${y(i)}`),
      );
      await assert.rejects(
        activities.preprocessDataset(input),
        (err: unknown) =>
          err instanceof ApplicationFailure && err.type === 'MLOPS_ERR_DATA_TARGET_INVALID' && reason.test(err.message),
      );
    }
  });

  it("tells a request that sends a feature by the training file's name which name ingest gave it", async function () {
    // A header with spaces around a name: ingest trims it to "plan" (a column-renamed warning), the feature's name.
    const rows = Array.from({ length: 60 }, (_, i) => `${i % 7},${['a', 'b'][i % 2]},${i % 3 ? 'x' : 'z'}`);
    const { input } = await csvInput('padded.csv', 'n, plan ,y', rows);
    const result = await createPipelineActivities(testDeps({ store })).preprocessDataset(input);
    const transform = await readJson<FittedTransform>(store, result.transformUri);
    assert.deepEqual(transform.renamed, [{ from: ' plan ', to: 'plan' }]);
    const model = linearModelToOnnx({
      weights: Array<number>(2 * result.featureColumns.length).fill(0),
      bias: [0, 0],
      features: result.featureColumns.length,
      outputs: 2,
      kind: 'classification',
      producerVersion: 'test',
    });
    const predictor = createPredictor(
      transform,
      await loadOnnxModel(model, 'model.onnx', result.featureColumns.length),
    );
    try {
      assert.deepEqual(predictor.validate([{ n: 3, ' plan ': 'a' }]), [
        'instances[0]: unknown field " plan " (the training file\'s name of feature "plan", which ingest renamed: send it as "plan")',
        'instances[0]: missing field "plan" (send null to impute it)',
      ]);
    } finally {
      await predictor.close();
    }
  });

  it('leaves a column of numbers with thousands separators out of the default features, and refuses it as a listed feature or the target', async function () {
    const rows = Array.from(
      { length: 60 },
      (_, i) => `${i % 7},"${1 + (i % 9)},${String(100 + i).padStart(3, '0')}",${i % 2 ? 'x' : 'z'}`,
    );
    const { input } = await csvInput('grouped-amount.csv', 'n,amount,y', rows);
    const activities = createPipelineActivities(testDeps({ store }));
    const byDefault = await activities.preprocessDataset(input);
    assert.deepEqual(byDefault.featureColumns, ['n']);
    assert.match(
      byDefault.leftOut![0]!.reason,
      /^its numbers are written with thousands separators \(row 1 has "1,100"; 60 of its 60 values are written so\): write them without/,
    );
    const cases: [Partial<PreprocessInput>, string][] = [
      [{ features: ['n', 'amount'] }, 'feature'],
      [{ target: 'amount', task: 'regression', features: ['n'] }, 'target'],
    ];
    for (const [listed, role] of cases)
      await assert.rejects(
        activities.preprocessDataset({ ...input, ...listed }),
        (err: unknown) =>
          err instanceof ApplicationFailure &&
          err.type === 'MLOPS_ERR_DATA_NUMBER_GROUPING' &&
          err.nonRetryable === true &&
          err.message.startsWith(
            `MLOPS_ERR_DATA_NUMBER_GROUPING: Column "amount" (${role}) of dataset "${input.snapshotId}" holds numbers written with thousands separators (row 1 has "1,100"; 60 of its 60 values are written so).`,
          ),
      );
  });

  it('warns when the model inputs are at least as many as the training rows, and not below that', async function () {
    const header = [...Array.from({ length: 40 }, (_, j) => `g${j}`), 'y'].join(',');
    const line = (i: number) => [...Array.from({ length: 40 }, (_, j) => ((i * 7 + j * 13) % 17) / 4), i % 2].join(',');
    const wide = await csvInput(
      'wide-few-rows.csv',
      header,
      Array.from({ length: 50 }, (_, i) => line(i)),
    );
    const result = await createPipelineActivities(testDeps({ store })).preprocessDataset(wide.input);
    const warning = result.warnings?.find((w) => w.kind === 'features-exceed-rows');
    assert.ok(warning, JSON.stringify(result.warnings));
    assert.equal(warning.feature, undefined);
    assert.equal(
      warning.message,
      `40 model inputs (the features after one-hot encoding) for ${result.rows.train} training rows: a model can fit the training rows exactly and learn little that holds on new rows. List fewer features (pipeline field features), bring more rows, or penalize the weights more (builtin-linear: hyperparameters.l2, e.g. 1).`,
    );
    const tall = await csvInput(
      'wide-more-rows.csv',
      header,
      Array.from({ length: 200 }, (_, i) => line(i)),
    );
    const enough = await createPipelineActivities(testDeps({ store })).preprocessDataset(tall.input);
    assert.ok(enough.rows.train > 40);
    assert.equal(
      enough.warnings?.find((w) => w.kind === 'features-exceed-rows'),
      undefined,
    );
  });

  it('warns of a feature with one value in every training row, numeric or categorical, naming the value', async function () {
    const rows = Array.from({ length: 120 }, (_, i) => `${i % 9},7.5,${i % 4 ? 'eu' : ''},k,${i % 2 ? 'x' : 'z'}`);
    const { input } = await csvInput('constant.csv', 'n,rate,region,kind,y', rows);
    const result = await createPipelineActivities(testDeps({ store })).preprocessDataset(input);
    assert.deepEqual(
      result.warnings?.map((w) => [w.kind, w.feature]),
      [
        ['feature-constant', 'rate'],
        ['feature-constant', 'kind'],
      ],
    );
    assert.equal(
      result.warnings[0]!.message,
      'Feature "rate" has one value in every training row (7.5): it tells the model nothing. Leave it out of features, or check the data if it should vary.',
    );
    assert.match(result.warnings[1]!.message, /^Feature "kind" has one value in every training row \("k"\)/);
    // A region missing in a quarter of the rows is no constant: whether it is missing is something to learn from.
    assert.deepEqual(result.featureColumns.slice(0, 2), ['n', 'rate'], 'still fitted');
  });

  it('warns of a categorical feature whose kept categories cover under half the training rows, as an identifier does', async function () {
    const rows = Array.from(
      { length: 300 },
      (_, i) => `cust-${1000 + i},${['a', 'b', 'c'][i % 3]},${i % 11},${i % 2 ? 'x' : 'z'}`,
    );
    const { input } = await csvInput('with-id.csv', 'customer_id,plan,n,y', rows);
    const activities = createPipelineActivities(testDeps({ store }));
    const result = await activities.preprocessDataset(input);
    assert.deepEqual(
      result.warnings?.map((w) => [w.kind, w.feature]),
      [['feature-mostly-unknown', 'customer_id']],
    );
    assert.match(
      result.warnings[0]!.message,
      new RegExp(
        `its 50 most frequent training values cover ${((50 / result.rows.train) * 100).toFixed(1)}% of the training rows`,
      ),
    );
    // The plan's feature with three repeating values, and the numeric one, fit without a word.
    assert.deepEqual(
      (await readJson<FittedTransform>(store, result.transformUri)).features.map((f) => f.name),
      ['customer_id', 'plan', 'n'],
    );
  });

  it('leaves date and time columns out of the default features, saying so, and refuses one listed as a feature', async function () {
    // ISO timestamps, day-first dates and plain timestamps with milliseconds: DuckDB types them, and its text for
    // them is not what a client sends, so as categories every served value would be unknown.
    const rows = Array.from(
      { length: 60 },
      (_, i) =>
        `2024-0${1 + (i % 5)}-01T10:00:0${i % 10}Z,1${i % 9}/02/2024,2024-01-02 11:28:23.${460 + i},${i % 7},${i % 3 ? 'a' : 'b'}`,
    );
    const { snapshot, input } = await csvInput('dated.csv', 'ts,day,event_time,n,y', rows);
    const activities = createPipelineActivities(testDeps({ store }));
    assert.deepEqual(
      snapshot.columns.map((c) => c.type),
      ['TIMESTAMP WITH TIME ZONE', 'DATE', 'TIMESTAMP', 'BIGINT', 'VARCHAR'],
    );
    const result = await activities.preprocessDataset(input);
    assert.deepEqual(result.featureColumns, ['n']);
    assert.deepEqual(
      result.leftOut?.map((c) => [c.column, c.type]),
      [
        ['ts', 'TIMESTAMP WITH TIME ZONE'],
        ['day', 'DATE'],
        ['event_time', 'TIMESTAMP'],
      ],
    );
    assert.match(result.leftOut[0]!.reason, /derive numeric columns from it/);
    const transform = await readJson<FittedTransform>(store, result.transformUri);
    assert.deepEqual(
      transform.features.map((f) => f.name),
      ['n'],
    );
    // The transform keeps them, so a client sending a whole row is told what such a column is.
    const model = linearModelToOnnx({
      weights: [0, 0],
      bias: [0, 0],
      features: 1,
      outputs: 2,
      kind: 'classification',
      producerVersion: 'test',
    });
    const predictor = createPredictor(transform, await loadOnnxModel(model, 'model.onnx', 1));
    try {
      assert.deepEqual(predictor.validate([{ n: 3, day: '2024-02-12' }]), [
        `instances[0]: unknown field "day" (a column of the training data that is not one of the model's features: ${result.leftOut[1]!.reason}; leave it out of requests)`,
      ]);
    } finally {
      await predictor.close();
    }
    await assert.rejects(
      activities.preprocessDataset({ ...input, features: ['n', 'event_time'] }),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'MLOPS_ERR_DATA_FEATURE_TEMPORAL' &&
        err.nonRetryable === true &&
        /Column "event_time" of dataset "ds-\w+" is TIMESTAMP, a date or time type, so it cannot be a feature/.test(
          err.message,
        ),
    );
  });

  it('leaves nested columns and JSON Lines keys of mixed kinds out of the default features, saying so, and refuses one listed as a feature', async function () {
    // As categories, their values would be the warehouse's text: `[1, 2]`, `{'k': 1}`, and `"11"` with its JSON quotes.
    const jsonl = path.join(tempDir('preprocess-data'), 'nested.jsonl');
    const line = (i: number) => ({
      n: i % 7,
      mix: i % 2 ? i : String(i),
      tags: [i % 3, 1],
      box: { k: i % 4 },
      y: i % 3 ? 'p' : 'q',
    });
    fs.writeFileSync(jsonl, `${Array.from({ length: 60 }, (_, i) => JSON.stringify(line(i))).join('\n')}\n`);
    const parquet = path.join(tempDir('preprocess-data'), 'nested.parquet');
    await withDuckDb((db) =>
      db.run(
        `COPY (SELECT i % 7 AS n, [i % 3, 1]::INTEGER[] AS tags, {'k': (i % 4)::INTEGER} AS box, ` +
          `CASE WHEN i % 3 = 0 THEN 'q' ELSE 'p' END AS y FROM range(60) t(i)) TO ${literal(parquet)} (FORMAT parquet)`,
      ),
    );
    const activities = createPipelineActivities(testDeps({ store }));
    const split = { testFraction: 0.2, validationFraction: 0.2, seed: 3 };
    const expected = {
      jsonl: [
        ['mix', 'JSON', /JSON columns .* are not features: their categories would keep JSON quotes/],
        ['tags', 'BIGINT[]', /nested columns .* are not features: .*flatten it into columns/],
        ['box', 'STRUCT(k BIGINT)', /nested columns/],
      ],
      parquet: [
        ['tags', 'INTEGER[]', /nested columns/],
        ['box', 'STRUCT(k INTEGER)', /nested columns/],
      ],
    } as const;
    for (const [file, leftOut] of [
      [jsonl, expected.jsonl],
      [parquet, expected.parquet],
    ] as const) {
      const snapshot = await activities.ingestDataset({ sourceUri: file });
      const input: PreprocessInput = { ...snapshot, target: 'y', task: 'classification', split };
      const result = await activities.preprocessDataset(input);
      assert.deepEqual(result.featureColumns, ['n']);
      assert.deepEqual(
        result.leftOut?.map((c) => [c.column, c.type]),
        leftOut.map(([column, type]) => [column, type]),
      );
      for (const [i, [, , reason]] of leftOut.entries()) assert.match(result.leftOut[i]!.reason, reason);
      for (const [column, type] of leftOut) {
        const code = type === 'JSON' ? 'MLOPS_ERR_DATA_FEATURE_MIXED_JSON' : 'MLOPS_ERR_DATA_FEATURE_NESTED';
        const pattern =
          type === 'JSON'
            ? /Column "mix" of dataset "ds-\w+" is JSON: a JSON Lines key whose values are of different kinds .*\nFix: Make every value of the key the same kind/
            : new RegExp(
                `Column "${column}" of dataset "ds-\\w+" is ${type.replace(/[[\]()]/g, '\\$&')}, a nested type .*\\nFix: .*flatten it in the data into columns`,
              );
        await assert.rejects(
          activities.preprocessDataset({ ...input, features: ['n', column] }),
          (err: unknown) =>
            err instanceof ApplicationFailure &&
            err.type === code &&
            err.nonRetryable === true &&
            pattern.test(err.message),
        );
      }
    }
  });

  it('leaves binary columns out of the default features, refuses one listed, and refuses data with no feature left, naming each column and why', async function () {
    const parquet = path.join(tempDir('preprocess-data'), 'binary.parquet');
    await withDuckDb((db) =>
      db.run(
        `COPY (SELECT i % 7 AS n, encode('v' || (i % 3)) AS raw, CASE WHEN i % 3 = 0 THEN 'q' ELSE 'p' END AS y ` +
          `FROM range(60) t(i)) TO ${literal(parquet)} (FORMAT parquet)`,
      ),
    );
    const activities = createPipelineActivities(testDeps({ store }));
    const split = { testFraction: 0.2, validationFraction: 0.2, seed: 3 };
    const snapshot = await activities.ingestDataset({ sourceUri: parquet });
    const input: PreprocessInput = { ...snapshot, target: 'y', task: 'classification', split };
    const result = await activities.preprocessDataset(input);
    assert.deepEqual(result.featureColumns, ['n']);
    assert.deepEqual(
      result.leftOut?.map((c) => [c.column, c.type]),
      [['raw', 'BLOB']],
    );
    assert.match(result.leftOut[0]!.reason, /binary columns are not features/);
    await assert.rejects(
      activities.preprocessDataset({ ...input, features: ['n', 'raw'] }),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'MLOPS_ERR_DATA_FEATURE_BINARY' &&
        err.nonRetryable === true &&
        /Column "raw" of dataset "ds-\w+" is BLOB, binary data, so it cannot be a feature/.test(err.message),
    );

    // A date and an empty column beside the target: nothing to learn from, said before any trainer starts.
    const rows = Array.from(
      { length: 60 },
      (_, i) => `2024-01-${String(1 + (i % 28)).padStart(2, '0')},,${i % 3 ? 'a' : 'b'}`,
    );
    const dated = await csvInput('only-date.csv', 'when,empty,y', rows);
    await assert.rejects(
      activities.preprocessDataset(dated.input),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'MLOPS_ERR_DATA_NO_FEATURES' &&
        err.nonRetryable === true &&
        err.message.includes(
          'has no column to learn "y" from: every other column is left out. Left out: "when" (DATE): date and time columns are not features',
        ) &&
        err.message.includes('; "empty" (VARCHAR): it has no values: every row of the snapshot is null'),
    );
    const alone = await csvInput(
      'only-target.csv',
      'y',
      rows.map((r) => r.split(',')[2]!),
    );
    await assert.rejects(
      activities.preprocessDataset(alone.input),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'MLOPS_ERR_DATA_NO_FEATURES' &&
        /Left out: it has no column besides the target\nFix: Add columns/.test(err.message),
    );
  });

  it('reads "" in a categorical column as missing, like null, in the SQL transform and in the server transform alike', async function () {
    const jsonl = path.join(tempDir('preprocess-data'), 'empty-strings.jsonl');
    const kinds = ['a', '', null, 'b', 'a', ''];
    fs.writeFileSync(
      jsonl,
      Array.from({ length: 60 }, (_, i) =>
        JSON.stringify({ x: i, kind: kinds[i % kinds.length], y: i % 3 ? 'p' : 'q' }),
      )
        .join('\n')
        .concat('\n'),
    );
    const activities = createPipelineActivities(testDeps({ store }));
    const snapshot = await activities.ingestDataset({ sourceUri: jsonl });
    const result = await activities.preprocessDataset({
      ...snapshot,
      target: 'y',
      task: 'classification',
      split: { testFraction: 0.2, validationFraction: 0.2, seed: 3 },
    });
    const transform = await readJson<FittedTransform>(store, result.transformUri);
    const kind = transform.features.find((f) => f.name === 'kind')!;
    assert.deepEqual(kind.kind === 'categorical' && kind.categories, ['__missing__', 'a', 'b']);
    for (const row of await servedEqualsWritten(snapshot, result, transform)) {
      if (row.kind === '' || row.kind === null) assert.equal(row['out:kind=__missing__'], 1);
    }
  });

  it('transforms each record in the server as the SQL wrote it: clip bounds, no standardization, constants, ordinal indices, the unknown bucket', async function () {
    const activities = createPipelineActivities(testDeps({ store }));
    const result = await activities.preprocessDataset(handMadeInput());
    const transform = await readJson<FittedTransform>(store, result.transformUri);
    const rows = await servedEqualsWritten(handMade, result, transform);
    // Every kind of value of the spec is among the rows: a clipped a, an imputed c and color, an unseen size.
    assert.ok(rows.some((r) => r.a === 100) && rows.some((r) => r.c === null) && rows.some((r) => r.size === 'XL'));
  });

  /**
   * Every row of the three splits, transformed one by one by the server's transform, equals the row the preprocessing
   * SQL wrote (float32 for float32); returns the rows, with the written columns as `out:<column>`.
   */
  async function servedEqualsWritten(
    snapshot: DatasetSnapshot,
    result: { trainUri: string; validationUri: string; testUri: string },
    transform: FittedTransform,
  ): Promise<Record<string, unknown>[]> {
    const width = transform.outputColumns.length;
    const all: Record<string, unknown>[] = [];
    for (const split of [result.trainUri, result.validationUri, result.testUri]) {
      const rows = await withDuckDb((db) =>
        db.query(
          `SELECT s.*, ${transform.outputColumns.map((c) => `t."${c}" AS "out:${c}"`).join(', ')}
           FROM ${rowNumberedParquet(store.localPath(snapshot.dataUri))} AS s
           JOIN read_parquet(${literal(store.localPath(split))}) AS t ON s.__row = t.__source_row ORDER BY s.__row`,
        ),
      );
      assert.ok(rows.length > 0);
      for (const row of rows) {
        const served = new Float32Array(width);
        assert.deepEqual(transformInstance(transform, row, served, 0), []);
        const written = Float32Array.from(transform.outputColumns.map((c) => Number(row[`out:${c}`])));
        assert.deepEqual(served, written, `row ${String(row.__row)}: ${JSON.stringify(row)}`);
      }
      all.push(...rows);
    }
    return all;
  }

  it('reports every bad preprocessing field of the pipeline input at workflow start', function () {
    const input = {
      modelName: 'churn',
      dataset: { uri: 'examples/churn.csv' },
      target: 'churned',
      task: 'regression',
      preprocessing: {
        stratify: true,
        defaults: { numeric: { impute: 'most_frequent' } },
        features: {
          churned: {},
          tenure_months: { type: 'numeric', encoding: 'ordinal', clip: { lower: 0.5, upper: 0.5 } },
          contract: { type: 'categorical', impute: { strategy: 'constant' }, standardize: true },
        },
      },
    };
    assert.throws(
      () => parseWorkflowInput(trainingPipelineInputSchema, input, 'trainingPipeline'),
      (err: unknown) => {
        assert.ok(isMlopsError(err, 'MLOPS_ERR_PIPELINE_INPUT_INVALID'));
        const lines = err.message.split('\n').filter((l) => l.startsWith('- '));
        assert.deepEqual(lines.sort(), [
          '- preprocessing.defaults.numeric.impute: "most_frequent" applies to categorical features; numeric ones take median, mean or constant',
          '- preprocessing.features.churned: is the target "churned", not a feature',
          '- preprocessing.features.contract.impute: constant imputation needs a value: { "strategy": "constant", "value": … }',
          '- preprocessing.features.contract.standardize: applies to numeric features only',
          '- preprocessing.features.tenure_months.clip.lower: lower (0.5) must be below upper (0.5)',
          '- preprocessing.features.tenure_months.encoding: applies to categorical features only',
          '- preprocessing.stratify: stratification needs a classification task (task is "regression")',
        ]);
        return true;
      },
    );
  });

  it('refuses a feature listed twice at workflow start, naming the item (the trainer would fail on it later)', function () {
    const input = {
      modelName: 'churn',
      dataset: { uri: 'examples/churn.csv' },
      target: 'churned',
      features: ['tenure_months', 'contract', 'tenure_months', 'region', 'contract'],
    };
    assert.throws(
      () => parseWorkflowInput(trainingPipelineInputSchema, input, 'trainingPipeline'),
      (err: unknown) => {
        assert.ok(isMlopsError(err, 'MLOPS_ERR_PIPELINE_INPUT_INVALID'));
        assert.ok(err.nonRetryable);
        const lines = err.message.split('\n').filter((l) => l.startsWith('- '));
        assert.deepEqual(lines, [
          '- features.2: names "tenure_months" again (item 0 names it): list each column once',
          '- features.4: names "contract" again (item 1 names it): list each column once',
        ]);
        return true;
      },
    );
  });

  async function failure(
    input: PreprocessInput,
    task: PreprocessInput['task'] = input.task,
  ): Promise<ApplicationFailure> {
    const err = await createPipelineActivities(testDeps({ store }))
      .preprocessDataset({ ...input, task })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'MLOPS_ERR_PREPROCESS_SPEC_INVALID');
    assert.equal(err.nonRetryable, true);
    return err;
  }
});

/** The rows of a split file as arrays of numbers, in file order. */
async function readSplit(uri: string, columns: string, where = ''): Promise<number[][]> {
  const { columns: data } = await withDuckDb((db) =>
    db.columns(`SELECT ${columns} FROM read_parquet(${literal(fileURLToPath(uri))}) ${where}`),
  );
  return data[0]!.map((_, i) => data.map((col) => Number(col[i])));
}
