/**
 * The fitted transform applied to single requests, exactly as the preprocessing SQL applies it to tables
 * (src/activities/preprocess.ts): numeric → impute nulls with the training median, then standardize; categorical →
 * one-hot over the training categories, with nulls as "__missing__" and anything unseen in the unknown bucket.
 */
import type { FittedTransform } from '../contracts/datasets';

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
      const x = typeof value === 'number' && Number.isFinite(value) ? value : feature.impute;
      out[j++] = (x - feature.mean) / feature.std;
      continue;
    }
    if (value !== null && value !== undefined && typeof value === 'object') {
      problems.push(`"${feature.name}" must be a string, number, boolean or null`);
    }
    const category = categoryOf(value);
    const index = feature.categories.indexOf(category);
    for (let c = 0; c < feature.categories.length; c++) out[j++] = c === index ? 1 : 0;
    out[j++] = index === -1 ? 1 : 0;
  }
  return problems;
}

/** The category string of a raw value, as DuckDB's `::VARCHAR` cast gives it; null and absent mean "__missing__". */
function categoryOf(value: unknown): string {
  if (value === null || value === undefined) return '__missing__';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
