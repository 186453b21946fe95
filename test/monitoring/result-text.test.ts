import assert from 'node:assert/strict';
import type { MonitorModelResult } from '../../src/contracts/monitoring';
import { presets } from '../../src/drift/presets';
import { monitorResultLine } from '../../src/monitoring/result-text';

/** A judged window with one drifted feature of nine, under a dataset drift share of `threshold`. */
const judged = (threshold: number | undefined, datasetDrift: boolean) =>
  ({
    rows: 2000,
    driftedFeatures: ['payment_method'],
    driftShare: 1 / 9,
    driftShareThreshold: threshold,
    datasetDrift,
  }) as MonitorModelResult;

describe("a monitoring run's one-line result", function () {
  it('names the share that makes dataset drift, and says "any drifted feature" for the vertex preset\'s smallest share', function () {
    assert.equal(
      monitorResultLine(judged(0.5, false)),
      '2000 rows, 1 drifted feature(s) (payment_method), share 0.11 (dataset drift at 0.5)',
    );
    // The vertex preset's share is Number.MIN_VALUE, which printed as 5e-324.
    assert.equal(
      monitorResultLine(judged(presets.vertex.datasetDriftShare, true)),
      '2000 rows, 1 drifted feature(s) (payment_method), share 0.11 (dataset drift at any drifted feature): DRIFT',
    );
    assert.equal(
      monitorResultLine(judged(undefined, false)),
      '2000 rows, 1 drifted feature(s) (payment_method), share 0.11',
    );
  });
});
