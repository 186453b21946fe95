/**
 * monitorModel: one scheduled check of a served model (a Temporal Schedule per model starts it; scripts/monitoring.ts).
 *
 *   validate input → checkModelDrift (window since the last judged window's watermark) → search attributes → result
 *
 * The watermark lives in the artifact store (monitoring/<model>/watermark.json), written by the check after a judged
 * window: a schedule starts every run with the same input, so the previous run's end cannot travel in it. A skipped
 * window (too few rows, no log yet) leaves the watermark where it was. When drift is found the run signals the
 * incident to the model's controller (`model-controller-<model>`), and returns it, with whether a controller took it.
 */
import {
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { controllerWorkflowId } from '../contracts/controller';
import type { MonitoringActivities } from '../activities/monitoring';
import type {
  CheckModelDriftResult,
  MonitoringIncident,
  MonitorModelInput,
  MonitorModelResult,
} from '../contracts/monitoring';
import { monitorModelInputSchema } from '../contracts/monitoring';
import { searchAttributes } from '../contracts/search-attributes';
import { parseWorkflowInput } from '../contracts/validate';
import { incidentSignal } from './definitions';

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
  if (!checked.datasetDrift) return checked;
  const incident = incidentOf(spec.modelName, checked);
  if (!patched(signalTheController)) return { ...checked, incident };
  return { ...checked, incident, controllerSignalled: await signalController(incident) };
}

/**
 * Versioned change (`patched`): a run that finds an incident signals the model's controller. Before, the incident was
 * only in the result.
 */
const signalTheController = 'signal-the-controller';

/** Sends the incident to the model's controller; false when the model has none running (the result still has it). */
async function signalController(incident: MonitoringIncident): Promise<boolean> {
  try {
    await getExternalWorkflowHandle(controllerWorkflowId(incident.modelName)).signal(incidentSignal, incident);
    return true;
  } catch {
    return false;
  }
}

function driftAttributes(checked: CheckModelDriftResult) {
  return [
    { key: searchAttributes.modelVersion, value: checked.version },
    { key: searchAttributes.driftShare, value: checked.driftShare },
    { key: searchAttributes.driftedFeatures, value: checked.driftedFeatures.length },
  ];
}

/** The incident the model's controller is signalled with. */
function incidentOf(modelName: string, checked: CheckModelDriftResult): MonitoringIncident {
  return {
    kind: 'drift',
    modelName,
    version: checked.version,
    driftedFeatures: checked.driftedFeatures,
    driftShare: checked.driftShare,
    reportUri: checked.reportUris?.report ?? '',
  };
}
