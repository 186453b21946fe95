/** A monitoring run's result in one line a person reads (the demo's loop and `npm run monitoring -- check`). */
import type { MonitorModelResult } from '../contracts/monitoring';

export function monitorResultLine(result: MonitorModelResult): string {
  if (result.skipped) return `skipped: ${result.skipped}`;
  const features = result.driftedFeatures.length ? ` (${result.driftedFeatures.join(', ')})` : '';
  return (
    `${result.rows} rows, ${result.driftedFeatures.length} drifted feature(s)${features}, ` +
    `share ${result.driftShare.toFixed(2)}${shareThreshold(result)}${result.datasetDrift ? ': DRIFT' : ''}`
  );
}

/** The share that makes dataset drift, so a window with drifted features but no incident says why. */
function shareThreshold(result: MonitorModelResult): string {
  const { driftShareThreshold: threshold } = result;
  if (threshold === undefined) return '';
  // The vertex preset's share is the smallest number above 0: any one drifted feature makes dataset drift.
  if (threshold < 1e-9) return ' (dataset drift at any drifted feature)';
  return ` (dataset drift at ${Number(threshold.toPrecision(3))})`;
}
