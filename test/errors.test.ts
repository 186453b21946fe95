import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { errorCatalogue, formatErrorMessage, isMlopsError, mlopsError } from '../src/errors';

describe('the error catalogue', function () {
  it('gives every code a stable MLOPS_ERR_<AREA>_<NAME> name, a message, a fix and a retryability flag', function () {
    for (const [code, spec] of Object.entries(errorCatalogue)) {
      assert.match(code, /^MLOPS_ERR_[A-Z]+(_[A-Z0-9]+)+$/);
      assert.ok(spec.message.length > 10 && spec.fix.length > 10, `${code} needs a message and a fix`);
      assert.equal(typeof spec.retryable, 'boolean');
    }
  });

  it('fills every placeholder a fix shares with its message (a fix printed with a raw {variable} helps nobody)', function () {
    for (const [code, spec] of Object.entries(errorCatalogue)) {
      const inMessage = new Set([...spec.message.matchAll(/\{(\w+)\}/g)].map((m) => m[1]));
      const filled = new Set(Object.keys((spec as { fixParams?: object }).fixParams ?? {}));
      for (const [, name] of spec.fix.matchAll(/\{(\w+)\}/g))
        if (inMessage.has(name)) assert.ok(filled.has(name!), `${code}: the fix's {${name}} is not in fixParams`);
    }
  });

  it('builds Temporal failures whose type is the code and whose retryability follows the catalogue', function () {
    const failure = mlopsError('MLOPS_ERR_DATA_COLUMN_MISSING', {
      column: 'age',
      role: 'feature',
      source: 'ds-1',
      columns: 'a, b',
    });
    assert.ok(failure instanceof ApplicationFailure);
    assert.equal(failure.type, 'MLOPS_ERR_DATA_COLUMN_MISSING');
    assert.equal(failure.nonRetryable, true);
    assert.match(
      failure.message,
      /^MLOPS_ERR_DATA_COLUMN_MISSING: Column "age" \(feature\) is not in dataset "ds-1"; its columns are: a, b\nFix: /,
    );
    assert.deepEqual((failure.details![0] as { code: string }).code, 'MLOPS_ERR_DATA_COLUMN_MISSING');
    assert.equal(mlopsError('MLOPS_ERR_SERVE_INTERNAL').nonRetryable, false);
    assert.ok(isMlopsError(failure, 'MLOPS_ERR_DATA_COLUMN_MISSING'));
    assert.ok(!isMlopsError(new Error('plain')));
  });

  it('leaves a missing template parameter visible instead of printing "undefined"', function () {
    assert.equal(formatErrorMessage('MLOPS_ERR_ARTIFACT_NOT_FOUND', {}), 'Artifact "{uri}" does not exist');
  });
});
