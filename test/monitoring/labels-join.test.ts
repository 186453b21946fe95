/**
 * The labels join on real DuckDB over small hand-made relations: regression labels, hostile ids, column and class
 * names, and the label checks a regression model needs (the churn model of live-metric.test.ts is a classifier).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { isMlopsError } from '../../src/errors';
import type { LabelsJoinSpec } from '../../src/monitoring/labels-join';
import { joinLabels } from '../../src/monitoring/labels-join';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { tempDir } from '../support/stack';

type Cell = string | number | boolean | null;

function sqlValue(v: Cell): string {
  if (v === null) return 'NULL';
  return typeof v === 'string' ? literal(v) : String(v);
}

/** A relation of `rows` with the given column names (quoted, so any name works). */
function relation(columns: string[], rows: Cell[][]): string {
  const values = rows.map((r) => `(${r.map(sqlValue).join(', ')})`).join(', ');
  const names = columns.map((c) => `"${c.replace(/"/g, '""')}"`).join(', ');
  return `(SELECT * FROM (VALUES ${values}) AS t(${names}))`;
}

/** An output as the log's `output` group holds it: a DuckDB struct, numbers as DOUBLE. */
function struct(value: unknown): string {
  if (typeof value === 'number') return `${value}::DOUBLE`;
  if (typeof value === 'string') return literal(value);
  const fields = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${literal(k)}: ${struct(v)}`);
  return `{${fields.join(', ')}}`;
}

/** Logged rows: [request id, instance, output]; all of version 1, in the window. */
function log(rows: [string, number, unknown][]): string {
  const values = rows
    .map(([id, i, out]) => `(${literal(id)}, ${i}, TIMESTAMPTZ '2026-11-30 10:00:00+00', 1, ${struct(out)})`)
    .join(', ');
  return `(SELECT * FROM (VALUES ${values}) AS t(request_id, instance, ts, version, output))`;
}

function join(spec: Partial<LabelsJoinSpec> & { relation: string }, logged: string) {
  const full: LabelsJoinSpec = {
    uri: 'labels.csv',
    idColumn: 'request_id',
    labelColumn: 'label',
    task: 'regression',
    classes: [],
    ...spec,
  };
  return withDuckDb((db) => joinLabels(db, full, logged, logged, 'predictions/test'), { threads: 1 });
}

describe('joinLabels (real DuckDB)', function () {
  const regressionLog = log([
    ['o\'brien "7"', 0, { value: 10 }],
    ['b', 0, { value: 20 }],
    ['c', 0, { value: 30 }],
  ]);

  it('joins regression labels by id, quotes and all, and counts the unlabelled and unknown', async function () {
    const labels = relation(
      ['my id', 'true value'],
      [
        ['o\'brien "7"', '12.5'],
        ['c', '29'],
        ['zzz', '1'],
        ['b', null],
      ],
    );
    const joined = await join({ relation: labels, idColumn: 'my id', labelColumn: 'true value' }, regressionLog);
    // In log order: time, then request id.
    assert.deepEqual([...joined.outputs], [30, 10]);
    assert.deepEqual([...joined.labels], [29, 12.5]);
    assert.deepEqual([joined.labelled, joined.unlabelled, joined.unknownIds, joined.duplicateIds], [2, 1, 1, 0]);
  });

  it('reads a JSON label column (JSON lines of mixed types) as the scalars it holds', async function () {
    const labels = `(SELECT 'c' AS request_id, '"4"'::JSON AS label UNION ALL SELECT 'b', '3'::JSON)`;
    const joined = await join({ relation: labels }, regressionLog);
    assert.deepEqual([...joined.labels].sort(), [3, 4]);
  });

  it('refuses a regression label that is not a finite number, naming the row and column', async function () {
    for (const bad of ['abc', 'inf', 'NaN']) {
      const labels = relation(
        ['request_id', 'label'],
        [
          ['b', '3'],
          ['c', bad],
        ],
      );
      await assert.rejects(
        join({ relation: labels }, regressionLog),
        (err) =>
          isMlopsError(err, 'MLOPS_ERR_LABELS_INVALID') &&
          err.message.includes(`column "label", data row 2: "${bad}"`) &&
          err.message.includes('a label must be a finite number'),
      );
    }
  });

  it('refuses a boolean label column for a regression model', async function () {
    const labels = relation(['request_id', 'label'], [['b', true]]);
    await assert.rejects(
      join({ relation: labels }, regressionLog),
      (err) => isMlopsError(err, 'MLOPS_ERR_LABELS_INVALID') && /the column's type is BOOLEAN/.test(err.message),
    );
  });

  it('refuses an instance that is not a whole number, naming the instance column', async function () {
    const labels = relation(
      ['request_id', 'pos', 'label'],
      [
        ['b', '0', '3'],
        ['c', 'first', '4'],
      ],
    );
    await assert.rejects(
      join({ relation: labels, instanceColumn: 'pos' }, regressionLog),
      (err) => isMlopsError(err, 'MLOPS_ERR_LABELS_INVALID') && err.message.includes('column "pos", data row 2'),
    );
  });

  it('reads class probabilities by class name, dots and quotes included', async function () {
    const classes = ['a.b', "it's", 'x"y'];
    const out = (p: number[]) => ({
      label: 'a.b',
      probabilities: Object.fromEntries(classes.map((c, i) => [c, p[i]])),
    });
    const logged = log([
      ['r1', 0, out([0.7, 0.2, 0.1])],
      ['r2', 0, out([0.1, 0.3, 0.6])],
    ]);
    const labels = relation(
      ['request_id', 'label'],
      [
        ['r1', "it's"],
        ['r2', 'x"y'],
      ],
    );
    const joined = await join({ relation: labels, task: 'classification', classes }, logged);
    assert.deepEqual([...joined.outputs], [0.7, 0.2, 0.1, 0.1, 0.3, 0.6]);
    assert.deepEqual([...joined.labels], [1, 2]);
  });

  it('says an empty labels file is empty, and reads a header with no rows as no labels yet', async function () {
    const folder = tempDir('labels-empty');
    const empty = path.join(folder, 'empty.csv');
    fs.writeFileSync(empty, '');
    const headerOnly = path.join(folder, 'header.csv');
    fs.writeFileSync(headerOnly, 'request_id,label\n');
    const csv = (file: string) => `read_csv(${literal(file)}, header = true, all_varchar = true)`;
    await assert.rejects(join({ uri: empty, relation: csv(empty) }, regressionLog), (err: unknown) => {
      assert.ok(isMlopsError(err, 'MLOPS_ERR_LABELS_SOURCE_EMPTY'));
      assert.match(
        err.message,
        /^MLOPS_ERR_LABELS_SOURCE_EMPTY: Labels source ".*empty\.csv" is empty: it has no header row and no rows/,
      );
      return true;
    });
    const none = await join({ uri: headerOnly, relation: csv(headerOnly) }, regressionLog);
    assert.deepEqual([none.labelled, none.unlabelled, none.unknownIds, none.duplicateIds], [0, 3, 0, 0]);
  });
});
