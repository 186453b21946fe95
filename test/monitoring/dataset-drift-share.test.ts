/**
 * monitorModel's `datasetDriftShare` as a user meets it: the real workflow on the dev server with the real drift check
 * over a prediction log written as the model server writes it, and a model controller (fake rollout activities,
 * STYLE 28) that takes the incident. One feature of nine moving is a share of 0.11: under the evidently preset's 50 %
 * it is reported but is no incident; under a share of 0.1 it is an incident, signalled to the controller.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { controllerWorkflowId } from '../../src/contracts/controller';
import type { MonitorModelInput } from '../../src/contracts/monitoring';
import { modelController, monitorModel } from '../../src/workflows';
import { controllerStatusQuery } from '../../src/workflows/definitions';
import { assertWorkflowFailed } from '../support/assert-workflow';
import { controllerFakes, fakeControllerInput } from '../support/controller-fakes';
import { withFakeActivities } from '../support/fake-activities';
import type { MonitoredChurn } from '../support/monitored-model';
import {
  churnInstances,
  monitoredChurn,
  writePredictionLog,
  monitoringActivitiesOver,
} from '../support/monitored-model';
import { stack, uniqueName } from '../support/stack';

describe('monitorModel with datasetDriftShare (real drift check, dev server)', function () {
  this.timeout(180_000);

  it('flags one drifted feature of nine as dataset drift and signals the controller under a share of 0.1, where the default share does not', async function () {
    const churn = await monitoredChurn();
    const title = this.test!.title;
    // 30 % of the customers pay with a method the training data never had: payment_method moves, nothing else.
    const traffic = churnInstances({ rows: 2000, seed: 31, drift: { newPaymentMethodShare: 0.3 } });
    const byDefault = await deployWithLog(churn, 'churn-share-default', traffic);
    const lowered = await deployWithLog(churn, 'churn-share-lowered', traffic);
    const fakes = controllerFakes({
      holdTraining: true,
      deployment: { stable: lowered.version, updatedAt: '2026-11-30T00:00:00Z' },
    });
    const activities = { ...fakes.activities, ...monitoringActivities(churn) };
    await withFakeActivities(title, activities, async (taskQueue) => {
      const controller = await stack().client.workflow.start(modelController, {
        taskQueue,
        workflowId: controllerWorkflowId(lowered.model),
        args: [fakeControllerInput(lowered.model, taskQueue)],
      });
      try {
        const run = (input: MonitorModelInput) =>
          stack().client.workflow.execute(monitorModel, {
            taskQueue,
            workflowId: uniqueName(`${title} ${input.modelName}`),
            args: [{ until: '2026-11-30T11:00:00Z', ...input }],
          });

        const preset = await run({ modelName: byDefault.model });
        assert.deepEqual(preset.driftedFeatures, ['payment_method']);
        assert.equal(preset.driftShare, 1 / 9);
        assert.equal(preset.datasetDrift, false, 'one feature in nine is below the preset share of 0.5');
        assert.equal(preset.incident, undefined);
        assert.equal(preset.controllerSignalled, undefined, 'nothing to signal');
        assert.match(
          reportText(churn, preset.reportUris!.report),
          /"good">no dataset drift<.*?1 of 9 columns drifted \(11\.1 %; threshold 50 %\)/,
        );

        const share = await run({ modelName: lowered.model, datasetDriftShare: 0.1 });
        assert.deepEqual(share.driftedFeatures, ['payment_method']);
        assert.equal(share.driftShare, 1 / 9);
        assert.equal(share.datasetDrift, true, 'one feature in nine reaches a share of 0.1');
        assert.deepEqual(share.incident, {
          kind: 'drift',
          modelName: lowered.model,
          alias: 'production',
          version: lowered.version,
          driftedFeatures: ['payment_method'],
          driftShare: 1 / 9,
          reason: '1 feature(s) drifted (share 0.1111): payment_method',
          reportUri: share.reportUris!.report,
        });
        assert.equal(share.controllerSignalled, true);
        assert.match(
          reportText(churn, share.reportUris!.report),
          /"bad">dataset drift<.*?1 of 9 columns drifted \(11\.1 %; threshold 10 %\)/,
        );
        const state = await controller.query(controllerStatusQuery);
        assert.deepEqual(
          state.openIncidents.map((i) => [i.kind, i.version, i.driftedFeatures]),
          [['drift', lowered.version, ['payment_method']]],
        );
        assert.ok(
          state.history.some((e) => e.kind === 'incident' && /payment_method/.test(e.message)),
          JSON.stringify(state.history),
        );
      } finally {
        fakes.releaseTraining();
        await controller.terminate('test over');
      }
    });
  });

  it('refuses a share outside (0, 1] naming the field, with a fix that points at the monitoring docs', async function () {
    await withFakeActivities(this.test!.title, {}, async (taskQueue) => {
      for (const datasetDriftShare of [0, 1.5]) {
        const handle = await stack().client.workflow.start(monitorModel, {
          taskQueue,
          workflowId: uniqueName(this.test!.title),
          args: [{ modelName: 'shop', datasetDriftShare }],
        });
        const cause = await assertWorkflowFailed(
          handle.result(),
          ApplicationFailure,
          'MLOPS_ERR_PIPELINE_INPUT_INVALID',
        );
        assert.match(
          cause.message,
          /^MLOPS_ERR_PIPELINE_INPUT_INVALID: Invalid monitorModel input:\n- datasetDriftShare: must be a share of the unmuted features in \(0, 1\]/,
        );
        assert.match(
          cause.message,
          /\nFix: Correct each listed field of the workflow input and start the workflow again; docs\/monitoring\.md \("The monitoring run"\) describes every field\.$/,
        );
        assert.doesNotMatch(cause.message, /pipeline-input\.md/);
      }
    });
  });
});

/** Deploys the churn model as `model` and writes `traffic` to its prediction log, an hour before the window's end. */
async function deployWithLog(churn: MonitoredChurn, model: string, traffic: Record<string, unknown>[]) {
  const version = await churn.deployAs(model);
  await writePredictionLog(churn.store, model, version, '2026-11-30T10:00:00Z', traffic);
  return { model, version };
}

/** The real drift and live checks over the monitored model's store. */
function monitoringActivities(churn: MonitoredChurn) {
  return monitoringActivitiesOver(churn.store);
}

function reportText(churn: MonitoredChurn, uri: string): string {
  return fs.readFileSync(churn.store.localPath(uri), 'utf8');
}
