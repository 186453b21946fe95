/**
 * monitorModel over fake activities (STYLE 28): the real workflow on the real dev server, with checkModelDrift
 * replaced by a function, so the branches (drift → incident, skip, invalid input) run in a second each. The real check
 * is in test/monitoring/.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import type { CheckModelDriftInput, CheckModelDriftResult, MonitorModelInput } from '../../src/contracts/monitoring';
import { searchAttributes } from '../../src/contracts/search-attributes';
import { monitorModel } from '../../src/workflows';
import { assertWorkflowFailed } from '../support/assert-workflow';
import { withFakeActivities } from '../support/fake-activities';
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

async function runMonitor(title: string, input: MonitorModelInput, result: CheckModelDriftResult) {
  const inputs: CheckModelDriftInput[] = [];
  const checkModelDrift = (i: CheckModelDriftInput) => {
    inputs.push(i);
    return Promise.resolve(result);
  };
  return withFakeActivities(title, { checkModelDrift }, async (taskQueue) => {
    const handle = await stack().client.workflow.start(monitorModel, {
      taskQueue,
      workflowId: uniqueName(title),
      args: [input],
    });
    const out = await handle.result();
    const described = await handle.describe();
    return { out, inputs, attributes: described.typedSearchAttributes, startTime: described.startTime };
  });
}

describe('monitorModel (fake activities)', function () {
  it('returns an incident naming the drifted features and sets the drift search attributes', async function () {
    const drifted = checked({ driftShare: 0.6, driftedFeatures: ['a', 'b', 'c'], datasetDrift: true });
    const { out, inputs, attributes } = await runMonitor(this.test!.title, { modelName: 'churn' }, drifted);
    assert.deepEqual(out.incident, {
      kind: 'drift',
      modelName: 'churn',
      version: 4,
      driftedFeatures: ['a', 'b', 'c'],
      driftShare: 0.6,
      reportUri: 'file:///fake/monitoring/report.html',
    });
    assert.equal(attributes.get(searchAttributes.driftShare), 0.6);
    assert.equal(attributes.get(searchAttributes.driftedFeatures), 3);
    assert.equal(attributes.get(searchAttributes.modelName), 'churn');
    assert.equal(attributes.get(searchAttributes.modelVersion), 4);
    assert.equal(inputs[0]!.alias, 'production');
    assert.equal(inputs[0]!.minRows, 500);
    assert.equal(inputs[0]!.since, undefined, 'the check reads the stored watermark');
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

  it('fails invalid input with every bad field listed', async function () {
    await withFakeActivities(this.test!.title, {}, async (taskQueue) => {
      const handle = await stack().client.workflow.start(monitorModel, {
        taskQueue,
        workflowId: uniqueName(this.test!.title),
        args: [{ modelName: 'Bad Name', minRows: 0, until: 'yesterday' }],
      });
      const cause = await assertWorkflowFailed(handle.result(), ApplicationFailure, 'MLOPS_ERR_PIPELINE_INPUT_INVALID');
      assert.match(cause.message, /modelName/);
      assert.match(cause.message, /minRows/);
      assert.match(cause.message, /until: must be an ISO 8601 time/);
    });
  });
});
