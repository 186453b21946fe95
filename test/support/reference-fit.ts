/**
 * Reference fits made independently of the trainers, on the same split files: closed-form ordinary least squares (in
 * TypeScript) and scikit-learn's linear models (test/support/reference_fit.py, run by the torch-tabular trainer's venv,
 * where scripts/setup-python.sh installs scikit-learn for the tests).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ident, literal, withDuckDb } from '../../src/warehouse/duckdb';
import { repoRoot } from './stack';

export interface SplitMatrix {
  x: number[][];
  y: number[];
}

/** Reads feature and label columns of a split file as doubles. */
export async function readSplit(file: string, features: string[], label: string): Promise<SplitMatrix> {
  const cols = [...features, label].map((c) => `${ident(c)}::DOUBLE`).join(', ');
  const { columns } = await withDuckDb((db) => db.columns(`SELECT ${cols} FROM read_parquet(${literal(file)})`));
  const rows = columns[0]?.length ?? 0;
  const x = Array.from({ length: rows }, (_, i) => features.map((_, j) => columns[j]![i] as number));
  return { x, y: (columns[features.length] as number[]).slice() };
}

/** Ordinary least squares with an intercept, by the normal equations (a tiny ridge keeps one-hot columns solvable). */
export function leastSquares(train: SplitMatrix): (row: number[]) => number {
  const p = (train.x[0]?.length ?? 0) + 1;
  const a = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  const b = new Array<number>(p).fill(0);
  train.x.forEach((features, i) => {
    const row = [1, ...features];
    for (let r = 0; r < p; r++) {
      b[r]! += row[r]! * train.y[i]!;
      for (let c = 0; c < p; c++) a[r]![c]! += row[r]! * row[c]!;
    }
  });
  for (let r = 1; r < p; r++) a[r]![r]! += 1e-8 * train.y.length;
  const beta = solve(a, b);
  return (features) => features.reduce((sum, v, j) => sum + v * beta[j + 1]!, beta[0]!);
}

/** Gaussian elimination with partial pivoting. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let i = 0; i < n; i++) {
    let pivot = i;
    for (let j = i + 1; j < n; j++) if (Math.abs(m[j]![i]!) > Math.abs(m[pivot]![i]!)) pivot = j;
    [m[i], m[pivot]] = [m[pivot]!, m[i]!];
    for (let j = i + 1; j < n; j++) {
      const f = m[j]![i]! / m[i]![i]!;
      for (let k = i; k <= n; k++) m[j]![k]! -= f * m[i]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = m[i]![n]!;
    for (let k = i + 1; k < n; k++) s -= m[i]![k]! * x[k]!;
    x[i] = s / m[i]![i]!;
  }
  return x;
}

export function rmseOf(predict: (row: number[]) => number, data: SplitMatrix): number {
  const se = data.x.reduce((sum, row, i) => sum + (predict(row) - data.y[i]!) ** 2, 0);
  return Math.sqrt(se / data.y.length);
}

export interface SklearnReference {
  /** LogisticRegression (classification) or LinearRegression (regression), fitted on train, scored on test. */
  metric: string;
  value: number;
  sklearn: string;
}

/** Fits scikit-learn's linear model on the train split file and scores it on the test split file. */
export function sklearnReference(
  python: string,
  split: { train: string; test: string },
  task: 'classification' | 'regression',
  features: string[],
  label: string,
): SklearnReference {
  const script = path.join(repoRoot, 'test', 'support', 'reference_fit.py');
  const run = spawnSync(python, [script, split.train, split.test, task, label, JSON.stringify(features)], {
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`reference fit failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as SklearnReference;
}
