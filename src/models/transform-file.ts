/**
 * Reads a version's fitted transform (transform.json) for serving, checking its shape first: a file that is not JSON
 * or lacks a field the predictor reads fails naming the file and every problem, instead of a bare JSON.parse message
 * or a TypeError from deep inside the predictor.
 */
import type { ArtifactStore } from '../artifacts';
import type { FittedTransform } from '../contracts/datasets';
import { mlopsError } from '../errors';

/** The problems listed in one error, at most; the rest are counted. */
const shownProblems = 10;

export async function readTransform(store: ArtifactStore, uri: string): Promise<FittedTransform> {
  const text = (await store.read(uri)).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // One line: V8 quotes a snippet of the text, which may span lines.
    throw invalid(uri, `not valid JSON (${(err as Error).message.replace(/\s+/g, ' ').slice(0, 200)})`);
  }
  const problems = transformProblems(value);
  if (problems.length > 0) {
    const more = problems.length > shownProblems ? `; and ${problems.length - shownProblems} more` : '';
    throw invalid(uri, `${problems.slice(0, shownProblems).join('; ')}${more}`);
  }
  return value as FittedTransform;
}

function invalid(uri: string, problem: string): Error {
  return mlopsError('MLOPS_ERR_MODEL_TRANSFORM_INVALID', { uri, problem });
}

type Fields = Record<string, unknown>;

const isObject = (v: unknown): v is Fields => v !== null && typeof v === 'object' && !Array.isArray(v);
const isStrings = (v: unknown): boolean => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** What is wrong with the fields the predictor reads; empty when the transform can be used. */
export function transformProblems(value: unknown): string[] {
  if (!isObject(value)) return [`the file holds ${describe(value)}, not an object`];
  const problems: string[] = [];
  const need = (ok: boolean, field: string, what: string) => {
    if (!ok) problems.push(`"${field}" must be ${what}`);
  };
  need(value.task === 'classification' || value.task === 'regression', 'task', '"classification" or "regression"');
  const target = value.target;
  need(isObject(target) && typeof target.name === 'string', 'target', 'an object with a string "name"');
  if (value.task === 'classification')
    need(isObject(target) && isStrings(target.classes), 'target.classes', 'an array of strings');
  need(isStrings(value.outputColumns), 'outputColumns', 'an array of strings');
  if (!Array.isArray(value.features)) need(false, 'features', 'an array of feature transforms');
  else value.features.forEach((f, i) => problems.push(...featureProblems(f, `features[${i}]`)));
  return problems;
}

function featureProblems(f: unknown, at: string): string[] {
  if (!isObject(f)) return [`"${at}" must be an object, not ${describe(f)}`];
  const problems: string[] = [];
  const need = (ok: boolean, field: string, what: string) => {
    if (!ok) problems.push(`"${at}.${field}" must be ${what}`);
  };
  need(typeof f.name === 'string', 'name', 'a string');
  if (f.kind === 'numeric') {
    for (const field of ['impute', 'mean', 'std'] as const) need(typeof f[field] === 'number', field, 'a number');
    need(typeof f.output === 'string', 'output', 'a string');
    need(f.clip === undefined || f.clip === null || isObject(f.clip), 'clip', 'an object');
  } else if (f.kind === 'categorical') {
    need(isStrings(f.categories), 'categories', 'an array of strings');
    need(f.impute === undefined || typeof f.impute === 'string', 'impute', 'a string');
    if (f.encoding === 'ordinal') {
      need(typeof f.unknownIndex === 'number', 'unknownIndex', 'a number');
      need(typeof f.output === 'string', 'output', 'a string');
    } else {
      need(f.encoding === undefined || f.encoding === 'onehot', 'encoding', '"onehot" or "ordinal"');
      need(isStrings(f.outputs), 'outputs', 'an array of strings');
      need(typeof f.unknownOutput === 'string', 'unknownOutput', 'a string');
    }
  } else need(false, 'kind', '"numeric" or "categorical"');
  return problems;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
