/**
 * A request's raw feature values as numbers, recorded by the transform in the same pass that validates and encodes
 * them (the prediction log's input, `src/serving/typed-rows.ts`): one number per feature per instance, in the schema's
 * order.
 *
 * - a numeric feature: its value, NaN for null;
 * - a categorical feature: the index of a known category (>= 0), or a code for null, true or false, or for any other
 *   value ("other": an unseen string, a number sent as a category), whose JSON text goes to the side list (an unseen
 *   string cut to `loggedTextLimit` characters).
 *
 * Only what validation accepts is ever logged; a value of a kind validation refuses reads as null.
 */
import { slabAllocator } from './slab';

/** Codes of a categorical value beside a known category's index (>= 0). */
export const codeNull = -1;
export const codeTrue = -2;
export const codeFalse = -3;
/** Codes from -4 down: the value's JSON text is entry `-4 - code` of the side list. */
const codeOther = -4;

/** The side list's entry of an "other" code. */
export const sideIndex = (code: number): number => codeOther - code;

/** The "other" code of side list entry `index`. */
export const otherCode = (index: number): number => codeOther - index;

/** True when `code` (of a categorical feature) points into the side list. */
export const isOtherCode = (code: number): boolean => code <= codeOther;

export interface RecordedValues {
  /** Numbers per instance: the model's raw features. */
  width: number;
  /** Row-major: `width` numbers per instance. */
  codes: Float64Array;
  /** JSON text of the categorical values coded "other" (see `sideIndex`). */
  side: string[];
}

const codesOf = slabAllocator((n) => new Float64Array(n));

/** Room for `rows` instances of `features` values (zeros, from a shared slab: `slab.ts`). */
export function newRecordedValues(rows: number, features: number): RecordedValues {
  return { width: features, codes: codesOf(rows * features), side: [] };
}

/**
 * Characters of an unseen category's text that the log keeps. A request may carry a category of a megabyte (the body
 * limit allows it), and every such row would be kept in memory until its part is written and then in the part; for
 * monitoring, an unseen value's first characters say all there is to say.
 */
export const loggedTextLimit = 200;

/** `text` as the log keeps it: whole up to `loggedTextLimit` characters, else cut there (never inside a surrogate pair) with "…". */
export function loggedText(text: string): string {
  if (text.length <= loggedTextLimit) return text;
  const code = text.charCodeAt(loggedTextLimit - 1);
  const end = code >= 0xd800 && code <= 0xdbff ? loggedTextLimit - 1 : loggedTextLimit;
  return `${text.slice(0, end)}…`;
}

/** Half of a surrogate pair without its other half: JSON may carry one (`"\\ud83d"`), Unicode text may not. */
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const loneSurrogates = new RegExp(loneSurrogate.source, 'g');

/** Whether `text` is valid Unicode text: no surrogate without its pair. */
export const isWellFormedText = (text: string): boolean => !loneSurrogate.test(text);

/**
 * `text` with each lone surrogate replaced by U+FFFD. The log stores raw values as JSON text, and a lone surrogate's
 * escape is JSON that DuckDB's reader refuses: one such value would fail every monitoring run over its partition.
 */
export const wellFormedText = (text: string): string => text.replace(loneSurrogates, '\ufffd');

/** A numeric feature's code: the number, NaN for null (or a refused value). */
export const numericCode = (value: unknown): number => (typeof value === 'number' ? value : NaN);

/**
 * A categorical feature's code. `known` is the value's index among the known categories when it is a string that is
 * one of them, else -1. "" is null: the model imputes it as one, and training read an empty cell as one, so
 * monitoring must not count it as a category the reference never had.
 */
export function categoryCode(value: unknown, known: number, side: string[]): number {
  if (value === '') return codeNull;
  if (typeof value === 'string')
    return known >= 0 ? known : otherCode(side.push(JSON.stringify(wellFormedText(loggedText(value)))) - 1);
  if (typeof value === 'boolean') return value ? codeTrue : codeFalse;
  if (typeof value === 'number') return otherCode(side.push(String(value)) - 1);
  return codeNull;
}
