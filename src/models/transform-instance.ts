/**
 * The fitted transform applied to single records, exactly as the preprocessing SQL applies it to tables
 * (src/preprocessing/transform-sql.ts): numeric → impute nulls, clip to the fitted bounds, standardize (unless turned
 * off); categorical → impute nulls, then one-hot over the training categories with an unknown bucket, or the ordinal
 * index of the category (the unknown index for anything unseen). docs/preprocessing.md describes every field.
 *
 * Each value is checked as it is transformed; nothing here recurses into a value, so a hostile value (deeply nested,
 * huge) costs no more than a scalar.
 */
import type { FeatureTransform, FittedTransform, NumericTransform } from '../contracts/datasets';

/** The largest finite float32; the model input is float32, so a larger magnitude cannot reach the model intact. */
export const float32Max = 3.4028234663852886e38;

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
  const problems: string[] = [];
  let j = offset;
  for (const feature of transform.features) {
    const value = instance[feature.name];
    if (value === undefined) problems.push(`missing field "${feature.name}" (send null to impute it)`);
    if (feature.kind === 'numeric') {
      const problem = numericProblem(feature, value);
      if (problem) problems.push(problem);
      out[j++] = numeric(feature, typeof value === 'number' && !problem ? value : feature.impute);
      continue;
    }
    if (value !== null && value !== undefined && !isCategoryValue(value)) {
      problems.push(`"${feature.name}" must be a string, number, boolean or null, got ${describeValue(value)}`);
    }
    j = categorical(feature, categoryOf(value, feature.impute ?? '__missing__'), out, j);
  }
  return problems;
}

function numericProblem(feature: NumericTransform, value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  const name = `"${feature.name}"`;
  if (typeof value !== 'number' || !Number.isFinite(value))
    return `${name} must be a finite number or null, got ${describeValue(value)}`;
  if (Math.abs(value) > float32Max) return `${name} is ${value}, outside the float32 range (±${float32Max})`;
  if (!Number.isFinite(Math.fround(numeric(feature, value))))
    return `${name} is ${value}, which standardizes to a value outside the float32 range (training mean ${feature.mean}, std ${feature.std})`;
  return undefined;
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
function numeric(t: NumericTransform, value: number): number {
  let x = value;
  if (t.clip?.upper != null) x = Math.min(x, t.clip.upper);
  if (t.clip?.lower != null) x = Math.max(x, t.clip.lower);
  return t.standardize === false ? x : (x - t.mean) / t.std;
}

function categorical(
  t: FeatureTransform & { kind: 'categorical' },
  category: string,
  out: Float32Array,
  at: number,
): number {
  const index = t.categories.indexOf(category);
  if (t.encoding === 'ordinal') {
    out[at] = index === -1 ? t.unknownIndex : index;
    return at + 1;
  }
  let j = at;
  for (let c = 0; c < t.categories.length; c++) out[j++] = c === index ? 1 : 0;
  out[j++] = index === -1 ? 1 : 0;
  return j;
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
