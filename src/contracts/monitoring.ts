import { z } from 'zod';
import { ownRecord } from './own-record';
import { aliasPattern, modelNamePattern, modelNameRule } from './pipeline';

/** Rows a window needs before drift is judged; a smaller window is a reported skip, never a "no drift". */
export const defaultMinRows = 500;

/**
 * Seconds the window's end stays behind the run's start, so rows still buffered in a model server's prediction log
 * (flushed every few seconds, then written) are not missed for good: the next window starts at this one's end.
 */
export const defaultLagSeconds = 120;

/** Hours of prediction log the live metric looks back over from the window's end (labels arrive late). */
export const defaultLabelLookbackHours = 168;

/** Labelled predictions the live metric needs; fewer is a reported skip, never a "no drop". */
export const defaultMinLabelled = 100;

/**
 * The drop of the live metric below its evaluation value that is an incident, for metrics on a 0–1 scale (accuracy,
 * auc, f1, r2), in the metric's units. For rmse, mae and log_loss (no fixed scale) the default is this fraction of the
 * evaluation value instead.
 */
export const defaultAccuracyDrop = 0.05;

/** Where delayed ground truth comes from, keyed by the request id the model server answered with. */
export const labelsSourceSchema = z
  .object({
    /** A CSV, Parquet or JSON-lines file (a path under the data roots, file:// or gs://), or bq://project.dataset.table. */
    uri: z.string().min(1),
    /** @default 'request_id' */
    idColumn: z.string().min(1).default('request_id'),
    /** @default 'label' */
    labelColumn: z.string().min(1).default('label'),
    /** Position of the instance in its request; without it a label is the request's first (or only) instance's. */
    instanceColumn: z.string().min(1).optional(),
    /** @default {@link defaultLabelLookbackHours} */
    lookbackHours: z
      .number()
      .positive()
      .max(24 * 366)
      .default(defaultLabelLookbackHours),
    /** @default {@link defaultMinLabelled} */
    minLabelled: z.number().int().min(1).default(defaultMinLabelled),
  })
  .strict();

export type LabelsSource = z.output<typeof labelsSourceSchema>;

/** An ISO 8601 time with its zone (`Z` or an offset): without one, each worker would read it in its own time zone. */
const isoTime = z
  .string()
  .refine(
    (s) => /^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/i.test(s) && !Number.isNaN(Date.parse(s)),
    'must be an ISO 8601 time with its zone, e.g. 2026-12-01T00:00:00Z',
  );

/** The longest lag: a week (rows are flushed within seconds; a longer lag is a mistake, not a safety margin). */
export const maxLagSeconds = 7 * 24 * 3600;

/** Where an invalid monitorModel input's fix sends the user: the page that describes each field of it. */
export const monitorModelInputDocs = 'docs/monitoring.md ("The monitoring run")';

const driftShareText = 'must be a share of the unmuted features in (0, 1], e.g. 0.2 for one feature in five';

/** A share of features: above 0 (0 would call every window drifted) and at most 1 (every feature). */
const driftShare = z.number({ invalid_type_error: driftShareText }).gt(0, driftShareText).max(1, driftShareText);

/** Input of the `monitorModel` workflow (one run per schedule tick). */
export const monitorModelInputSchema = z
  .object({
    modelName: z.string().regex(modelNamePattern, modelNameRule),
    /** The alias whose version's traffic and training reference are compared. @default 'production' */
    alias: z
      .string()
      .regex(aliasPattern, 'must be a registry alias (lower-case letters, digits and "-")')
      .default('production'),
    /** @default {@link defaultMinRows} */
    minRows: z.number().int().min(1).default(defaultMinRows),
    preset: z.enum(['evidently', 'vertex']).default('evidently'),
    thresholds: ownRecord(z.number().finite().nonnegative()).optional(),
    muted: z.array(z.string()).optional(),
    /** End of the window, not after the run's start; default: the run's start minus `lagSeconds`. */
    until: isoTime.optional(),
    /** @default {@link defaultLagSeconds} */
    lagSeconds: z.number().int().min(0).max(maxLagSeconds).default(defaultLagSeconds),
    /** Ground truth for the live metric; without it only drift is checked. */
    labels: labelsSourceSchema.optional(),
    /** Drop of the live metric that is an incident, in the metric's units; default: {@link defaultAccuracyDrop}. */
    accuracyDrop: z.number().positive().finite().optional(),
    /**
     * The dataset drifts (a drift incident) when at least this share of the unmuted features drift; default: the
     * preset's (evidently 0.5, vertex any one feature). With few features one column is a small share: of 5
     * features, 0.2 makes one drifted column an incident.
     */
    datasetDriftShare: driftShare.optional(),
    /**
     * A feature drifts when its share of missing values (nulls) in the window exceeds the reference's by more than
     * this, in absolute terms, whatever its remaining values do (an upstream outage that blanks it); a feature with no
     * value left in the window is judged by this alone. @default 0.1
     */
    maxNullShareIncrease: z.number().min(0).max(1).optional(),
    /**
     * Which prediction log the drift window is counted on: the Parquet files in the artifact store (DuckDB), or the
     * BigQuery table the model server streams to (`MLOPS_SERVE_LOG_BIGQUERY_TABLE` on the workers). @default 'parquet'
     */
    log: z.enum(['parquet', 'bigquery']).default('parquet'),
    /**
     * After the checks, merge each closed hour of the model's Parquet log into one file and remove what earlier runs
     * merged (docs/monitoring.md, "Compaction of the log"). @default true
     */
    compactLog: z.boolean().default(true),
  })
  .strict();

export type MonitorModelInput = z.input<typeof monitorModelInputSchema>;
export type MonitorModelSpec = z.output<typeof monitorModelInputSchema>;

export interface CheckModelDriftInput {
  modelName: string;
  alias: string;
  /** Names the run's output folder and marks the stored watermark, so a retried check covers the same window. */
  runId: string;
  /** Start of the window (exclusive); default: the watermark stored by the last successful check. */
  since?: string;
  /** End of the window (inclusive), ISO time. */
  until: string;
  minRows: number;
  preset?: 'evidently' | 'vertex';
  thresholds?: Record<string, number>;
  muted?: string[];
  /** The share of unmuted features that makes dataset drift; default: the preset's. */
  datasetDriftShare?: number;
  /** The rise of a feature's share of missing values that makes it drift. @default 0.1 */
  maxNullShareIncrease?: number;
  /** The log counted: Parquet (DuckDB) or the BigQuery log table. @default 'parquet' */
  log?: 'parquet' | 'bigquery';
}

/** Drift of the model's output in the window against its predictions on the validation split. */
export interface PredictionDrift {
  /** The deciding statistic (the preset's choice for the output's kind and reference size). */
  metric: string;
  value: number;
  threshold: number;
  drifted: boolean;
}

export interface CheckModelDriftResult {
  /** Why the window was not judged (no log yet, too few rows); absent when it was. */
  skipped?: string;
  version: number;
  /** The window: (since, until]; since absent = from the start of the log. */
  since?: string;
  until: string;
  rows: number;
  minRows: number;
  /** Share of unmuted features that drifted (0 when skipped). */
  driftShare: number;
  /** The share at which the window is dataset drift (`datasetDriftShare`); absent when skipped. */
  driftShareThreshold?: number;
  driftedFeatures: string[];
  datasetDrift: boolean;
  /** The output's drift; absent for versions evaluated before the output's reference was stored. */
  predictionDrift?: PredictionDrift;
  reportUris?: { drift: string; report: string };
  /** Where the next window starts: `until` after a judged window, the unchanged start after a skip. */
  watermark?: string;
}

export interface CheckLiveMetricInput {
  modelName: string;
  alias: string;
  /** Names the run's output folder (live-metric.json beside drift.json). */
  runId: string;
  /** End of the window (inclusive), ISO time: the drift window's end. */
  until: string;
  labels: LabelsSource;
  /** Drop that is an incident; default {@link defaultAccuracyDrop} (see there for unbounded metrics). */
  accuracyDrop?: number;
}

/**
 * The model's gate metric on the predictions of the alias's version logged in (until − lookbackHours, until] whose
 * label has arrived, beside the value its evaluation recorded (docs/monitoring.md, "Live metric").
 */
export interface LiveMetric {
  /** The gate metric of the version's evaluation (auc, accuracy, f1, log_loss, rmse, mae, r2). */
  metric: string;
  /** Its value on the labelled predictions; absent when skipped. */
  value?: number;
  /** Its value in the version's evaluation (test split). */
  evaluationValue: number;
  /** How much worse the live value is, in the metric's units (negative: better); absent when skipped. */
  drop?: number;
  /** The drop that is an incident. */
  threshold: number;
  /** Predictions of the window with a label. */
  labelled: number;
  /** Predictions of the window whose label has not arrived (counted, never guessed). */
  unlabelled: number;
  /** Labelled ids of the source that match no logged prediction in the log partitions read (see docs). */
  unknownIds: number;
  /** Ids the source labels more than once with the same label (counted once). */
  duplicateIds: number;
  /** The window: (since, until]. */
  since: string;
  until: string;
  /** Why the metric was not judged (too few labelled predictions, no log); absent when it was. */
  skipped?: string;
  /** live-metric.json of this run; absent when skipped. */
  reportUri?: string;
}

export type CheckLiveMetricResult = LiveMetric & { version: number; dropped: boolean };

/**
 * What a run found that the model's controller acts on: signalled to it, and returned. One per run: `accuracy` when the live metric dropped beyond its threshold (the drift fields still say what drifted),
 * else `drift`.
 */
export interface MonitoringIncident {
  kind: 'drift' | 'accuracy';
  modelName: string;
  /** The alias monitored (absent in incidents of runs older than the field: production). */
  alias?: string;
  version: number;
  /** One line for people: what was found, with the numbers. */
  reason: string;
  /** Features that drifted in the drift window (empty when it was skipped or nothing drifted). */
  driftedFeatures: string[];
  driftShare: number;
  /** The live metric, when labels were checked. */
  liveMetric?: LiveMetric;
  /** The drift report (a drift incident) or live-metric.json (an accuracy incident). */
  reportUri: string;
}

export interface CompactPredictionLogInput {
  modelName: string;
  /** Hours that ended at least the grace (15 minutes) before this ISO time are compacted. */
  before: string;
}

export interface CompactPredictionLogResult {
  /** Hours of the log merged into a new compacted file by this run. */
  hoursCompacted: number;
  /** Parts merged (each is then read no more; removed once retention passed). */
  partsMerged: number;
  /** Rows in the compacted files written. */
  rowsWritten: number;
  /** Files removed: parts and superseded compacted files that earlier runs replaced at least an hour before. */
  filesRemoved: number;
  /** Hours that could not be merged (`<hour>Z: <why>`, e.g. a part that is not Parquet); left as they were. */
  failedHours?: string[];
}

export interface MonitorModelResult extends CheckModelDriftResult {
  liveMetric?: LiveMetric;
  /** Why the live check failed (its catalogued error type and message); the drift findings stand. */
  liveMetricError?: { type: string; message: string };
  incident?: MonitoringIncident;
  /** Whether the incident was signalled to a running controller of the model (false: none runs). */
  controllerSignalled?: boolean;
  /** What the run's compaction of the log did (absent with `compactLog: false`). */
  compaction?: CompactPredictionLogResult;
  /** Why the compaction failed; the checks' findings stand, and the next run compacts what this one did not. */
  compactionError?: { type: string; message: string };
}

/**
 * The id of a model's monitoring Schedule for an alias, and of the workflow runs it starts (Temporal appends each
 * run's time): `monitor-<model>` for production, `monitor-<model>.<alias>` for another alias (a model name has no
 * ".", so no two pairs share an id).
 */
export function monitoringScheduleId(modelName: string, alias = 'production'): string {
  return alias === 'production' ? `monitor-${modelName}` : `monitor-${modelName}.${alias}`;
}

/** How late a missed tick (server down) may still run: one hourly window's worth. */
export const monitoringCatchupWindow = '1 hour';
