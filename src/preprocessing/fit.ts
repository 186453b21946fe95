/**
 * Fits each feature's transform on the training rows of the `assigned` table, in SQL: only aggregates (quantiles,
 * statistics, top categories) come back to Node. Numeric features take two passes over the table in all (clip bounds,
 * then statistics of the clipped values); each categorical feature takes one grouped query, two for most_frequent.
 */
import type { NumericTransform, FeatureTransform } from '../contracts/datasets';
import type { DuckDb } from '../warehouse/duckdb';
import { ident, literal } from '../warehouse/duckdb';
import type { CategoricalPlan, FeaturePlan, NumericPlan } from './plan';
import { doubleSql, missingCategory } from './transform-sql';

const train = `FROM assigned WHERE __split = 'train'`;

export async function fitFeatures(db: DuckDb, plans: FeaturePlan[]): Promise<FeatureTransform[]> {
  const numeric = await fitNumerics(
    db,
    plans.filter((p): p is NumericPlan => p.type === 'numeric'),
  );
  const transforms: FeatureTransform[] = [];
  for (const plan of plans)
    transforms.push(plan.type === 'numeric' ? numeric.get(plan.name)! : await fitCategorical(db, plan));
  return transforms;
}

async function fitNumerics(db: DuckDb, plans: NumericPlan[]): Promise<Map<string, NumericTransform>> {
  const bounds = await fitClipBounds(db, plans);
  const stats = plans.length
    ? await one(
        db,
        plans.flatMap((p, i) => {
          const x = clipped(p, bounds[i]);
          return [`median(${x})::DOUBLE AS m${i}`, `avg(${x})::DOUBLE AS a${i}`, `stddev_pop(${x})::DOUBLE AS s${i}`];
        }),
      )
    : {};
  return new Map(
    plans.map((p, i) => {
      const median = stats[`m${i}`] as number | null;
      const mean = (stats[`a${i}`] as number | null) ?? 0;
      const std = stats[`s${i}`] as number | null;
      const impute =
        p.impute.strategy === 'constant' ? p.impute.value : p.impute.strategy === 'mean' ? mean : (median ?? mean);
      const transform: NumericTransform = {
        kind: 'numeric',
        name: p.name,
        imputeStrategy: p.impute.strategy,
        impute,
        ...(p.clip && { clip: { lowerQuantile: p.clip.lower, upperQuantile: p.clip.upper, ...bounds[i]! } }),
        mean,
        // A constant column has std 0; dividing by 1 keeps it finite (it carries no signal either way).
        std: std && std > 0 ? std : 1,
        standardize: p.standardize,
        output: p.name,
      };
      return [p.name, transform];
    }),
  );
}

type Bounds = { lower: number | null; upper: number | null } | undefined;

/**
 * approx_quantile (a t-digest) rather than quantile_cont: it runs in parallel and in one pass on a warehouse. It takes a
 * FLOAT constant; a string cast also covers quantiles JavaScript prints with an exponent (1e-7), which DuckDB reads as
 * DOUBLE and rejects.
 */
async function fitClipBounds(db: DuckDb, plans: NumericPlan[]): Promise<Bounds[]> {
  const select = plans.flatMap((p, i) =>
    (['lower', 'upper'] as const).flatMap((side) =>
      p.clip?.[side] != null
        ? [`approx_quantile(${ident(p.name)}::DOUBLE, '${p.clip[side]}'::FLOAT) AS ${side}${i}`]
        : [],
    ),
  );
  const row = select.length ? await one(db, select) : {};
  return plans.map((p, i) =>
    p.clip
      ? { lower: (row[`lower${i}`] as number | null) ?? null, upper: (row[`upper${i}`] as number | null) ?? null }
      : undefined,
  );
}

/**
 * The raw column (as fitted before clipping existed, so unclipped statistics stay bit-identical) or its clipped value.
 * DuckDB's least/greatest skip nulls (least(NULL, 5) is 5), so nulls are kept null explicitly.
 */
function clipped(p: NumericPlan, bounds: Bounds): string {
  const c = ident(p.name);
  if (!bounds) return c;
  let x = `${c}::DOUBLE`;
  if (bounds.upper !== null) x = `least(${x}, ${doubleSql(bounds.upper)})`;
  if (bounds.lower !== null) x = `greatest(${x}, ${doubleSql(bounds.lower)})`;
  return `CASE WHEN ${c} IS NOT NULL THEN ${x} END`;
}

async function fitCategorical(db: DuckDb, plan: CategoricalPlan): Promise<FeatureTransform> {
  const c = ident(plan.name);
  const impute = plan.impute.strategy === 'constant' ? plan.impute.value : await mostFrequent(db, plan);
  // Frequency first, then value, so ties break the same way on every run.
  const top = await db.query<{ v: string }>(
    `SELECT coalesce(${c}::VARCHAR, ${literal(impute)}) AS v, count(*) AS n ${train}
     GROUP BY 1 ORDER BY n DESC, v LIMIT ${plan.maxCategories}`,
  );
  const base = {
    kind: 'categorical' as const,
    name: plan.name,
    imputeStrategy: plan.impute.strategy,
    impute,
    maxCategories: plan.maxCategories,
  };
  if (plan.encoding === 'ordinal')
    return { ...base, encoding: 'ordinal', categories: top.map((t) => t.v), unknownIndex: -1, output: plan.name };
  const categories = top.map((t) => t.v).sort();
  return {
    ...base,
    encoding: 'onehot',
    categories,
    outputs: categories.map((v) => `${plan.name}=${v}`),
    unknownOutput: `${plan.name}=__unknown__`,
  };
}

/** The most frequent non-null training value (ties: the smallest); "__missing__" when every value is null. */
async function mostFrequent(db: DuckDb, plan: CategoricalPlan): Promise<string> {
  const c = ident(plan.name);
  const [row] = await db.query<{ v: string }>(
    `SELECT ${c}::VARCHAR AS v, count(*) AS n ${train} AND ${c} IS NOT NULL GROUP BY 1 ORDER BY n DESC, v LIMIT 1`,
  );
  return row?.v ?? missingCategory;
}

async function one(db: DuckDb, select: string[]): Promise<Record<string, unknown>> {
  const [row] = await db.query(`SELECT ${select.join(', ')} ${train}`);
  return row ?? {};
}
