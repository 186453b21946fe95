/**
 * The live metric: the gate metric of the alias's version, computed on its predictions logged in
 * (until − lookbackHours, until] whose label has arrived in the labels source, and compared with the value its
 * evaluation recorded. Predictions without a label are counted, never guessed; too few labelled ones is a reported
 * skip. The metric functions are the evaluation's (src/evaluation/metrics.ts).
 */
import type { ArtifactStore } from '../artifacts';
import { readJson, writeJson } from '../artifacts';
import { monitoringFiles, predictionLogFolder } from '../artifacts/layout';
import type { FittedTransform } from '../contracts/datasets';
import type { CheckLiveMetricInput, CheckLiveMetricResult, LiveMetric } from '../contracts/monitoring';
import { defaultAccuracyDrop } from '../contracts/monitoring';
import { classificationMetrics, lowerIsBetter, regressionMetrics } from '../evaluation/metrics';
import { mlopsError } from '../errors';
import type { ModelVersionRecord } from '../registry/model-registry';
import { resolveAlias } from '../registry/model-registry';
import { withDuckDb } from '../warehouse/duckdb';
import type { JoinedLabels, LabelsJoinSpec } from './labels-join';
import { joinLabels } from './labels-join';
import { logParts } from './log-columns';
import type { LabelsAccess } from './labels-source';
import { withLabelsRelation } from './labels-source';
import type { LogWindow } from './prediction-window';
import { logPartsOf, windowRows, withLocalParts } from './prediction-window';

export interface LiveMetricDeps extends LabelsAccess {
  store: ArtifactStore;
  /** DuckDB threads for the join. */
  threads: number;
}

export async function checkLiveMetric(
  deps: LiveMetricDeps,
  input: CheckLiveMetricInput,
): Promise<CheckLiveMetricResult> {
  const version = await resolveAlias(deps.store, input.modelName, input.alias);
  const transform = await readJson<FittedTransform>(deps.store, version.transformUri);
  const metric = await gateMetric(deps.store, version, transform.task);
  const evaluationValue = version.metrics[metric];
  if (evaluationValue === undefined || !Number.isFinite(evaluationValue))
    throw mlopsError('MLOPS_ERR_MONITOR_METRIC_MISSING', { model: input.modelName, version: version.version, metric });
  const until = new Date(input.until).toISOString();
  const since = new Date(Date.parse(until) - input.labels.lookbackHours * 3_600_000).toISOString();
  const threshold = input.accuracyDrop ?? defaultThreshold(metric, evaluationValue);
  const base = { version: version.version, metric, evaluationValue, threshold, since, until, dropped: false };
  const w: LogWindow = { modelName: input.modelName, version: version.version, since, until };
  const parts = await logPartsOf(deps.store, w);
  const spec: Omit<LabelsJoinSpec, 'relation'> = {
    uri: input.labels.uri,
    idColumn: input.labels.idColumn,
    labelColumn: input.labels.labelColumn,
    instanceColumn: input.labels.instanceColumn,
    task: transform.task,
    classes: transform.target.classes ?? [],
  };
  const joined = await withLabelsRelation(deps, input.labels.uri, (relation) =>
    withLocalParts(deps.store, parts ?? [], (files) =>
      joinWindow(files, w, { ...spec, relation }, predictionLogFolder(deps.store, input.modelName), deps.threads),
    ),
  );
  const counts = {
    labelled: joined.labelled,
    unlabelled: joined.unlabelled,
    unknownIds: joined.unknownIds,
    duplicateIds: joined.duplicateIds,
  };
  const skipped = skipReason(input, joined, metric, transform, parts);
  if (skipped) return { ...base, ...counts, skipped };
  const value = metricValue(joined, metric, transform);
  const drop = lowerIsBetter.has(metric) ? value - evaluationValue : evaluationValue - value;
  const reportUri = monitoringFiles(deps.store, input.modelName, input.runId).liveMetric;
  const live: LiveMetric = { metric, value, evaluationValue, drop, threshold, ...counts, since, until, reportUri };
  await writeJson(deps.store, reportUri, { modelName: input.modelName, version: version.version, ...live });
  return { ...live, version: version.version, dropped: drop > threshold };
}

/** The metric the version's gate judged it on (its evaluation.json), else the gate's default for the task. */
async function gateMetric(store: ArtifactStore, version: ModelVersionRecord, task: string): Promise<string> {
  const evaluation = await readJson<{ gate?: { metric?: string } }>(store, version.evaluationUri);
  if (evaluation.gate?.metric) return evaluation.gate.metric;
  if (task === 'regression') return 'rmse';
  return version.metrics.auc !== undefined ? 'auc' : 'accuracy';
}

/** 0.05 in the metric's units on a 0–1 scale; 5% of the evaluation value for rmse, mae and log_loss. */
function defaultThreshold(metric: string, evaluationValue: number): number {
  return lowerIsBetter.has(metric) ? defaultAccuracyDrop * Math.abs(evaluationValue) : defaultAccuracyDrop;
}

function joinWindow(
  files: string[],
  w: LogWindow,
  spec: LabelsJoinSpec,
  folder: string,
  threads: number,
): Promise<JoinedLabels> {
  const columns = 'request_id, instance, ts, version, output';
  const log = files.length
    ? `(SELECT ${columns} FROM ${logParts(files)})`
    : `(SELECT NULL::VARCHAR AS request_id, NULL::INTEGER AS instance, NULL::TIMESTAMPTZ AS ts, NULL::INTEGER AS version, NULL::STRUCT(label VARCHAR) AS output WHERE false)`;
  const window = files.length ? windowRows(files, w) : log;
  return withDuckDb((db) => joinLabels(db, spec, log, window, folder), { threads });
}

function skipReason(
  input: CheckLiveMetricInput,
  joined: JoinedLabels,
  metric: string,
  transform: FittedTransform,
  parts: string[] | undefined,
): string | undefined {
  if (!parts) return `no prediction log yet for model "${input.modelName}"`;
  const min = input.labels.minLabelled;
  if (joined.labelled < min)
    return `${joined.labelled} labelled predictions in the window, fewer than the minimum ${min}`;
  if (metric === 'auc' && new Set(joined.labels).size < 2)
    return `the ${joined.labelled} labelled predictions all have the class "${transform.target.classes?.[joined.labels[0]!] ?? ''}"; AUC needs both classes`;
  return undefined;
}

function metricValue(joined: JoinedLabels, metric: string, transform: FittedTransform): number {
  const metrics: Record<string, number | undefined> =
    transform.task === 'regression'
      ? { ...regressionMetrics(joined.outputs, joined.labels) }
      : { ...classificationMetrics(joined.outputs, joined.labels, transform.target.classes?.length ?? 2) };
  return metrics[metric] ?? NaN;
}
