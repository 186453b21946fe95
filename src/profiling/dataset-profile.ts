/**
 * The shape of `profiles/<snapshotId>/profile.json`: the statistics a person reads in the report and the reference
 * that drift monitoring compares later data with. docs/profiling.md describes every field. The file is deterministic:
 * the same snapshot always gives the same bytes, so it carries no timestamps.
 */
import type { CategoricalReference, DriftReferenceSettings, NumericReference } from '../drift/reference';

/** Bumped when a field changes meaning; readers check it before comparing profiles. */
export const profileFormatVersion = 3;

/** Fixed settings, written into every profile so a reader knows how its numbers were made. */
export interface ProfileSettings {
  /** Levels of `quantiles`, as fractions. */
  quantileLevels: number[];
  /** Equal-width bins of each numeric histogram (one bin when min equals max). */
  histogramBins: number;
  /** Most frequent values kept per categorical column; the rest are summed into `otherCount`. */
  topCategories: number;
  /** Most frequent classes kept for a categorical target. */
  targetClasses: number;
  /** Numeric columns whose distinct estimate is below this are counted exactly (small counts are read closely). */
  exactDistinctBelow: number;
  /**
   * Quantiles are exact over a uniform sample of at most this many rows (all rows when there are fewer), where the
   * warehouse knows row numbers; elsewhere they are approximate over all rows.
   */
  quantileSampleRows: number;
  /** How each column's drift reference (`drift`) is made; added in format 3. */
  drift: DriftReferenceSettings;
  /** How text columns are checked for values that differ only in case or whitespace (`warnings`). */
  spellingVariants: SpellingVariantSettings;
  /**
   * Most numeric columns correlated pairwise (`correlations`): the pairs grow with its square, and so do the cost on
   * many rows and the heatmap. Above it, the columns most related to the target are kept (see
   * {@link CorrelationMatrix.selection}). Added without a version bump (a profile without it has every column).
   */
  correlationColumns: number;
}

export interface SpellingVariantSettings {
  /**
   * Text columns with this many distinct values or more are not checked: normalizing every distinct value of an
   * identifier or free-text column would cost as much as the rest of the profile, and such a column is no category.
   */
  distinctBelow: number;
  /** Largest groups of variant spellings listed per column; `moreGroups` counts the rest. */
  groups: number;
  /** Most frequent spellings listed per group; `moreSpellings` counts the rest. */
  spellings: number;
}

export interface HistogramBin {
  /** Inclusive lower edge. */
  lower: number;
  /** Exclusive upper edge, inclusive for the last bin. */
  upper: number;
  count: number;
}

export interface ValueCount {
  /** The value as text (DuckDB's cast to VARCHAR: `true`, `2024-01-31`, …). */
  value: string;
  count: number;
}

interface ColumnBase {
  name: string;
  /** The warehouse type the column was stored as, e.g. `BIGINT`, `DOUBLE`, `VARCHAR`, `BOOLEAN`. */
  type: string;
  /** Non-null values. */
  count: number;
  nulls: number;
  /** Distinct non-null values. */
  distinct: number;
  /**
   * True when `distinct` is a HyperLogLog estimate: numeric columns with `settings.exactDistinctBelow` or more
   * distinct values. Categorical columns and the other numeric ones are counted exactly.
   */
  distinctApproximate: boolean;
}

export interface NumericColumnProfile extends ColumnBase {
  kind: 'numeric';
  /** These are null when the column has no non-null value (std also with a single one). */
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Sample standard deviation (n − 1). */
  std: number | null;
  /** Quantiles keyed `p1`, `p5`, … (see settings.quantileLevels and quantileSampleRows); null without values. */
  quantiles: Record<string, number | null>;
  /** Equal-width bins between min and max; empty without values. */
  histogram: HistogramBin[];
  /** What drift monitoring compares later data with (docs/monitoring.md); null without values. */
  drift: NumericReference | null;
}

export interface CategoricalColumnProfile extends ColumnBase {
  kind: 'categorical';
  /** Most frequent values, by count descending then value ascending. */
  top: ValueCount[];
  /** Non-null values outside `top`. */
  otherCount: number;
  /** What drift monitoring compares later data with (docs/monitoring.md). */
  drift: CategoricalReference;
}

export type ColumnProfile = NumericColumnProfile | CategoricalColumnProfile;

/**
 * How the correlated columns were chosen: `all` (no more than `settings.correlationColumns` numeric columns), else
 * those most related to the target: `target-pearson` (largest |r| with a numeric target, the target first),
 * `target-eta` (largest correlation ratio η with a categorical target of at most `settings.targetClasses` classes), or
 * `dataset-order` (the first ones, for a target that is absent or has more classes). Ties go to the earlier column.
 */
export type CorrelationSelection = 'all' | 'target-pearson' | 'target-eta' | 'dataset-order';

/** Pearson correlation over the rows where both columns are non-null. */
export interface CorrelationMatrix {
  method: 'pearson';
  /**
   * The numeric columns correlated, in dataset order (all of them up to `settings.correlationColumns`); rows and
   * columns of `matrix` follow it.
   */
  columns: string[];
  /** Symmetric, 1 on the diagonal; null where undefined (a constant or empty column). */
  matrix: (number | null)[][];
  /**
   * Numeric columns left out of `columns` (beyond `settings.correlationColumns`), in dataset order; empty when none.
   * Added without a version bump: a profile without it correlated every numeric column.
   */
  omitted: string[];
  /** How `columns` were chosen; added with `omitted`. */
  selection: CorrelationSelection;
}

export type TargetDistribution =
  | { name: string; kind: 'categorical'; classes: ValueCount[]; otherCount: number; nulls: number }
  | { name: string; kind: 'numeric'; histogram: HistogramBin[]; nulls: number };

/**
 * A problem in the data that the profile found; `column` names the column it concerns. `spelling-variants`: values of
 * a text column that differ only in letter case or whitespace (`High`, `high`, ` high `), which a model learns as
 * separate categories, or as separate classes of a target.
 */
export interface ProfileWarning {
  kind: 'spelling-variants';
  column: string;
  /** True when the column is the profile's target. */
  target: boolean;
  /** Rows whose value has another spelling in the column (every group, listed or not). */
  rows: number;
  /** The groups with the most rows first (ties by normalized value), at most `settings.spellingVariants.groups`. */
  groups: SpellingVariantGroup[];
  /** Further groups, not listed. */
  moreGroups: number;
  message: string;
}

/** Spellings of one value: the same once lower-cased, with whitespace runs as one space and none at either end. */
export interface SpellingVariantGroup {
  /** The value every spelling normalizes to. */
  normalized: string;
  /** Rows with any spelling of the group. */
  count: number;
  /** The most frequent spellings, as in `top`, at most `settings.spellingVariants.spellings`. */
  spellings: ValueCount[];
  /** Further spellings of the group, not listed. */
  moreSpellings: number;
}

export interface DatasetProfile {
  version: typeof profileFormatVersion;
  snapshotId: string;
  rowCount: number;
  /** Name of the target column. */
  target: string;
  settings: ProfileSettings;
  columns: ColumnProfile[];
  correlations: CorrelationMatrix;
  /** The target's class counts or histogram; null when the target column is absent. */
  targetDistribution: TargetDistribution | null;
  /**
   * Problems found in the data, in column order; empty when there are none. Added without a version bump (no field
   * changed meaning); the `profileDataset` activity recomputes a stored profile that lacks it.
   */
  warnings: ProfileWarning[];
}
