/**
 * monitorModel: one scheduled check of a served model (a Temporal Schedule per model starts it; scripts/monitoring.ts).
 *
 *   validate input → checkModelDrift (window since the last judged window's watermark) → search attributes → result
 *
 * The watermark lives in the artifact store (monitoring/<model>/watermark.json), written by the check after a judged
 * window: a schedule starts every run with the same input, so the previous run's end cannot travel in it. A skipped
 * window (too few rows, no log yet) leaves the watermark where it was. When drift is found the run returns an
 * `incident`; signalling the model's controller workflow (issue 12) replaces that once the controller exists.
 */
import { proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { MonitoringActivities } from '../activities/monitoring';
import type { CheckModelDriftResult, MonitorModelInput, MonitorModelResult } from '../contracts/monitoring';
import { monitorModelInputSchema } from '../contracts/monitoring';
import { searchAttributes } from '../contracts/search-attributes';
import { parseWorkflowInput } from '../contracts/validate';

/** Counting a window is one DuckDB pass over a day or so of log: minutes at most; transient faults retried. */
const windowCheck = {
  startToCloseTimeout: '30 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 5 },
} as const;
const monitoring = proxyActivities<MonitoringActivities>(windowCheck);

export async function monitorModel(rawInput: MonitorModelInput): Promise<MonitorModelResult> {
  const spec = parseWorkflowInput(monitorModelInputSchema, rawInput, 'monitorModel');
  upsertSearchAttributes([{ key: searchAttributes.modelName, value: spec.modelName }]);
  const info = workflowInfo();
  const until = spec.until ?? new Date(info.startTime.getTime() - spec.lagSeconds * 1000).toISOString();
  const checked = await monitoring.checkModelDrift({
    modelName: spec.modelName,
    alias: spec.alias,
    runId: `${info.workflowId}/${info.runId}`,
    until,
    minRows: spec.minRows,
    preset: spec.preset,
    thresholds: spec.thresholds,
    muted: spec.muted,
  });
  if (!checked.skipped) upsertSearchAttributes(driftAttributes(checked));
  return checked.datasetDrift ? { ...checked, incident: incidentOf(spec.modelName, checked) } : checked;
}

function driftAttributes(checked: CheckModelDriftResult) {
  return [
    { key: searchAttributes.modelVersion, value: checked.version },
    { key: searchAttributes.driftShare, value: checked.driftShare },
    { key: searchAttributes.driftedFeatures, value: checked.driftedFeatures.length },
  ];
}

/** What the controller of issue 12 will be signalled with; for now it is part of the run's result. */
function incidentOf(modelName: string, checked: CheckModelDriftResult): MonitorModelResult['incident'] {
  return {
    kind: 'drift',
    modelName,
    version: checked.version,
    driftedFeatures: checked.driftedFeatures,
    driftShare: checked.driftShare,
    reportUri: checked.reportUris?.report ?? '',
  };
}
