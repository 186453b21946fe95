/**
 * The profile's correlation matrix: Pearson r of every pair of at most `settings.correlationColumns` numeric columns,
 * queried in chunks of {@link pairsPerQuery} pairs. A wider table keeps the columns most related to the target
 * (docs/profiling.md, "Wide tables").
 */
import type { Row } from '../warehouse/duckdb';
import type { SqlDialect } from '../warehouse/sql-dialect';
import type { Warehouse } from '../warehouse/warehouse';
import type { CorrelationSelection } from './dataset-profile';
import type { ProfiledColumn } from './profile-sql';
import { classMomentsSql, columnPairs, columnsPerQuery, correlationSql, pairsPerQuery, slices } from './profile-sql';

/** Runs SQL and returns its (few) result rows. */
type AggregateQuery = Pick<Warehouse, 'query'>;

export interface CorrelationInput {
  from: string;
  /** Every numeric column, in dataset order. */
  numeric: ProfiledColumn[];
  /** The target column, when the table has it. */
  target: ProfiledColumn | undefined;
  /** Distinct non-null values of a categorical target (from its top values). */
  targetClasses: () => Promise<number>;
  /** At most this many columns are correlated. */
  maxColumns: number;
  /** Most classes for which a categorical target ranks the columns. */
  maxClasses: number;
  /** Queries sent at once. */
  parts: number;
}

export interface CorrelatedColumns {
  columns: ProfiledColumn[];
  omitted: ProfiledColumn[];
  selection: CorrelationSelection;
  /** `r_<i>_<j>` for each pair i < j of `columns` (and perhaps more). */
  pairs: Row;
}

/** Chooses the columns (all, or the most related to the target) and queries the correlation of each pair. */
export async function correlateColumns(
  db: AggregateQuery,
  d: SqlDialect,
  input: CorrelationInput,
): Promise<CorrelatedColumns> {
  const { numeric, maxColumns } = input;
  if (numeric.length <= maxColumns)
    return {
      columns: numeric,
      omitted: [],
      selection: 'all',
      pairs: await queryPairs(db, d, input, columnPairs(numeric)),
    };
  const { selection, relevance, known } = await targetRelevance(db, d, input);
  const rank = (c: ProfiledColumn) => relevance.get(c.index) ?? -1;
  const chosen = new Set([...numeric].sort((a, b) => rank(b) - rank(a) || a.index - b.index).slice(0, maxColumns));
  const columns = numeric.filter((c) => chosen.has(c));
  const missing = columnPairs(columns).filter(([a, b]) => !(`r_${a.index}_${b.index}` in known));
  return {
    columns,
    omitted: numeric.filter((c) => !chosen.has(c)),
    selection,
    pairs: { ...known, ...(await queryPairs(db, d, input, missing)) },
  };
}

interface Relevance {
  selection: CorrelationSelection;
  /** How strongly each column relates to the target, from 0; the target itself ranks first. Absent: unknown. */
  relevance: Map<number, number>;
  /** Correlations already queried. */
  known: Row;
}

/** |r| with a numeric target, or the correlation ratio η with a categorical one of few classes. */
async function targetRelevance(db: AggregateQuery, d: SqlDialect, input: CorrelationInput): Promise<Relevance> {
  const { target, numeric } = input;
  if (target?.numeric) {
    const pairs = numeric
      .filter((c) => c !== target)
      .map((c): [ProfiledColumn, ProfiledColumn] => (c.index < target.index ? [c, target] : [target, c]));
    const known = await queryPairs(db, d, input, pairs);
    const relevance = new Map<number, number>([[target.index, Infinity]]);
    for (const [a, b] of pairs)
      setFinite(relevance, a === target ? b.index : a.index, known[`r_${a.index}_${b.index}`]);
    for (const [key, value] of relevance) relevance.set(key, Math.abs(value));
    return { selection: 'target-pearson', relevance, known };
  }
  if (target && (await input.targetClasses()) <= input.maxClasses) {
    const rows = await Promise.all(
      slices(numeric, input.parts, columnsPerQuery).map((group) =>
        db.query(classMomentsSql(d, input.from, target, group)),
      ),
    );
    const relevance = new Map<number, number>();
    for (const c of numeric) setFinite(relevance, c.index, correlationRatio(rows.flat(), c.index));
    return { selection: 'target-eta', relevance, known: {} };
  }
  return { selection: 'dataset-order', relevance: new Map(), known: {} };
}

/**
 * η² of a column with the classes: the share of its variance between the class means, from each class's non-null
 * count, mean and population variance; null without variance.
 */
function correlationRatio(rows: Row[], index: number): number | null {
  const groups = rows
    .map((r) => ({
      n: toNumber(r[`c${index}_n`]),
      mean: toNumber(r[`c${index}_mean`]),
      v: toNumber(r[`c${index}_var`]),
    }))
    .filter((g) => g.n > 0);
  const n = groups.reduce((s, g) => s + g.n, 0);
  if (!n) return null;
  const mean = groups.reduce((s, g) => s + g.n * g.mean, 0) / n;
  const between = groups.reduce((s, g) => s + g.n * (g.mean - mean) ** 2, 0);
  const within = groups.reduce((s, g) => s + g.n * g.v, 0);
  return between + within > 0 ? between / (between + within) : null;
}

async function queryPairs(
  db: AggregateQuery,
  d: SqlDialect,
  input: Pick<CorrelationInput, 'from' | 'parts'>,
  pairs: [ProfiledColumn, ProfiledColumn][],
): Promise<Row> {
  const chunks = slices(pairs, input.parts, pairsPerQuery);
  const rows = await Promise.all(chunks.map((chunk) => db.query(correlationSql(d, input.from, chunk))));
  return Object.assign({}, ...rows.map(([row = {}]) => row)) as Row;
}

function setFinite(map: Map<number, number>, key: number, value: unknown): void {
  const n = toNumber(value);
  if (Number.isFinite(n)) map.set(key, n);
}

function toNumber(value: unknown): number {
  return typeof value === 'bigint' ? Number(value) : typeof value === 'number' ? value : NaN;
}
