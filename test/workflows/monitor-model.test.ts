/**
 * monitorModel over fake activities (STYLE 28): the real workflow on the real dev server, with checkModelDrift
 * replaced by a function, so the branches (drift → incident, skip, invalid input) run in a second each. The real check
 * is in test/monitoring/.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import type {
  CheckLiveMetricInput,
  CheckLiveMetricResult,
  CheckModelDriftInput,
  CheckModelDriftResult,
  CompactPredictionLogInput,
  CompactPredictionLogResult,
  MonitorModelInput,
} from '../../src/contracts/monitoring';
import { searchAttributes } from '../../src/contracts/search-attributes';
import { mlopsError } from '../../src/errors';
import { monitorModel } from '../../src/workflows';
import { assertWorkflowFailed } from '../support/assert-workflow';
import { withFakeActivities } from '../support/fake-activities';
import { recordHistory } from '../support/history';
import { stack, uniqueName } from '../support/stack';

function checked(overrides: Partial<CheckModelDriftResult> = {}): CheckModelDriftResult {
  return {
    version: 4,
    until: '2026-12-01T10:00:00.000Z',
    rows: 5000,
    minRows: 500,
    driftShare: 0,
    driftedFeatures: [],
    datasetDrift: false,
    reportUris: { drift: 'file:///fake/monitoring/drift.json', report: 'file:///fake/monitoring/report.html' },
    watermark: '2026-12-01T10:00:00.000Z',
    ...overrides,
  };
}

function live(overrides: Partial<CheckLiveMetricResult> = {}): CheckLiveMetricResult {
  return {
    version: 4,
    metric: 'auc',
    value: 0.71,
    evaluationValue: 0.84,
    drop: 0.13,
    threshold: 0.05,
    labelled: 900,
    unlabelled: 300,
    unknownIds: 2,
    duplicateIds: 0,
    since: '2026-11-24T10:00:00.000Z',
    until: '2026-12-01T10:00:00.000Z',
    reportUri: 'file:///fake/monitoring/live-metric.json',
    dropped: true,
    ...overrides,
  };
}

const nothingCompacted: CompactPredictionLogResult = {
  hoursCompacted: 0,
  partsMerged: 0,
  rowsWritten: 0,
  filesRemoved: 0,
};

async function runMonitor(
  title: string,
  input: MonitorModelInput,
  result: CheckModelDriftResult,
  liveResult?: CheckLiveMetricResult | Error,
  compaction: CompactPredictionLogResult | Error = nothingCompacted,
  recordAs?: string,
) {
  const inputs: CheckModelDriftInput[] = [];
  const liveInputs: CheckLiveMetricInput[] = [];
  const compactInputs: CompactPredictionLogInput[] = [];
  const checkModelDrift = (i: CheckModelDriftInput) => {
    inputs.push(i);
    return Promise.resolve(result);
  };
  const checkLiveMetric = (i: CheckLiveMetricInput) => {
    liveInputs.push(i);
    if (liveResult instanceof Error) return Promise.reject(liveResult);
    return liveResult ? Promise.resolve(liveResult) : Promise.reject(new Error('no live metric in this test'));
  };
  const compactPredictionLog = (i: CompactPredictionLogInput) => {
    compactInputs.push(i);
    return compaction instanceof Error ? Promise.reject(compaction) : Promise.resolve(compaction);
  };
  return withFakeActivities(title, { checkModelDrift, checkLiveMetric, compactPredictionLog }, async (taskQueue) => {
    const handle = await stack().client.workflow.start(monitorModel, {
      taskQueue,
      workflowId: uniqueName(title),
      args: [input],
    });
    const out = await handle.result();
    const described = await handle.describe();
    // RECORD_MONITOR_HISTORIES=1 writes the history replayed by test/workflows/monitor-replay.test.ts.
    if (recordAs && process.env.RECORD_MONITOR_HISTORIES) recordHistory(handle.workflowId, 'monitor', recordAs);
    return {
      out,
      inputs,
      liveInputs,
      compactInputs,
      attributes: described.typedSearchAttributes,
      startTime: described.startTime,
    };
  });
}

describe('monitorModel (fake activities)', function () {
  it('returns an incident naming the drifted features and sets the drift search attributes', async function () {
    const drifted = checked({ driftShare: 0.6, driftedFeatures: ['a', 'b', 'c'], datasetDrift: true });
    const { out, inputs, attributes } = await runMonitor(
      this.test!.title,
      { modelName: 'churn' },
      drifted,
      undefined,
      undefined,
      'drift-incident',
    );
    assert.deepEqual(out.incident, {
      kind: 'drift',
      modelName: 'churn',
      alias: 'production',
      version: 4,
      driftedFeatures: ['a', 'b', 'c'],
      driftShare: 0.6,
      reason: '3 feature(s) drifted (share 0.6): a, b, c',
      reportUri: 'file:///fake/monitoring/report.html',
    });
    assert.equal(attributes.get(searchAttributes.driftShare), 0.6);
    assert.equal(attributes.get(searchAttributes.driftedFeatures), 3);
    assert.equal(attributes.get(searchAttributes.modelName), 'churn');
    assert.equal(attributes.get(searchAttributes.modelVersion), 4);
    assert.equal(inputs[0]!.alias, 'production');
    assert.equal(inputs[0]!.minRows, 500);
    assert.equal(inputs[0]!.since, undefined, 'the check reads the stored watermark');
    assert.equal(inputs[0]!.log, undefined, 'the Parquet log by default');
    assert.equal(out.liveMetric, undefined, 'no labels, no live metric');
    assert.equal(attributes.get(searchAttributes.liveMetric), undefined);
  });

  it('returns an accuracy incident and sets MlopsLiveMetric when the live metric dropped beyond its threshold', async function () {
    const input: MonitorModelInput = {
      modelName: 'churn',
      until: '2026-12-01T10:00:00Z',
      labels: { uri: 'gs://labels/churn.parquet' },
      accuracyDrop: 0.1,
      log: 'bigquery',
    };
    const { out, inputs, liveInputs, attributes } = await runMonitor(
      this.test!.title,
      input,
      checked(),
      live(),
      undefined,
      'accuracy-incident',
    );
    assert.equal(inputs[0]!.log, 'bigquery', 'the drift window is counted on the BigQuery log table');
    assert.deepEqual(liveInputs[0], {
      modelName: 'churn',
      alias: 'production',
      runId: inputs[0]!.runId,
      until: inputs[0]!.until,
      labels: {
        uri: 'gs://labels/churn.parquet',
        idColumn: 'request_id',
        labelColumn: 'label',
        lookbackHours: 168,
        minLabelled: 100,
      },
      accuracyDrop: 0.1,
    });
    // The result's liveMetric is the check's result without its version (the run's) and verdict (the incident).
    const { version, dropped, ...liveMetric } = live();
    assert.deepEqual(out.liveMetric, liveMetric);
    assert.ok(dropped);
    assert.deepEqual(out.incident, {
      kind: 'accuracy',
      modelName: 'churn',
      alias: 'production',
      version,
      driftedFeatures: [],
      driftShare: 0,
      liveMetric,
      reason: 'live auc 0.71 on 900 labelled predictions is 0.13 below its evaluation value 0.84 (threshold 0.05)',
      reportUri: 'file:///fake/monitoring/live-metric.json',
    });
    assert.equal(attributes.get(searchAttributes.liveMetric), 0.71);
    assert.equal(attributes.get(searchAttributes.driftShare), 0);
  });

  it('says an error metric (rmse) rose above its evaluation value, where a score (auc) fell below it', async function () {
    const regression = live({ metric: 'rmse', value: 20.43, evaluationValue: 14.48, drop: 5.95, threshold: 0.724 });
    const { out } = await runMonitor(
      this.test!.title,
      { modelName: 'bikes', labels: { uri: 'l.csv' } },
      checked(),
      regression,
    );
    assert.equal(
      out.incident?.reason,
      'live rmse 20.43 on 900 labelled predictions is 5.95 above its evaluation value 14.48 (threshold 0.724)',
    );
  });

  it('reports drift and an accuracy drop found together as one accuracy incident that names the drifted features', async function () {
    const drifted = checked({ driftShare: 0.5, driftedFeatures: ['a', 'b'], datasetDrift: true });
    const { out } = await runMonitor(
      this.test!.title,
      { modelName: 'churn', labels: { uri: 'labels.csv' } },
      drifted,
      live(),
    );
    assert.equal(out.incident?.kind, 'accuracy');
    assert.deepEqual(out.incident?.driftedFeatures, ['a', 'b']);
    assert.equal(out.incident?.driftShare, 0.5);
  });

  it('reports a failed live check beside the drift findings, which still raise their incident', async function () {
    const drifted = checked({ driftShare: 0.6, driftedFeatures: ['a', 'b', 'c'], datasetDrift: true });
    const conflict = mlopsError('MLOPS_ERR_LABELS_CONFLICT', { source: 'labels.csv', count: 1, ids: '"r-7"' });
    const { out, attributes } = await runMonitor(
      this.test!.title,
      { modelName: 'churn', labels: { uri: 'labels.csv' } },
      drifted,
      conflict,
      undefined,
      'live-check-failed',
    );
    assert.equal(out.incident?.kind, 'drift');
    assert.equal(out.liveMetric, undefined);
    assert.equal(out.liveMetricError?.type, 'MLOPS_ERR_LABELS_CONFLICT');
    assert.match(out.liveMetricError?.message ?? '', /different labels for the same prediction, 1 id\(s\): "r-7"/);
    assert.equal(attributes.get(searchAttributes.liveMetric), undefined);
  });

  it("compacts the model's log after the checks, up to the window's end, and reports what it merged", async function () {
    const merged = { hoursCompacted: 3, partsMerged: 2160, rowsWritten: 8640, filesRemoved: 720 };
    const until = '2026-12-01T10:00:00.000Z';
    const { out, compactInputs } = await runMonitor(
      this.test!.title,
      { modelName: 'churn', until },
      checked(),
      undefined,
      merged,
      'log-compacted',
    );
    assert.deepEqual(compactInputs, [{ modelName: 'churn', before: until }]);
    assert.deepEqual(out.compaction, merged);
    assert.equal(out.compactionError, undefined);
  });

  it('reports a failed compaction beside the findings, which stand; compactLog: false compacts nothing', async function () {
    const drifted = checked({ driftShare: 0.6, driftedFeatures: ['a', 'b', 'c'], datasetDrift: true });
    const unreadable = ApplicationFailure.nonRetryable('the store refused the listing', 'MLOPS_ERR_ARTIFACT_NOT_FOUND');
    const failed = await runMonitor(
      `${this.test!.title} (fails)`,
      { modelName: 'churn' },
      drifted,
      undefined,
      unreadable,
      'compaction-failed',
    );
    assert.equal(failed.out.incident?.kind, 'drift');
    assert.equal(failed.out.compaction, undefined);
    assert.deepEqual(failed.out.compactionError, {
      type: 'MLOPS_ERR_ARTIFACT_NOT_FOUND',
      message: 'the store refused the listing',
    });
    const off = await runMonitor(`${this.test!.title} (off)`, { modelName: 'churn', compactLog: false }, drifted);
    assert.deepEqual(off.compactInputs, []);
    assert.equal(off.out.compaction, undefined);
    assert.equal(off.out.incident?.kind, 'drift');
  });

  it('sets MlopsLiveMetric without an incident when the live metric holds, and neither when it was skipped', async function () {
    const holds = live({ value: 0.83, drop: 0.01, dropped: false });
    const input = { modelName: 'churn', labels: { uri: 'labels.csv' } };
    const kept = await runMonitor(`${this.test!.title} holds`, input, checked(), holds);
    assert.equal(kept.out.incident, undefined);
    assert.equal(kept.out.liveMetric?.value, 0.83);
    assert.equal(kept.attributes.get(searchAttributes.liveMetric), 0.83);

    const skipped = live({
      value: undefined,
      drop: undefined,
      reportUri: undefined,
      dropped: false,
      labelled: 12,
      skipped: '12 labelled predictions in the window, fewer than the minimum 100',
    });
    const few = await runMonitor(`${this.test!.title} skipped`, input, checked(), skipped);
    assert.equal(few.out.incident, undefined);
    assert.match(few.out.liveMetric?.skipped ?? '', /fewer than the minimum 100/);
    assert.equal(few.attributes.get(searchAttributes.liveMetric), undefined);
  });

  it('ends a window without dataset drift without an incident, and ends its window the lag before its start', async function () {
    const { out, inputs, attributes, startTime } = await runMonitor(
      this.test!.title,
      { modelName: 'churn', lagSeconds: 60, minRows: 50 },
      checked({ driftShare: 0.2, driftedFeatures: ['a'] }),
    );
    assert.equal(out.incident, undefined);
    assert.equal(attributes.get(searchAttributes.driftedFeatures), 1);
    assert.equal(inputs[0]!.minRows, 50);
    assert.equal(Date.parse(inputs[0]!.until), startTime.getTime() - 60_000);
  });

  it('reports a skipped window as skipped, without drift attributes or incident', async function () {
    const skipped = checked({ skipped: '12 rows of version 4 in the window, fewer than the minimum 500', rows: 12 });
    const { out, attributes } = await runMonitor(this.test!.title, { modelName: 'churn' }, skipped);
    assert.match(out.skipped ?? '', /fewer than the minimum 500/);
    assert.equal(out.incident, undefined);
    assert.equal(attributes.get(searchAttributes.driftShare), undefined);
  });

  it("fails with the drift check's catalogued error at the top, naming the workflow and the model", async function () {
    const checkModelDrift = () =>
      Promise.reject(
        mlopsError('MLOPS_ERR_REGISTRY_NOT_FOUND', {
          model: 'nosuch',
          what: 'alias "production"',
          root: 'file:///srv/artifacts',
        }),
      );
    await withFakeActivities(this.test!.title, { checkModelDrift }, async (taskQueue) => {
      const handle = await stack().client.workflow.start(monitorModel, {
        taskQueue,
        workflowId: uniqueName(this.test!.title),
        args: [{ modelName: 'nosuch' }],
      });
      const cause = await assertWorkflowFailed(handle.result(), ApplicationFailure, 'MLOPS_ERR_REGISTRY_NOT_FOUND');
      assert.match(
        cause.message,
        /^monitorModel for model "nosuch" failed checking drift: MLOPS_ERR_REGISTRY_NOT_FOUND: /,
      );
      assert.equal(cause.nonRetryable, true);
    });
  });

  it('fails invalid input with every bad field listed', async function () {
    await withFakeActivities(this.test!.title, {}, async (taskQueue) => {
      const handle = await stack().client.workflow.start(monitorModel, {
        taskQueue,
        workflowId: uniqueName(this.test!.title),
        args: [
          {
            modelName: 'Bad Name',
            minRows: 0,
            until: 'yesterday',
            labels: { uri: '' },
            accuracyDrop: -1,
            lagSeconds: 99_999_999_999,
            alias: '../x',
          },
        ],
      });
      const cause = await assertWorkflowFailed(handle.result(), ApplicationFailure, 'MLOPS_ERR_PIPELINE_INPUT_INVALID');
      assert.match(cause.message, /modelName/);
      assert.match(cause.message, /minRows/);
      assert.match(cause.message, /until: must be an ISO 8601 time with its zone/);
      assert.match(cause.message, /labels\.uri/);
      assert.match(cause.message, /accuracyDrop/);
      assert.match(cause.message, /lagSeconds: Number must be less than or equal to 604800/);
      assert.match(cause.message, /alias: must be a registry alias/);
    });
  });

  it('refuses a window ending after the run starts, or a time without its zone, before any check runs', async function () {
    const calls: CheckModelDriftInput[] = [];
    const checkModelDrift = (i: CheckModelDriftInput) => {
      calls.push(i);
      return Promise.resolve(checked());
    };
    await withFakeActivities(this.test!.title, { checkModelDrift }, async (taskQueue) => {
      const start = (until: string) =>
        stack().client.workflow.start(monitorModel, {
          taskQueue,
          workflowId: uniqueName(this.test!.title),
          args: [{ modelName: 'churn', until }],
        });
      const future = await assertWorkflowFailed(
        (await start('2030-01-01T00:00:00+01:00')).result(),
        ApplicationFailure,
        'MLOPS_ERR_MONITOR_WINDOW_IN_FUTURE',
      );
      assert.match(future.message, /would end its window at 2029-12-31T23:00:00\.000Z, after 20\d\d-/);
      assert.equal(future.nonRetryable, true);
      const zoneless = await assertWorkflowFailed(
        (await start('2026-12-02T19:00:00')).result(),
        ApplicationFailure,
        'MLOPS_ERR_PIPELINE_INPUT_INVALID',
      );
      assert.match(zoneless.message, /until: must be an ISO 8601 time with its zone, e\.g\. 2026-12-01T00:00:00Z/);
      assert.deepEqual(calls, [], 'no check ran');
    });
  });
});
