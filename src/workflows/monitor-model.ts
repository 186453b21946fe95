/**
 * monitorModel: one scheduled check of a served model (a Temporal Schedule per model starts it; scripts/monitoring.ts).
 *
 *   validate input → checkModelDrift (window since the last judged window's watermark)
 *                  ∥ checkLiveMetric (with labels: predictions of the lookback whose labels have arrived)
 *                  → search attributes → signal the controller (an incident) → compactPredictionLog
 *                  → result (with the run's incident, if any)
 *
 * The watermark lives in the artifact store (monitoring/<model>/watermark.json), written by the drift check after a
 * judged window: a schedule starts every run with the same input, so the previous run's end cannot travel in it. A
 * skipped window (too few rows, no log yet) leaves the watermark where it was. The live metric needs no watermark: it
 * looks back a fixed span, since labels keep arriving for older predictions. A run without labels schedules exactly
 * the commands it did before labels existed. When drift or an accuracy drop is found the run signals the incident to
 * the model's controller (`model-controller-<model>`) and returns it, with whether a controller took it.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { MonitoringActivities } from '../activities/monitoring';
import { controllerWorkflowId } from '../contracts/controller';
import type {
  CheckLiveMetricInput,
  CheckLiveMetricResult,
  CheckModelDriftResult,
  CompactPredictionLogResult,
  LiveMetric,
  MonitorModelInput,
  MonitorModelResult,
  MonitoringIncident,
} from '../contracts/monitoring';
import { monitorModelInputDocs, monitorModelInputSchema } from '../contracts/monitoring';
import { searchAttributes } from '../contracts/search-attributes';
import { lowerIsBetter } from '../contracts/pipeline';
import { parseWorkflowInput } from '../contracts/validate';
import { mlopsError } from '../errors';
import { incidentSignal } from './definitions';
import { activityFailureAs } from './pipeline-status';

/**
 * Counting a window, or joining a week of log with its labels, is one DuckDB pass: minutes at most; transient faults
 * (a store or BigQuery hiccup) retried. The checks heartbeat every 10 s (src/activities/step-heartbeat.ts), so a worker
 * that dies mid-check is noticed within a minute and the check retried elsewhere, not after the 30-minute timeout.
 */
const windowCheck = {
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumAttempts: 5 },
} as const;
const monitoring = proxyActivities<MonitoringActivities>(windowCheck);

export async function monitorModel(rawInput: MonitorModelInput): Promise<MonitorModelResult> {
  const spec = parseWorkflowInput(monitorModelInputSchema, rawInput, 'monitorModel', monitorModelInputDocs);
  upsertSearchAttributes([{ key: searchAttributes.modelName, value: spec.modelName }]);
  const info = workflowInfo();
  const runId = `${info.workflowId}/${info.runId}`;
  const until = spec.until ?? new Date(info.startTime.getTime() - spec.lagSeconds * 1000).toISOString();
  // Refused before anything runs (the check refuses it too): a window ending after the run's start would store a
  // watermark in the future, and every later run would skip until then.
  if (Date.parse(until) > info.startTime.getTime())
    throw mlopsError('MLOPS_ERR_MONITOR_WINDOW_IN_FUTURE', {
      model: spec.modelName,
      until: new Date(until).toISOString(),
      now: info.startTime.toISOString(),
    });
  const [checked, live] = await Promise.all([
    monitoring
      .checkModelDrift({
        modelName: spec.modelName,
        alias: spec.alias,
        runId,
        until,
        minRows: spec.minRows,
        preset: spec.preset,
        thresholds: spec.thresholds,
        muted: spec.muted,
        datasetDriftShare: spec.datasetDriftShare,
        ...(spec.maxNullShareIncrease !== undefined && { maxNullShareIncrease: spec.maxNullShareIncrease }),
        ...(spec.log === 'bigquery' && { log: spec.log }),
      })
      .catch((err: unknown) => {
        throw activityFailureAs(err, `monitorModel for model "${spec.modelName}" failed checking drift`);
      }),
    spec.labels
      ? checkLive({
          modelName: spec.modelName,
          alias: spec.alias,
          runId,
          until,
          labels: spec.labels,
          accuracyDrop: spec.accuracyDrop,
        })
      : undefined,
  ]);
  if (!checked.skipped) upsertSearchAttributes(driftAttributes(checked));
  const measured = live && 'metric' in live ? live : undefined;
  if (measured && !measured.skipped) upsertSearchAttributes(liveAttributes(measured));
  const incident = incidentOf(spec.modelName, spec.alias, checked, measured);
  const signalled = incident && patched(signalTheController) ? await signalController(incident) : undefined;
  const compacted = spec.compactLog && patched(compactTheLog) ? await compactLog(spec.modelName, until) : undefined;
  return {
    ...checked,
    ...(measured && { liveMetric: liveMetricOf(measured) }),
    ...(live && 'type' in live && { liveMetricError: live }),
    ...(incident && { incident }),
    ...(signalled !== undefined && { controllerSignalled: signalled }),
    ...(compacted && 'hoursCompacted' in compacted && { compaction: compacted }),
    ...(compacted && 'type' in compacted && { compactionError: compacted }),
  };
}

/**
 * Versioned change (`patched`): after the checks, the run compacts the model's Parquet log (its closed hours). Before,
 * the log only grew by parts.
 */
const compactTheLog = 'compact-the-log';

/**
 * Merges the log's closed hours. A failure (retries spent) is reported beside the findings, never fails the run: the
 * drift check has already moved its watermark, and the next run compacts what this one left.
 */
function compactLog(modelName: string, before: string): Promise<CompactPredictionLogResult | StepFailure> {
  return reported(monitoring.compactPredictionLog({ modelName, before }));
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

/** An activity's catalogued failure, as a run reports it beside its findings. */
interface StepFailure {
  type: string;
  message: string;
}

/**
 * A live check that failed (bad labels, a source it may not read, retries spent) is reported beside the drift
 * findings instead of failing the run: the drift check has already moved its watermark, so a failed run would lose
 * what it found. Its failure stays in the run's history, with the activity's catalogued type.
 */
function checkLive(input: CheckLiveMetricInput): Promise<CheckLiveMetricResult | StepFailure> {
  return reported(monitoring.checkLiveMetric(input));
}

/** The step's result, or its catalogued failure (any other failure fails the run). */
async function reported<T>(step: Promise<T>): Promise<T | StepFailure> {
  try {
    return await step;
  } catch (err) {
    if (!(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure)) throw err;
    return { type: err.cause.type ?? 'Error', message: err.cause.message };
  }
}

function driftAttributes(checked: CheckModelDriftResult) {
  return [
    { key: searchAttributes.modelVersion, value: checked.version },
    { key: searchAttributes.driftShare, value: checked.driftShare },
    { key: searchAttributes.driftedFeatures, value: checked.driftedFeatures.length },
  ];
}

function liveAttributes(live: CheckLiveMetricResult) {
  return [
    { key: searchAttributes.modelVersion, value: live.version },
    { key: searchAttributes.liveMetric, value: live.value! },
  ];
}

function liveMetricOf({ version: _version, dropped: _dropped, ...metric }: CheckLiveMetricResult): LiveMetric {
  return metric;
}

/**
 * What the model's controller is signalled with (and the run returns). An accuracy drop outranks drift: the model is
 * measurably worse, whatever moved.
 */
function incidentOf(
  modelName: string,
  alias: string,
  checked: CheckModelDriftResult,
  live: CheckLiveMetricResult | undefined,
): MonitoringIncident | undefined {
  const drift = {
    modelName,
    alias,
    version: checked.version,
    driftedFeatures: checked.driftedFeatures,
    driftShare: checked.driftShare,
    ...(live && { liveMetric: liveMetricOf(live) }),
  };
  if (live?.dropped)
    return {
      kind: 'accuracy',
      ...drift,
      version: live.version,
      reason: `live ${live.metric} ${fmt(live.value!)} on ${live.labelled} labelled predictions is ${fmt(live.drop!)} ${lowerIsBetter.has(live.metric) ? 'above' : 'below'} its evaluation value ${fmt(live.evaluationValue)} (threshold ${fmt(live.threshold)})`,
      reportUri: live.reportUri ?? '',
    };
  if (!checked.datasetDrift) return undefined;
  return {
    kind: 'drift',
    ...drift,
    reason: `${checked.driftedFeatures.length} feature(s) drifted (share ${fmt(checked.driftShare)}): ${checked.driftedFeatures.join(', ')}`,
    reportUri: checked.reportUris?.report ?? '',
  };
}

function fmt(x: number): string {
  return Number(x.toPrecision(4)).toString();
}
