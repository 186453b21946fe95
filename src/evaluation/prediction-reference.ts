/**
 * The drift reference of a model's output: its predictions on the validation split (the predicted label for a
 * classifier, the value for a regressor), in the same stored form as a feature's reference (src/drift/reference.ts),
 * so a monitoring window's logged outputs are counted and compared the same way as its features. Kept in the
 * version's evaluation.json (`predictionReference`).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ColumnReference } from '../drift/reference';
import { computeDriftReference } from '../drift/reference';
import { makeTempDir } from '../step-context';
import { literal, withDuckDb } from '../warehouse/duckdb';
import { duckDbDialect } from '../warehouse/sql-dialect';

/** The column name a prediction has in references, reports and the window's relation. */
export const predictionColumn = 'prediction';

/**
 * The reference of `predictions` (labels or values), computed exactly over every row. The values go through a
 * temporary JSON-lines file so DuckDB reads them as a column.
 */
export async function predictionReference(predictions: (string | number)[]): Promise<ColumnReference> {
  const numeric = predictions.length > 0 && typeof predictions[0] === 'number';
  const dir = await makeTempDir('mlops-prediction-reference-');
  try {
    const file = path.join(dir, 'predictions.jsonl');
    await fs.writeFile(file, predictions.map((p) => JSON.stringify({ [predictionColumn]: p })).join('\n'));
    const type = numeric ? 'DOUBLE' : 'VARCHAR';
    const read = `read_json(${literal(file)}, columns = {${predictionColumn}: '${type}'}, format = 'newline_delimited')`;
    // Every row is the sample, so the grid's quantiles are exact.
    const reference = await withDuckDb((db) =>
      computeDriftReference((sql) => db.query(sql), duckDbDialect, {
        from: `(SELECT * FROM ${read})`,
        columns: [{ name: predictionColumn, numeric }],
        sample: {
          from: `(SELECT *, row_number() OVER () AS __row FROM ${read})`,
          rowNumber: '__row',
          size: predictions.length,
        },
      }),
    );
    return reference[predictionColumn]!;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
