/**
 * The largest finite float32. Model inputs are float32, so a larger magnitude cannot reach a model intact: the model
 * server refuses such a value, and ingest refuses a snapshot holding one (its statistics would overflow, too).
 */
export const float32Max = 3.4028234663852886e38;

/** A column of a dataset snapshot, with the DuckDB type it was read as. */
export interface ColumnSchema {
  name: string;
  type: string;
}

/**
 * The manifest written last into every snapshot folder (`datasets/<id>/manifest.json`); its presence marks the
 * snapshot complete. docs/datasets.md describes every field.
 */
export interface SnapshotManifest {
  snapshotId: string;
  /** sha256 the snapshot id is derived from: of the source bytes, or of the sorted rows (see `source.hashOf`). */
  contentHash: string;
  source: SnapshotSource;
  rowCount: number;
  columns: ColumnSchema[];
  dataUri: string;
  createdAt: string;
  /** Problems that do not stop ingestion, e.g. a column with no values (absent in manifests written before them). */
  warnings?: SnapshotWarning[];
}

/** Where a snapshot's rows came from: the lineage record of the first ingestion that produced them. */
export interface SnapshotSource {
  /** The source URI as given (`bq://` query text is in `query`). */
  uri: string;
  /** `csv`, `parquet`, `jsonl` or `bigquery`. */
  format: string;
  /** Size of the hashed bytes: the source file, or the exported rows (NDJSON) of a BigQuery source. */
  bytes: number;
  /** Absent in manifests written before sources had kinds (those are files or http(s)). */
  kind?: 'file' | 'http' | 'gcs' | 'bigquery';
  /** `source-bytes` for files; `sorted-rows` for BigQuery (rows ordered by every column, then hashed). */
  hashOf?: 'source-bytes' | 'sorted-rows';
  /** Cloud Storage object generation that was read. */
  generation?: string;
  /** HTTP `ETag` of the downloaded file, when the server sent one. */
  etag?: string;
  /** BigQuery table (`project.dataset.table`) that was read. */
  table?: string;
  /** BigQuery query text that was run. */
  query?: string;
  /** BigQuery job that ran the query (`project:location.jobId`). */
  jobId?: string;
}

/** A problem in a snapshot that later steps may trip over; `column` names the column it concerns. */
export interface SnapshotWarning {
  /**
   * `column-renamed`: a column name the reader changed: a CSV header name or a JSON Lines key made unique, an empty one
   * named, a CSV name trimmed, a Parquet name repeated in another case.
   */
  kind: 'column-all-null' | 'column-renamed' | 'column-number-grouping';
  column: string;
  message: string;
  /** `column-number-grouping`: where, and how many values are written so. */
  detail?: string;
  /** `column-renamed`: the name in the source (absent in snapshots ingested before it was recorded). */
  from?: string;
}

/**
 * Input of `ingestDataset`. `sourceUri` forms: a local path, `file://`, `http(s)://`, `gs://bucket/object`,
 * `bq://project.dataset.table`, or `bq://project?query=<url-encoded SQL>` (docs/datasets.md).
 */
export interface IngestDatasetInput {
  sourceUri: string;
  /** File format; inferred from the extension when absent, ignored for `bq://`. */
  format?: 'csv' | 'parquet' | 'jsonl';
  /** GoogleSQL query to run, with `sourceUri` `bq://<project that runs the job>`; same as the `?query=` URI form. */
  query?: string;
}

export interface DatasetSnapshot {
  snapshotId: string;
  dataUri: string;
  manifestUri: string;
  rowCount: number;
  columns: ColumnSchema[];
  /** True when an identical snapshot already existed and nothing was written. */
  reused: boolean;
  /** The manifest's warnings, e.g. columns with no values (which cannot be used as features). */
  warnings?: SnapshotWarning[];
}

/**
 * Where profiling and preprocessing SQL runs: `duckdb` (embedded, on the worker, the default) or `bigquery` (the
 * snapshot is staged into the BigQuery dataset set by MLOPS_BIGQUERY_DATASET, and only aggregates and the split
 * files come back).
 */
export type WarehouseName = 'duckdb' | 'bigquery';

export interface ProfileDatasetInput {
  snapshotId: string;
  dataUri: string;
  target: string;
  /** @default 'duckdb' */
  warehouse?: WarehouseName;
}

export interface ProfileDatasetResult {
  profileUri: string;
  reportUri: string;
  columnCount: number;
  reused: boolean;
  /** Problems the profile found in the data (its `warnings`, without their counts); absent when there are none. */
  warnings?: DataWarning[];
}

/**
 * A problem in the data, found by profiling (docs/profiling.md): `spelling-variants`, values of a text column (or
 * the target's classes, `target: true`) that differ only in letter case or whitespace. `message` names them and the fix.
 */
export interface DataWarning {
  kind: 'spelling-variants';
  column: string;
  target: boolean;
  message: string;
}

export interface PreprocessInput {
  snapshotId: string;
  dataUri: string;
  columns: ColumnSchema[];
  /** The snapshot's warnings: a column with no values (`column-all-null`) is left out of the default features. */
  warnings?: SnapshotWarning[];
  /** The snapshot's rows (named when a listed feature has no value in any of them). */
  rowCount?: number;
  target: string;
  features?: string[];
  /** Inferred from the target when absent (src/preprocessing/task.ts). */
  task?: 'classification' | 'regression';
  split: { testFraction: number; validationFraction: number; seed: number };
  /** How rows are selected and each feature is fitted; absent means every default (docs/preprocessing.md). */
  preprocessing?: PreprocessingSpec;
  /** @default 'duckdb' */
  warehouse?: WarehouseName;
  /**
   * The pipeline's `gate.metric`, checked against the task once it is settled here (inferred or given), so a metric of
   * the other task fails before training rather than at evaluation.
   */
  gateMetric?: string;
}

/**
 * The declarative preprocessing spec (pipeline input field `preprocessing`). Every field is optional; per-feature
 * settings override `defaults`, which override the built-in defaults. docs/preprocessing.md describes each option.
 */
export interface PreprocessingSpec {
  /**
   * Drop rows identical in every column before splitting, keeping the first by file row number.
   * @default false
   */
  dedupe?: boolean;
  /**
   * Split each target class separately, so every split has the class proportions of the data (classification only).
   * @default false
   */
  stratify?: boolean;
  /**
   * Most classes a classification target may have; a target with more is refused with
   * `MLOPS_ERR_DATA_TOO_MANY_CLASSES` (set the pipeline field `task` to "regression" for a quantity). 2–1000.
   * @default 100
   */
  maxClasses?: number;
  /** Settings for every feature of a type, unless the feature's own entry in `features` sets them. */
  defaults?: { numeric?: FeatureOptions; categorical?: FeatureOptions };
  /** Settings of single features, by column name; each must be a feature of the pipeline. */
  features?: Record<string, FeatureSpec>;
}

/** One feature's declared type and settings. */
export interface FeatureSpec extends FeatureOptions {
  /** @default `numeric` for numeric column types, `categorical` for the rest */
  type?: FeatureType;
}

export type FeatureType = 'numeric' | 'categorical';

/** Settings of a feature; which apply depends on its type (numeric: impute, clip, standardize). */
export interface FeatureOptions {
  /**
   * Value that replaces nulls: `median` or `mean` of the training values (numeric), the most frequent training value
   * (`most_frequent`, categorical), or `{ strategy: 'constant', value }`.
   * @default `median` (numeric), `{ strategy: 'constant', value: '__missing__' }` (categorical)
   */
  impute?: ImputeStrategy | { strategy: ImputeStrategy; value?: number | string };
  /**
   * Numeric only: clip values to these training quantiles (0–1, lower below upper; either may be left out); `false`
   * turns off a clip set in `defaults`.
   * @default no clipping
   */
  clip?: { lower?: number; upper?: number } | false;
  /**
   * Numeric only: subtract the training mean and divide by the training standard deviation.
   * @default true
   */
  standardize?: boolean;
  /**
   * Categorical only: `onehot` (one column per category plus an unknown bucket) or `ordinal` (one column holding the
   * category's index by training frequency, -1 for unknown).
   * @default onehot
   */
  encoding?: CategoricalEncoding;
  /**
   * Categorical only: categories kept (the most frequent in training); the rest count as unknown. 1–1000.
   * @default 50
   */
  maxCategories?: number;
}

export type ImputeStrategy = 'median' | 'mean' | 'most_frequent' | 'constant';
export type CategoricalEncoding = 'onehot' | 'ordinal';

export interface PreprocessResult {
  /** Hash of the preprocessing spec; with the snapshot id it keys the stored output. */
  specHash: string;
  /** The task, as given or inferred from the target (absent in results stored before task inference). */
  task?: 'classification' | 'regression';
  trainUri: string;
  validationUri: string;
  testUri: string;
  transformUri: string;
  featureColumns: string[];
  labelColumn: string;
  /** Class labels in index order (classification only). */
  classes?: string[];
  rows: { train: number; validation: number; test: number };
  /** Rows left out before splitting: a null target, or a duplicate of an earlier row (with `dedupe`). */
  droppedRows: { missingTarget: number; duplicates: number };
  /** Columns left out of the default feature list (no `features` given): those of date and time types. */
  leftOut?: LeftOutColumn[];
  /** Fitted features that will serve poorly (absent when there are none). */
  warnings?: FeatureWarning[];
  reused: boolean;
}

/**
 * A fitted feature that will serve poorly: `feature-mostly-unknown`, most of its values outside its kept categories;
 * `feature-constant`, one value in every training row; or features that will train poorly together:
 * `features-exceed-rows`, at least as many model inputs as training rows (no `feature`: it is about all of them).
 */
export interface FeatureWarning {
  kind: 'feature-mostly-unknown' | 'feature-constant' | 'features-exceed-rows';
  /** The feature it is about; absent for a warning about all of them. */
  feature?: string;
  message: string;
}

/** A column of the snapshot that is not a feature although no feature list left it out, and why. */
export interface LeftOutColumn {
  column: string;
  type: string;
  reason: string;
}

/** The fitted transform, applied by SQL at preprocessing and by the model server to single requests. */
export interface FittedTransform {
  /** 2 since declarative preprocessing; version 1 transforms lack the fields marked "absent in version 1". */
  version: 1 | 2;
  snapshotId: string;
  specHash: string;
  task: 'classification' | 'regression';
  target: { name: string; classes?: string[] };
  features: FeatureTransform[];
  /** Model input columns, in order. */
  outputColumns: string[];
  labelColumn: string;
  /** How rows were selected and split before fitting (absent in version 1). */
  rows?: {
    dedupe: boolean;
    split: { testFraction: number; validationFraction: number; seed: number; stratify: boolean };
  };
  /**
   * The dataset's other columns, neither features nor the target, with why each is not a feature: a request that
   * sends one is told so (absent when there are none, and in transforms fitted before it was recorded).
   */
  leftOut?: { column: string; reason: string }[];
  /**
   * Features whose column ingest renamed (`from` in the source file, `to` in the snapshot): a request that sends the
   * file's name is told the feature's (absent when none was renamed, and in transforms fitted before).
   */
  renamed?: { from: string; to: string }[];
}

export type FeatureTransform = NumericTransform | OneHotTransform | OrdinalTransform;

/** numeric → impute nulls → clip → standardize; one output column. */
export interface NumericTransform {
  kind: 'numeric';
  name: string;
  /** How `impute` was chosen (absent in version 1: median). */
  imputeStrategy?: 'median' | 'mean' | 'constant';
  /** Replaces a null (or absent) value. */
  impute: number;
  /** Fitted clip bounds (exact quantiles of the training sample), applied after imputation; null: that side unclipped. */
  clip?: { lowerQuantile: number | null; upperQuantile: number | null; lower: number | null; upper: number | null };
  /** Mean and population standard deviation of the non-null training values after clipping (std 1 when constant). */
  mean: number;
  std: number;
  /** False: the output is the imputed, clipped value; mean and std are recorded but not applied (absent: true). */
  standardize?: boolean;
  output: string;
}

interface CategoricalFields {
  kind: 'categorical';
  name: string;
  /** How `impute` was chosen (absent in version 1: constant "__missing__"). */
  imputeStrategy?: 'constant' | 'most_frequent';
  /** The category a null (or absent) value counts as (absent in version 1: "__missing__"). */
  impute?: string;
  /** Categories kept (absent in version 1: 50). */
  maxCategories?: number;
}

/** One column per category (sorted by value), 1.0 where the value matches, plus an unknown bucket. */
export interface OneHotTransform extends CategoricalFields {
  encoding?: 'onehot';
  categories: string[];
  outputs: string[];
  unknownOutput: string;
}

/** One column: the index of the value in `categories` (by training frequency, then value), `unknownIndex` if absent. */
export interface OrdinalTransform extends CategoricalFields {
  encoding: 'ordinal';
  categories: string[];
  unknownIndex: number;
  output: string;
}
