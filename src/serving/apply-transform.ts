/**
 * The fitted transform applied to single requests, exactly as the preprocessing SQL applies it to tables
 * (src/preprocessing/transform-sql.ts): numeric → impute nulls, clip to the fitted bounds, standardize (unless turned
 * off); categorical → impute nulls, then one-hot over the training categories with an unknown bucket, or the ordinal
 * index of the category (the unknown index for anything unseen). docs/preprocessing.md describes every field.
 */
import type { FeatureTransform, FittedTransform, NumericTransform } from '../contracts/datasets';

export type RawInstance = Record<string, unknown>;

/** Writes one instance's model input into `out` at `offset`; returns problems (empty when valid). */
export function applyTransform(
  transform: FittedTransform,
  instance: RawInstance,
  out: Float32Array,
  offset: number,
): string[] {
  const problems: string[] = [];
  let j = offset;
  for (const feature of transform.features) {
    const value = instance[feature.name];
    if (feature.kind === 'numeric') {
      if (value !== null && value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) {
        problems.push(`"${feature.name}" must be a finite number or null, got ${JSON.stringify(value)}`);
      }
      out[j++] = numeric(feature, typeof value === 'number' && Number.isFinite(value) ? value : feature.impute);
      continue;
    }
    if (value !== null && value !== undefined && typeof value === 'object') {
      problems.push(`"${feature.name}" must be a string, number, boolean or null`);
    }
    j = categorical(feature, categoryOf(value, feature.impute ?? '__missing__'), out, j);
  }
  return problems;
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

/** The category string of a raw value, as DuckDB's `::VARCHAR` cast gives it; null, absent and "" take `impute`. */
function categoryOf(value: unknown, impute: string): string {
  if (value === null || value === undefined || value === '') return impute;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
