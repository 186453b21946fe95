import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ArtifactStore } from '../artifacts';
import { readJson, writeJson } from '../artifacts';
import type { FeatureTransform, FittedTransform, PreprocessInput, PreprocessResult } from '../contracts/datasets';
import { mlopsError } from '../errors';
import type { DuckDb } from '../warehouse/duckdb';
import { ident, isNumericType, literal, withDuckDb } from '../warehouse/duckdb';
import { withLocalCopy } from './profile';

export interface PreprocessDeps {
  store: ArtifactStore;
}

const labelColumn = '__label';
const splits = ['train', 'validation', 'test'] as const;
/** Categories beyond this many (by training frequency) share the unknown bucket. */
const maxCategories = 50;
const missingCategory = '__missing__';

/**
 * Preprocessing: fit the transform on the training split and apply it to every split, all as SQL in the warehouse.
 * Output folders are keyed by snapshot id and spec hash, so the same spec on the same snapshot is computed once.
 */
export interface PreprocessActivities {
  preprocessDataset: (input: PreprocessInput) => Promise<PreprocessResult>;
}

export function createPreprocessActivities({ store }: PreprocessDeps): PreprocessActivities {
  return {
    async preprocessDataset(input: PreprocessInput): Promise<PreprocessResult> {
      const specHash = hashSpec(input);
      const folder = ['preprocessed', input.snapshotId, specHash];
      const resultUri = store.uri(...folder, 'result.json');
      if (await store.exists(resultUri))
        return { ...(await readJson<PreprocessResult>(store, resultUri)), reused: true };

      const features = selectFeatures(input);
      const work = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-preprocess-'));
      try {
        const fitted = await withLocalCopy(store, input.dataUri, (file) =>
          fitAndApply(file, work, input, features, specHash),
        );
        const uris = Object.fromEntries(splits.map((s) => [s, store.uri(...folder, `${s}.parquet`)])) as Record<
          (typeof splits)[number],
          string
        >;
        for (const s of splits) await store.upload(path.join(work, `${s}.parquet`), uris[s]);
        const transformUri = store.uri(...folder, 'transform.json');
        await writeJson(store, transformUri, fitted.transform);
        const result: PreprocessResult = {
          specHash,
          trainUri: uris.train,
          validationUri: uris.validation,
          testUri: uris.test,
          transformUri,
          featureColumns: fitted.transform.outputColumns,
          labelColumn,
          classes: fitted.transform.target.classes,
          rows: fitted.rows,
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

function hashSpec(input: PreprocessInput): string {
  const spec = { v: 1, target: input.target, features: input.features ?? null, task: input.task, split: input.split };
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
}

function selectFeatures(input: PreprocessInput): { name: string; type: string }[] {
  const known = new Map(input.columns.map((c) => [c.name, c.type]));
  const columnList = input.columns.map((c) => c.name).join(', ');
  if (!known.has(input.target)) {
    throw mlopsError('MLOPS_ERR_DATA_COLUMN_MISSING', {
      column: input.target,
      role: 'target',
      source: input.snapshotId,
      columns: columnList,
    });
  }
  const names = input.features ?? input.columns.map((c) => c.name).filter((n) => n !== input.target);
  return names.map((name) => {
    const type = known.get(name);
    if (!type)
      throw mlopsError('MLOPS_ERR_DATA_COLUMN_MISSING', {
        column: name,
        role: 'feature',
        source: input.snapshotId,
        columns: columnList,
      });
    return { name, type };
  });
}

async function fitAndApply(
  file: string,
  work: string,
  input: PreprocessInput,
  features: { name: string; type: string }[],
  specHash: string,
) {
  // One thread keeps row order and Parquet layout identical between runs: same spec + same snapshot → same bytes.
  return withDuckDb(
    async (db) => {
      await assignSplits(db, file, input);
      const rows = await countSplits(db, input);
      const classes = await fitTarget(db, input);
      const transforms: FeatureTransform[] = [];
      for (const f of features)
        transforms.push(isNumericType(f.type) ? await fitNumeric(db, f.name) : await fitCategorical(db, f.name));
      const selectList = [
        ...transforms.flatMap(featureSql),
        `${targetSql(input, classes)} AS ${ident(labelColumn)}`,
      ].join(',\n  ');
      for (const s of splits) {
        const out = literal(path.join(work, `${s}.parquet`));
        await db.run(
          `COPY (SELECT ${selectList} FROM assigned WHERE __split = '${s}' ORDER BY __row) TO ${out} (FORMAT parquet)`,
        );
      }
      const transform: FittedTransform = {
        version: 1,
        snapshotId: input.snapshotId,
        specHash,
        task: input.task,
        target: { name: input.target, classes },
        features: transforms,
        outputColumns: transforms.flatMap((t) => (t.kind === 'numeric' ? [t.output] : [...t.outputs, t.unknownOutput])),
        labelColumn,
      };
      return { transform, rows };
    },
    { threads: 1 },
  );
}

async function assignSplits(db: DuckDb, file: string, input: PreprocessInput): Promise<void> {
  const { testFraction, validationFraction, seed } = input.split;
  await db.run(`CREATE TABLE assigned AS
    SELECT *, CASE WHEN u < ${testFraction} THEN 'test' WHEN u < ${testFraction + validationFraction} THEN 'validation' ELSE 'train' END AS __split
    FROM (SELECT *, (hash(file_row_number, ${seed}::BIGINT) % 1000000) / 1000000.0 AS u, file_row_number AS __row
          FROM read_parquet(${literal(file)}, file_row_number = true)
          WHERE ${ident(input.target)} IS NOT NULL)`);
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

async function fitNumeric(db: DuckDb, name: string): Promise<FeatureTransform> {
  const c = ident(name);
  const [stats] = await db.query<{ median: number | null; mean: number | null; std: number | null }>(
    `SELECT median(${c})::DOUBLE AS median, avg(${c})::DOUBLE AS mean, stddev_pop(${c})::DOUBLE AS std FROM assigned WHERE __split = 'train'`,
  );
  const mean = stats?.mean ?? 0;
  // A constant column has std 0; dividing by 1 keeps it finite (it carries no signal either way).
  const std = stats?.std && stats.std > 0 ? stats.std : 1;
  return { kind: 'numeric', name, impute: stats?.median ?? mean, mean, std, output: name };
}

async function fitCategorical(db: DuckDb, name: string): Promise<FeatureTransform> {
  const c = ident(name);
  const top = await db.query<{ v: string }>(
    `SELECT coalesce(${c}::VARCHAR, '${missingCategory}') AS v, count(*) AS n FROM assigned WHERE __split = 'train'
     GROUP BY 1 ORDER BY n DESC, v LIMIT ${maxCategories}`,
  );
  const categories = top.map((t) => t.v).sort();
  return {
    kind: 'categorical',
    name,
    categories,
    outputs: categories.map((v) => `${name}=${v}`),
    unknownOutput: `${name}=__unknown__`,
  };
}

function featureSql(t: FeatureTransform): string[] {
  const c = ident(t.name);
  if (t.kind === 'numeric')
    return [`((coalesce(${c}::DOUBLE, ${t.impute}) - ${t.mean}) / ${t.std})::DOUBLE AS ${ident(t.output)}`];
  const value = `coalesce(${c}::VARCHAR, '${missingCategory}')`;
  const known = t.categories.map(literal).join(', ');
  return [
    ...t.categories.map(
      (v, i) => `(CASE WHEN ${value} = ${literal(v)} THEN 1.0 ELSE 0.0 END)::DOUBLE AS ${ident(t.outputs[i]!)}`,
    ),
    `(CASE WHEN ${value} IN (${known}) THEN 0.0 ELSE 1.0 END)::DOUBLE AS ${ident(t.unknownOutput)}`,
  ];
}

function targetSql(input: PreprocessInput, classes: string[] | undefined): string {
  const target = ident(input.target);
  if (!classes) return `${target}::DOUBLE`;
  return `(CASE ${target}::VARCHAR ${classes.map((v, i) => `WHEN ${literal(v)} THEN ${i}`).join(' ')} END)::DOUBLE`;
}
