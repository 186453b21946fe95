import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createArtifactStore, readJson } from '../../src/artifacts';
import type { FittedTransform } from '../../src/contracts/datasets';
import type { TrainingPipelineInput } from '../../src/contracts/pipeline';
import type { ErrorCode } from '../../src/errors';
import { decodeColumnNames, encodeColumnName } from '../../src/trainers/contract-flags';
import { trainingPipeline } from '../../src/workflows';
import { assertWorkflowFailed } from '../support/assert-workflow';
import { stack, tempDir, testConfig, uniqueName } from '../support/stack';
import type { Queues } from '../support/workers';
import { withWorkers } from '../support/workers';

/** Categories whose one-hot column names hold what a command line, a CSV header or a trimming trainer could mangle. */
const cities = ['Paris', 'Paris ', '  padded  ', 'a,b', 'say "hi"', 'Zürich', '東京', 'x=y', 'nbsp\u00a0end\u00a0'];
/** The cities of the positive class: "Paris " and "Paris" fall on opposite sides, so a model that mixes them up fails. */
const positive = new Set(['Paris ', 'a,b', '東京', 'x=y']);

/** 630 rows: the class follows the city, except every 17th row; `noise` carries no signal. */
function writeCitiesCsv(): string {
  const quote = (v: string) => `"${v.replace(/"/g, '""')}"`;
  const rows = Array.from({ length: 630 }, (_, i) => {
    const city = cities[(i * 7) % cities.length]!;
    const y = positive.has(city) !== (i % 17 === 0) ? 'yes' : 'no';
    return `${quote(city)},${(i * 37) % 100},${y}`;
  });
  const file = path.join(tempDir('odd-names'), 'cities.csv');
  fs.writeFileSync(file, `city,noise,y\n${rows.join('\n')}\n`);
  return file;
}

function pipelineInput(uri: string, kind: string, queues: Queues): TrainingPipelineInput {
  return {
    modelName: `cities-${kind}`,
    dataset: { uri },
    target: 'y',
    deploy: false,
    trainer: {
      kind,
      hyperparameters: kind === 'torch-tabular' ? { epochs: 30, hidden_sizes: '16', lr: 0.01 } : { epochs: 30 },
      taskQueue: queues.training,
    },
  };
}

describe('column names on their way to the trainers', function () {
  it('encodes each --feature-columns name so that any URL-decoding gives it back exactly, leaving no space to trim', function () {
    const names = [
      ...cities.map((c) => `city=${c}`),
      'tab\there',
      'line\nbreak',
      '50%',
      '%2C literal',
      '\u3000ideographic',
      '',
    ];
    const flag = names.map(encodeColumnName).join(',');
    assert.doesNotMatch(flag, /\s/);
    assert.equal(encodeColumnName('city=Zürich=東京'), 'city=Zürich=東京', 'other characters pass as they are');
    assert.deepEqual(decodeColumnNames(flag), names);
    // The Python reference trainer decodes with urllib.parse.unquote (docs/trainer-contract.md).
    const config = testConfig();
    const python =
      config.training.python ?? path.join(config.cacheDir, 'python', 'torch-tabular-venv', 'bin', 'python');
    const unquoted = spawnSync(
      python,
      [
        '-c',
        'import json,sys; from urllib.parse import unquote; print(json.dumps([unquote(c) for c in sys.argv[1].split(",")]))',
        flag,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(unquoted.status, 0, unquoted.stderr);
    assert.deepEqual(JSON.parse(unquoted.stdout), names);
  });

  it('keeps a hand-typed % that starts no escape as it is, as urllib.parse.unquote does', function () {
    assert.deepEqual(decodeColumnNames('growth 50%,100%zz,%E9'), ['growth 50%', '100%zz', '%E9']);
  });

  for (const kind of ['builtin-linear', 'torch-tabular']) {
    it(`trains ${kind} through trainingPipeline on categories with edge spaces, commas, quotes, "=" and non-ASCII letters, each its own column`, async function () {
      this.timeout(180_000);
      const config = testConfig();
      const uri = writeCitiesCsv();
      const result = await withWorkers({ config, title: this.test!.title }, (queues) =>
        stack().client.workflow.execute(trainingPipeline, {
          taskQueue: queues.pipeline,
          workflowId: uniqueName(this.test!.title),
          args: [pipelineInput(uri, kind, queues)],
        }),
      );
      const transform = await readJson<FittedTransform>(createArtifactStore(config), result.artifacts.transform);
      const oneHot = [...cities].sort().map((c) => `city=${c}`);
      assert.deepEqual(transform.outputColumns, [...oneHot, 'city=__unknown__', 'noise']);
      assert.equal(result.outcome, 'registered', JSON.stringify(result.gate));
      // Only a model that tells "Paris " from "Paris" (and reads every odd column) ranks the classes this well.
      assert.ok(result.metrics.auc! > 0.85, `test AUC ${result.metrics.auc}`);
    });
  }

  it('trains on an input column named like the one-hot column of another feature, reading each column once', async function () {
    this.timeout(180_000);
    const config = testConfig();
    // "city" carries no signal; the numeric column "city=x" decides the class (but every 13th row).
    const rows = Array.from({ length: 400 }, (_, i) => {
      const signal = (i * 37) % 10;
      return `${i % 3 ? 'x' : 'y'},${signal},${signal >= 5 !== (i % 13 === 0) ? 1 : 0}`;
    });
    const uri = path.join(tempDir('clash'), 'clash.csv');
    fs.writeFileSync(uri, `city,city=x,y\n${rows.join('\n')}\n`);
    const result = await withWorkers({ config, title: this.test!.title }, (queues) =>
      stack().client.workflow.execute(trainingPipeline, {
        taskQueue: queues.pipeline,
        workflowId: uniqueName(this.test!.title),
        args: [{ ...pipelineInput(uri, 'builtin-linear', queues), modelName: 'clash' }],
      }),
    );
    const transform = await readJson<FittedTransform>(createArtifactStore(config), result.artifacts.transform);
    assert.deepEqual(transform.outputColumns, ['city=x#2', 'city=y', 'city=__unknown__', 'city=x']);
    // Reading the one-hot column twice instead (as before) left the model without its signal: AUC about 0.52.
    assert.ok(result.metrics.auc! > 0.85, `test AUC ${result.metrics.auc}`);
  });

  const refusals: { column: string; header: string; code: ErrorCode; names: RegExp; step: string }[] = [
    {
      column: 'a column named __label',
      header: 'city,__label,y',
      code: 'MLOPS_ERR_DATA_COLUMN_RESERVED',
      names: /"__label"/,
      step: 'preprocessing',
    },
    {
      column: "a column named file_row_number (which DuckDB's row numbering refuses), at ingestion",
      header: 'city,file_row_number,y',
      code: 'MLOPS_ERR_DATA_COLUMN_RESERVED',
      names: /"file_row_number"/,
      step: 'ingesting',
    },
  ];
  for (const { column, header, code, names, step } of refusals) {
    it(`refuses, in its step and before any trainer runs, ${column}`, async function () {
      const config = testConfig();
      const rows = Array.from({ length: 200 }, (_, i) => `${i % 2 ? 'x' : 'y'},${(i * 13) % 7},${i % 3 ? 1 : 0}`);
      const uri = path.join(tempDir('refused'), 'refused.csv');
      fs.writeFileSync(uri, `${header}\n${rows.join('\n')}\n`);
      await withWorkers({ config, title: this.test!.title }, async (queues) => {
        const handle = await stack().client.workflow.start(trainingPipeline, {
          taskQueue: queues.pipeline,
          workflowId: uniqueName(this.test!.title),
          args: [{ ...pipelineInput(uri, 'builtin-linear', queues), modelName: 'refused' }],
        });
        const failure = await assertWorkflowFailed(handle.result(), ApplicationFailure, code);
        assert.equal(failure.nonRetryable, true);
        assert.match(failure.message, new RegExp(`step ${step}`));
        assert.match(failure.message, names);
        assert.match(failure.message, /Fix: Rename/);
        const activities = ((await handle.fetchHistory()).events ?? []).map(
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name,
        );
        assert.ok(!activities.includes('trainModel'), 'no trainer ran');
      });
    });
  }
});
