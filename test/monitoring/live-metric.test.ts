/**
 * checkLiveMetric with the real activity on real DuckDB: the deployed churn model's real predictions (its Predictor,
 * as the model server runs it) written to the prediction log, and delayed labels (the generator's true targets) in
 * CSV and Parquet files, spelled yes/no as in the training data (which ingest read as a boolean target). The expected metric is computed here, independently, from the labels and the logged outputs.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { readJson } from '../../src/artifacts';
import type { CheckLiveMetricInput, LabelsSource } from '../../src/contracts/monitoring';
import { isMlopsError } from '../../src/errors';
import { resolveAlias } from '../../src/registry/model-registry';
import { monitorModel } from '../../src/workflows';
import { searchAttributes } from '../../src/contracts/search-attributes';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import type { MonitoredChurn } from '../support/monitored-model';
import {
  logServedPredictions,
  loggedRequestId,
  monitoredChurn,
  monitoringActivitiesOver,
} from '../support/monitored-model';
import { stack, tempDir, testConfig, testSources, uniqueName } from '../support/stack';
import { withWorkers } from '../support/workers';

const start = '2026-11-30T10:00:00Z';
const until = '2026-11-30T12:00:00Z';

/** ROC AUC by its definition: the share of (positive, negative) pairs the score orders correctly, ties counting half. */
function pairwiseAuc(scores: number[], positive: boolean[]): number {
  let pairs = 0;
  let won = 0;
  scores.forEach((p, i) => {
    if (!positive[i]) return;
    scores.forEach((n, j) => {
      if (positive[j]) return;
      pairs++;
      won += p > n ? 1 : p === n ? 0.5 : 0;
    });
  });
  return won / pairs;
}

function csv(rows: (string | number | null)[][]): string {
  return `${rows.map((r) => r.map((v) => (v === null ? '' : String(v))).join(',')).join('\n')}\n`;
}

describe('checkLiveMetric (live metric with delayed labels, real DuckDB)', function () {
  this.timeout(180_000);
  let churn: MonitoredChurn;
  let dir: string;
  /** The logged predictions of `churn-live` and their true labels. */
  let scores: number[];
  let targets: string[];

  before(async function () {
    churn = await monitoredChurn();
    dir = tempDir('labels');
    const served = await logServedPredictions(churn, 'churn-live', start, { rows: 1200, seed: 31 });
    assert.deepEqual(served.classes, ['false', 'true'], 'ingest reads the yes/no target as a boolean');
    ({ scores, targets } = served);
  });

  function check(labels: Partial<LabelsSource> & { uri: string }, input: Partial<CheckLiveMetricInput> = {}) {
    const { checkLiveMetric } = monitoringActivitiesOver(churn.store, { sources: testSources() });
    return checkLiveMetric({
      modelName: 'churn-live',
      alias: 'production',
      runId: `live/${path.basename(labels.uri)}`,
      until,
      labels: { idColumn: 'request_id', labelColumn: 'label', lookbackHours: 168, minLabelled: 100, ...labels },
      ...input,
    });
  }

  function write(name: string, rows: (string | number | null)[][]): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, csv(rows));
    return file;
  }

  /** Labels for the first `n` logged predictions, as a CSV with a header. */
  function labelRows(n: number, label = (i: number) => targets[i]!): (string | number | null)[][] {
    return [['request_id', 'label'], ...Array.from({ length: n }, (_, i) => [loggedRequestId(start, i), label(i)])];
  }

  it('gives the gate metric of the labelled predictions, counting the unlabelled, unknown and repeated ones', async function () {
    // 900 of 1200 predictions labelled; one label not arrived yet (empty); 3 labels repeated alike; 25 unknown ids.
    const rows = labelRows(900);
    rows[1]![1] = null;
    rows.push(...rows.slice(10, 13), ...Array.from({ length: 25 }, (_, i) => [`never-served-${i}`, 'yes']));
    const result = await check({ uri: write('labels.csv', rows) });
    const labelled = Array.from({ length: 900 }, (_, i) => i).filter((i) => i !== 0);
    const expected = pairwiseAuc(
      labelled.map((i) => scores[i]!),
      labelled.map((i) => targets[i] === 'yes'),
    );
    assert.equal(result.skipped, undefined);
    assert.equal(result.metric, 'auc', "the gate's default metric of a binary model");
    assert.ok(Math.abs(result.value! - expected) < 1e-12, `${result.value} vs ${expected}`);
    assert.equal(result.labelled, 899);
    assert.equal(result.unlabelled, 301);
    assert.equal(result.unknownIds, 25);
    assert.equal(result.duplicateIds, 3);
    const version = await resolveAlias(churn.store, 'churn-live', 'production');
    assert.equal(result.evaluationValue, version.metrics.auc);
    assert.ok(Math.abs(result.drop! - (version.metrics.auc! - expected)) < 1e-12);
    assert.equal(result.threshold, 0.05);
    assert.equal(result.dropped, false, 'traffic drawn like the training data loses less than 0.05 of AUC');
    assert.equal(result.since, '2026-11-23T12:00:00.000Z', 'the window looks back 168 hours from its end');
    const report = await readJson<{ value: number; labelled: number }>(churn.store, result.reportUri!);
    assert.equal(report.labelled, 899);

    // The same labels as Parquet, with the id in another column, give the same number.
    const parquet = path.join(dir, 'labels.parquet');
    await withDuckDb((db) =>
      db.run(
        `COPY (SELECT request_id AS rid, label AS truth FROM read_csv(${literal(path.join(dir, 'labels.csv'))}, header = true, all_varchar = true)) TO ${literal(parquet)} (FORMAT parquet)`,
      ),
    );
    const fromParquet = await check({ uri: parquet, idColumn: 'rid', labelColumn: 'truth' });
    assert.equal(fromParquet.value, result.value);
    assert.deepEqual(
      [fromParquet.labelled, fromParquet.unlabelled, fromParquet.unknownIds, fromParquet.duplicateIds],
      [899, 301, 25, 3],
    );
  });

  it('flags a drop beyond the threshold: labels the model gets wrong', async function () {
    const flipped = labelRows(600, (i) => (targets[i] === 'yes' ? 'no' : 'yes'));
    const result = await check({ uri: write('flipped.csv', flipped) });
    const expected = pairwiseAuc(
      scores.slice(0, 600),
      targets.slice(0, 600).map((t) => t === 'no'),
    );
    assert.ok(Math.abs(result.value! - expected) < 1e-12);
    assert.ok(result.drop! > 0.05);
    assert.equal(result.dropped, true);
    assert.equal(result.labelled, 600);

    // A threshold above the drop is no incident.
    const lenient = await check({ uri: write('flipped-again.csv', flipped) }, { accuracyDrop: result.drop! + 0.01 });
    assert.equal(lenient.dropped, false);
    assert.equal(lenient.threshold, result.drop! + 0.01);
  });

  it('skips, stating why, when too few predictions have labels or all have one class, and counts labels outside the lookback as unknown', async function () {
    const few = await check({ uri: write('few.csv', labelRows(40)) });
    assert.equal(few.skipped, '40 labelled predictions in the window, fewer than the minimum 100');
    assert.equal(few.value, undefined);
    assert.equal(few.unlabelled, 1160);
    assert.equal(few.reportUri, undefined);
    assert.equal(few.dropped, false);

    // A window that ends before the predictions were made: none of them is in it or in the partitions read.
    const before = await check({ uri: write('early.csv', labelRows(300)) }, { until: '2026-11-29T12:00:00Z' });
    assert.deepEqual([before.labelled, before.unlabelled, before.unknownIds], [0, 0, 300]);
    assert.match(before.skipped ?? '', /fewer than the minimum/);

    // Only churned customers' labels have arrived: AUC is undefined on one class, so the metric is not judged.
    const churned = labelRows(1200).filter((row, i) => i === 0 || row[1] === 'yes');
    assert.ok(churned.length > 101);
    const oneClass = await check({ uri: write('one-class.csv', churned) });
    assert.equal(oneClass.labelled, churned.length - 1);
    assert.equal(
      oneClass.skipped,
      `the ${churned.length - 1} labelled predictions all have the class "true"; AUC needs both classes`,
    );
    assert.equal(oneClass.dropped, false);
  });

  it('matches labels to the instance of a multi-instance request through the instance column', async function () {
    const rows = [
      ['request_id', 'position', 'label'],
      ...labelRows(500)
        .slice(1)
        .map(([id, l]) => [id!, 0, l!]),
    ];
    rows.push([loggedRequestId(start, 0), 1, 'yes']);
    const result = await check({ uri: write('instances.csv', rows), instanceColumn: 'position' });
    assert.equal(result.labelled, 500);
    assert.equal(result.unknownIds, 1, 'the request logged no instance 1');
  });

  it('fails with a catalogued error naming the column and the file when the id or label column is missing', async function () {
    const file = write('no-id.csv', [
      ['id', 'label'],
      ['a', 'yes'],
    ]);
    await assert.rejects(
      check({ uri: file }),
      (err) =>
        isMlopsError(err, 'MLOPS_ERR_LABELS_COLUMN_MISSING') &&
        err.message.includes('id column "request_id"') &&
        err.message.includes(file),
    );
    await assert.rejects(
      check({
        uri: write('no-label.csv', [
          ['request_id', 'churned'],
          ['a', 'yes'],
        ]),
      }),
      (err) =>
        isMlopsError(err, 'MLOPS_ERR_LABELS_COLUMN_MISSING') && /label column "label".*churned/.test(err.message),
    );
  });

  it('fails naming the ids when a prediction is labelled twice with different labels', async function () {
    const rows = labelRows(300);
    rows.push([loggedRequestId(start, 7), targets[7] === 'yes' ? 'no' : 'yes']);
    rows.push([loggedRequestId(start, 9), targets[9]!]);
    await assert.rejects(
      check({ uri: write('conflict.csv', rows) }),
      (err) =>
        isMlopsError(err, 'MLOPS_ERR_LABELS_CONFLICT') &&
        err.message.includes(`1 id(s): "${loggedRequestId(start, 7)}"`) &&
        (err as { nonRetryable?: boolean }).nonRetryable === true,
    );
  });

  it('fails naming the row and column of a label that is not one of the classes', async function () {
    const rows = labelRows(300);
    rows[42]![1] = 'maybe';
    rows[50]![1] = 'off';
    await assert.rejects(
      check({ uri: write('bad-label.csv', rows) }),
      (err) =>
        isMlopsError(err, 'MLOPS_ERR_LABELS_INVALID') &&
        err.message.includes('column "label", data row 42: "maybe"') &&
        err.message.includes('the classes are "false", "true"'),
    );
  });

  it('refuses a labels file outside the data roots', async function () {
    await assert.rejects(check({ uri: '/etc/labels.csv' }), (err) =>
      isMlopsError(err, 'MLOPS_ERR_DATA_SOURCE_NOT_ALLOWED'),
    );
  });

  it('runs in monitorModel on real workers: a drop gives an accuracy incident and sets MlopsLiveMetric', async function () {
    const uri = write(
      'workflow-flipped.csv',
      labelRows(700, (i) => (targets[i] === 'yes' ? 'no' : 'yes')),
    );
    const title = this.test!.title;
    await withWorkers({ config: testConfig(), title, store: churn.store }, async (queues) => {
      const handle = await stack().client.workflow.start(monitorModel, {
        taskQueue: queues.pipeline,
        workflowId: uniqueName(title),
        args: [{ modelName: 'churn-live', until, labels: { uri } }],
      });
      const result = await handle.result();
      const expected = pairwiseAuc(
        scores.slice(0, 700),
        targets.slice(0, 700).map((t) => t === 'no'),
      );
      assert.equal(result.rows, 1200, 'the drift window is judged beside it');
      assert.equal(result.liveMetric?.labelled, 700);
      assert.equal(result.liveMetric?.unlabelled, 500);
      assert.ok(Math.abs(result.liveMetric.value! - expected) < 1e-12);
      assert.equal(result.incident?.kind, 'accuracy');
      assert.equal(result.incident?.modelName, 'churn-live');
      assert.match(
        result.incident?.reason ?? '',
        /^live auc 0\.\d+ on 700 labelled predictions is 0\.\d+ below its evaluation value/,
      );
      assert.equal(result.incident?.reportUri, result.liveMetric?.reportUri);
      const described = await handle.describe();
      assert.equal(described.typedSearchAttributes.get(searchAttributes.liveMetric), result.liveMetric.value);
    });
  });
});
