import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ArtifactStore } from '../artifacts';
import { readJson, withLocalCopy, writeJson } from '../artifacts';
import type { FittedTransform, PreprocessInput, PreprocessResult } from '../contracts/datasets';
import { mlopsError } from '../errors';
import { fitFeatures } from '../preprocessing/fit';
import type { PreprocessingPlan } from '../preprocessing/plan';
import { planPreprocessing } from '../preprocessing/plan';
import { assignSplits } from '../preprocessing/split-sql';
import { outputColumnsOf, transformSelectList } from '../preprocessing/transform-sql';
import type { DuckDb } from '../warehouse/duckdb';
import { ident, isNumericType, literal, withDuckDb } from '../warehouse/duckdb';

export interface PreprocessDeps {
  store: ArtifactStore;
}

const labelColumn = '__label';
const splits = ['train', 'validation', 'test'] as const;

/**
 * Preprocessing: drop unusable rows, split, fit the transform on the training split and apply it to every split, all
 * as SQL in the warehouse (docs/preprocessing.md). Output folders are keyed by snapshot id and the hash of the resolved
 * spec, so the same spec on the same snapshot is computed once, and gives byte-identical files when recomputed.
 */
export interface PreprocessActivities {
  preprocessDataset: (input: PreprocessInput) => Promise<PreprocessResult>;
}

export function createPreprocessActivities({ store }: PreprocessDeps): PreprocessActivities {
  return {
    async preprocessDataset(input: PreprocessInput): Promise<PreprocessResult> {
      const plan = planPreprocessing(input);
      const folder = ['preprocessed', input.snapshotId, plan.specHash];
      const resultUri = store.uri(...folder, 'result.json');
      if (await store.exists(resultUri))
        return { ...(await readJson<PreprocessResult>(store, resultUri)), reused: true };

      const work = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-preprocess-'));
      try {
        const fitted = await withLocalCopy(store, input.dataUri, (file) => fitAndApply(file, work, input, plan));
        const uris = Object.fromEntries(splits.map((s) => [s, store.uri(...folder, `${s}.parquet`)])) as Record<
          (typeof splits)[number],
          string
        >;
        for (const s of splits) await store.upload(path.join(work, `${s}.parquet`), uris[s]);
        const transformUri = store.uri(...folder, 'transform.json');
        await writeJson(store, transformUri, fitted.transform);
        const result: PreprocessResult = {
          specHash: plan.specHash,
          trainUri: uris.train,
          validationUri: uris.validation,
          testUri: uris.test,
          transformUri,
          featureColumns: fitted.transform.outputColumns,
          labelColumn,
          classes: fitted.transform.target.classes,
          rows: fitted.rows,
          droppedRows: fitted.droppedRows,
          reused: false,
        };
        await writeJson(store, resultUri, result);
        return result;
      } finally {
        await fs.rm(work, { recursive: true, force: true });
      }
    },
  };
}

async function fitAndApply(file: string, work: string, input: PreprocessInput, plan: PreprocessingPlan) {
  // One thread keeps row order and Parquet layout identical between runs: same spec + same snapshot → same bytes.
  // `assigned` is stored in file row order, so the splits are written in that order without another sort.
  return withDuckDb(
    async (db) => {
      const dedupe = plan.spec.dedupe ?? false;
      const stratify = plan.spec.stratify ?? false;
      const droppedRows = await assignSplits(db, file, { ...input, split: plan.split, dedupe, stratify });
      const rows = await countSplits(db, input);
      const classes = await fitTarget(db, input);
      await rejectEmptyFeatures(db, input, plan);
      const features = await fitFeatures(db, plan.features);
      const selectList = [
        ...transformSelectList({ features }),
        `${targetSql(input, classes)} AS ${ident(labelColumn)}`,
      ].join(',\n  ');
      for (const s of splits) {
        const out = literal(path.join(work, `${s}.parquet`));
        await db.run(`COPY (SELECT ${selectList} FROM assigned WHERE __split = '${s}') TO ${out} (FORMAT parquet)`);
      }
      const transform: FittedTransform = {
        version: 2,
        snapshotId: input.snapshotId,
        specHash: plan.specHash,
        task: input.task,
        target: { name: input.target, classes },
        features,
        outputColumns: features.flatMap(outputColumnsOf),
        labelColumn,
        rows: { dedupe, split: { ...plan.split, stratify } },
      };
      return { transform, rows, droppedRows };
    },
    { threads: 1 },
  );
}

async function countSplits(db: DuckDb, input: PreprocessInput): Promise<PreprocessResult['rows']> {
  const counts = await db.query<{ s: string; n: number }>(
    'SELECT __split AS s, count(*) AS n FROM assigned GROUP BY 1',
  );
  const rows = { train: 0, validation: 0, test: 0 };
  for (const { s, n } of counts) rows[s as keyof typeof rows] = n;
  for (const split of splits) {
    if (rows[split] === 0) {
      throw mlopsError('MLOPS_ERR_DATA_TOO_FEW_ROWS', {
        source: input.snapshotId,
        rows: rows.train + rows.validation + rows.test,
        split,
      });
    }
  }
  return rows;
}

/** A feature with no value in any row cannot be fitted or learned from; say which one, instead of imputing nothing. */
async function rejectEmptyFeatures(db: DuckDb, input: PreprocessInput, plan: PreprocessingPlan): Promise<void> {
  if (plan.features.length === 0) return;
  const counts = await db.query<Record<string, number>>(
    `SELECT count(*) AS total, ${plan.features.map((f, i) => `count(${ident(f.name)}) AS n${i}`).join(', ')} FROM assigned`,
  );
  const row = counts[0]!;
  const empty = plan.features.findIndex((_, i) => row[`n${i}`] === 0);
  if (empty >= 0) {
    throw mlopsError('MLOPS_ERR_DATA_FEATURE_ALL_NULL', {
      column: plan.features[empty]!.name,
      source: input.snapshotId,
      rows: row.total,
    });
  }
}

async function fitTarget(db: DuckDb, input: PreprocessInput): Promise<string[] | undefined> {
  const target = ident(input.target);
  const targetType = input.columns.find((c) => c.name === input.target)!.type;
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
  const classes = await db.query<{ v: string }>(
    `SELECT DISTINCT ${target}::VARCHAR AS v FROM assigned ORDER BY v LIMIT 1001`,
  );
  if (classes.length < 2 || classes.length > 1000) {
    const reason =
      classes.length < 2 ? `it has ${classes.length} distinct value` : 'it has more than 1000 distinct values';
    throw mlopsError('MLOPS_ERR_DATA_TARGET_INVALID', {
      column: input.target,
      source: input.snapshotId,
      task: 'classification',
      reason,
    });
  }
  return classes.map((c) => c.v);
}

function targetSql(input: PreprocessInput, classes: string[] | undefined): string {
  const target = ident(input.target);
  if (!classes) return `${target}::DOUBLE`;
  return `(CASE ${target}::VARCHAR ${classes.map((v, i) => `WHEN ${literal(v)} THEN ${i}`).join(' ')} END)::DOUBLE`;
}
