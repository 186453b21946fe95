/**
 * Dataset shapes the tests generate themselves (seeded, so every run writes the same bytes): a binary yes/no target
 * with nulls and empty strings in a categorical column (JSON Lines), a many-class target (Parquet), a regression
 * target in the hundreds (CSV) and string class labels with nulls (Parquet).
 */
import fs from 'node:fs';
import path from 'node:path';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { seededRandom } from './seeded-random';

export type ShapeName = 'binary-jsonl' | 'many-class-parquet' | 'regression-csv' | 'string-labels-parquet';

export interface SyntheticDataset {
  file: string;
  target: string;
  /** What the pipeline should infer when `task` is left out. */
  task: 'classification' | 'regression';
}

type Row = Record<string, number | string | null>;

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

const round = (v: number, digits = 3) => Number(v.toFixed(digits));

function binaryRows(rows: number, r: () => number): Row[] {
  const colors = ['red', 'green', 'blue'];
  return Array.from({ length: rows }, () => {
    const colorIndex = Math.floor(r() * 4); // 3: missing, as null or ""
    const color = colorIndex < 3 ? colors[colorIndex]! : r() < 0.5 ? null : '';
    const [a, b] = [normal(r), normal(r)];
    const effect = { red: 1, green: 0, blue: -1 }[color ?? ''] ?? 0.5;
    const logit = 1.5 * a - b + effect;
    return {
      a: r() < 0.05 ? null : round(a),
      b: round(b),
      color,
      answer: r() < 1 / (1 + Math.exp(-logit)) ? 'yes' : 'no',
    };
  });
}

function manyClassRows(rows: number, r: () => number, classes = 6): Row[] {
  const centres = Array.from({ length: classes }, (_, k) => [Math.cos(k), Math.sin(k), k % 2, (k % 3) - 1]);
  return Array.from({ length: rows }, () => {
    const k = Math.floor(r() * classes);
    const c = centres[k]!;
    return {
      x1: round(c[0]! * 2 + normal(r)),
      x2: round(c[1]! * 2 + normal(r)),
      x3: round(c[2]! + normal(r)),
      x4: round(c[3]! + normal(r)),
      digit: k,
    };
  });
}

function regressionRows(rows: number, r: () => number): Row[] {
  const regions = ['north', 'south', 'east'];
  return Array.from({ length: rows }, () => {
    const [size, age, rooms] = [normal(r), normal(r), normal(r)];
    const region = regions[Math.floor(r() * 3)]!;
    const price =
      400 + 90 * size - 35 * age + 20 * rooms + { north: 60, south: -40, east: 0 }[region]! + 25 * normal(r);
    return { size: round(size), age: round(age), rooms: round(rooms), region, price: round(price, 2) };
  });
}

function stringLabelRows(rows: number, r: () => number): Row[] {
  const species = ['alpina', 'borealis', 'cinerea'];
  const soils = ['clay', 'loam', 'sand'];
  return Array.from({ length: rows }, () => {
    const k = Math.floor(r() * 3);
    const soil = r() < 0.15 ? null : soils[(k + (r() < 0.3 ? 1 : 0)) % 3]!;
    return { petal: round(k * 1.2 + normal(r)), sepal: round(-k * 0.8 + normal(r)), soil, species: species[k]! };
  });
}

const shapes: Record<
  ShapeName,
  { rows: (n: number, r: () => number) => Row[]; target: string; ext: string; task: SyntheticDataset['task'] }
> = {
  'binary-jsonl': { rows: binaryRows, target: 'answer', ext: 'jsonl', task: 'classification' },
  'many-class-parquet': { rows: manyClassRows, target: 'digit', ext: 'parquet', task: 'classification' },
  'regression-csv': { rows: regressionRows, target: 'price', ext: 'csv', task: 'regression' },
  'string-labels-parquet': { rows: stringLabelRows, target: 'species', ext: 'parquet', task: 'classification' },
};

/** Writes `rows` rows of a shape into `dir` and says how to train on it. */
export async function writeSyntheticDataset(
  dir: string,
  shape: ShapeName,
  rows: number,
  seed = 1,
): Promise<SyntheticDataset> {
  const spec = shapes[shape];
  const data = spec.rows(rows, seededRandom(seed));
  const file = path.join(dir, `${shape}-${rows}.${spec.ext}`);
  const jsonl = data.map((row) => JSON.stringify(row)).join('\n') + '\n';
  if (spec.ext === 'jsonl') fs.writeFileSync(file, jsonl);
  else {
    const staged = `${file}.staging.jsonl`;
    fs.writeFileSync(staged, jsonl);
    const format = spec.ext === 'csv' ? '(FORMAT csv, HEADER)' : '(FORMAT parquet)';
    await withDuckDb((db) =>
      db.run(`COPY (SELECT * FROM read_json_auto(${literal(staged)})) TO ${literal(file)} ${format}`),
    );
    fs.rmSync(staged);
  }
  return { file, target: spec.target, task: spec.task };
}
