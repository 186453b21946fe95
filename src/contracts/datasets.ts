/** A column of a dataset snapshot, with the DuckDB type it was read as. */
export interface ColumnSchema {
  name: string;
  type: string;
}

/** The manifest written last into every snapshot folder; its presence marks the snapshot complete. */
export interface SnapshotManifest {
  snapshotId: string;
  /** sha256 of the source bytes; the snapshot id is derived from it. */
  contentHash: string;
  source: { uri: string; format: string; bytes: number };
  rowCount: number;
  columns: ColumnSchema[];
  dataUri: string;
  createdAt: string;
}

export interface IngestDatasetInput {
  sourceUri: string;
  format?: 'csv' | 'parquet' | 'jsonl';
}

export interface DatasetSnapshot {
  snapshotId: string;
  dataUri: string;
  manifestUri: string;
  rowCount: number;
  columns: ColumnSchema[];
  /** True when an identical snapshot already existed and nothing was written. */
  reused: boolean;
}

export interface ProfileDatasetInput {
  snapshotId: string;
  dataUri: string;
  target: string;
}

export interface ProfileDatasetResult {
  profileUri: string;
  reportUri: string;
  columnCount: number;
  reused: boolean;
}

export interface PreprocessInput {
  snapshotId: string;
  dataUri: string;
  columns: ColumnSchema[];
  target: string;
  features?: string[];
  task: 'classification' | 'regression';
  split: { testFraction: number; validationFraction: number; seed: number };
}

export interface PreprocessResult {
  /** Hash of the preprocessing spec; with the snapshot id it keys the stored output. */
  specHash: string;
  trainUri: string;
  validationUri: string;
  testUri: string;
  transformUri: string;
  featureColumns: string[];
  labelColumn: string;
  /** Class labels in index order (classification only). */
  classes?: string[];
  rows: { train: number; validation: number; test: number };
  reused: boolean;
}

/** The fitted transform, applied by SQL at preprocessing and by the model server to single requests. */
export interface FittedTransform {
  version: 1;
  snapshotId: string;
  specHash: string;
  task: 'classification' | 'regression';
  target: { name: string; classes?: string[] };
  features: FeatureTransform[];
  /** Model input columns, in order. */
  outputColumns: string[];
  labelColumn: string;
}

export type FeatureTransform =
  | { kind: 'numeric'; name: string; impute: number; mean: number; std: number; output: string }
  | { kind: 'categorical'; name: string; categories: string[]; outputs: string[]; unknownOutput: string };
