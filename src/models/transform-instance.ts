/**
 * The fitted transform applied to single records, exactly as the preprocessing SQL applies it to tables
 * (src/preprocessing/transform-sql.ts): numeric → impute nulls, clip to the fitted bounds, standardize (unless turned
 * off); categorical → impute nulls, then one-hot over the training categories with an unknown bucket, or the ordinal
 * index of the category (the unknown index for anything unseen). docs/preprocessing.md describes every field.
 *
 * Each value is checked as it is transformed; nothing here recurses into a value, so a hostile value (deeply nested,
 * huge) costs no more than a scalar.
 */
import { float32Max } from '../contracts/datasets';
import { quoteText } from '../contracts/message-text';
import type { FeatureTransform, FittedTransform, NumericTransform } from '../contracts/datasets';
import { categoryCode, isWellFormedText, numericCode } from './recorded-values';
import type { RecordedValues } from './recorded-values';

/**
 * Writes one record's model input into `out` at `offset`; returns its problems (empty when valid). A field that is
 * absent is a problem; an explicit `null` takes the fitted imputation. Fields the transform does not know are the
 * caller's concern.
 */
export function transformInstance(
  transform: FittedTransform,
  instance: Record<string, unknown>,
  out: Float32Array,
  offset: number,
): string[] {
  return compileTransform(transform).apply(instance, out, offset) ?? [];
}

/** A fitted transform prepared once per model version: category lookups by Map, clip bounds resolved. */
export interface CompiledTransform {
  /**
   * As `transformInstance`, but returns undefined (and allocates nothing) when the record is valid. With `recorded`,
   * also writes the record's raw values as codes at `recordedAt`, one per feature (`recorded-values.ts`).
   */
  apply(
    instance: Record<string, unknown>,
    out: Float32Array,
    offset: number,
    recorded?: RecordedValues,
    recordedAt?: number,
  ): string[] | undefined;
}

interface NumericStep {
  kind: 'numeric';
  name: string;
  /** The name as problems quote it: cut to 80 characters (a model's own column names can be long). */
  quoted: string;
  feature: NumericTransform;
  lower: number;
  upper: number;
  /** The standardization, resolved: x → (x - shift) / divisor (0 and 1 when the feature is not standardized). */
  shift: number;
  divisor: number;
  /** The model input of a null: the imputed value, scaled. */
  imputed: number;
}

interface CategoricalStep {
  kind: 'categorical';
  name: string;
  quoted: string;
  feature: FeatureTransform & { kind: 'categorical' };
  index: Map<string, number>;
  /** Known categories (the one-hot width without the unknown bucket). */
  count: number;
  ordinal: boolean;
  impute: string;
  /**
   * A boolean column: its training values were only true and false (a BOOLEAN column, or text of those two words). A
   * value other than those (and null) is refused, not taken for an unseen category: "yes" or 1 is a client's mistake.
   */
  boolean: boolean;
}

const compiled = new WeakMap<FittedTransform, CompiledTransform>();

/** The compiled form of `transform`, built on first use and kept as long as the transform object lives. */
export function compileTransform(transform: FittedTransform): CompiledTransform {
  let c = compiled.get(transform);
  if (!c) {
    c = { apply: applier(transform.features.map(step)) };
    compiled.set(transform, c);
  }
  return c;
}

function step(feature: FeatureTransform): NumericStep | CategoricalStep {
  if (feature.kind === 'numeric') {
    const lower = feature.clip?.lower ?? -Infinity;
    const upper = feature.clip?.upper ?? Infinity;
    const standardized = feature.standardize !== false;
    const bounds = { lower, upper, shift: standardized ? feature.mean : 0, divisor: standardized ? feature.std : 1 };
    const imputed = scale(bounds, feature.impute);
    return { kind: 'numeric', name: feature.name, quoted: quoteText(feature.name), feature, ...bounds, imputed };
  }
  // indexOf semantics: the first position of a category wins.
  const index = new Map<string, number>();
  feature.categories.forEach((c, i) => {
    if (!index.has(c)) index.set(c, i);
  });
  const ordinal = feature.encoding === 'ordinal';
  const count = feature.categories.length;
  const impute = feature.impute ?? '__missing__';
  const seen = feature.categories.filter((c) => c !== impute);
  const boolean = seen.length > 0 && seen.every((c) => c === 'true' || c === 'false');
  const quoted = quoteText(feature.name);
  return { kind: 'categorical', name: feature.name, quoted, feature, index, count, ordinal, impute, boolean };
}

function applier(steps: (NumericStep | CategoricalStep)[]): CompiledTransform['apply'] {
  // A feature named like a key of Object.prototype (`toString`, `__proto__`) is read as the record's own property
  // only: left out, it is missing, not the prototype's function or object. Other names need no check.
  const inherited = steps.map((s) => s.name in Object.prototype);
  return (instance, out, offset, recorded, recordedAt = 0) => {
    let problems: string[] | undefined;
    let j = offset;
    for (let k = 0; k < steps.length; k++) {
      const s = steps[k]!;
      const given = inherited[k] && !Object.hasOwn(instance, s.name) ? undefined : instance[s.name];
      // A boolean feature takes the spellings the training data could have had ("yes", "N", 1): the same value.
      const value = s.kind === 'categorical' && s.boolean ? booleanOf(given) : given;
      if (value === undefined) (problems ??= []).push(`missing field ${s.quoted} (send null to impute it)`);
      if (s.kind === 'numeric') {
        const problem = numericInto(s, value, out, j++);
        if (problem) (problems ??= []).push(problem);
        if (recorded) recorded.codes[recordedAt + k] = numericCode(value);
        continue;
      }
      if (value !== null && value !== undefined && !isCategoryValue(value)) {
        (problems ??= []).push(`${s.quoted} must be a string, number, boolean or null, got ${describeValue(value)}`);
      } else if (s.boolean && value !== true && value !== false && !isBooleanText(value)) {
        (problems ??= []).push(
          `${s.quoted} must be true, false or null (a boolean in training; "yes"/"no", "t"/"f" and 1/0 are read as true/false too), got ${describeValue(value)}`,
        );
      }
      const index = s.index.get(categoryOf(value, s.impute)) ?? -1;
      // Known categories are valid text; an unseen one may hold half of a character, which no client means to send.
      if (index === -1 && typeof value === 'string' && !isWellFormedText(value))
        (problems ??= []).push(
          `${s.quoted} is not valid Unicode text: it holds half of a surrogate pair (such as half of an emoji); send whole characters`,
        );
      j = categoricalInto(s, index, out, j);
      // The index is the value's own only for a non-empty string ("" and null take the imputed category's).
      if (recorded) recorded.codes[recordedAt + k] = categoryCode(value, value === '' ? -1 : index, recorded.side);
    }
    return problems;
  };
}

/** Writes the numeric input at `j`; returns the value's problem, if any (the imputed value is written then). */
function numericInto(s: NumericStep, value: unknown, out: Float32Array, j: number): string | undefined {
  if (typeof value === 'number') {
    const x = scale(s, value);
    // NaN and ±Infinity fail the range test too.
    if (Math.abs(value) <= float32Max && Number.isFinite(Math.fround(x))) {
      out[j] = x;
      return undefined;
    }
    out[j] = s.imputed;
    return numericProblem(s, value);
  }
  out[j] = s.imputed;
  return value === null || value === undefined
    ? undefined
    : `${s.quoted} must be a finite number or null, got ${describeValue(value)}`;
}

/** What is wrong with a number the model cannot take. */
function numericProblem(s: NumericStep, value: number): string {
  const name = s.quoted;
  if (!Number.isFinite(value)) return `${name} must be a finite number or null, got ${describeValue(value)}`;
  if (Math.abs(value) > float32Max) return `${name} is ${value}, outside the float32 range (±${float32Max})`;
  return `${name} is ${value}, which standardizes to a value outside the float32 range (training mean ${s.feature.mean}, std ${s.feature.std})`;
}

/** Null, absent or "" (missing, as in the preprocessing SQL). */
function isBooleanText(value: unknown): boolean {
  return value === null || value === undefined || value === '';
}

/** The texts DuckDB's cast to BOOLEAN reads (any case), so any spelling a CSV column inferred as boolean held. */
const booleanTexts = new Map<string, boolean>([
  ['true', true],
  ['t', true],
  ['yes', true],
  ['y', true],
  ['1', true],
  ['false', false],
  ['f', false],
  ['no', false],
  ['n', false],
  ['0', false],
] as const);

/** true/false for a boolean or its spelling (text, or the number 1 or 0); any other value unchanged. */
function booleanOf(value: unknown): unknown {
  if (typeof value === 'string') return booleanTexts.get(value.toLowerCase()) ?? value;
  if (value === 1 || value === 0) return value === 1;
  return value;
}

function isCategoryValue(value: unknown): boolean {
  return (
    typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))
  );
}

/** A short description of a value for an error message; never serializes a nested value. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return value.length > 40
      ? `a string ${JSON.stringify(value.slice(0, 40))}…`
      : `the string ${JSON.stringify(value)}`;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** Same operations in the same order as the SQL, in doubles; the Float32Array store rounds both sides alike. */
function scale(s: Pick<NumericStep, 'lower' | 'upper' | 'shift' | 'divisor'>, value: number): number {
  return (Math.max(Math.min(value, s.upper), s.lower) - s.shift) / s.divisor;
}

function categoricalInto(s: CategoricalStep, index: number, out: Float32Array, at: number): number {
  if (s.ordinal) {
    out[at] = index === -1 ? (s.feature as { unknownIndex: number }).unknownIndex : index;
    return at + 1;
  }
  const n = s.count;
  for (let k = at; k <= at + n; k++) out[k] = 0;
  out[index === -1 ? at + n : at + index] = 1;
  return at + n + 1;
}

/**
 * The category string of a raw value, as DuckDB's `::VARCHAR` cast gives it; null, absent and "" take `impute` ("" is
 * missing, as in the preprocessing SQL).
 */
function categoryOf(value: unknown, impute: string): string {
  if (value === null || value === undefined || value === '') return impute;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return impute;
}
