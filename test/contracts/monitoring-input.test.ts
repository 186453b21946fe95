import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ApplicationFailure } from '@temporalio/common';
import { monitorModelInputDocs, monitorModelInputSchema } from '../../src/contracts/monitoring';
import { trainingPipelineInputSchema } from '../../src/contracts/pipeline';
import { parseWorkflowInput } from '../../src/contracts/validate';
import type { MlopsErrorDetails } from '../../src/errors';
import { isMlopsError } from '../../src/errors';
import { repoRoot } from '../support/stack';
import { checkFeatureNames } from '../../src/monitoring/monitor-window';
import type { ModelVersionRecord } from '../../src/registry/model-registry';

describe('monitorModel input: per-feature thresholds', function () {
  it('keeps a threshold for a feature named __proto__, as JSON.parse gives it, and names a bad value by its feature', function () {
    const raw: unknown = JSON.parse('{"modelName": "m", "thresholds": {"__proto__": 0.3, "tenure": 0.1}}');
    const parsed = monitorModelInputSchema.parse(raw);
    assert.deepEqual(Object.keys(parsed.thresholds!), ['__proto__', 'tenure']);
    assert.equal(Object.getOwnPropertyDescriptor(parsed.thresholds, '__proto__')?.value, 0.3);
    assert.equal(Object.getPrototypeOf(parsed.thresholds), Object.prototype, 'the key is data, not a prototype');

    const bad = monitorModelInputSchema.safeParse({ modelName: 'm', thresholds: { tenure: -1, region: 'high' } });
    assert.ok(!bad.success);
    assert.deepEqual(
      bad.error.issues.map((i) => i.path.join('.')),
      ['thresholds.tenure', 'thresholds.region'],
    );
    const notObject = monitorModelInputSchema.safeParse({ modelName: 'm', thresholds: [0.1] });
    assert.ok(!notObject.success);
    assert.match(notObject.error.issues[0]!.message, /must be an object of name → value/);
  });

  it('refuses a __proto__ threshold for a model that takes no feature of that name', function () {
    const parsed = monitorModelInputSchema.parse(JSON.parse('{"modelName": "m", "thresholds": {"__proto__": 0.3}}'));
    const version = { modelName: 'm', version: 3 } as ModelVersionRecord;
    assert.throws(
      () => checkFeatureNames(version, ['tenure', 'region'], parsed),
      (err: Error) => /MLOPS_ERR_MONITOR_UNKNOWN_FEATURE/.test(err.message) && /"__proto__"/.test(err.message),
    );
    assert.doesNotThrow(() => checkFeatureNames(version, ['tenure', '__proto__'], parsed));
  });
});

describe('monitorModel input: the dataset drift share', function () {
  it('takes a share in (0, 1] and refuses 0, a share above 1, a negative one, NaN and text, naming the field', function () {
    for (const share of [0.2, 1, 1e-9])
      assert.equal(
        monitorModelInputSchema.parse({ modelName: 'shop', datasetDriftShare: share }).datasetDriftShare,
        share,
      );
    assert.equal(monitorModelInputSchema.parse({ modelName: 'shop' }).datasetDriftShare, undefined, "the preset's");
    for (const share of [0, 1.5, -0.2, Number.NaN, Number.POSITIVE_INFINITY, '0.2']) {
      const refused = monitorModelInputSchema.safeParse({ modelName: 'shop', datasetDriftShare: share });
      assert.ok(!refused.success, String(share));
      assert.deepEqual(
        refused.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
        ['datasetDriftShare: must be a share of the unmuted features in (0, 1], e.g. 0.2 for one feature in five'],
        String(share),
      );
    }
  });
});

describe('an invalid workflow input: the fix names the page that describes that workflow', function () {
  function refusal(run: () => unknown): ApplicationFailure {
    try {
      run();
    } catch (err) {
      assert.ok(isMlopsError(err, 'MLOPS_ERR_PIPELINE_INPUT_INVALID'), String(err));
      return err;
    }
    return assert.fail('the input was accepted');
  }

  it("points an invalid monitorModel input at docs/monitoring.md, and keeps trainingPipeline's docs/pipeline-input.md", function () {
    const monitor = refusal(() =>
      parseWorkflowInput(
        monitorModelInputSchema,
        { modelName: 'shop', datasetDriftShare: 0 },
        'monitorModel',
        monitorModelInputDocs,
      ),
    );
    assert.equal(
      monitor.message,
      'MLOPS_ERR_PIPELINE_INPUT_INVALID: Invalid monitorModel input:\n' +
        '- datasetDriftShare: must be a share of the unmuted features in (0, 1], e.g. 0.2 for one feature in five\n' +
        'Fix: Correct each listed field of the workflow input and start the workflow again; docs/monitoring.md ("The monitoring run") describes every field.',
    );
    assert.equal(
      (monitor.details![0] as MlopsErrorDetails).fix,
      'Correct each listed field of the workflow input and start the workflow again; docs/monitoring.md ("The monitoring run") describes every field.',
    );
    const training = refusal(() =>
      parseWorkflowInput(trainingPipelineInputSchema, { modelName: 'shop' }, 'trainingPipeline'),
    );
    assert.match(
      training.message,
      /\nFix: Correct each listed field of the workflow input and start the workflow again; docs\/pipeline-input\.md describes every field\.$/,
    );
    assert.doesNotMatch(training.message, /monitoring\.md/);
  });

  it('the section the monitorModel fix names describes every field of its input', function () {
    const [page, section] = /^(docs\/\S+) \("(.+)"\)$/.exec(monitorModelInputDocs)!.slice(1) as [string, string];
    const doc = fs.readFileSync(path.join(repoRoot, page), 'utf8');
    const start = doc.indexOf(`\n## ${section}\n`);
    assert.ok(start >= 0, `${page} has a section "${section}"`);
    const text = doc.slice(start, doc.indexOf('\n## ', start + 1));
    const missing = Object.keys(monitorModelInputSchema.shape).filter((field) => !text.includes(`\`${field}\``));
    assert.deepEqual(missing, []);
  });
});
