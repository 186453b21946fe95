/**
 * Resolves the preprocessing spec against the snapshot's columns into one fully specified plan per feature: declared
 * or inferred type, and every setting filled from the feature's entry, then `defaults`, then the built-in defaults.
 * The plan (not the spec as written) is hashed, so two specs that mean the same thing share their stored output.
 */
import { namesText, problemsText, quoteText } from '../contracts/message-text';
import { createHash } from 'node:crypto';
import type {
  CategoricalEncoding,
  ColumnSchema,
  FeatureOptions,
  FeatureSpec,
  FeatureType,
  LeftOutColumn,
  PreprocessInput,
  PreprocessingSpec,
} from '../contracts/datasets';
import type { ErrorCode } from '../errors';
import { mlopsError } from '../errors';
import { isNumericType } from '../warehouse/duckdb';
import type { SpecProblem } from '../contracts/preprocessing-spec';
import {
  imputeStrategyOf,
  optionProblems,
  preprocessingSpecSchema,
  specContextProblems,
} from '../contracts/preprocessing-spec';
import { reservedColumns, reservedColumnsIn } from './column-names';
import { missingCategory } from './transform-sql';

export interface NumericPlan {
  name: string;
  type: 'numeric';
  impute: { strategy: 'median' | 'mean' } | { strategy: 'constant'; value: number };
  /** Quantiles to clip at; null: that side is not clipped. */
  clip: { lower: number | null; upper: number | null } | null;
  standardize: boolean;
}

export interface CategoricalPlan {
  name: string;
  type: 'categorical';
  impute: { strategy: 'most_frequent' } | { strategy: 'constant'; value: string };
  encoding: CategoricalEncoding;
  maxCategories: number;
}

export type FeaturePlan = NumericPlan | CategoricalPlan;

const builtinDefaults: Record<FeatureType, FeatureOptions> = {
  numeric: { impute: 'median', clip: false, standardize: true },
  categorical: { impute: { strategy: 'constant', value: missingCategory }, encoding: 'onehot', maxCategories: 50 },
};

/**
 * Date and time types (DuckDB's names; a BigQuery source is read into DuckDB types). Such a column is no feature: a
 * timestamp seen in serving rarely equals one seen in training, and the text a client sends (`2024-01-01T10:00:00Z`,
 * `01/02/2024`) is not the text the warehouse gives the value, so as categories its values would all be unknown.
 */
const temporalTypes = /^(DATE|DATETIME|TIME|TIMETZ|TIMESTAMP|TIMESTAMPTZ|INTERVAL)(_[A-Z]+)?( WITH TIME ZONE)?$/i;

/** Why a date or time column is not a feature, and what to do instead. */
const temporalReason =
  'date and time columns are not features: a value seen in serving rarely equals one seen in training, and its text ' +
  'differs from source to source; derive numeric columns from it in the data (day of week, hour, age in days)';

/**
 * Nested types: lists (`INTEGER[]`, `VARCHAR[3]`), structs, maps and unions, from Parquet or from JSON arrays and
 * objects. A request sends one string, number, boolean or null per field, and the warehouse's text for a nested value
 * (`[1, 2]`, `{'k': 1}`) is nothing a request could match.
 */
const nestedTypes = /(\[\d*\]$)|^(STRUCT|MAP|UNION)\(/i;

const nestedReason =
  'nested columns (lists, structs, maps) are not features: a prediction request sends one number, text, boolean or ' +
  'null per field; flatten it into columns of numbers or text in the data (one per field or element) and list those';

/**
 * DuckDB reads a JSON Lines key whose values are of different kinds (numbers and text, lists or objects beside plain
 * values) as JSON, whose text keeps JSON's quotes (`"10"`), so as categories no served value would match.
 */
const jsonType = /^JSON$/i;

const mixedJsonReason =
  'JSON columns (a JSON Lines key whose values are of different kinds: numbers and text, or lists and objects beside ' +
  'plain values) are not features: their categories would keep JSON quotes ("10"), which no served value matches; ' +
  'make every value of the key the same kind in the data';

/** Bytes (Parquet's binary, BigQuery's BYTES): their warehouse text (`\x00`) is nothing a JSON request would send. */
const binaryTypes = /^(BLOB|BYTEA|BINARY|VARBINARY|BYTES)$/i;

const binaryReason =
  'binary columns are not features: a prediction request sends JSON numbers, text, booleans or null, and the ' +
  "warehouse's text for bytes (\\x00) is nothing a request would send; store the value as text or numbers in the data";

/** Column types that are no feature: left out of the default features with why, and refused when listed. */
const unusableTypes: { test: RegExp; reason: string; error: ErrorCode }[] = [
  { test: temporalTypes, reason: temporalReason, error: 'MLOPS_ERR_DATA_FEATURE_TEMPORAL' },
  { test: nestedTypes, reason: nestedReason, error: 'MLOPS_ERR_DATA_FEATURE_NESTED' },
  { test: jsonType, reason: mixedJsonReason, error: 'MLOPS_ERR_DATA_FEATURE_MIXED_JSON' },
  { test: binaryTypes, reason: binaryReason, error: 'MLOPS_ERR_DATA_FEATURE_BINARY' },
];

function unusable(type: string): (typeof unusableTypes)[number] | undefined {
  return unusableTypes.find((u) => u.test.test(type));
}

/** Floating-point values print differently in DuckDB (`15.0`) and JavaScript (`15`), so they cannot be categories. */
const fractionalTypes = /^(FLOAT|DOUBLE|REAL|DECIMAL.*)$/;

export interface PreprocessingPlan {
  /** Hash of the resolved spec (with the target, task and split); keys the stored output. */
  specHash: string;
  spec: PreprocessingSpec;
  /** One fully resolved plan per feature, in feature order. */
  features: FeaturePlan[];
  split: PreprocessInput['split'];
  /** Columns left out of the default feature list (no `features` given), with why. */
  leftOut: LeftOutColumn[];
}

/**
 * Validates the snapshot's column names and the spec (every problem at once), resolves the spec per feature and hashes
 * the result.
 */
export function planPreprocessing(input: PreprocessInput): PreprocessingPlan {
  rejectReservedColumns(input);
  const { features, leftOut, refusals } = selectFeatures(input);
  const parsed = preprocessingSpecSchema.safeParse(input.preprocessing ?? {});
  const problems: SpecProblem[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) => ({ path: issue.path, message: issue.message }));
  const spec = parsed.success ? parsed.data : {};
  // A malformed spec is still checked against the task and the feature list, so one failure names every problem.
  const raw: PreprocessingSpec = parsed.success ? spec : roughSpec(input.preprocessing);
  problems.push(...specContextProblems(raw, { ...input, features: features.map((f) => f.name) }));
  const planned = parsed.success ? planFeatures(spec, features) : { plans: [], problems: [] };
  problems.push(...planned.problems);
  if (problems.length) {
    refusals.push(
      mlopsError('MLOPS_ERR_PREPROCESS_SPEC_INVALID', {
        source: input.snapshotId,
        problems: problems.map((p) => `- ${['preprocessing', ...p.path].join('.')}: ${p.message}`).join('\n'),
      }),
    );
  }
  const refusal = refusalOf(input.snapshotId, refusals);
  if (refusal) throw refusal;
  const { testFraction, validationFraction, seed } = input.split;
  const split = { testFraction, validationFraction, seed };
  const hashed = {
    // 5: "" in a categorical column is missing (4: clip bounds exact over the training sample; 3: the portable split draw).
    v: 5,
    target: input.target,
    task: input.task,
    split,
    dedupe: spec.dedupe ?? false,
    stratify: spec.stratify ?? false,
    features: planned.plans,
  };
  const specHash = createHash('sha256').update(JSON.stringify(hashed)).digest('hex').slice(0, 16);
  return { specHash, spec, features: planned.plans, split, leftOut };
}

/**
 * Every snapshot column is carried beside the pipeline's own through splitting, so any column, feature or not, with a
 * reserved name would be mistaken for one of them (or, for `file_row_number`, stop DuckDB from reading the snapshot).
 */
function rejectReservedColumns(input: PreprocessInput): void {
  const reserved = reservedColumnsIn(input.columns.map((c) => c.name));
  if (reserved.length) {
    throw mlopsError('MLOPS_ERR_DATA_COLUMN_RESERVED', {
      source: input.snapshotId,
      columns: reserved.map((name) => JSON.stringify(name)).join(', '),
      reserved: reservedColumns.join(', '),
    });
  }
}

function roughSpec(spec: unknown): PreprocessingSpec {
  const { stratify, features } = (typeof spec === 'object' && spec ? spec : {}) as Record<string, unknown>;
  return {
    stratify: stratify === true,
    features:
      typeof features === 'object' && features && !Array.isArray(features)
        ? (features as Record<string, FeatureSpec>)
        : {},
  };
}

function selectFeatures(input: PreprocessInput): {
  features: { name: string; type: string }[];
  leftOut: PreprocessingPlan['leftOut'];
  refusals: Error[];
} {
  const known = new Map(input.columns.map((c) => [c.name, c.type]));
  // Each name quoted: names may hold commas and spaces.
  const columnList = namesText(
    input.columns.map((c) => c.name),
    60,
  );
  if (!known.has(input.target)) {
    throw mlopsError('MLOPS_ERR_DATA_COLUMN_MISSING', {
      column: input.target,
      role: 'target',
      source: input.snapshotId,
      columns: columnList,
    });
  }
  const others = input.columns.filter((c) => c.name !== input.target);
  // Without a feature list, every other column but those of date and time, nested and JSON types (listed, such a
  // column is refused), and those the snapshot found without a value (listed, one fails at fitting).
  const empty = new Set((input.warnings ?? []).filter((w) => w.kind === 'column-all-null').map((w) => w.column));
  const grouped = new Map(
    (input.warnings ?? []).filter((w) => w.kind === 'column-number-grouping').map((w) => [w.column, w.detail ?? '']),
  );
  const groupedRefusal = (column: string, role: string) =>
    mlopsError('MLOPS_ERR_DATA_NUMBER_GROUPING', {
      column,
      role,
      source: input.snapshotId,
      detail: grouped.get(column)!,
    });
  if (grouped.has(input.target)) throw groupedRefusal(input.target, 'target');
  const whyLeftOut = (c: ColumnSchema) =>
    unusable(c.type)?.reason ??
    (empty.has(c.name)
      ? 'it has no values: every row of the snapshot is null'
      : grouped.has(c.name)
        ? `its numbers are written with thousands separators (${grouped.get(c.name)}): write them without (2532, not "2,532") and ingest it again`
        : undefined);
  const leftOut = input.features
    ? []
    : others.flatMap((c) => {
        const reason = whyLeftOut(c);
        return reason ? [{ column: c.name, type: c.type, reason }] : [];
      });
  const names = input.features ?? others.filter((c) => !whyLeftOut(c)).map((c) => c.name);
  if (names.length === 0)
    throw mlopsError('MLOPS_ERR_DATA_NO_FEATURES', {
      source: input.snapshotId,
      target: quoteText(input.target),
      columns: leftOut.length
        ? problemsText(
            leftOut.map((c) => `${quoteText(c.column)} (${c.type}): ${c.reason}`),
            10,
          )
        : 'it has no column besides the target',
    });
  // Each listed feature that cannot be one is refused; all of them, with the spec's problems, in one failure.
  const refusals: Error[] = [];
  const features = names.flatMap((name) => {
    const type = known.get(name);
    if (!type) {
      refusals.push(
        mlopsError('MLOPS_ERR_DATA_COLUMN_MISSING', {
          column: name,
          role: 'feature',
          source: input.snapshotId,
          columns: columnList,
        }),
      );
      return [];
    }
    const refused = unusable(type);
    if (refused) {
      refusals.push(mlopsError(refused.error, { column: name, type, source: input.snapshotId }));
      return [];
    }
    if (grouped.has(name)) {
      refusals.push(groupedRefusal(name, 'feature'));
      return [];
    }
    if (input.features && empty.has(name)) {
      // The snapshot found the column without a value (its column-all-null warning).
      refusals.push(
        mlopsError('MLOPS_ERR_DATA_FEATURE_ALL_NULL', {
          column: name,
          source: input.snapshotId,
          rows: input.rowCount ?? 'its',
        }),
      );
      return [];
    }
    return [{ name, type }];
  });
  return { features, leftOut, refusals };
}

/** One refusal as it is, or several as one MLOPS_ERR_PREPROCESS_INPUT_INVALID listing each (code, message, fix). */
function refusalOf(source: string, refusals: Error[]): Error | undefined {
  if (refusals.length <= 1) return refusals[0];
  const problems = refusals.map((err) => {
    const [what, fix] = err.message.split('\nFix: ');
    return `- ${what!.replaceAll('\n', '\n  ')}\n  Fix: ${fix ?? ''}`;
  });
  return mlopsError('MLOPS_ERR_PREPROCESS_INPUT_INVALID', {
    source,
    count: refusals.length,
    problems: problems.join('\n'),
  });
}

function planFeatures(
  spec: PreprocessingSpec,
  features: { name: string; type: string }[],
): { plans: FeaturePlan[]; problems: SpecProblem[] } {
  const problems: SpecProblem[] = [];
  const plans = features.map((column) => {
    const declared = spec.features?.[column.name] ?? {};
    const type = declared.type ?? (isNumericType(column.type) ? 'numeric' : 'categorical');
    const at = (p: SpecProblem) => problems.push({ path: ['features', column.name, ...p.path], message: p.message });
    if (type === 'numeric' && !isNumericType(column.type))
      at({ path: ['type'], message: `"numeric" needs a numeric column; "${column.name}" is ${column.type}` });
    if (type === 'categorical' && fractionalTypes.test(column.type))
      at({
        path: ['type'],
        message: `"categorical" needs an integer, boolean or text column; "${column.name}" is ${column.type}`,
      });
    if (!declared.type)
      for (const p of optionProblems(declared, type)) at({ ...p, message: `${p.message} (inferred type ${type})` });
    return resolve(column.name, type, {
      ...builtinDefaults[type],
      ...defined(spec.defaults?.[type]),
      ...defined(declared),
    });
  });
  return { plans, problems };
}

function resolve(name: string, type: FeatureType, o: FeatureOptions): FeaturePlan {
  const strategy = imputeStrategyOf(o.impute);
  const value = typeof o.impute === 'object' ? o.impute.value : undefined;
  if (type === 'numeric') {
    return {
      name,
      type,
      impute:
        strategy === 'constant'
          ? { strategy, value: Number(value) }
          : { strategy: strategy === 'mean' ? 'mean' : 'median' },
      clip: o.clip ? { lower: o.clip.lower ?? null, upper: o.clip.upper ?? null } : null,
      standardize: o.standardize !== false,
    };
  }
  return {
    name,
    type,
    impute: strategy === 'most_frequent' ? { strategy } : { strategy: 'constant', value: String(value) },
    encoding: o.encoding ?? 'onehot',
    maxCategories: o.maxCategories ?? 50,
  };
}

/** The object without its undefined fields, so spreading it never overrides a default with undefined. */
function defined<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}
