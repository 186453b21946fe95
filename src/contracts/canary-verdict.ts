/**
 * Judging a canary from two samples of the model servers' per-version counters, taken before and after its bake, and
 * from the comparison of its predictions with the stable version's. Pure and deterministic (no I/O, no clock): the
 * controller workflow calls it directly.
 *
 * Checks, in order: enough canary traffic (else nothing else is judged), the canary's server-error (5xx) rate, how
 * much more often it refused requests (4xx) than the stable version did on the same traffic, the ratio of its mean
 * latency to the stable version's, and the Jensen–Shannon distance between the two versions' prediction
 * distributions (beyond the distance the canary's evaluation found against the stable version, when it was the
 * champion the canary was gated against); and whether every server answered the sample at the bake's end (a server
 * that stopped, perhaps because it could not load the canary, must not leave the verdict to the rest of the fleet).
 * Any failed check rolls
 * back; the verdict lists the failed checks (rollback) or the passed ones (promotion), each a sentence with its
 * numbers. A rollback says whether the canary's own behaviour failed a check (`modelFault`), or only the traffic or the
 * fleet did (which says nothing of the model).
 */
import type {
  CanaryThresholds,
  CanaryVerdict,
  PredictionComparison,
  ServingStatsSample,
  VersionCounters,
} from './controller';

const zero: VersionCounters = { requests: 0, errors: 0, rejected: 0, latencyMsSum: 0 };
const fields = ['requests', 'errors', 'rejected', 'latencyMsSum'] as const;

export function judgeCanary(
  before: ServingStatsSample,
  after: ServingStatsSample,
  stable: number,
  canary: number,
  thresholds: CanaryThresholds,
  predictions?: PredictionComparison,
  /** False only for controller histories from before the refusal check (they replay without it). */
  compareRefusals = true,
  /** False only for controller histories from before the fleet check (they replay without it). */
  checkFleet = true,
  /** False only for controller histories from before `minLatencyIncreaseMs` (they replay without it). */
  latencyFloor = true,
  /**
   * Why the canary is expected to predict differently (it was retrained because monitoring found the data changed):
   * a prediction distance above the limit is then reported, not held against it, unless the limit is 0.
   */
  expectedChange?: string,
): CanaryVerdict {
  const c = bakeCounters(before, after, canary);
  const s = bakeCounters(before, after, stable);
  const verdict = (decision: CanaryVerdict['decision'], reasons: string[], modelFault = false): CanaryVerdict => ({
    decision,
    reasons,
    ...(decision === 'rollback' && { modelFault }),
    canary: c,
    stable: s,
    ...(predictions ? { predictionDrift: predictions } : {}),
  });
  const fleetCheck = checkFleet ? [fleet(before, after, canary)] : [];
  if (c.requests < thresholds.minRequests)
    return verdict('rollback', [
      `Not enough traffic: the canary (version ${canary}) answered ${c.requests} requests during the bake, fewer than the ${thresholds.minRequests} needed to judge it.`,
      // Often the reason there was none: servers that could not load it, or did not answer.
      ...fleetCheck.filter((check) => !check.passed).map((check) => check.reason),
    ]);
  const behaviour = [
    errorRate(c, thresholds),
    ...(compareRefusals ? [refusals(c, s, thresholds)] : []),
    latency(c, s, thresholds, latencyFloor),
    expected(drift(predictions, thresholds), thresholds, expectedChange),
  ];
  const checks = [...behaviour, ...fleetCheck];
  const failed = checks.filter((check) => !check.passed);
  return failed.length > 0
    ? verdict(
        'rollback',
        failed.map((check) => check.reason),
        behaviour.some((check) => !check.passed),
      )
    : verdict(
        'promote',
        checks.map((check) => check.reason),
      );
}

/**
 * A version's counters during the bake: after − before. Counters only grow while a server runs, so a decrease means
 * a server restarted (its counters began again at zero) and the after value is what the bake saw.
 */
export function bakeCounters(before: ServingStatsSample, after: ServingStatsSample, version: number): VersionCounters {
  const b = before.versions[String(version)] ?? zero;
  const a = after.versions[String(version)] ?? zero;
  const restarted = fields.some((f) => a[f] < b[f]);
  return Object.fromEntries(fields.map((f) => [f, restarted ? a[f] : a[f] - b[f]])) as unknown as VersionCounters;
}

interface Check {
  passed: boolean;
  reason: string;
}

/**
 * Every server answered at the bake's end and served the canary; one that did not answer at its start only is said,
 * not held against the canary.
 */
function fleet(before: ServingStatsSample, after: ServingStatsSample, canary: number): Check {
  const atStart = before.unreachable.length ? ` (at the bake's start ${before.unreachable.join(', ')} did not)` : '';
  const without = Object.entries(after.routing ?? {})
    .filter(([, routing]) => routing.canary?.version !== canary)
    .map(([server]) => server);
  if (without.length > 0)
    return {
      passed: false,
      reason: `${without.length} server(s) did not serve canary v${canary} at the end of the bake (${without.join(', ')}): it could not be loaded there (the server's /readyz says why), so those servers' clients never reached it.`,
    };
  if (after.unreachable.length === 0)
    return { passed: true, reason: `Every server answered at the end of the bake${atStart}.` };
  return {
    passed: false,
    reason: `${after.unreachable.length} server(s) did not answer at the end of the bake (${after.unreachable.join(', ')})${atStart}: the canary is not judged on part of the fleet; bring them back, or set the servers the controller samples (npm run models -- servers).`,
  };
}

function errorRate(c: VersionCounters, t: CanaryThresholds): Check {
  const rate = c.errors / c.requests;
  const passed = rate <= t.maxErrorRate;
  return {
    passed,
    reason: `The canary's server-error rate was ${percent(rate)} (${c.errors} of ${c.requests} requests answered 5xx), ${passed ? 'within' : 'above'} the limit of ${percent(t.maxErrorRate)}.`,
  };
}

/**
 * Refusals (4xx) are the clients' mistakes while both versions refuse alike; a canary that refuses more of the same
 * traffic than the stable version does (a new required input, a narrower schema) would break those clients once
 * promoted. Its refusal rate, taken at the low end of its 99% confidence interval (Wilson), may exceed the stable
 * version's by at most the limit of its server errors: a stray refusal among a canary's few requests is not enough,
 * and refusing most of them is.
 */
function refusals(c: VersionCounters, s: VersionCounters, t: CanaryThresholds): Check {
  const canaryRate = c.rejected / c.requests;
  const canaryLow = wilsonLow(c.rejected, c.requests);
  const stableRate = s.requests > 0 ? s.rejected / s.requests : 0;
  const passed = canaryLow - stableRate <= t.maxErrorRate;
  const stable =
    s.requests > 0
      ? `the stable version's ${percent(stableRate)} (${s.rejected} of ${s.requests})`
      : 'none by the stable version, which answered no requests';
  return {
    passed,
    reason: `The canary refused ${percent(canaryRate)} of its requests as client errors (${c.rejected} of ${c.requests} answered 4xx, at least ${percent(canaryLow)} at 99% confidence) against ${stable}, ${passed ? 'within' : 'above'} the limit of ${percent(t.maxErrorRate)} more.`,
  };
}

/** The lower end of the Wilson score interval at 99% for `k` successes in `n` trials. */
function wilsonLow(k: number, n: number): number {
  const z = 2.576;
  const p = k / n;
  const z2n = (z * z) / n;
  const low = (p + z2n / 2 - z * Math.sqrt((p * (1 - p)) / n + z2n / (4 * n))) / (1 + z2n);
  return Math.max(0, low);
}

function latency(c: VersionCounters, s: VersionCounters, t: CanaryThresholds, floor: boolean): Check {
  if (s.requests === 0)
    return {
      passed: true,
      reason: 'Latency was not compared: the stable version answered no requests during the bake.',
    };
  const canaryMean = c.latencyMsSum / c.requests;
  const stableMean = s.latencyMsSum / s.requests;
  // Both means zero (clock resolution) is a ratio of 1: neither is slower.
  const ratio = stableMean > 0 ? canaryMean / stableMean : canaryMean > 0 ? Infinity : 1;
  // Two decimals, or as many as tell the ratio from the limit (1.013 above 1.01, never "1.01 above 1.01").
  const shown = [2, 3, 4, 6].map((d) => ratio.toFixed(d)).find((r) => Number(r) !== t.maxLatencyRatio) ?? String(ratio);
  const said = `The canary's mean latency was ${ms(canaryMean)} against the stable version's ${ms(stableMean)}, a ratio of ${shown}`;
  const limit = `the limit of ${t.maxLatencyRatio.toFixed(2)}`;
  if (ratio <= t.maxLatencyRatio) return { passed: true, reason: `${said}, within ${limit}.` };
  // States carried from before the option have no value: its default.
  const minIncrease = floor ? (t.minLatencyIncreaseMs ?? 1) : 0;
  if (canaryMean - stableMean < minIncrease)
    return {
      passed: true,
      reason: `${said}, above ${limit} but only ${ms(canaryMean - stableMean)} slower, less than the ${ms(minIncrease)} that counts.`,
    };
  return { passed: false, reason: `${said}, above ${limit}.` };
}

/** A failed prediction check of a canary retrained for a change the monitoring found: reported, passed. */
function expected(check: Check, t: CanaryThresholds, because: string | undefined): Check {
  if (check.passed || because === undefined || t.maxPredictionDrift === 0) return check;
  return {
    passed: true,
    reason:
      `${check.reason} Not held against it: it was retrained because ${because.replace(/\.$/, '')}, so its ` +
      `predictions are expected to differ from the stable version's; its gate judged it on the new data.`,
  };
}

function drift(p: PredictionComparison | undefined, t: CanaryThresholds): Check {
  if (!p) return { passed: true, reason: 'Prediction drift was not compared: no comparison was given.' };
  if (p.distance === undefined)
    return {
      passed: true,
      reason: `Prediction drift was not compared: ${p.skipped ?? 'the comparison was skipped'}.`.replace(/\.\.$/, '.'),
    };
  // A limit of 0 asks for the same predictions: any change rolls back, noise or not.
  const exact = t.maxPredictionDrift === 0;
  if (!exact && p.expected) return beyondExpected({ ...p, distance: p.distance }, p.expected, t);
  if (!exact && p.distanceNoise !== undefined && p.distanceNoise > noisyDistance && p.pValue !== undefined) {
    const differs = p.pValue < predictionTestLevel;
    return {
      passed: !differs,
      reason:
        `The canary's and the stable version's predictions were compared by a chi-square test (p = ${p.pValue.toPrecision(3)}, ` +
        `${differs ? 'below' : 'at or above'} ${predictionTestLevel}): over ${p.buckets ?? '?'} labels or bins with ${p.canaryRows} and ${p.stableRows} logged rows, ` +
        `noise alone brings the Jensen–Shannon distance (${p.distance.toFixed(3)}) to the limit of ${t.maxPredictionDrift.toFixed(3)} in ${percent(p.distanceNoise)} of bakes.`,
    };
  }
  const passed = p.distance <= t.maxPredictionDrift;
  return {
    passed,
    reason: `The Jensen–Shannon distance between the canary's and the stable version's predictions was ${p.distance.toFixed(3)} (${p.canaryRows} and ${p.stableRows} logged rows), ${passed ? 'within' : 'above'} the limit of ${t.maxPredictionDrift.toFixed(3)}.`,
  };
}

/**
 * A canary whose evaluation measured how differently it answers than the stable version (its gate's champion) may
 * differ from it in serving by that much and at most the limit more. The Jensen–Shannon distance is a metric: a canary
 * that serves as it was evaluated, on traffic like its test rows, lies within the evaluation's distance plus how far
 * each side moved from it, and the limit bounds that sum. Beyond it with so few rows that noise alone reaches the limit
 * in more than 1% of bakes, it is not held against the canary either (a rollback is remembered against the model).
 */
function beyondExpected(
  p: PredictionComparison & { distance: number },
  e: NonNullable<PredictionComparison['expected']>,
  t: CanaryThresholds,
): Check {
  const { distance } = p;
  const limit = t.maxPredictionDrift.toFixed(3);
  const said =
    `The Jensen–Shannon distance between the canary's and the stable version's predictions was ${distance.toFixed(3)} ` +
    `(${p.canaryRows} and ${p.stableRows} logged rows); its evaluation found ${e.distance.toFixed(3)} between the two ` +
    `on the same ${e.rows} test rows`;
  if (distance <= e.distance + t.maxPredictionDrift)
    return { passed: true, reason: `${said}, and the limit of ${limit} beyond that was not exceeded.` };
  if (p.distanceNoise !== undefined && p.distanceNoise > noisyDistance)
    return {
      passed: true,
      reason: `${said}, more than the limit of ${limit} beyond that; but over ${p.buckets ?? '?'} labels or bins with these rows, noise alone reaches the limit in ${percent(p.distanceNoise)} of bakes, so it is not held against it.`,
    };
  return { passed: false, reason: `${said}, more than the limit of ${limit} beyond that.` };
}

/** Above this chance of reaching the limit by noise alone, the distance does not judge the canary's predictions. */
const noisyDistance = 0.01;
/** The chi-square test's level then: a rollback is remembered against the model, so only a clear difference counts. */
const predictionTestLevel = 0.01;

function percent(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

function ms(x: number): string {
  return `${x.toFixed(x < 10 ? 2 : 1)} ms`;
}
