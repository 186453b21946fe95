import fs from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactStore } from '../artifacts';
import { readJson, withLocalCopy, writeJson } from '../artifacts';
import { preprocessedFiles } from '../artifacts/layout';
import type {
  FeatureTransform,
  FeatureWarning,
  FittedTransform,
  PreprocessInput,
  PreprocessResult,
} from '../contracts/datasets';
import { checkGateMetric, settledTask } from '../contracts/pipeline';
import { mlopsError } from '../errors';
import { distinctOutputNames, hasDuplicateColumns, labelColumn } from './column-names';
import { fitFeatures } from './fit';
import type { PreprocessingPlan } from './plan';
import { planPreprocessing } from './plan';
import type { SplitCounts, SplitName } from './split-sql';
import { assignSplits, countSplits } from './split-sql';
import type { Task } from './task';
import { defaultMaxClasses, inferTask } from './task';
import { outputColumnsOf, sourceRowColumn, transformSelectList } from './transform-sql';
import { columnsPerStatement } from '../warehouse/column-groups';
import type { SqlDialect } from '../warehouse/sql-dialect';
import { isNumericType } from '../warehouse/duckdb';
import type { WarehouseSettings } from '../warehouse/open-warehouse';
import { withWarehouseSession } from '../warehouse/open-warehouse';
import type { Warehouse, WarehouseSession } from '../warehouse/warehouse';
import { rowNumberColumn } from '../warehouse/warehouse';
import { makeTempDir } from '../step-context';

export interface PreprocessDeps extends WarehouseSettings {
  store: ArtifactStore;
}

const splits = ['train', 'validation', 'test'] as const;

/**
 * Preprocessing: drop unusable rows, split, fit the transform on the training split and apply it to every split, all
 * as SQL in the warehouse (docs/preprocessing.md). Output folders are keyed by snapshot id and the hash of the resolved
 * spec, so the same spec on the same snapshot is computed once, and gives byte-identical files when recomputed.
 */
export async function preprocessDataset(
  { store, ...settings }: PreprocessDeps,
  input: PreprocessInput,
): Promise<PreprocessResult> {
  const plan = planPreprocessing(input);
  const files = preprocessedFiles(store, input.snapshotId, plan.specHash);
  const resultUri = files.result;
  const stored = (await store.exists(resultUri)) ? await readJson<PreprocessResult>(store, resultUri) : undefined;
  // A result stored before output names were kept apart may hold two columns of one name: it is fitted again.
  if (stored && !hasDuplicateColumns(stored.featureColumns)) {
    checkGateMetric({ gate: { metric: input.gateMetric }, task: settledTask(stored, input) });
    return { ...stored, reused: true };
  }

  const work = await makeTempDir('mlops-preprocess-');
  try {
    const fitted = await withLocalCopy(store, input.dataUri, (file) =>
      withWarehouseSession(input.warehouse, settings, input.snapshotId, (w) => fitAndApply(w, file, work, input, plan)),
    );
    const uris = files.splits;
    for (const s of splits) await store.upload(path.join(work, `${s}.parquet`), uris[s]);
    const transformUri = files.transform;
    await writeJson(store, transformUri, fitted.transform);
    const result: PreprocessResult = {
      specHash: plan.specHash,
      task: fitted.transform.task,
      trainUri: uris.train,
      validationUri: uris.validation,
      testUri: uris.test,
      transformUri,
      featureColumns: fitted.transform.outputColumns,
      labelColumn,
      classes: fitted.transform.target.classes,
      rows: fitted.rows,
      droppedRows: fitted.droppedRows,
      ...(plan.leftOut.length > 0 && { leftOut: plan.leftOut }),
      ...(fitted.warnings.length > 0 && { warnings: fitted.warnings }),
      reused: false,
    };
    await writeJson(store, resultUri, result);
    return result;
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/**
 * On DuckDB each statement runs on one thread, which keeps row order and Parquet layout identical between runs (same
 * spec + same snapshot → same bytes) and lets the splits be written in file row order without another sort;
 * independent statements are issued together and run side by side.
 */
async function fitAndApply(
  w: WarehouseSession,
  file: string,
  work: string,
  input: PreprocessInput,
  plan: PreprocessingPlan,
) {
  const d = w.dialect;
  const dedupe = plan.spec.dedupe ?? false;
  const stratify = plan.spec.stratify ?? false;
  const snapshot = await w.snapshotTable(input.snapshotId, file);
  const task = input.task ?? (await inferTask(w, snapshot, input.target, targetTypeOf(input)));
  // The task is settled: a gate metric of the other task fails now, before splitting, fitting or training.
  checkGateMetric({ gate: { metric: input.gateMetric }, task });
  if (stratify && task === 'regression') {
    throw mlopsError('MLOPS_ERR_PREPROCESS_SPEC_INVALID', {
      source: input.snapshotId,
      problems: `- preprocessing.stratify: stratification needs a classification task ("${input.target}" was inferred to be a regression target; set the pipeline field task to "classification" if it holds class codes)`,
    });
  }
  const split = await assignSplits(w, snapshot, { ...input, split: plan.split, dedupe, stratify });
  const { assigned, where } = split;
  const featureNames = plan.features.map((f) => f.name);
  const [counted, fitted] = await Promise.allSettled([
    countSplits(w, snapshot, split, input.target, featureNames).then((counts) =>
      rejectEmptyFeatures(rejectEmptySplits(counts, input), input, featureNames),
    ),
    fitTarget(w, assigned, { ...input, task }, plan.spec.maxClasses ?? defaultMaxClasses),
  ]);
  // Both run at once; a target without classes also empties the splits, and its own error says more. Whichever
  // finished first, the target's error wins, so the same data always gets the same error.
  if (fitted.status === 'rejected') throw fitted.reason;
  if (counted.status === 'rejected') throw counted.reason;
  const { rows, droppedRows } = counted.value;
  const classes = fitted.value;
  const featureFit = await fitFeatures(w, { assigned, train: where('train'), trainRows: rows.train }, plan.features);
  const warnings = [...featureFit.warnings, ...inputsPerRowWarning(featureFit.features, rows.train)];
  const features = distinctOutputNames(featureFit.features);
  const selectList = [
    ...transformSelectList({ features }, d),
    `${targetSql(d, input.target, classes)} AS ${d.ident(labelColumn)}`,
    `${d.ident(rowNumberColumn)} AS ${d.ident(sourceRowColumn)}`,
    d.ident(rowNumberColumn),
  ].join(',\n  ');
  const write = (s: SplitName) =>
    w.writeParquet(`SELECT ${selectList} FROM ${assigned} WHERE ${where(s)}`, path.join(work, `${s}.parquet`));
  // A Parquet writer holds buffers for every column it writes: wide data writes its splits one after another.
  const outputColumns = features.reduce((n, f) => n + outputColumnsOf(f).length, 0);
  if (outputColumns > columnsPerStatement) for (const s of splits) await write(s);
  else await Promise.all(splits.map(write));
  const transform: FittedTransform = {
    version: 2,
    snapshotId: input.snapshotId,
    specHash: plan.specHash,
    task,
    target: { name: input.target, classes },
    features,
    outputColumns: features.flatMap(outputColumnsOf),
    labelColumn,
    rows: { dedupe, split: { ...plan.split, stratify } },
  };
  const leftOut = columnsLeftOut(input, plan);
  if (leftOut.length > 0) transform.leftOut = leftOut;
  const renamed = renamedFeatures(input, plan);
  if (renamed.length > 0) transform.renamed = renamed;
  return { transform, rows, droppedRows, warnings };
}

/**
 * At least as many model inputs (features after one-hot encoding) as training rows: a model can fit the training rows
 * exactly and learn nothing that carries over (a tester's 2,000 numeric features on 240 rows, three of them strong
 * signal, trained to AUC 0.54 with the default penalty, 0.62 with l2 1).
 */
function inputsPerRowWarning(features: FeatureTransform[], trainRows: number): FeatureWarning[] {
  const inputs = features.reduce((n, f) => n + outputColumnsOf(f).length, 0);
  if (inputs < trainRows) return [];
  return [
    {
      kind: 'features-exceed-rows',
      message:
        `${inputs} model inputs (the features after one-hot encoding) for ${trainRows} training rows: a model can fit ` +
        'the training rows exactly and learn little that holds on new rows. List fewer features (pipeline field ' +
        'features), bring more rows, or penalize the weights more (builtin-linear: hyperparameters.l2, e.g. 1).',
    },
  ];
}

/** The features whose column ingest renamed (the snapshot's `column-renamed` warnings), from the file's name to theirs. */
function renamedFeatures(input: PreprocessInput, plan: PreprocessingPlan): { from: string; to: string }[] {
  const features = new Set(plan.features.map((f) => f.name));
  const columns = new Set(input.columns.map((c) => c.name));
  return (input.warnings ?? []).flatMap((w) =>
    // A source name that is a column itself (`age` beside `age_1`) is that column's, not a renamed one's.
    w.kind === 'column-renamed' && w.from !== undefined && features.has(w.column) && !columns.has(w.from)
      ? [{ from: w.from, to: w.column }]
      : [],
  );
}

/** The snapshot's columns that are neither a feature nor the target, with why (recorded in the transform). */
function columnsLeftOut(input: PreprocessInput, plan: PreprocessingPlan): NonNullable<FittedTransform['leftOut']> {
  const features = new Set(plan.features.map((f) => f.name));
  const why = new Map(plan.leftOut.map((c) => [c.column, c.reason]));
  return input.columns
    .filter((c) => c.name !== input.target && !features.has(c.name))
    .map((c) => ({ column: c.name, reason: why.get(c.name) ?? 'not among the features the run named' }));
}

function rejectEmptySplits(counts: SplitCounts, input: PreprocessInput): SplitCounts {
  const { rows } = counts;
  for (const split of splits) {
    if (rows[split] === 0) {
      throw mlopsError('MLOPS_ERR_DATA_TOO_FEW_ROWS', {
        source: input.snapshotId,
        rows: rows.train + rows.validation + rows.test,
        split,
      });
    }
  }
  return counts;
}

/** A feature with no value in any row cannot be fitted or learned from; say which one, instead of imputing nothing. */
function rejectEmptyFeatures(counts: SplitCounts, input: PreprocessInput, features: string[]): SplitCounts {
  const empty = counts.featureValues.findIndex((values) => values === 0);
  if (empty >= 0) {
    const { train, validation, test } = counts.rows;
    throw mlopsError('MLOPS_ERR_DATA_FEATURE_ALL_NULL', {
      column: features[empty]!,
      source: input.snapshotId,
      rows: train + validation + test,
    });
  }
  return counts;
}

function targetTypeOf(input: PreprocessInput): string {
  return input.columns.find((c) => c.name === input.target)?.type ?? 'VARCHAR';
}

async function fitTarget(
  w: Warehouse,
  assigned: string,
  input: PreprocessInput & { task: Task },
  maxClasses: number,
): Promise<string[] | undefined> {
  const target = w.dialect.toText(w.dialect.ident(input.target));
  const targetType = targetTypeOf(input);
  if (input.task === 'regression') {
    if (!isNumericType(targetType)) {
      throw mlopsError('MLOPS_ERR_DATA_TARGET_INVALID', {
        column: input.target,
        source: input.snapshotId,
        task: 'regression',
        reason: `its type is ${targetType}`,
      });
    }
    return undefined;
  }
  const classes = (await w.query(
    `SELECT DISTINCT ${target} AS v FROM ${assigned} ORDER BY v LIMIT ${maxClasses + 1}`,
  )) as { v: string }[];
  if (classes.length > maxClasses) {
    const [row] = await w.query(`SELECT count(DISTINCT ${target}) AS n FROM ${assigned}`);
    throw mlopsError('MLOPS_ERR_DATA_TOO_MANY_CLASSES', {
      column: input.target,
      source: input.snapshotId,
      classes: Number(row?.n ?? classes.length),
      limit: maxClasses,
    });
  }
  if (classes.length < 2) {
    throw mlopsError('MLOPS_ERR_DATA_TARGET_INVALID', {
      column: input.target,
      source: input.snapshotId,
      task: 'classification',
      reason:
        classes.length === 0
          ? 'it has no value in any row'
          : `it has one value (${JSON.stringify(classes[0]!.v)}) in every row with a value`,
    });
  }
  return classes.map((c) => c.v);
}

function targetSql(d: SqlDialect, targetColumn: string, classes: string[] | undefined): string {
  const target = d.ident(targetColumn);
  if (!classes) return d.toDouble(target);
  const cases = classes.map((v, i) => `WHEN ${d.literal(v)} THEN ${i}`).join(' ');
  return d.toDouble(`CASE ${d.toText(target)} ${cases} END`);
}
