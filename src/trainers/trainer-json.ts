/**
 * JSON as trainers write it (docs/trainer-contract.md): strict JSON, plus the `NaN`, `Infinity` and `-Infinity` that
 * Python's `json.dump` writes for non-finite floats by default. Those are read as `null` ("not measured") and their
 * paths are reported; anything else that is not JSON fails with the position of the first problem.
 */

export interface TrainerJson {
  value: unknown;
  /** Where a `NaN` or `±Infinity` was read as null: `validation.auc`, `loss`, `history[3]`. */
  nonFinite: string[];
}

/** A problem at a character offset of the text (0-based), with its line and column (1-based). */
export class TrainerJsonError extends Error {
  constructor(
    readonly reason: string,
    readonly position: number,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${reason} at line ${line}, column ${column} (position ${position})`);
  }
}

const nonFiniteTokens = ['NaN', '-Infinity', 'Infinity'];
/** Objects and arrays nested deeper are refused: the reader recurses, and a stack overflow would end the worker. */
const maxDepth = 512;
const numberPattern = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// eslint-disable-next-line no-control-regex -- control characters must be escaped inside JSON strings
const stringPattern = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const spacePattern = /[ \t\n\r]*/y;

/** Parses `text`; throws a {@link TrainerJsonError} naming the position of the first problem. */
export function parseTrainerJson(text: string): TrainerJson {
  const nonFinite: string[] = [];
  let at = 0;
  const fail = (reason: string): never => {
    const before = text.slice(0, at).split('\n');
    throw new TrainerJsonError(reason, at, before.length, before.at(-1)!.length + 1);
  };
  const found = () => (at < text.length ? `unexpected ${JSON.stringify(text.slice(at, at + 12))}` : 'unexpected end');
  const skipSpace = () => {
    spacePattern.lastIndex = at;
    spacePattern.exec(text);
    at = spacePattern.lastIndex;
  };
  const match = (pattern: RegExp): string | undefined => {
    pattern.lastIndex = at;
    const m = pattern.exec(text);
    if (m) at = pattern.lastIndex;
    return m?.[0];
  };
  const expect = (char: string, what: string) => {
    skipSpace();
    if (text[at] !== char) fail(`${found()} where ${what} was expected`);
    at++;
  };
  let depth = 0;
  const nested = <T>(read: () => T): T => {
    if (++depth > maxDepth) fail(`objects and arrays nested more than ${maxDepth} levels deep`);
    const out = read();
    depth--;
    return out;
  };
  const value = (path: string): unknown => {
    skipSpace();
    const c = text[at];
    if (c === '{') return nested(() => object(path));
    if (c === '[') return nested(() => array(path));
    if (c === '"')
      return JSON.parse(match(stringPattern) ?? fail('an invalid string (unescaped control character or bad escape)'));
    for (const literal of ['true', 'false', 'null'] as const)
      if (text.startsWith(literal, at)) return ((at += literal.length), JSON.parse(literal));
    const token = nonFiniteTokens.find((t) => text.startsWith(t, at));
    if (token) {
      at += token.length;
      nonFinite.push(path || '(the whole value)');
      return null;
    }
    const number = match(numberPattern);
    return number === undefined ? fail(`${found()} where a value was expected`) : Number(number);
  };
  const object = (path: string) => {
    at++;
    const out: Record<string, unknown> = {};
    skipSpace();
    if (text[at] === '}') return (at++, out);
    for (;;) {
      skipSpace();
      const key = text[at] === '"' ? match(stringPattern) : undefined;
      if (key === undefined) fail(`${found()} where a property name in double quotes was expected`);
      const name = JSON.parse(key!) as string;
      expect(':', "':'");
      // Defined, not assigned: a "__proto__" key is data here, as in JSON.parse.
      Object.defineProperty(out, name, {
        value: value(path ? `${path}.${name}` : name),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      skipSpace();
      if (text[at] === '}') return (at++, out);
      expect(',', "',' or '}'");
    }
  };
  const array = (path: string) => {
    at++;
    const out: unknown[] = [];
    skipSpace();
    if (text[at] === ']') return (at++, out);
    for (;;) {
      out.push(value(`${path}[${out.length}]`));
      skipSpace();
      if (text[at] === ']') return (at++, out);
      expect(',', "',' or ']'");
    }
  };
  const result = value('');
  skipSpace();
  if (at < text.length) fail(`${found()} after the end of the JSON value`);
  return { value: result, nonFinite };
}
