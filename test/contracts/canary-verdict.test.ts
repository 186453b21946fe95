import assert from 'node:assert/strict';
import { bakeCounters, judgeCanary } from '../../src/contracts/canary-verdict';
import type { CanaryThresholds, ServingStatsSample, VersionCounters } from '../../src/contracts/controller';
import { canaryThresholdsSchema } from '../../src/contracts/controller';

const thresholds: CanaryThresholds = canaryThresholdsSchema.parse({
  minRequests: 100,
  maxErrorRate: 0.01,
  maxLatencyRatio: 1.5,
  maxPredictionDrift: 0.2,
});

function counters(requests: number, errors = 0, latencyMs = 5, rejected = 0): VersionCounters {
  return { requests, errors, rejected, latencyMsSum: requests * latencyMs };
}

function sample(versions: Record<number, VersionCounters>): ServingStatsSample {
  return {
    takenAt: '2026-12-01T00:00:00.000Z',
    versions: Object.fromEntries(Object.entries(versions).map(([v, c]) => [v, c])),
    unreachable: [],
  };
}

/** Stable v1 and canary v2 before the bake, with traffic already counted from earlier. */
const before = sample({ 1: counters(5000, 3, 4), 2: counters(40, 0, 4) });

/** `before` plus the bake's own traffic. */
function afterBake(stable: VersionCounters, canary: VersionCounters): ServingStatsSample {
  const add = (a: VersionCounters, b: VersionCounters): VersionCounters => ({
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
    rejected: a.rejected + b.rejected,
    latencyMsSum: a.latencyMsSum + b.latencyMsSum,
  });
  return sample({ 1: add(before.versions['1']!, stable), 2: add(before.versions['2']!, canary) });
}

describe('judging a canary from the servers counters', function () {
  it('promotes a healthy canary, judging only the traffic of the bake, and lists every passed check', function () {
    const verdict = judgeCanary(before, afterBake(counters(1800, 1, 5), counters(200, 1, 6)), 1, 2, thresholds, {
      stableRows: 1800,
      canaryRows: 200,
      distance: 0.05,
    });
    assert.equal(verdict.decision, 'promote');
    assert.deepEqual(verdict.canary, counters(200, 1, 6));
    assert.deepEqual(verdict.stable, counters(1800, 1, 5));
    assert.equal(verdict.reasons.length, 5);
    assert.match(
      verdict.reasons[0]!,
      /server-error rate was 0\.50% \(1 of 200 requests answered 5xx\), within the limit of 1\.00%/,
    );
    assert.match(
      verdict.reasons[1]!,
      /refused 0\.00% .* \(0 of 200 answered 4xx, .*\) .* within the limit of 1\.00% more/,
    );
    assert.match(
      verdict.reasons[2]!,
      /mean latency was 6\.00 ms against the stable version's 5\.00 ms, a ratio of 1\.20, within the limit of 1\.50/,
    );
    assert.match(
      verdict.reasons[3]!,
      /Jensen–Shannon distance .* was 0\.050 \(200 and 1800 logged rows\), within the limit of 0\.200/,
    );
    assert.equal(verdict.reasons[4], 'Every server answered at the end of the bake.');
    assert.deepEqual(verdict.predictionDrift, { stableRows: 1800, canaryRows: 200, distance: 0.05 });
  });

  it('rolls back a canary when a server did not answer or serve it at the end of the bake, and only notes one missing at its start', function () {
    const healthyBake = afterBake(counters(1800, 0, 5), counters(200, 0, 5));
    const missingAtEnd = judgeCanary(
      before,
      { ...healthyBake, unreachable: ['http://10.0.0.6:8080'] },
      1,
      2,
      thresholds,
    );
    assert.equal(missingAtEnd.decision, 'rollback');
    assert.deepEqual(missingAtEnd.reasons, [
      '1 server(s) did not answer at the end of the bake (http://10.0.0.6:8080): the canary is not judged on part of the fleet; bring them back, or set the servers the controller samples (npm run models -- servers).',
    ]);
    // A server that answers but could not load the canary serves the stable version alone: its clients never reached it.
    const routing = {
      'http://10.0.0.5:8080': { stable: 1, canary: { version: 2, weight: 0.1 } },
      'http://10.0.0.6:8080': { stable: 1 },
    };
    const notLoaded = judgeCanary(before, { ...healthyBake, routing }, 1, 2, thresholds);
    assert.equal(notLoaded.decision, 'rollback');
    assert.deepEqual(notLoaded.reasons, [
      "1 server(s) did not serve canary v2 at the end of the bake (http://10.0.0.6:8080): it could not be loaded there (the server's /readyz says why), so those servers' clients never reached it.",
    ]);
    // The fleet failed, not the model: a retrain making the same model may roll out again.
    assert.equal(notLoaded.modelFault, false);
    assert.equal(missingAtEnd.modelFault, false);
    // A canary no server could load answers nothing: the verdict says why there was no traffic.
    const nowhere = { 'http://10.0.0.6:8080': { stable: 1 } };
    const starved = judgeCanary(
      before,
      { ...afterBake(counters(1800), counters(0)), routing: nowhere },
      1,
      2,
      thresholds,
    );
    assert.deepEqual(starved.reasons, [
      'Not enough traffic: the canary (version 2) answered 0 requests during the bake, fewer than the 100 needed to judge it.',
      "1 server(s) did not serve canary v2 at the end of the bake (http://10.0.0.6:8080): it could not be loaded there (the server's /readyz says why), so those servers' clients never reached it.",
    ]);
    assert.equal(starved.modelFault, false);
    const everywhere = { 'http://10.0.0.6:8080': { stable: 1, canary: { version: 2, weight: 0.1 } } };
    assert.equal(judgeCanary(before, { ...healthyBake, routing: everywhere }, 1, 2, thresholds).decision, 'promote');
    const missingAtStart = judgeCanary(
      { ...before, unreachable: ['http://10.0.0.6:8080'] },
      healthyBake,
      1,
      2,
      thresholds,
    );
    assert.equal(missingAtStart.decision, 'promote');
    assert.equal(
      missingAtStart.reasons.at(-1),
      "Every server answered at the end of the bake (at the bake's start http://10.0.0.6:8080 did not).",
    );
    // Histories from before the check replay without it.
    const older = judgeCanary(
      before,
      { ...healthyBake, unreachable: ['http://10.0.0.6:8080'] },
      1,
      2,
      thresholds,
      undefined,
      true,
      false,
    );
    assert.equal(older.decision, 'promote');
  });

  it('rolls back a canary whose 5xx rate is above the limit', function () {
    const verdict = judgeCanary(before, afterBake(counters(1000), counters(200, 3)), 1, 2, thresholds);
    assert.equal(verdict.decision, 'rollback');
    assert.deepEqual(verdict.reasons, [
      "The canary's server-error rate was 1.50% (3 of 200 requests answered 5xx), above the limit of 1.00%.",
    ]);
    assert.equal(verdict.modelFault, true, 'its own errors: the same model is not rolled out again');
  });

  it('holds against a canary only the refusals (4xx) the stable version did not make on the same traffic', function () {
    // Clients' mistakes that both versions refuse alike: not the canary's fault.
    const alike = judgeCanary(before, afterBake(counters(1000, 0, 5, 700), counters(200, 0, 5, 141)), 1, 2, thresholds);
    assert.equal(alike.decision, 'promote', alike.reasons.join(' '));
    // A canary that refuses what the stable version answers (a new required input): promoted, it would break them.
    const verdict = judgeCanary(before, afterBake(counters(1000), counters(200, 0, 5, 200)), 1, 2, thresholds);
    assert.equal(verdict.decision, 'rollback');
    assert.deepEqual(verdict.reasons, [
      "The canary refused 100.00% of its requests as client errors (200 of 200 answered 4xx, at least 96.79% at 99% confidence) against the stable version's 0.00% (0 of 1000), above the limit of 1.00% more.",
    ]);
    // A stray refusal among a canary's few requests is not enough to tell it apart.
    const stray = judgeCanary(before, afterBake(counters(200, 0, 5, 3), counters(40, 0, 5, 1)), 1, 2, thresholds);
    assert.equal(stray.decision, 'rollback', 'fewer than minRequests');
    const strayEnough = judgeCanary(
      before,
      afterBake(counters(200, 0, 5, 3), counters(100, 0, 5, 3)),
      1,
      2,
      thresholds,
    );
    assert.equal(strayEnough.decision, 'promote', strayEnough.reasons.join(' '));
    const noStable = judgeCanary(sample({}), sample({ 2: counters(200, 0, 5, 50) }), 1, 2, thresholds);
    assert.equal(noStable.decision, 'rollback');
    assert.match(noStable.reasons.join(' '), /against none by the stable version, which answered no requests/);
    // Controller histories from before this check replay without it, as they were decided.
    const replayed = judgeCanary(
      before,
      afterBake(counters(1000), counters(200, 0, 5, 200)),
      1,
      2,
      thresholds,
      undefined,
      false,
    );
    assert.equal(replayed.decision, 'promote', replayed.reasons.join(' '));
  });

  it('rolls back a canary slower than the latency ratio allows', function () {
    const verdict = judgeCanary(before, afterBake(counters(1000, 0, 4), counters(200, 0, 8)), 1, 2, thresholds);
    assert.equal(verdict.decision, 'rollback');
    assert.deepEqual(verdict.reasons, [
      "The canary's mean latency was 8.00 ms against the stable version's 4.00 ms, a ratio of 2.00, above the limit of 1.50.",
    ]);
  });

  it('judges predictions by a chi-square test where noise alone would bring the distance to its limit', function () {
    const traffic = afterBake(counters(1000), counters(200));
    const noisy = { stableRows: 1000, canaryRows: 100, distance: 0.21, buckets: 20, distanceNoise: 0.6 };
    const alike = judgeCanary(before, traffic, 1, 2, thresholds, { ...noisy, pValue: 0.4 });
    assert.equal(alike.decision, 'promote', alike.reasons.join(' '));
    assert.ok(
      alike.reasons.includes(
        "The canary's and the stable version's predictions were compared by a chi-square test (p = 0.400, at or above 0.01): over 20 labels or bins with 100 and 1000 logged rows, noise alone brings the Jensen–Shannon distance (0.210) to the limit of 0.200 in 60.00% of bakes.",
      ),
      alike.reasons.join(' '),
    );
    const differs = judgeCanary(before, traffic, 1, 2, thresholds, { ...noisy, pValue: 0.001 });
    assert.deepEqual([differs.decision, differs.modelFault], ['rollback', true]);
    // A comparison from before the estimate (recorded in an older history) is judged by the distance, as it was.
    const recorded = judgeCanary(before, traffic, 1, 2, thresholds, {
      stableRows: 1000,
      canaryRows: 100,
      distance: 0.21,
    });
    assert.equal(recorded.decision, 'rollback');
    // A limit of 0 asks for the same predictions: the distance judges, and any change rolls back.
    const exact = judgeCanary(
      before,
      traffic,
      1,
      2,
      { ...thresholds, maxPredictionDrift: 0 },
      { ...noisy, pValue: 0.9 },
    );
    assert.equal(exact.decision, 'rollback');
  });

  it('reports, not holds, the prediction distance of a canary retrained because monitoring found the data changed', function () {
    const traffic = afterBake(counters(1000), counters(200));
    const moved = { stableRows: 1000, canaryRows: 200, distance: 0.71 };
    const because =
      'monitoring found 1 feature(s) drifted (share 0.5): sqft; the gate: rmse 21010 vs champion v1 40402';
    const retrained = judgeCanary(before, traffic, 1, 2, thresholds, moved, true, true, true, because);
    assert.equal(retrained.decision, 'promote', retrained.reasons.join(' '));
    assert.ok(
      retrained.reasons.includes(
        "The Jensen–Shannon distance between the canary's and the stable version's predictions was 0.710 (200 and 1000 logged rows), above the limit of 0.200. " +
          `Not held against it: it was retrained because ${because}, so its predictions are expected to differ from the stable version's; its gate judged it on the new data.`,
      ),
      retrained.reasons.join(' '),
    );
    // Without the reason, and with a limit of 0 (the same predictions asked for), it is rolled back.
    assert.equal(judgeCanary(before, traffic, 1, 2, thresholds, moved).decision, 'rollback');
    const exact = { ...thresholds, maxPredictionDrift: 0 };
    assert.equal(judgeCanary(before, traffic, 1, 2, exact, moved, true, true, true, because).decision, 'rollback');
  });

  it('allows a canary the prediction distance its evaluation found against the stable version, and holds the rest', function () {
    const traffic = afterBake(counters(1000), counters(200));
    // Retrained by hand on data whose relationship changed: its gate measured 0.41 against v1 on the test rows.
    const expected = { distance: 0.41, rows: 2978 };
    const served = { stableRows: 1350, canaryRows: 154, distance: 0.437, expected };
    const asEvaluated = judgeCanary(before, traffic, 1, 2, thresholds, served);
    assert.equal(asEvaluated.decision, 'promote', asEvaluated.reasons.join(' '));
    assert.ok(
      asEvaluated.reasons.includes(
        "The Jensen–Shannon distance between the canary's and the stable version's predictions was 0.437 (154 and 1350 logged rows); its evaluation found 0.410 between the two on the same 2978 test rows, and the limit of 0.200 beyond that was not exceeded.",
      ),
      asEvaluated.reasons.join(' '),
    );
    // Further from the stable version in serving than in its evaluation by more than the limit: a model fault.
    const further = judgeCanary(before, traffic, 1, 2, thresholds, { ...served, distance: 0.65 });
    assert.deepEqual([further.decision, further.modelFault], ['rollback', true]);
    assert.ok(
      further.reasons.includes(
        "The Jensen–Shannon distance between the canary's and the stable version's predictions was 0.650 (154 and 1350 logged rows); its evaluation found 0.410 between the two on the same 2978 test rows, more than the limit of 0.200 beyond that.",
      ),
      further.reasons.join(' '),
    );
    // So few rows that noise alone reaches the limit often: not held against it, even beyond.
    const noisy = { ...served, distance: 0.65, buckets: 20, distanceNoise: 0.3, pValue: 0.0001 };
    const fewRows = judgeCanary(before, traffic, 1, 2, thresholds, noisy);
    assert.equal(fewRows.decision, 'promote', fewRows.reasons.join(' '));
    assert.ok(fewRows.reasons.some((r) => r.includes('noise alone reaches the limit in 30.00% of bakes')));
    // A limit of 0 asks for the same predictions: the expected change does not count.
    const exact = { ...thresholds, maxPredictionDrift: 0 };
    assert.equal(judgeCanary(before, traffic, 1, 2, exact, served).decision, 'rollback');
  });

  it('does not roll back for a latency ratio at sub-millisecond means, where less than 1 ms is jitter', function () {
    const fast = afterBake(counters(1000, 0, 1.06), counters(200, 0, 1.72));
    const verdict = judgeCanary(before, fast, 1, 2, thresholds);
    assert.equal(verdict.decision, 'promote', verdict.reasons.join(' '));
    assert.ok(
      verdict.reasons.includes(
        "The canary's mean latency was 1.72 ms against the stable version's 1.06 ms, a ratio of 1.62, above the limit of 1.50 but only 0.66 ms slower, less than the 1.00 ms that counts.",
      ),
      verdict.reasons.join(' '),
    );
    // The floor is a threshold like the others; histories from before it replay without it.
    const strict = canaryThresholdsSchema.parse({ ...thresholds, minLatencyIncreaseMs: 0.5 });
    assert.equal(judgeCanary(before, fast, 1, 2, strict).decision, 'rollback');
    assert.equal(judgeCanary(before, fast, 1, 2, thresholds, undefined, true, true, false).decision, 'rollback');
    // A ratio that rounds to the limit shows the decimals that tell them apart.
    const close = canaryThresholdsSchema.parse({ ...thresholds, maxLatencyRatio: 1.01, minLatencyIncreaseMs: 0 });
    const [reason] = judgeCanary(
      before,
      afterBake(counters(1000, 0, 100), counters(200, 0, 101.3)),
      1,
      2,
      close,
    ).reasons;
    assert.match(reason!, /a ratio of 1\.013, above the limit of 1\.01\.$/);
  });

  it('rolls back a canary whose predictions drifted from the stable version, and reports every failed check', function () {
    const verdict = judgeCanary(before, afterBake(counters(1000, 0, 4), counters(200, 5, 9)), 1, 2, thresholds, {
      stableRows: 1000,
      canaryRows: 200,
      distance: 0.35,
    });
    assert.equal(verdict.decision, 'rollback');
    assert.equal(verdict.reasons.length, 3);
    assert.match(verdict.reasons[0]!, /2\.50% .* above the limit/);
    assert.match(verdict.reasons[1]!, /ratio of 2\.25, above the limit/);
    assert.match(verdict.reasons[2]!, /was 0\.350 \(200 and 1000 logged rows\), above the limit of 0\.200/);
  });

  it('rolls back for "not enough traffic" when the canary answered fewer requests than the minimum', function () {
    const verdict = judgeCanary(before, afterBake(counters(3000), counters(99)), 1, 2, thresholds);
    assert.equal(verdict.decision, 'rollback');
    assert.deepEqual(verdict.reasons, [
      'Not enough traffic: the canary (version 2) answered 99 requests during the bake, fewer than the 100 needed to judge it.',
    ]);
    assert.equal(verdict.modelFault, false);
  });

  it('rolls back for "not enough traffic" when the canary never appears in the counters', function () {
    const verdict = judgeCanary(sample({}), sample({ 1: counters(500) }), 1, 7, thresholds);
    assert.equal(verdict.decision, 'rollback');
    assert.match(verdict.reasons[0]!, /^Not enough traffic: the canary \(version 7\) answered 0 requests/);
    assert.deepEqual(verdict.canary, counters(0));
  });

  it('takes the after value of a version whose counters went down: its server restarted during the bake', function () {
    // Before: the canary had 5000 requests and 40 errors; a restart reset them and the bake then saw 150 requests.
    const restarted = sample({ 1: counters(900, 0, 5), 2: counters(150, 0, 5) });
    const verdict = judgeCanary(
      sample({ 1: counters(5000, 2, 5), 2: counters(5000, 40, 5) }),
      restarted,
      1,
      2,
      thresholds,
    );
    assert.equal(verdict.decision, 'promote', verdict.reasons.join(' '));
    assert.deepEqual(verdict.canary, counters(150, 0, 5));
    assert.deepEqual(verdict.stable, counters(900, 0, 5));
    // One counter going down is enough to tell a restart: all of that version's after values are taken.
    const later = afterBake(counters(10), counters(10));
    assert.deepEqual(bakeCounters(restarted, later, 2), later.versions['2']);
    assert.deepEqual(bakeCounters(later, later, 2), counters(0));
  });

  it('does not hold a skipped prediction comparison or a stable version without traffic against the canary', function () {
    const verdict = judgeCanary(sample({}), sample({ 2: counters(300, 0, 7) }), 1, 2, thresholds, {
      stableRows: 0,
      canaryRows: 300,
      skipped: 'the stable version 1 has 0 logged predictions in the window, fewer than 50',
    });
    assert.equal(verdict.decision, 'promote');
    assert.deepEqual(verdict.reasons.slice(2), [
      'Latency was not compared: the stable version answered no requests during the bake.',
      'Prediction drift was not compared: the stable version 1 has 0 logged predictions in the window, fewer than 50.',
      'Every server answered at the end of the bake.',
    ]);
  });
});
