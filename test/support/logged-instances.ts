/**
 * Prediction log rows from instances themselves, for tests that did not run the transform (fixtures of logged
 * traffic, and the reference the transform's own recording is checked against). The codes follow the rules of
 * `src/models/recorded-values.ts`, worked out here from the schema alone.
 */
import { categoryCode, newRecordedValues, numericCode } from '../../src/models/recorded-values';
import { appendRecorded } from '../../src/serving/typed-rows';
import type { LogSpec, LoggedRequest, TypedBatch } from '../../src/serving/typed-rows';

/** Appends one request's first `count` instances to `batch`, as the server logs them. */
export function appendInstances(
  batch: TypedBatch,
  spec: LogSpec,
  request: LoggedRequest,
  instances: readonly unknown[],
  output: Float32Array,
  count: number,
): void {
  const width = spec.features.length;
  const recorded = newRecordedValues(count, width);
  for (let i = 0; i < count; i++) {
    const value = instances[i];
    const record = (value !== null && typeof value === 'object' ? value : {}) as Record<string, unknown>;
    spec.features.forEach((feature, k) => {
      const v = record[feature.name];
      const known = typeof v === 'string' ? (feature.categories ?? []).indexOf(v) : -1;
      recorded.codes[i * width + k] =
        feature.type === 'number' ? numericCode(v) : categoryCode(v, known, recorded.side);
    });
  }
  appendRecorded(batch, spec, request, recorded, output, count);
}
