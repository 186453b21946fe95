/** The command-line flags of docs/trainer-contract.md, built in one place for every backend. */
import type { TrainerJob } from '../contracts/training';

export interface ContractFlagValues {
  train: string;
  validation: string;
  transform: string;
  output: string;
  task: 'classification' | 'regression';
  labelColumn: string;
  featureColumns: string[];
  hyperparameters: Record<string, number | string | boolean>;
  seed: number;
  resumeFrom?: string;
}

/**
 * Characters percent-encoded (as UTF-8, like `encodeURIComponent`) in a name inside the comma-separated
 * `--feature-columns`: `%` and `,` so a one-hot column of a category such as "Oslo, NO" stays one name, and every
 * whitespace and control character so a trainer that trims or splits its arguments cannot change a name (the one-hot
 * column of "Paris " keeps its trailing space). Every other character, `=`, quotes and non-ASCII letters included, is
 * passed as it is.
 */
const escapedInName = /[%,\s\p{Cc}]/gu;

/**
 * A column name as it appears inside `--feature-columns`: `city=Oslo, NO` becomes `city=Oslo%2C%20NO`. Trainers decode
 * each name with any URL-decoding function (docs/trainer-contract.md), which gives back the name exactly.
 */
export function encodeColumnName(name: string): string {
  return name.replace(escapedInName, (c) => encodeURIComponent(c));
}

/**
 * The inverse of {@link encodeColumnName} for a whole `--feature-columns` value: split on commas, then each run of
 * `%XX` escapes decoded as UTF-8. Nothing is trimmed. A `%` that starts no valid escape is kept as it is, as Python's
 * `urllib.parse.unquote` keeps it, so a name typed by hand ("growth 50%") still reads.
 */
export function decodeColumnNames(value: string): string[] {
  return value.split(',').map((name) => name.replace(/(%[0-9a-f]{2})+/gi, decodeEscapes));
}

function decodeEscapes(escapes: string): string {
  try {
    return decodeURIComponent(escapes);
  } catch {
    return escapes; // not UTF-8: left as written
  }
}

export function trainerContractFlags(values: ContractFlagValues): string[] {
  const flags = [
    ['--train', values.train],
    ['--validation', values.validation],
    ['--transform', values.transform],
    ['--output', values.output],
    ['--task', values.task],
    ['--label-column', values.labelColumn],
    ['--feature-columns', values.featureColumns.map(encodeColumnName).join(',')],
    ['--hyperparameters', JSON.stringify(values.hyperparameters)],
    ['--seed', String(values.seed)],
  ];
  if (values.resumeFrom) flags.push(['--resume-from', values.resumeFrom]);
  return flags.flat();
}

/**
 * The flags of one training run. `readable` turns an input URI into one the trainer can open (a `file://` URL for a
 * local store; remote trainers get the URIs as they are).
 */
export function runFlags(
  run: TrainerJob,
  hyperparameters: ContractFlagValues['hyperparameters'],
  where: { output: string; resumeFrom?: string; readable?: (uri: string) => string },
): string[] {
  const readable = where.readable ?? ((uri: string) => uri);
  return trainerContractFlags({
    train: readable(run.trainUri),
    validation: readable(run.validationUri),
    transform: readable(run.transformUri),
    output: where.output,
    task: run.task,
    labelColumn: run.labelColumn,
    featureColumns: run.featureColumns,
    hyperparameters,
    seed: run.seed,
    resumeFrom: where.resumeFrom,
  });
}
