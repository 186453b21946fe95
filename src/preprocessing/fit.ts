/**
 * Fits each feature's transform on the training rows of the `assigned` relation, in SQL: only aggregates (quantiles,
 * statistics, top categories) come back to Node. Numeric features take two passes over the table in all (clip bounds,
 * then statistics of the clipped values), in statements of at most 256 columns each (column-groups.ts); each
 * categorical feature takes one grouped query, two for most_frequent.
 */
import { createHash } from 'node:crypto';
import type { FeatureTransform, FeatureWarning, NumericTransform } from '../contracts/datasets';
import { columnGroups, mergedOverColumnGroups } from '../warehouse/column-groups';
import type { SqlDialect } from '../warehouse/sql-dialect';
import type { QuantileItem } from '../warehouse/sql-dialect';
import { runQuantileQuery, sampledRows } from '../warehouse/sql-dialect';
import type { Warehouse } from '../warehouse/warehouse';
import { rowNumberColumn } from '../warehouse/warehouse';
import type { CategoricalPlan, FeaturePlan, NumericPlan } from './plan';
import { categoryText, missingCategory } from './transform-sql';

/**
 * The warehouse, the table expression of the `assigned` relation (see split-sql.ts), the predicate of its training
 * rows and their count.
 */
interface Fitting {
  w: Pick<Warehouse, 'query' | 'dialect'>;
  assigned: string;
  train: string;
  trainRows: number;
}

/**
 * Medians and clip bounds are exact quantiles of a uniform sample of at most this many training rows, the same numbers
 * on DuckDB and BigQuery: exact on smaller training sets, and on larger ones an estimate whose standard error is about
 * 0.4% of a standard deviation for the median. An exact quantile over all rows holds every value (2.5 GB for 16
 * columns × 10M rows); the sample keeps memory flat.
 */
const trainSampleRows = 100_000;
/** Seeds the sample's draw, so it is independent of the split's. */
const trainSampleSeed = 0x6d656469;

/**
 * The queries are independent once the clip bounds are known, so they are issued together: a warehouse that runs
 * several statements at once (DuckDB with several connections, BigQuery) works on them side by side.
 */
export async function fitFeatures(
  w: Fitting['w'],
  relation: Pick<Fitting, 'assigned' | 'train' | 'trainRows'>,
  plans: FeaturePlan[],
): Promise<{ features: FeatureTransform[]; warnings: FeatureWarning[] }> {
  const f: Fitting = { w, ...relation };
  const [numeric, ...categorical] = await Promise.all([
    fitNumerics(
      f,
      plans.filter((p): p is NumericPlan => p.type === 'numeric'),
    ),
    ...plans.filter((p): p is CategoricalPlan => p.type === 'categorical').map((p) => fitCategorical(f, p)),
  ]);
  const byName = new Map<string, FeatureTransform>([
    ...numeric.transforms,
    ...categorical.map((c) => [c.transform.name, c.transform] as const),
  ]);
  const constant = [
    ...numeric.constant,
    ...categorical.flatMap((c) => (c.constant !== undefined ? [[c.transform.name, c.constant] as const] : [])),
  ];
  const warnings = [
    ...constant.map(([feature, value]) => constantWarning(feature, value)),
    ...categorical.flatMap((c) => (c.warning ? [c.warning] : [])),
  ];
  return { features: plans.map((p) => byName.get(p.name)!), warnings };
}

/** A feature with one value in every training row: nothing to learn from; most likely a column filled by mistake. */
function constantWarning(feature: string, value: string): FeatureWarning {
  return {
    kind: 'feature-constant',
    feature,
    message:
      `Feature "${feature}" has one value in every training row (${value}): it tells the ` +
      'model nothing. Leave it out of features, or check the data if it should vary.',
  };
}

/**
 * Below this share of training rows covered by its kept categories, a categorical feature is mostly unknown: an
 * identifier, a timestamp read as text or free text, whose one-hot columns fit values seen once or twice.
 */
const minCategoryCoverage = 0.5;

function trainRows(f: Fitting): string {
  return `FROM ${f.assigned} WHERE ${f.train}`;
}

/** The training rows, or a uniform sample of {@link trainSampleRows} of them: what medians and clip bounds are fit on. */
function trainSampleSql(f: Fitting): string {
  const sample = { seed: trainSampleSeed, size: trainSampleRows, rows: f.trainRows };
  const rows = sampledRows(f.w.dialect, f.assigned, f.w.dialect.ident(rowNumberColumn), sample);
  return `FROM ${rows} AS assigned WHERE ${f.train}`;
}

async function fitNumerics(
  f: Fitting,
  plans: NumericPlan[],
): Promise<{ transforms: Map<string, NumericTransform>; constant: (readonly [string, string])[] }> {
  const d = f.w.dialect;
  const bounds = await fitClipBounds(f, plans);
  const x = plans.map((p, i) => clipped(d, p, bounds[i]));
  // Medians only where imputed, on a sample, in their own query beside the moments.
  const medianOf = plans.flatMap((p, i) => (p.impute.strategy === 'median' ? [i] : []));
  const [medians, moments] = await Promise.all([
    medianOf.length
      ? exactMedians(
          f,
          medianOf.map((i) => ({ name: `m${i}`, expr: d.toDouble(x[i]!) })),
        )
      : {},
    mergedOverColumnGroups(
      plans.map((_, i) => i),
      (group) =>
        one(
          f,
          group.flatMap((i) => [
            `${d.toDouble(`avg(${x[i]})`)} AS a${i}`,
            `${d.toDouble(`stddev_pop(${x[i]})`)} AS s${i}`,
          ]),
        ),
    ),
  ]);
  const stats: Record<string, unknown> = { ...medians, ...moments };
  // Zero spread over the training rows (a null spread: every value missing, refused earlier).
  const constant = plans.flatMap((p, i) =>
    stats[`s${i}`] === 0 ? [[p.name, String(Number(((stats[`a${i}`] as number) ?? 0).toPrecision(6)))] as const] : [],
  );
  const transforms = new Map(
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
  return { transforms, constant };
}

type Bounds = { lower: number | null; upper: number | null } | undefined;

/**
 * Exact quantiles of the non-null training values, over the same sample as the medians: the same numbers on DuckDB
 * and BigQuery, and flat in memory.
 */
async function fitClipBounds(f: Fitting, plans: NumericPlan[]): Promise<Bounds[]> {
  const d = f.w.dialect;
  const items = plans.flatMap((p, i) => {
    const levels = [p.clip?.lower, p.clip?.upper].filter((level) => level != null);
    return levels.length ? [{ name: `c${i}`, expr: d.toDouble(d.ident(p.name)), levels }] : [];
  });
  const fitted = items.length ? await sampleQuantiles(f, items) : new Map<string, (number | null)[]>();
  return plans.map((p, i) => {
    if (!p.clip) return undefined;
    // The fitted values come in level order: the lower bound's first, where there is one.
    const values = [...(fitted.get(`c${i}`) ?? [])];
    const lower = p.clip.lower != null ? (values.shift() ?? null) : null;
    const upper = p.clip.upper != null ? (values.shift() ?? null) : null;
    return { lower, upper };
  });
}

/**
 * The raw column (as fitted before clipping existed, so unclipped statistics stay bit-identical) or its clipped value.
 * DuckDB's least/greatest skip nulls (least(NULL, 5) is 5), so nulls are kept null explicitly.
 */
function clipped(d: SqlDialect, p: NumericPlan, bounds: Bounds): string {
  const c = d.ident(p.name);
  if (!bounds) return c;
  let x = d.toDouble(c);
  if (bounds.upper !== null) x = `least(${x}, ${d.doubleLiteral(bounds.upper)})`;
  if (bounds.lower !== null) x = `greatest(${x}, ${d.doubleLiteral(bounds.lower)})`;
  return `CASE WHEN ${c} IS NOT NULL THEN ${x} END`;
}

async function fitCategorical(
  f: Fitting,
  plan: CategoricalPlan,
): Promise<{ transform: FeatureTransform; warning?: FeatureWarning; constant?: string }> {
  const d = f.w.dialect;
  const c = d.ident(plan.name);
  const impute = plan.impute.strategy === 'constant' ? plan.impute.value : await mostFrequent(f, plan);
  // Frequency first, then value, so ties break the same way on every run.
  const top = (await f.w.query(
    `SELECT coalesce(${categoryText(d, c)}, ${d.literal(impute)}) AS v, count(*) AS n ${trainRows(f)}
     GROUP BY 1 ORDER BY n DESC, v LIMIT ${plan.maxCategories}`,
  )) as { v: string; n: number | bigint }[];
  const covered = top.reduce((sum, t) => sum + Number(t.n), 0) / Math.max(1, f.trainRows);
  const warning =
    top.length === plan.maxCategories && covered < minCategoryCoverage
      ? {
          kind: 'feature-mostly-unknown' as const,
          feature: plan.name,
          message:
            `Feature "${plan.name}": its ${plan.maxCategories} most frequent training values cover ` +
            `${(covered * 100).toFixed(1)}% of the training rows; the rest, and most values in serving, fall in the ` +
            'unknown bucket. An identifier or free text is no feature: leave it out of features (or raise ' +
            `preprocessing.features.${plan.name}.maxCategories if its values do repeat).`,
        }
      : undefined;
  // One category over every training row (a missing value is a category of its own, unless imputed with this one).
  const constant = top.length === 1 && Number(top[0]!.n) === f.trainRows ? JSON.stringify(top[0]!.v) : undefined;
  return {
    transform: categoricalTransform(plan, impute, top),
    ...(warning && { warning }),
    ...(constant !== undefined && { constant }),
  };
}

function categoricalTransform(plan: CategoricalPlan, impute: string, top: { v: string }[]): FeatureTransform {
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
    outputs: categories.map((v) => oneHotName(plan.name, v)),
    unknownOutput: `${plan.name}=__unknown__`,
  };
}

/** Characters of a category kept in its one-hot column's name; a longer one is cut and told apart by a hash. */
const shownCategoryChars = 40;

/**
 * The one-hot column of a category: `city=Oslo`. A category over 48 characters (a product description, free text)
 * keeps its first 40 and the first 8 hex digits of its SHA-256: `notes=a fine product with many words a fi…#3f2a9c1b`;
 * one holding a NUL character shows it as ␀ and adds the hash: `code=a␀b#1c0e4f2d`.
 * Every column name goes to the trainer in `--feature-columns`, one argument, which Linux takes up to 128 KiB, and in
 * the preprocessing step's result, which Temporal takes up to 2 MB; serving finds a one-hot column by its category's
 * position, not its name.
 */
export function oneHotName(feature: string, category: string): string {
  const chars = Array.from(category);
  // A NUL character cannot be written in an SQL name: shown as ␀, the category told apart by the hash.
  const nul = category.includes('\0');
  if (!nul && chars.length <= shownCategoryChars + 8) return `${feature}=${category}`;
  const hash = createHash('sha256').update(category).digest('hex').slice(0, 8);
  const shown = chars.slice(0, shownCategoryChars).join('').replace(/\0/g, '\u2400');
  return `${feature}=${shown}${chars.length > shownCategoryChars ? '…' : ''}#${hash}`;
}

/** The most frequent non-missing training value (ties: the smallest); "__missing__" when every value is missing. */
async function mostFrequent(f: Fitting, plan: CategoricalPlan): Promise<string> {
  const d = f.w.dialect;
  const c = d.ident(plan.name);
  const [row] = (await f.w.query(
    `SELECT ${categoryText(d, c)} AS v, count(*) AS n ${trainRows(f)} AND ${categoryText(d, c)} IS NOT NULL
     GROUP BY 1 ORDER BY n DESC, v LIMIT 1`,
  )) as { v: string }[];
  return row?.v ?? missingCategory;
}

/** Exact quantiles over the training sample (the same numbers on DuckDB and BigQuery), by item name. */
async function sampleQuantiles(f: Fitting, items: QuantileItem[]): Promise<Map<string, (number | null)[]>> {
  const parts = await Promise.all(
    columnGroups(items).map(({ group }) =>
      runQuantileQuery((sql) => f.w.query(sql), f.w.dialect.exactQuantiles(group, trainSampleSql(f))),
    ),
  );
  return new Map(parts.flatMap((part) => [...part]));
}

/** Exact medians over the training sample, by item name. */
async function exactMedians(f: Fitting, items: { name: string; expr: string }[]): Promise<Record<string, unknown>> {
  const medians = await sampleQuantiles(
    f,
    items.map((item) => ({ ...item, levels: [0.5] })),
  );
  return Object.fromEntries([...medians].map(([name, [median]]) => [name, median ?? null]));
}

async function one(f: Fitting, select: string[], from = trainRows(f)): Promise<Record<string, unknown>> {
  const [row] = await f.w.query(`SELECT ${select.join(', ')} ${from}`);
  return row ?? {};
}
