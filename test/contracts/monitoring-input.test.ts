import assert from 'node:assert/strict';
import { monitorModelInputSchema } from '../../src/contracts/monitoring';
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
